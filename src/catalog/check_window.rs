//! `build_window = { cron, duration, timezone }` under `[defaults]` and per image.

use chrono::Duration;

use super::check_settings::{check_schedule, duration};
use super::error::Problems;
use super::model::BuildWindow;
use super::raw::{RawBuildWindow, RawSchedule, S};
use crate::schedule::Schedule;

/// A window's cron and timezone are read as a schedule's (the same errors and
/// hints); its duration must leave it closed some of the time.
pub(super) fn check_build_window(p: &mut Problems, raw: &S<RawBuildWindow>) -> Option<BuildWindow> {
    let window = raw.get_ref();
    // The cron of a window is not a check schedule: how often it opens costs no ARM calls.
    let as_schedule = S::new(
        raw.span(),
        RawSchedule {
            cron: window.cron.clone(),
            timezone: window.timezone.clone(),
            jitter: None,
            allow_frequent: Some(S::new(raw.span(), true)),
        },
    );
    let settings = check_schedule(p, &as_schedule);
    let duration = match &window.duration {
        None => {
            p.hint(
                raw.span(),
                "missing `duration`",
                "say how long each window stays open, e.g. duration = \"8h\"",
            );
            None
        }
        Some(text) => match duration(p, text) {
            Some(d) if d.is_zero() => {
                p.hint(
                    text.span(),
                    "`duration` is zero: the window never opens",
                    "give how long it stays open, e.g. \"8h\"",
                );
                None
            }
            Some(d) => Duration::from_std(d).ok(),
            None => None,
        },
    };
    let settings = settings?;
    let duration = duration?;
    let schedule = Schedule::new(&settings, "").ok()?;
    let Some(period) = schedule.period() else {
        p.hint(
            window.cron.as_ref().map_or(raw.span(), |c| c.span()),
            "the build window's `cron` matches at most once",
            "a window repeats: use a cron that matches regularly, e.g. \"0 22 * * FRI\"",
        );
        return None;
    };
    if duration >= period {
        p.hint(
            window.duration.as_ref().map_or(raw.span(), |d| d.span()),
            format!(
                "`duration` is as long as the {} s between openings: the window is always open",
                period.num_seconds()
            ),
            "shorten it, or remove `build_window` to build at any time",
        );
        return None;
    }
    Some(BuildWindow {
        cron: settings.cron,
        timezone: settings.timezone,
        duration,
    })
}
