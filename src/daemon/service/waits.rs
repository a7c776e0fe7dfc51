//! The loop's waits, each pending forever when there is nothing to wait for,
//! so that every one can sit in the same `select!`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::task::{JoinError, JoinHandle};
use tokio::time::Interval;
use tracing::warn;

use crate::schedule::Alarm;

/// Returns at `at`; never without a due instant.
pub(super) async fn ring(alarm: &dyn Alarm, at: Option<DateTime<Utc>>) {
    let Some(at) = at else {
        return std::future::pending().await;
    };
    if let Err(error) = alarm.wait_until(at).await {
        // The loop asks again after this; a broken alarm must not spin it.
        warn!(%error, "the schedule's alarm failed; retrying in a minute");
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

pub(super) async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

pub(super) async fn wait<T>(task: &mut Option<JoinHandle<T>>) -> Result<T, JoinError> {
    match task {
        Some(task) => task.await,
        None => std::future::pending().await,
    }
}
