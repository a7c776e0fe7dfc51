//! tokio-cron-scheduler 0.15.1 as it behaves today, next to what our schedules do instead.
//!
//! Each test fails once the library fixes the pitfall, which is the cue to revisit the
//! workaround. The library's ticker reads the real wall clock, so where a pitfall needs hours
//! of wall time to show, the test replays the library's own computation on its own job data.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use chrono::{FixedOffset, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use tokio::sync::Notify;
use tokio_cron_scheduler::{Job, JobScheduler};

use super::{at, schedule};

fn nop_job(cron: &str, tz: Tz) -> Job {
    Job::new_async_tz(cron, tz, |_id, _scheduler| Box::pin(async {})).unwrap()
}

#[test]
fn tz_job_keeps_the_utc_offset_of_its_creation_day_and_drifts_across_dst() {
    let prague = Tz::Europe__Prague;
    let created = Utc::now();
    let mut job = nop_job("0 0 6 * * *", prague);
    let data = job.job_data().unwrap();
    // The job stores a number of seconds, not the timezone…
    let offset_then = prague.offset_from_utc_datetime(&created.naive_utc()).fix();
    assert_eq!(data.time_offset_seconds, offset_then.local_minus_utc());
    // …and after each run re-arms with `schedule.iter_after(now.with_timezone(&fixed_offset))`
    // (scheduler.rs). Replay that for a run on the other side of daylight saving.
    let summer_now = offset_then.local_minus_utc() == 3600;
    let run_at = if summer_now {
        at("2027-07-01T00:00:00Z")
    } else {
        at("2027-01-01T00:00:00Z")
    };
    let fixed = FixedOffset::east_opt(data.time_offset_seconds).unwrap();
    let library_next = data
        .schedule()
        .unwrap()
        .iter_after(run_at.with_timezone(&fixed))
        .next()
        .unwrap()
        .with_timezone(&prague);
    assert_eq!(
        library_next.hour(),
        if summer_now { 7 } else { 5 },
        "library drifts"
    );
    // Ours computes each due instant in the timezone itself.
    let ours = schedule("0 6 * * *", prague).next_after(run_at).unwrap();
    assert_eq!(ours.with_timezone(&prague).hour(), 6);
}

#[test]
fn tick_missed_while_down_is_not_run() {
    // An hourly job created at any time starts with the *next* hour: the hour that passed
    // while the process was down is not owed, and the state is memory only anyway.
    let before = Utc::now();
    let mut job = nop_job("0 0 * * * *", Tz::UTC);
    let after = Utc::now();
    let data = job.job_data().unwrap();
    assert_eq!(data.last_tick_utc(), None);
    let first = data.next_tick_utc().unwrap();
    assert!(first > before && first <= after + chrono::Duration::hours(1));
    // Ours owes the hour that passed since the last recorded check.
    let hourly = schedule("0 * * * *", Tz::UTC);
    let last_check = before - chrono::Duration::hours(2);
    let owed = hourly.missed_since(Some(last_check), before).unwrap();
    assert!(owed > last_check && owed <= before && owed < first);
}

#[test]
fn its_parser_ands_day_of_month_and_day_of_week_unlike_crontab() {
    // `0 6 1,15 * MON`: crontab (and our schedules) fire on the 1st, the 15th and Mondays;
    // the library only on a 1st or 15th that is a Monday.
    let mut job = nop_job("0 0 6 1,15 * MON", Tz::UTC);
    let library = job.job_data().unwrap().schedule().unwrap();
    let from = at("2026-06-02T00:00:00Z");
    let library_next = library.iter_after(from).next().unwrap();
    assert_eq!(library_next, at("2026-06-15T06:00:00Z"));
    let ours = schedule("0 6 1,15 * MON", Tz::UTC)
        .next_after(from)
        .unwrap();
    assert_eq!(ours, at("2026-06-08T06:00:00Z"));
    // With `+` both read the same, which is why the Wednesday rule is written that way.
    let mut job = nop_job("0 0 6 9-15 * +WED", Tz::UTC);
    let library = job.job_data().unwrap().schedule().unwrap();
    let ours = schedule("0 6 9-15 * +WED", Tz::UTC);
    let from = at("2026-03-31T00:00:00Z");
    assert_eq!(library.iter_after(from).next(), ours.next_after(from));
}

/// Takes a second or two of real time: the library's ticker polls the wall clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_job_overlaps_itself_and_shutdown_does_not_await_it() {
    let mut scheduler = JobScheduler::new().await.unwrap();
    let running = Arc::new(AtomicUsize::new(0));
    let overlapped = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let job = {
        let (running, overlapped, release) = (running.clone(), overlapped.clone(), release.clone());
        Job::new_async("* * * * * *", move |_id, _scheduler| {
            let (running, overlapped, release) =
                (running.clone(), overlapped.clone(), release.clone());
            Box::pin(async move {
                let released = release.notified();
                if running.fetch_add(1, Ordering::SeqCst) + 1 >= 2 {
                    overlapped.notify_one();
                }
                released.await;
                running.fetch_sub(1, Ordering::SeqCst);
            })
        })
        .unwrap()
    };
    scheduler.add(job).await.unwrap();
    scheduler.start().await.unwrap();
    tokio::time::timeout(StdDuration::from_secs(30), overlapped.notified())
        .await
        .expect("the second run should start while the first still runs");
    scheduler.shutdown().await.unwrap();
    assert!(
        running.load(Ordering::SeqCst) >= 2,
        "shutdown returned while the runs were still going"
    );
    release.notify_waiters();
}
