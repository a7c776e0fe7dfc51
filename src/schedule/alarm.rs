//! Waking the service at a UTC instant computed by this module.

use std::sync::Mutex;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::clock::SharedClock;

/// Longest single sleep: a suspended host or a stepped wall clock is noticed within it.
const MAX_NAP: StdDuration = StdDuration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum AlarmError {
    #[error("start tokio-cron-scheduler: {0}")]
    Start(#[source] JobSchedulerError),
    #[error("arm a tokio-cron-scheduler one-shot job: {0}")]
    Arm(#[source] JobSchedulerError),
    #[error("wait for the alarm: the scheduler was shut down")]
    ShutDown,
}

/// Something that returns once the clock reads a given instant.
#[async_trait]
pub trait Alarm: Send + Sync {
    /// Returns when `clock.now() >= at`, never before. Dropping the future cancels the wait.
    async fn wait_until(&self, at: DateTime<Utc>) -> Result<(), AlarmError>;
}

/// Sleeps with tokio's timer: follows `tokio::time::pause` in tests, given a clock that
/// follows tokio's time too.
pub struct TokioAlarm {
    clock: SharedClock,
}

impl TokioAlarm {
    pub fn new(clock: SharedClock) -> TokioAlarm {
        TokioAlarm { clock }
    }
}

#[async_trait]
impl Alarm for TokioAlarm {
    async fn wait_until(&self, at: DateTime<Utc>) -> Result<(), AlarmError> {
        loop {
            let Ok(left) = (at - self.clock.now()).to_std() else {
                return Ok(());
            };
            if left.is_zero() {
                return Ok(());
            }
            tokio::time::sleep(left.min(MAX_NAP)).await;
        }
    }
}

/// tokio-cron-scheduler used as a plain UTC alarm: one one-shot job per wait.
///
/// No cron expression and no timezone ever reach the library, so none of its pitfalls
/// (fixed-offset DST drift, overlap, lost ticks) apply. Its ticker polls the wall clock twice
/// a second, which over weeks of idling costs more CPU than the whole service otherwise uses
/// (0.25 s per idle 10 minutes, see BENCHMARKS.md), so a scheduler runs only for the last
/// `ARM_AHEAD` before an instant; until then the alarm sleeps on tokio's timer. The library
/// truncates delays to whole seconds, so a wake-up can come about two seconds late; an early
/// one re-arms.
pub struct CronAlarm {
    clock: SharedClock,
}

/// How long before an instant the tokio-cron-scheduler job is armed.
pub const ARM_AHEAD: StdDuration = StdDuration::from_secs(30);

impl CronAlarm {
    pub fn new(clock: SharedClock) -> CronAlarm {
        CronAlarm { clock }
    }
}

/// A running scheduler, shut down when dropped: the service drops a wait whenever something
/// else wakes it first, and a forgotten scheduler would tick forever.
struct Ticker {
    scheduler: Option<JobScheduler>,
}

impl Ticker {
    async fn start() -> Result<Ticker, AlarmError> {
        let scheduler = JobScheduler::new().await.map_err(AlarmError::Start)?;
        scheduler.start().await.map_err(AlarmError::Start)?;
        Ok(Ticker {
            scheduler: Some(scheduler),
        })
    }

    async fn ring_once_after(&self, left: StdDuration) -> Result<(), AlarmError> {
        let Some(scheduler) = &self.scheduler else {
            return Err(AlarmError::ShutDown);
        };
        // The library floors both the delay and the current time to whole seconds, which can
        // make it fire up to two seconds early; the margin keeps it from ringing before `left`.
        let delay = StdDuration::from_secs(left.as_secs() + 2);
        let (ring, rung) = oneshot::channel::<()>();
        let ring = Mutex::new(Some(ring));
        let job = Job::new_one_shot_at_instant_async(
            std::time::Instant::now() + delay,
            move |_id, _scheduler| {
                let ring = ring.lock().unwrap_or_else(|e| e.into_inner()).take();
                Box::pin(async move {
                    if let Some(ring) = ring {
                        // The waiter may have been cancelled; nobody to tell then.
                        let _ = ring.send(());
                    }
                })
            },
        )
        .map_err(AlarmError::Arm)?;
        scheduler.add(job).await.map_err(AlarmError::Arm)?;
        rung.await.map_err(|_| AlarmError::ShutDown)
    }

    async fn stop(mut self) {
        if let Some(mut scheduler) = self.scheduler.take() {
            // Shutting down only stops the ticker; a failure leaves nothing to undo.
            let _ = scheduler.shutdown().await;
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let (Some(mut scheduler), Ok(runtime)) =
            (self.scheduler.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(async move {
                let _ = scheduler.shutdown().await;
            });
        }
    }
}

#[async_trait]
impl Alarm for CronAlarm {
    async fn wait_until(&self, at: DateTime<Utc>) -> Result<(), AlarmError> {
        loop {
            let Ok(left) = (at - self.clock.now()).to_std() else {
                return Ok(());
            };
            if left.is_zero() {
                return Ok(());
            }
            if left > ARM_AHEAD {
                tokio::time::sleep((left - ARM_AHEAD).min(MAX_NAP)).await;
                continue;
            }
            let ticker = Ticker::start().await?;
            ticker.ring_once_after(left).await?;
            ticker.stop().await;
        }
    }
}
