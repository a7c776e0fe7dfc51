//! Notifications: the sender that delivers the outbox (see `store::outbox`)
//! to each `[[notify]]` sink at least once, with retries, across restarts.
//!
//! The pipeline never waits for it: events are rows written with the state
//! change they report, and this task reads them on its own time. A sink's URL
//! is a secret (it carries the webhook's token): it is read from its file
//! when the sender starts and never printed; errors name the sink.

pub mod format;

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use reqwest::Url;
use sha2::Sha256;
use tracing::{debug, error, info, warn};

use crate::azure::{CREDENTIALS_DIRECTORY_ENV, SecretKind, parse_secure_url};
use crate::catalog::NotifySink;
use crate::clock::SharedClock;
use crate::model::DeliveryState;
use crate::store::{Notice, Store, StoreError};

/// The signature header, as GitHub's `X-Hub-Signature-256`: `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Image-Refresh-Signature";

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("read the URL of notify sink {sink}: {why}")]
    Url { sink: String, why: String },
    #[error("read the signing secret of notify sink {sink}: {why}")]
    Secret { sink: String, why: String },
    #[error("record a notification")]
    Store(#[from] StoreError),
}

/// A sink ready to send: its URL and key read.
struct Ready {
    sink: NotifySink,
    url: Url,
    key: Option<Vec<u8>>,
}

/// The sender for `app`'s catalog, on its store and HTTP client.
pub fn sender(app: &crate::app::App) -> Result<Sender, NotifyError> {
    Sender::new(
        app.store.clone(),
        app.arm.http().clone(),
        app.clock.clone(),
        &app.catalog.notify,
    )
}

/// Delivers due notices; one per process.
pub struct Sender {
    store: Store,
    http: reqwest::Client,
    clock: SharedClock,
    sinks: Vec<Ready>,
    /// CloudEvents `source`: this service on this host.
    source: String,
    /// Counts failed attempts, in the daemon.
    metrics: Option<crate::metrics::Metrics>,
}

/// What one round did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Round {
    pub delivered: usize,
    pub failed: usize,
}

/// The first retry after 5 s, doubling to an hour, with jitter.
fn backoff(attempts: u32) -> Duration {
    let ceiling = 5u64.saturating_mul(1 << attempts.min(10)).min(3600);
    Duration::from_secs(rand::rng().random_range(ceiling / 2..=ceiling))
}

impl Sender {
    /// Reads every sink's URL (and key); a sink whose URL cannot be read is an
    /// error naming the sink, never the URL.
    pub fn new(
        store: Store,
        http: reqwest::Client,
        clock: SharedClock,
        sinks: &[NotifySink],
    ) -> Result<Sender, NotifyError> {
        let dir = std::env::var_os(CREDENTIALS_DIRECTORY_ENV).map(std::path::PathBuf::from);
        let mut ready = Vec::new();
        for sink in sinks {
            let raw = sink
                .url
                .read(dir.as_deref(), SecretKind::Line)
                .map_err(|e| NotifyError::Url {
                    sink: sink.name.clone(),
                    why: e.to_string(),
                })?;
            // The parse error would quote the URL; say only what is wrong.
            let url = parse_secure_url(raw.secret()).map_err(|_| NotifyError::Url {
                sink: sink.name.clone(),
                why: "not an https URL (plain http only to a loopback address)".into(),
            })?;
            let key = match &sink.secret {
                Some(source) => Some(
                    source
                        .read(dir.as_deref(), SecretKind::Line)
                        .map_err(|e| NotifyError::Secret {
                            sink: sink.name.clone(),
                            why: e.to_string(),
                        })?
                        .secret()
                        .as_bytes()
                        .to_vec(),
                ),
                None => None,
            };
            ready.push(Ready {
                sink: sink.clone(),
                url: trim_slash(url),
                key,
            });
        }
        Ok(Sender {
            store,
            http,
            clock,
            sinks: ready,
            source: format!("/image-refresh/{}", crate::host::host_name()),
            metrics: None,
        })
    }

    /// Counts failed attempts in `metrics`.
    pub fn with_metrics(mut self, metrics: crate::metrics::Metrics) -> Sender {
        self.metrics = Some(metrics);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Delivers what is due to every sink, once each.
    pub async fn round(&self) -> Result<Round, StoreError> {
        let mut round = Round::default();
        for ready in &self.sinks {
            let now = self.clock.now();
            let since = now
                - chrono::Duration::from_std(ready.sink.give_up_after)
                    .unwrap_or(chrono::Duration::days(1));
            for (id, last_error) in self.store.give_up_notices(&ready.sink.name, since).await? {
                error!(sink = %ready.sink.name, event = %id,
                    last_error = last_error.as_deref().unwrap_or("-"),
                    "gave up delivering a notification after give_up_after");
            }
            for notice in self
                .store
                .due_notices(&ready.sink.name, now, since, 50)
                .await?
            {
                if !ready.sink.wants(notice.kind, notice.image.as_deref()) {
                    self.settle(&notice, ready, DeliveryState::Skipped, None, now)
                        .await?;
                    continue;
                }
                match self.send(ready, &notice).await {
                    Ok(()) => {
                        round.delivered += 1;
                        debug!(sink = %ready.sink.name, event = %notice.id, kind = %notice.kind, "delivered");
                        self.settle(
                            &notice,
                            ready,
                            DeliveryState::Delivered,
                            None,
                            self.clock.now(),
                        )
                        .await?;
                    }
                    Err((why, wait)) => {
                        round.failed += 1;
                        if let Some(metrics) = &self.metrics {
                            metrics.notification_failed(&ready.sink.name);
                        }
                        let wait = wait.unwrap_or_else(|| backoff(notice.attempts));
                        let next = self.clock.now()
                            + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::hours(1));
                        if notice.attempts == 0 {
                            warn!(sink = %ready.sink.name, event = %notice.id, error = %why,
                                "could not deliver a notification; retrying");
                        }
                        self.settle(&notice, ready, DeliveryState::Pending, Some(&why), next)
                            .await?;
                        // The sink is down: the rest waits for the next round.
                        break;
                    }
                }
            }
        }
        if let Some(metrics) = &self.metrics {
            let names: Vec<&str> = self.sinks.iter().map(|r| r.sink.name.as_str()).collect();
            let longest = self
                .sinks
                .iter()
                .map(|r| r.sink.give_up_after)
                .max()
                .unwrap_or(NotifySink::GIVE_UP_AFTER);
            let since = self.clock.now()
                - chrono::Duration::from_std(longest).unwrap_or(chrono::Duration::days(1));
            metrics.set_notifications_pending(self.store.undelivered_notices(&names, since).await?);
        }
        Ok(round)
    }

    async fn settle(
        &self,
        notice: &Notice,
        ready: &Ready,
        state: DeliveryState,
        error: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let attempts = notice.attempts + u32::from(state != DeliveryState::Skipped);
        self.store
            .settle_notice(&notice.id, &ready.sink.name, state, attempts, at, error)
            .await
    }

    /// One POST; on failure why (without the URL) and how long the sink asked to wait.
    async fn send(&self, ready: &Ready, notice: &Notice) -> Result<(), (String, Option<Duration>)> {
        let (body, content_type) = format::body(ready.sink.kind, notice, &self.source);
        let bytes = body.to_string().into_bytes();
        let mut request = self
            .http
            .post(ready.url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .timeout(Duration::from_secs(30));
        if let Some(key) = &ready.key {
            request = request.header(SIGNATURE_HEADER, signature(key, &bytes));
        }
        let response = request
            .body(bytes)
            .send()
            .await
            .map_err(|e| (e.without_url().to_string(), None))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let wait = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|s| Duration::from_secs(s.min(3600)));
        Err((format!("the sink answered {status}"), wait))
    }

    /// Delivers until nothing is due or `deadline` passes: `run --once` and
    /// `notify test` flush before they exit.
    pub async fn flush(&self, deadline: tokio::time::Instant) -> Result<Round, StoreError> {
        let mut total = Round::default();
        loop {
            let round = self.round().await?;
            total.delivered += round.delivered;
            total.failed += round.failed;
            if round.delivered == 0 || round.failed > 0 || tokio::time::Instant::now() >= deadline {
                return Ok(total);
            }
        }
    }

    /// Delivers in the background, looking every `every`; `None` without sinks.
    /// Aborting the task loses nothing: what it did not deliver stays due.
    pub fn spawn(self, every: Duration) -> Option<tokio::task::AbortHandle> {
        if self.sinks.is_empty() {
            return None;
        }
        info!(sinks = self.sinks.len(), "notifications on");
        let task = tokio::spawn(async move {
            loop {
                if let Err(error) = self.round().await {
                    debug!(error = %crate::report::chain(&error), "notification round failed");
                }
                tokio::time::sleep(every).await;
            }
        });
        Some(task.abort_handle())
    }
}

/// How often the daemon looks for notices due: seconds after the state change,
/// while a query a round stays cheap.
pub const EVERY: Duration = Duration::from_secs(2);

/// `sha256=` and the hex HMAC-SHA256 of `body` under `key`.
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: new_from_slice cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// An endpoint URL with the slash `parse_secure_url` added taken off again:
/// a webhook's path is the whole address.
fn trim_slash(mut url: Url) -> Url {
    let path = url.path().trim_end_matches('/').to_owned();
    if !path.is_empty() {
        url.set_path(&path);
    }
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_githubs_hex_hmac() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn backoff_grows_to_an_hour() {
        assert!(backoff(0) <= Duration::from_secs(5));
        assert!(backoff(30) <= Duration::from_secs(3600));
        assert!(backoff(30) >= Duration::from_secs(1800));
    }
}
