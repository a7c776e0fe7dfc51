//! `[[notify]]`: who hears about failed builds, disabled images and missing
//! sources, and how. A sink's URL carries its secret (a Teams or Slack
//! webhook *is* a credential), so it is read from a file or a systemd
//! credential, never written in the catalog.

use std::collections::BTreeSet;
use std::time::Duration;

use super::check_credential::secret_source;
use super::error::Problems;
use super::raw::{RawNotify, S};
use super::values::parse_retention;
use crate::azure::SecretSource;
use crate::model::NoticeKind;

/// One place notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifySink {
    /// Unique in the catalog; deliveries are recorded under it.
    pub name: String,
    pub kind: SinkKind,
    pub url: SecretSource,
    /// HMAC-SHA256 key for the `X-Image-Refresh-Signature` header (webhooks).
    pub secret: Option<SecretSource>,
    /// Only these kinds; all when `None`.
    pub events: Option<Vec<NoticeKind>>,
    /// Only events about these images (events about no image always pass).
    pub images: Option<Vec<String>>,
    /// A notice still undelivered this long after it happened is given up.
    pub give_up_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// CloudEvents 1.0, structured JSON.
    Webhook,
    /// An Adaptive Card, as Teams workflow webhooks take it.
    Teams,
    /// Block Kit, as Slack incoming webhooks take it.
    Slack,
}

impl NotifySink {
    /// A day: a receiver down overnight still gets the night's events.
    pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 3600);

    /// Whether this sink wants `kind` about `image`.
    pub fn wants(&self, kind: NoticeKind, image: Option<&str>) -> bool {
        let kind_ok = self.events.as_ref().is_none_or(|e| e.contains(&kind));
        let image_ok = match (&self.images, image) {
            (Some(images), Some(image)) => images.iter().any(|i| i == image),
            _ => true,
        };
        // A test goes everywhere it is sent: that is what it tests.
        kind == NoticeKind::NotifyTest || (kind_ok && image_ok)
    }
}

pub(super) fn check_notify(
    p: &mut Problems,
    raw: &[S<RawNotify>],
    images: &BTreeSet<String>,
) -> Vec<NotifySink> {
    let mut sinks = Vec::new();
    let mut names = BTreeSet::new();
    for (index, table) in raw.iter().enumerate() {
        let before = p.len();
        let n = table.get_ref();
        let kind = match n.kind.as_ref().map(|k| (k.get_ref().as_str(), k.span())) {
            Some(("webhook", _)) => Some(SinkKind::Webhook),
            Some(("teams", _)) => Some(SinkKind::Teams),
            Some(("slack", _)) => Some(SinkKind::Slack),
            Some((other, span)) => {
                p.hint(
                    span,
                    format!("unknown notify kind `{other}`"),
                    "use webhook, teams or slack",
                );
                None
            }
            None => {
                p.hint(
                    table.span(),
                    "missing `kind`",
                    "set kind = \"webhook\", \"teams\" or \"slack\"",
                );
                None
            }
        };
        let url = secret_source(p, &n.url_file, &n.credential, table.span(), "url_file");
        let secret = n
            .secret_file
            .as_ref()
            .map(|f| SecretSource::File(f.get_ref().into()));
        let events = n.events.as_ref().map(|list| {
            list.iter()
                .filter_map(|word| match word.get_ref().parse::<NoticeKind>() {
                    Ok(kind) => Some(kind),
                    Err(_) => {
                        let known: Vec<_> = NoticeKind::ALL.iter().map(|k| k.as_str()).collect();
                        p.hint(
                            word.span(),
                            format!("unknown event `{}`", word.get_ref()),
                            format!("use any of: {}", known.join(", ")),
                        );
                        None
                    }
                })
                .collect()
        });
        let wanted = n.images.as_ref().map(|list| {
            list.iter()
                .filter(|name| {
                    let known = images.contains(name.get_ref());
                    if !known {
                        p.hint(
                            name.span(),
                            format!("unknown image `{}`", name.get_ref()),
                            "name images of this catalog",
                        );
                    }
                    known
                })
                .map(|name| name.get_ref().clone())
                .collect()
        });
        let give_up_after = match &n.give_up_after {
            Some(text) => parse_retention(text.get_ref())
                .map_err(|hint| {
                    p.hint(
                        text.span(),
                        format!("`{}` is not a duration", text.get_ref()),
                        hint,
                    )
                })
                .ok(),
            None => Some(NotifySink::GIVE_UP_AFTER),
        };
        let name = match &n.name {
            Some(name) => name.get_ref().clone(),
            None => format!(
                "{}-{}",
                n.kind.as_ref().map_or("notify", |k| k.get_ref()),
                index + 1
            ),
        };
        if !names.insert(name.clone()) {
            p.hint(
                n.name.as_ref().map_or(table.span(), |s| s.span()),
                format!("two [[notify]] tables are named `{name}`"),
                "give each its own `name`: deliveries are recorded by it",
            );
        }
        if p.len() == before
            && let (Some(kind), Some(url), Some(give_up_after)) = (kind, url, give_up_after)
        {
            sinks.push(NotifySink {
                name,
                kind,
                url,
                secret,
                events,
                images: wanted,
                give_up_after,
            });
        }
    }
    sinks
}
