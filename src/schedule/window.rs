//! Build windows: builds start only from a window's cron match for its
//! duration. Checks keep their own schedule; a stale image found outside a
//! window waits (the decision `waiting_for_window` says until when) and the
//! service checks it again when the window opens. A build running when a
//! window closes is not cancelled: the window says when builds *start*.

use chrono::{DateTime, Duration, Utc};

use super::expr::{Schedule, ScheduleError};
use crate::catalog::{BuildWindow, ScheduleSettings};

/// One image's build window, ready to be asked.
#[derive(Debug, Clone)]
pub struct Window {
    opens: Schedule,
    duration: Duration,
}

impl Window {
    pub fn new(window: &BuildWindow) -> Result<Window, ScheduleError> {
        let settings = ScheduleSettings {
            cron: window.cron.clone(),
            timezone: window.timezone,
            jitter: None,
        };
        Ok(Window {
            opens: Schedule::new(&settings, "")?,
            duration: window.duration,
        })
    }

    /// `None` while the window is open at `now`; otherwise when it opens next.
    /// A window that never opens again counts as open: the catalog refuses a
    /// cron that does not repeat, and an image must not wait for ever.
    pub fn closed_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let opened = self.opens.missed_since(None, now);
        if opened.is_some_and(|opened| now < opened + self.duration) {
            return None;
        }
        self.opens.next_after(now)
    }
}

/// When `window` next opens if it is closed at `now`; `None` when builds may
/// start now (no window, or inside one).
pub fn closed_until(window: Option<&BuildWindow>, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Window::new(window?).ok()?.closed_until(now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Tz;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn a_friday_night_window_is_open_from_22_00_for_eight_hours() {
        let window = BuildWindow {
            cron: "0 22 * * FRI".into(),
            timezone: Tz::Europe__Prague,
            duration: Duration::hours(8),
        };
        // 2026-12-04 is a Friday; Prague is UTC+1 in December.
        let opens = at("2026-12-04T21:00:00Z");
        assert_eq!(
            closed_until(Some(&window), at("2026-12-02T10:00:00Z")),
            Some(opens)
        );
        assert_eq!(
            closed_until(Some(&window), opens - Duration::seconds(1)),
            Some(opens)
        );
        assert_eq!(closed_until(Some(&window), opens), None);
        assert_eq!(
            closed_until(Some(&window), at("2026-12-05T04:59:59Z")),
            None
        );
        assert_eq!(
            closed_until(Some(&window), at("2026-12-05T05:00:00Z")),
            Some(at("2026-12-11T21:00:00Z"))
        );
        assert_eq!(closed_until(None, opens - Duration::hours(1)), None);
    }
}
