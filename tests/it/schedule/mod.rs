//! Schedules: timezones and DST, Patch-Tuesday rules, jitter, catch-up and overlap.
//!
//! Computation is pure (instants in, instants out), so "time" here is whatever instant a test
//! passes in; the alarms and tokio-cron-scheduler pitfalls live in `schedule/`.

mod alarms;
mod catalog;
mod pitfalls;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use image_refresh::catalog::ScheduleSettings;
use image_refresh::schedule::Schedule;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

pub fn settings(cron: &str, timezone: Tz, jitter: Option<StdDuration>) -> ScheduleSettings {
    ScheduleSettings {
        cron: cron.to_owned(),
        timezone,
        jitter,
    }
}

pub fn schedule(cron: &str, timezone: Tz) -> Schedule {
    Schedule::new(&settings(cron, timezone, None), "test").unwrap()
}

/// The due instants after `from`, by repeated `next_after`.
fn chain(schedule: &Schedule, from: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    std::iter::successors(schedule.next_after(from), |t| schedule.next_after(*t))
        .take(n)
        .collect()
}

fn dates(instants: &[DateTime<Utc>], tz: Tz) -> Vec<NaiveDate> {
    instants
        .iter()
        .map(|t| t.with_timezone(&tz).date_naive())
        .collect()
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

#[test]
fn prague_morning_check_stays_at_six_local_across_both_dst_changes() {
    let prague = schedule("0 6 * * *", Tz::Europe__Prague);
    // Clocks go forward on Sunday 29 March 2026 and back on Sunday 25 October 2026.
    assert_eq!(
        chain(&prague, at("2026-03-27T12:00:00Z"), 3),
        [
            at("2026-03-28T05:00:00Z"),
            at("2026-03-29T04:00:00Z"),
            at("2026-03-30T04:00:00Z")
        ]
    );
    assert_eq!(
        chain(&prague, at("2026-10-23T12:00:00Z"), 3),
        [
            at("2026-10-24T04:00:00Z"),
            at("2026-10-25T05:00:00Z"),
            at("2026-10-26T05:00:00Z")
        ]
    );
}

#[test]
fn prague_nonexistent_time_fires_once_when_clocks_jump() {
    // 02:30 does not exist on 29 March 2026 in Prague (02:00 CET → 03:00 CEST at 01:00 UTC).
    let night = schedule("30 2 * * *", Tz::Europe__Prague);
    assert_eq!(
        chain(&night, at("2026-03-27T12:00:00Z"), 3),
        [
            at("2026-03-28T01:30:00Z"),
            at("2026-03-29T01:00:00Z"),
            at("2026-03-30T00:30:00Z")
        ]
    );
    // Every quarter hour in the gap collapses into the single jump instant.
    let quarter = schedule("*/15 2 * * *", Tz::Europe__Prague);
    assert_eq!(
        chain(&quarter, at("2026-03-29T00:50:00Z"), 2),
        [at("2026-03-29T01:00:00Z"), at("2026-03-30T00:00:00Z")]
    );
}

#[test]
fn prague_repeated_time_fires_once_at_its_first_occurrence() {
    // 02:30 happens twice on 25 October 2026: 00:30 UTC (CEST) and 01:30 UTC (CET).
    let night = schedule("30 2 * * *", Tz::Europe__Prague);
    assert_eq!(
        chain(&night, at("2026-10-24T12:00:00Z"), 2),
        [at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z")]
    );
    // Asked during the second 02:xx hour, the repeat is not due again.
    assert_eq!(
        night.next_after(at("2026-10-25T01:15:00Z")),
        Some(at("2026-10-26T01:30:00Z"))
    );
    // And what was missed by then is the first occurrence, found although now's local time
    // (02:15 CET) is earlier than 02:30.
    assert_eq!(
        night.missed_since(None, at("2026-10-25T01:15:00Z")),
        Some(at("2026-10-25T00:30:00Z"))
    );
    assert_eq!(
        night.missed_since(Some(at("2026-10-25T00:31:00Z")), at("2026-10-25T01:45:00Z")),
        None
    );
    // An hourly schedule skips the repeated hour: 02:00 CEST, then 03:00 CET.
    let hourly = schedule("0 * * * *", Tz::Europe__Prague);
    assert_eq!(
        chain(&hourly, at("2026-10-24T23:30:00Z"), 2),
        [at("2026-10-25T00:00:00Z"), at("2026-10-25T02:00:00Z")]
    );
}

#[test]
fn new_york_follows_local_time_across_march_8_and_november_1() {
    let ny = schedule("0 6 * * *", Tz::America__New_York);
    assert_eq!(
        chain(&ny, at("2026-03-06T12:00:00Z"), 3),
        [
            at("2026-03-07T11:00:00Z"),
            at("2026-03-08T10:00:00Z"),
            at("2026-03-09T10:00:00Z")
        ]
    );
    assert_eq!(
        chain(&ny, at("2026-10-30T12:00:00Z"), 3),
        [
            at("2026-10-31T10:00:00Z"),
            at("2026-11-01T11:00:00Z"),
            at("2026-11-02T11:00:00Z")
        ]
    );
    // 02:30 on 8 March does not exist (02:00 EST → 03:00 EDT at 07:00 UTC).
    let gap = schedule("30 2 * * *", Tz::America__New_York);
    assert_eq!(
        gap.next_after(at("2026-03-08T05:00:00Z")),
        Some(at("2026-03-08T07:00:00Z"))
    );
    // 01:30 on 1 November happens at 05:30 UTC (EDT) and 06:30 UTC (EST): once.
    let repeat = schedule("30 1 * * *", Tz::America__New_York);
    assert_eq!(
        chain(&repeat, at("2026-11-01T00:00:00Z"), 2),
        [at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z")]
    );
}

/// Microsoft's published Patch Tuesdays of 2026.
const PATCH_TUESDAYS_2026: [(u32, u32); 12] = [
    (1, 13),
    (2, 10),
    (3, 10),
    (4, 14),
    (5, 12),
    (6, 9),
    (7, 14),
    (8, 11),
    (9, 8),
    (10, 13),
    (11, 10),
    (12, 8),
];

#[test]
fn tue_2_is_patch_tuesday_every_month_of_2026_at_six_local() {
    let patch = schedule("0 6 * * TUE#2", Tz::Europe__Prague);
    let due = chain(&patch, at("2025-12-31T12:00:00Z"), 12);
    let expected: Vec<_> = PATCH_TUESDAYS_2026
        .iter()
        .map(|(m, d)| ymd(2026, *m, *d))
        .collect();
    assert_eq!(dates(&due, Tz::Europe__Prague), expected);
    for t in due {
        let local = t.with_timezone(&Tz::Europe__Prague);
        assert_eq!(
            (local.hour(), local.minute(), local.weekday()),
            (6, 0, Weekday::Tue)
        );
    }
}

#[test]
fn wednesday_after_patch_tuesday_needs_plus_not_wed_2() {
    let after = schedule("0 6 9-15 * +WED", Tz::UTC);
    let due = chain(&after, at("2025-12-31T12:00:00Z"), 12);
    let expected: Vec<_> = PATCH_TUESDAYS_2026
        .iter()
        .map(|(m, d)| ymd(2026, *m, *d).succ_opt().unwrap())
        .collect();
    assert_eq!(dates(&due, Tz::UTC), expected);

    // April 2026 starts on a Wednesday: WED#2 is the 8th, before Patch Tuesday (the 14th).
    let wed_2 = schedule("0 6 * * WED#2", Tz::UTC);
    assert_eq!(
        wed_2.next_after(at("2026-04-01T12:00:00Z")),
        Some(at("2026-04-08T06:00:00Z"))
    );
    // Without `+`, day-of-month and day-of-week are ORed as in crontab: the 9th (a Thursday)
    // and Wednesday the 1st both fire.
    let ored = schedule("0 6 9-15 * WED", Tz::UTC);
    assert_eq!(
        chain(&ored, at("2026-03-31T12:00:00Z"), 3),
        [
            at("2026-04-01T06:00:00Z"),
            at("2026-04-08T06:00:00Z"),
            at("2026-04-09T06:00:00Z")
        ]
    );
}

#[test]
fn first_and_fifteenth() {
    let twice = schedule("0 6 1,15 * *", Tz::Europe__Prague);
    let due = chain(&twice, at("2026-01-01T00:00:00Z"), 6);
    assert_eq!(
        dates(&due, Tz::Europe__Prague),
        [
            ymd(2026, 1, 1),
            ymd(2026, 1, 15),
            ymd(2026, 2, 1),
            ymd(2026, 2, 15),
            ymd(2026, 3, 1),
            ymd(2026, 3, 15)
        ]
    );
}

#[test]
fn five_and_six_field_forms_give_the_same_times() {
    for (five, six) in [
        ("0 6 * * TUE#2", "0 0 6 * * TUE#2"),
        ("0 6 9-15 * +WED", "0 0 6 9-15 * +WED"),
        ("*/20 1-3 * * *", "0 */20 1-3 * * *"),
    ] {
        let a = schedule(five, Tz::America__New_York);
        let b = schedule(six, Tz::America__New_York);
        assert_eq!(a.expression(), six);
        let from = at("2026-01-01T00:00:00Z");
        assert_eq!(chain(&a, from, 40), chain(&b, from, 40), "{five}");
    }
    let seconds = schedule("30 0 6 * * *", Tz::UTC);
    assert_eq!(
        seconds.next_after(at("2026-05-01T00:00:00Z")),
        Some(at("2026-05-01T06:00:30Z"))
    );
}

#[test]
fn jitter_is_bounded_stable_across_restarts_and_keyed() {
    let with = |key: &str| {
        let s = settings(
            "0 6 * * *",
            Tz::Europe__Prague,
            Some(StdDuration::from_secs(1800)),
        );
        Schedule::new(&s, key).unwrap()
    };
    let plain = schedule("0 6 * * *", Tz::Europe__Prague);
    let from = at("2026-01-01T00:00:00Z");
    let ticks = chain(&plain, from, 60);
    let due = chain(&with("host-a/*"), from, 60);
    for (tick, due) in ticks.iter().zip(&due) {
        assert!(
            *tick <= *due && *due <= *tick + Duration::minutes(30),
            "{tick} → {due}"
        );
    }
    let offsets: std::collections::BTreeSet<_> =
        ticks.iter().zip(&due).map(|(t, d)| *d - *t).collect();
    assert!(offsets.len() > 50, "jitter should vary per date");
    // A restarted daemon (a new Schedule) computes the same due instants…
    assert_eq!(chain(&with("host-a/*"), from, 60), due);
    // …and agrees on what is owed in the middle of a jitter window.
    let (tick, first_due) = (ticks[10], due[10]);
    let before = first_due - Duration::seconds(1);
    assert_eq!(
        with("host-a/*").missed_since(Some(tick - Duration::hours(1)), before),
        None
    );
    assert_eq!(
        with("host-a/*").missed_since(Some(tick - Duration::hours(1)), first_due),
        Some(first_due)
    );
    // Another host spreads differently.
    assert_ne!(chain(&with("host-b/*"), from, 60), due);
}

#[test]
fn catch_up_after_downtime_owes_exactly_one_check() {
    let daily = schedule("0 6 * * *", Tz::Europe__Prague);
    // Last check on 10 November; down until the 13th at 07:00 local: three ticks missed.
    let last = at("2026-11-10T05:00:04Z");
    let now = at("2026-11-13T06:00:00Z");
    assert_eq!(
        daily.missed_since(Some(last), now),
        Some(at("2026-11-13T05:00:00Z"))
    );
    // Once that one check is recorded nothing else is owed, and the next is tomorrow.
    assert_eq!(
        daily.missed_since(Some(now), now + Duration::hours(2)),
        None
    );
    assert_eq!(daily.next_after(now), Some(at("2026-11-14T05:00:00Z")));
    // Up to date: nothing owed.
    assert_eq!(
        daily.missed_since(Some(at("2026-11-13T05:00:30Z")), now),
        None
    );
}

#[test]
fn a_due_instant_fires_once() {
    for schedule in [
        schedule("0 6 * * *", Tz::Europe__Prague),
        schedule("*/30 * * * *", Tz::Europe__Prague),
        schedule("30 2 * * *", Tz::America__New_York),
    ] {
        let due = chain(&schedule, at("2026-03-01T00:00:00Z"), 3000);
        assert!(
            due.windows(2).all(|w| w[0] < w[1]),
            "{}",
            schedule.expression()
        );
        for t in due.iter().step_by(97) {
            // Checked exactly at the due instant: not owed again at that same instant.
            assert_eq!(schedule.missed_since(Some(*t), *t), None);
            assert!(schedule.next_after(*t).is_some_and(|next| next > *t));
            assert_eq!(
                schedule.missed_since(Some(*t - Duration::seconds(1)), *t),
                Some(*t)
            );
        }
    }
}

#[test]
fn an_expression_that_never_matches_has_no_next() {
    let never = schedule("0 0 30 2 *", Tz::UTC);
    assert_eq!(never.next_after(at("2026-01-01T00:00:00Z")), None);
    assert_eq!(never.missed_since(None, at("2026-01-01T00:00:00Z")), None);
}

/// Jitter past the period used to make every query scan that many ticks: 150
/// every-second schedules with an hour of jitter starved the service loop.
#[test]
fn jitter_is_bounded_by_the_period_and_a_day() {
    let every_second = Schedule::new(
        &settings("* * * * * *", Tz::UTC, Some(StdDuration::from_secs(3600))),
        "k",
    )
    .unwrap();
    assert_eq!(every_second.jitter_span(), chrono::Duration::seconds(1));
    let weekly = Schedule::new(
        &settings(
            "0 6 * * TUE",
            Tz::UTC,
            Some(StdDuration::from_secs(40 * 3600)),
        ),
        "k",
    )
    .unwrap();
    assert_eq!(weekly.jitter_span(), chrono::Duration::hours(24));
    let daily = Schedule::new(
        &settings("0 6 * * *", Tz::UTC, Some(StdDuration::from_secs(1800))),
        "k",
    )
    .unwrap();
    assert_eq!(daily.jitter_span(), chrono::Duration::minutes(30));
}
