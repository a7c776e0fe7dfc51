//! When the service next moves a staged version's ring. The store is the
//! truth (rings, their due times, rings asked for and not seen through); this
//! only remembers the earliest due time, read again after every build and
//! every pass, so a service killed mid-promotion picks it up at start-up.

use chrono::{DateTime, Utc};
use tokio::task::{JoinError, JoinHandle};
use tracing::{error, warn};

use super::Service;

use crate::pipeline::Pipeline;
use crate::promote::{Moved, PromoteError};
use crate::report::chain;
use crate::store::{Store, StoreError};

pub(super) type Pass = Result<Vec<Result<Moved, PromoteError>>, StoreError>;

#[derive(Default)]
pub(super) struct Promotions {
    next: Option<DateTime<Utc>>,
    pub running: Option<JoinHandle<Pass>>,
}

impl Promotions {
    /// When the loop must wake for a ring; never while a pass runs.
    pub fn next(&self) -> Option<DateTime<Utc>> {
        self.next.filter(|_| self.running.is_none())
    }

    /// Reads the earliest due ring again; `retry` is when to look again if
    /// that cannot be read.
    pub async fn refresh(&mut self, store: &Store, retry: DateTime<Utc>) {
        self.next = match store.promotions(None).await {
            Ok(all) => all.iter().filter_map(|p| p.due_at()).min(),
            Err(error) => {
                warn!(error = %chain(&error), "cannot read the staged versions; trying again later");
                Some(retry)
            }
        };
    }

    /// Starts a pass if a ring is due by `now`.
    pub fn start_due(&mut self, pipeline: &Pipeline, now: DateTime<Utc>) {
        if self.running.is_some() || self.next.is_none_or(|at| at > now) {
            return;
        }
        let pipeline = pipeline.clone();
        self.running = Some(tokio::spawn(
            async move { pipeline.promote_due(None).await },
        ));
    }

    /// A pass ended: says what moved; `retry` is when a failed move is tried
    /// again (its ring stays asked for, so it is due at once otherwise).
    pub async fn ended(&mut self, pass: Pass, store: &Store, retry: DateTime<Utc>) {
        self.running = None;
        let failed = match pass {
            // Each move is logged (and failures warned about) by the stage itself.
            Ok(moves) => moves
                .iter()
                .any(|m| matches!(m, Err(e) if !matches!(e, PromoteError::Revoked { .. }))),
            Err(error) => {
                warn!(error = %chain(&error), "cannot read the staged versions to promote; trying again later");
                true
            }
        };
        self.refresh(store, retry).await;
        if failed {
            self.next = self.next.map(|at| at.max(retry));
        }
    }
}

impl Service {
    /// `retry` for the promotions: when to look again after a failure.
    pub(super) fn promotion_retry(&self) -> DateTime<Utc> {
        self.config.clock.now() + self.config.check_retry
    }

    pub(super) async fn refresh_promotions(&mut self) {
        let retry = self.promotion_retry();
        self.promotions.refresh(&self.store, retry).await;
    }

    pub(super) async fn promoted(&mut self, pass: Result<Pass, JoinError>) {
        let retry = self.promotion_retry();
        match pass {
            Ok(pass) => self.promotions.ended(pass, &self.store, retry).await,
            Err(error) => {
                error!(%error, "the promotion task ended abnormally");
                self.promotions.running = None;
                self.promotions.refresh(&self.store, retry).await;
            }
        }
        self.update_status();
    }
}
