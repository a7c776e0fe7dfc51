//! When the daemon checks images: cron expressions on a timezone's wall clock.
//!
//! # Writing a schedule
//!
//! `[schedule]` applies to every image; `[images.schedule]` replaces it for one image.
//!
//! ```toml
//! [schedule]
//! cron = "0 6 * * TUE#2"       # 06:00 on Patch Tuesday (the second Tuesday of the month)
//! timezone = "Europe/Prague"   # IANA name; UTC when absent
//! jitter = "30m"               # optional: start up to 30 minutes late ("90s", "30m", "2h")
//! ```
//!
//! | cron                 | meaning                                                        |
//! |----------------------|----------------------------------------------------------------|
//! | `0 6 * * TUE#2`      | 06:00 on the second Tuesday (Patch Tuesday)                     |
//! | `0 6 9-15 * +WED`    | 06:00 on the Wednesday after Patch Tuesday                      |
//! | `0 6 1,15 * *`       | 06:00 on the 1st and the 15th                                   |
//! | `0 22 * * TUE#2`     | 22:00 on Patch Tuesday (e.g. with `timezone = "America/New_York"`) |
//! | `30 0 6 * * MON-FRI` | six fields: seconds first, 06:00:30 on weekdays                 |
//! | `0 */6 * * *`        | every six hours                                                 |
//!
//! Five fields are `minute hour day-of-month month day-of-week`, as in crontab. Six fields put
//! seconds first. tokio-cron-scheduler and croner's strict mode only take six, so five-field
//! expressions get `0` seconds prepended ([`ScheduleSettings::cron_with_seconds`]); both forms
//! give the same times.
//!
//! **The Wednesday after Patch Tuesday is `0 6 9-15 * +WED`, not `WED#2`.** Patch Tuesday
//! falls on the 8th–14th, so the day after it is the only Wednesday on the 9th–15th. `WED#2`
//! is wrong in months that start on a Wednesday (it is then the 8th, six days *before* Patch
//! Tuesday on the 14th). The `+` matters: as in every crontab, a day-of-month *and* a
//! day-of-week in one expression match when *either* does, so `0 6 9-15 * WED` would fire on
//! each of the 9th–15th and on every Wednesday. croner's `+` prefix on the day-of-week makes
//! both required. (tokio-cron-scheduler's own parser always requires both, which is why this
//! module never hands user expressions to it: `0 6 1,15 * MON` would silently change meaning.)
//!
//! # Wall-clock time and daylight saving
//!
//! An expression is read on the wall clock of its timezone, on every date: `0 6 * * *` in
//! Europe/Prague is 06:00 local in winter (05:00 UTC) and in summer (04:00 UTC). When the
//! clocks change:
//! - a local time that does not exist (spring forward, e.g. 02:30 on the last Sunday of March
//!   in Prague) fires once, at the moment the clocks jump (03:00 local);
//! - a local time that happens twice (fall back, 02:30 on the last Sunday of October) fires
//!   once, at its first occurrence. Expressions that fire several times an hour therefore
//!   skip the repeated hour.
//!
//! # Jitter
//!
//! Each due instant is delayed by up to `jitter`. The delay is a hash of the instance (host),
//! the schedule's key (the image, or the catalog for `[schedule]`) and the cron match, not a
//! fresh random draw: it is spread across hosts and dates but the same after a restart, so a
//! restart neither re-rolls nor skips a check. Images on the catalog's schedule share their
//! delay and are checked together in one cycle.
//!
//! # Missed checks, overlap and the source of truth
//!
//! The truth is the store: an image is due when a due instant passed since its last check
//! ([`CatalogSchedules::due_images`]). A daemon that was down over one or many due instants
//! therefore checks once at start-up. Without any `[schedule]`, images are checked daily at
//! 06:00 UTC ([`DEFAULT_CRON`]): a daemon that never checks would be useless, and a check only
//! reads Azure, so the default is safe. Disabled images (`enabled = false`) are never due.
//!
//! The service loop (`daemon::service`) checks what [`CatalogSchedules::due_images`]
//! returns, one cycle at a time (images that fall due during a cycle are checked right after
//! it); when nothing is due it waits with an [`Alarm`] until [`CatalogSchedules::next_due`].
//! On shutdown it drops the check in flight: a check only reads Azure and records its results
//! in one transaction, so nothing is half-done.
//!
//! # tokio-cron-scheduler
//!
//! tokio-cron-scheduler 0.15 is used only as a UTC alarm ([`CronAlarm`]: a one-shot job
//! re-armed for each due instant computed here; [`TokioAlarm`] does the same on tokio's timer
//! and follows `tokio::time::pause`), because its scheduling has these pitfalls, each shown
//! by a test in `tests/it/schedule/pitfalls.rs`:
//! - a job with a timezone stores the UTC offset of the day it was created and computes every
//!   later firing with that fixed offset, so it drifts by an hour across daylight saving;
//! - ticks missed while the process was down are never run (its state lives in memory);
//! - a job whose run outlasts its period runs again alongside itself;
//! - `JobScheduler::shutdown` returns without awaiting running jobs.
//!
//! [`ScheduleSettings::cron_with_seconds`]: crate::catalog::ScheduleSettings::cron_with_seconds

mod alarm;
mod catalog;
mod expr;
mod jitter;
mod window;

pub use alarm::{Alarm, AlarmError, CronAlarm, TokioAlarm};
pub use catalog::{CatalogSchedules, DEFAULT_CRON};
pub use expr::{MAX_JITTER, Schedule, ScheduleError};
pub use window::{Window, closed_until};
