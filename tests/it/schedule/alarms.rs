//! Our side of the pitfalls: alarms at computed instants, one cycle at a time, and a
//! shutdown that waits for it.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use image_refresh::clock::{self, Clock, SharedClock};
use image_refresh::schedule::{Alarm, CronAlarm, TokioAlarm};

use super::{at, schedule};

/// Wall-clock time that moves with tokio's (paused) time.
struct TokioClock {
    start: DateTime<Utc>,
    origin: tokio::time::Instant,
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = tokio::time::Instant::now() - self.origin;
        self.start + chrono::Duration::from_std(elapsed).unwrap()
    }
}

#[tokio::test(start_paused = true)]
async fn tokio_alarm_wakes_at_each_due_instant_across_dst() {
    let clock: SharedClock = Arc::new(TokioClock {
        start: at("2026-03-27T12:00:00Z"),
        origin: tokio::time::Instant::now(),
    });
    let alarm = TokioAlarm::new(clock.clone());
    let daily = schedule("0 6 * * *", Tz::Europe__Prague);
    let mut woke = Vec::new();
    for _ in 0..3 {
        let due = daily.next_after(clock.now()).unwrap();
        alarm.wait_until(due).await.unwrap();
        woke.push(clock.now());
    }
    assert_eq!(
        woke,
        [
            at("2026-03-28T05:00:00Z"),
            at("2026-03-29T04:00:00Z"),
            at("2026-03-30T04:00:00Z")
        ]
    );
}

/// Takes about two seconds of real time: tokio-cron-scheduler polls the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cron_alarm_never_rings_before_the_instant() {
    let clock = clock::system();
    let alarm = CronAlarm::new(clock.clone());
    let due = clock.now() + chrono::Duration::milliseconds(300);
    tokio::time::timeout(StdDuration::from_secs(30), alarm.wait_until(due))
        .await
        .expect("the alarm should ring")
        .unwrap();
    assert!(clock.now() >= due);
}
