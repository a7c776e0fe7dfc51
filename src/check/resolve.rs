//! Resolve what Azure offers now: each unique source asked once per check,
//! concurrently, however many images share it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::debug;

use crate::azure::gallery::{self, GalleryImageRef};
use crate::azure::marketplace::{self, MarketplaceSku};
use crate::azure::{ArmClient, AzureError};
use crate::catalog::{Image, Source, VersionSpec};
use crate::model::SourceKey;

/// What an image's source resolves to in this check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The exact version to build from.
    Version(String),
    /// A managed image has no versions: only recipe changes and age make it stale.
    Unversioned,
    /// Azure could not answer; the image is skipped this cycle.
    Failed(String),
    /// Azure answered that the source does not exist: a catalog problem, not an outage.
    NotFound(String),
}

/// Why a source has no version this check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// Azure did not answer (outage, throttling, credential): worth a quiet retry.
    Failed(String),
    /// Azure says the source does not exist; the text names what is missing.
    NotFound(String),
}

/// The lookup an image needs, or `None` when the catalog already pins the answer.
pub fn lookup_key(image: &Image) -> Option<SourceKey> {
    match &image.source {
        Source::Marketplace(m) if m.version == VersionSpec::Latest => {
            Some(SourceKey::Marketplace {
                location: m.location.clone(),
                publisher: m.publisher.clone(),
                offer: m.offer.clone(),
                sku: m.sku.clone(),
            })
        }
        Source::Gallery(g) if g.version == VersionSpec::Latest => Some(SourceKey::Gallery {
            image_id: g.image_id.clone(),
        }),
        _ => None,
    }
}

/// What one check cycle learned from Azure: one answer per distinct source.
#[derive(Debug, Default)]
pub struct Resolved {
    /// In the order the sources first appear, spelled as they first appear.
    answers: Vec<(SourceKey, Result<String, Unresolved>)>,
    /// [`SourceKey::folded`] → index into `answers`: ARM treats names
    /// case-insensitively, so two spellings of one source are one lookup.
    index: HashMap<String, usize>,
}

impl Resolved {
    /// How many distinct sources were asked about.
    pub fn lookups(&self) -> usize {
        self.answers.len()
    }

    pub fn get(&self, key: &SourceKey) -> Option<&Result<String, Unresolved>> {
        self.index.get(&key.folded()).map(|&i| &self.answers[i].1)
    }

    /// The sources that resolved, with their exact versions.
    pub fn versions(&self) -> impl Iterator<Item = (&SourceKey, &String)> {
        self.answers
            .iter()
            .filter_map(|(key, result)| result.as_ref().ok().map(|v| (key, v)))
    }
}

/// Resolves every distinct key once, with at most `concurrency` requests in
/// flight (the ARM client's own rate limiter keeps the total inside the budget).
pub async fn resolve_all(
    arm: &ArmClient,
    subscription_id: &str,
    keys: impl IntoIterator<Item = SourceKey>,
    concurrency: usize,
) -> Resolved {
    let mut resolved = Resolved::default();
    for key in keys {
        let id = key.folded();
        if !resolved.index.contains_key(&id) {
            resolved.index.insert(id, resolved.answers.len());
            resolved.answers.push((
                key,
                Err(Unresolved::Failed("the lookup did not finish".into())),
            ));
        }
    }
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for (i, (key, _)) in resolved.answers.iter().enumerate() {
        let arm = arm.clone();
        let permits = permits.clone();
        let subscription_id = subscription_id.to_owned();
        let key = key.clone();
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = permits.acquire_owned().await;
            let result = resolve_one(&arm, &subscription_id, &key).await;
            (i, result)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        // A panicked lookup keeps its "did not finish" answer.
        if let Ok((i, result)) = joined {
            debug!(key = ?resolved.answers[i].0, ?result, "resolved a source");
            resolved.answers[i].1 = result;
        }
    }
    resolved
}

/// Asks Azure for `key`'s version and tells a missing source from an outage.
async fn resolve_one(
    arm: &ArmClient,
    subscription_id: &str,
    key: &SourceKey,
) -> Result<String, Unresolved> {
    match lookup(arm, subscription_id, key).await {
        Ok(Lookup::Version(version)) => Ok(version),
        Ok(Lookup::Empty(detail)) => {
            Err(Unresolved::NotFound(format!("{}: {detail}", missing(key))))
        }
        Err(error) if source_is_missing(&error) => Err(Unresolved::NotFound(format!(
            "{} (Azure: {})",
            missing(key),
            arm_words(&error)
        ))),
        Err(error) => Err(Unresolved::Failed(error.to_string())),
    }
}

/// A 404 about the source itself. A subscription Azure does not know is a 404 too,
/// but it says nothing about this source: every lookup fails alike.
fn source_is_missing(error: &AzureError) -> bool {
    matches!(error, AzureError::Arm { status: 404, code, .. } if code != "SubscriptionNotFound")
}

fn arm_words(error: &AzureError) -> String {
    match error {
        AzureError::Arm { code, message, .. } => format!("{code}: {message}"),
        other => other.to_string(),
    }
}

/// What a person would look for: "no marketplace image P:O:S in L".
fn missing(key: &SourceKey) -> String {
    match key {
        SourceKey::Marketplace {
            location,
            publisher,
            offer,
            sku,
        } => format!("no marketplace image {publisher}:{offer}:{sku} in {location}"),
        SourceKey::Gallery { image_id } => format!("no gallery image definition {image_id}"),
    }
}

enum Lookup {
    Version(String),
    /// The source exists but offers no version to build from.
    Empty(String),
}

async fn lookup(
    arm: &ArmClient,
    subscription_id: &str,
    key: &SourceKey,
) -> Result<Lookup, AzureError> {
    match key {
        SourceKey::Marketplace {
            location,
            publisher,
            offer,
            sku,
        } => {
            let sku = MarketplaceSku {
                subscription_id: subscription_id.to_owned(),
                location: location.clone(),
                publisher: publisher.clone(),
                offer: offer.clone(),
                sku: sku.clone(),
            };
            let versions = marketplace::list_versions(arm, &sku).await?;
            if versions.is_empty() {
                return Ok(Lookup::Empty("Azure lists no version".into()));
            }
            let latest = marketplace::resolve_latest_of(&sku, versions)?;
            Ok(Lookup::Version(latest.version.as_str().to_owned()))
        }
        SourceKey::Gallery { image_id } => {
            let image =
                GalleryImageRef::from_id(image_id).ok_or_else(|| AzureError::UnexpectedBody {
                    what: format!("gallery image id {image_id}"),
                    detail: "not a gallery image definition id".into(),
                })?;
            let versions = gallery::list_versions(arm, &image).await?;
            Ok(match gallery::newest_for_latest(&versions, None) {
                Some(v) => Lookup::Version(v.name.clone()),
                None => Lookup::Empty(format!(
                    "none of its {} version(s) is succeeded and not excluded from latest",
                    versions.len()
                )),
            })
        }
    }
}

/// The resolution for one image, from the cycle's lookups.
pub fn resolution_for(image: &Image, resolved: &Resolved) -> Resolution {
    match (lookup_key(image), &image.source) {
        (Some(key), _) => match resolved.get(&key) {
            Some(Ok(version)) => Resolution::Version(version.clone()),
            Some(Err(Unresolved::Failed(error))) => Resolution::Failed(error.clone()),
            Some(Err(Unresolved::NotFound(what))) => Resolution::NotFound(what.clone()),
            None => Resolution::Failed("the source was not looked up".into()),
        },
        (None, Source::ManagedImage(_)) => Resolution::Unversioned,
        (None, source) => match source.version() {
            Some(VersionSpec::Exact(version)) => Resolution::Version(version.clone()),
            _ => Resolution::Unversioned,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::SourceKey;

    #[test]
    fn spellings_of_one_source_fold_together_and_others_do_not() {
        let gallery = |id: &str| SourceKey::Gallery {
            image_id: id.into(),
        };
        assert_eq!(
            gallery(
                "/subscriptions/0/resourceGroups/RG/providers/Microsoft.Compute/galleries/G/images/I"
            )
            .folded(),
            gallery(
                "/subscriptions/0/resourcegroups/rg/providers/microsoft.compute/galleries/g/images/i"
            )
            .folded(),
        );
        let sku = |sku: &str| SourceKey::Marketplace {
            location: "WestEurope".into(),
            publisher: "Canonical".into(),
            offer: "ubuntu-24_04-lts".into(),
            sku: sku.into(),
        };
        assert_eq!(sku("Server").folded(), sku("server").folded());
        assert_ne!(sku("server").folded(), sku("server-gen1").folded());
    }
}
