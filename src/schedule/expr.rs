//! One schedule: a cron expression read as wall-clock time in an IANA timezone, plus jitter.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::jitter::Jitter;
use crate::catalog::ScheduleSettings;

/// Longest wall-clock gap (spring forward) a nonexistent local time is moved across.
const MAX_GAP: Duration = Duration::hours(48);
/// How far a local time can repeat after a backward offset change (fall back); real ones are
/// one hour, historical ones up to two.
const MAX_REPEAT: Duration = Duration::hours(3);
/// Bound on the cron matches one query looks at, so that an every-second expression with
/// an hour of jitter cannot spin for long.
const MAX_SCAN: usize = 100_000;

/// Jitter is at most this, and at most the cron's period.
pub const MAX_JITTER: std::time::Duration = std::time::Duration::from_secs(24 * 3600);
/// Cron matches looked at to find a schedule's period.
const GAP_SAMPLE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// `expression` as the catalog has it, not as croner was given it.
    #[error("parse the cron expression `{expression}`: {reason}")]
    Cron { expression: String, reason: String },
}

/// When one image (or the whole catalog) is checked.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: Cron,
    expression: String,
    timezone: Tz,
    jitter: Jitter,
    /// Computed once: the catalog's check and the jitter bound both need it.
    period: Option<Duration>,
}

impl Schedule {
    /// `jitter_key` makes the jitter of this schedule differ from other schedules and hosts
    /// while staying the same across restarts.
    pub fn new(settings: &ScheduleSettings, jitter_key: &str) -> Result<Schedule, ScheduleError> {
        // The catalog accepts 5 fields; both croner's strict mode and tokio-cron-scheduler
        // want the seconds field, so the expression is always translated to 6 fields first.
        let expression = settings.cron_with_seconds();
        let cron = super::parse_cron(&settings.cron).map_err(|reason| ScheduleError::Cron {
            expression: settings.cron.clone(),
            reason,
        })?;
        let mut schedule = Schedule {
            cron,
            expression,
            timezone: settings.timezone,
            jitter: Jitter::new(None, jitter_key),
            period: None,
        };
        schedule.period = schedule.shortest_gap();
        // Jitter past the cron's period or a day spreads nothing and made every
        // query scan that many ticks (150 such schedules starved the service loop).
        let bound = schedule.jitter_bound();
        schedule.jitter = Jitter::new(settings.jitter.map(|j| j.min(bound)), jitter_key);
        Ok(schedule)
    }

    /// The shortest time between two cron matches over the next `GAP_SAMPLE`
    /// matches from a fixed instant: the schedule's period, for regular ones.
    fn shortest_gap(&self) -> Option<Duration> {
        let from = DateTime::<Utc>::from_timestamp(1_767_225_600, 0)?; // 2026-01-01
        let ticks: Vec<_> = self.ticks_after(from).take(GAP_SAMPLE).collect();
        ticks.windows(2).map(|pair| pair[1] - pair[0]).min()
    }

    /// The schedule's period (see `shortest_gap`); `None` when it matches at most once.
    pub fn period(&self) -> Option<Duration> {
        self.period
    }

    /// The most jitter this schedule takes: its period, and at most [`MAX_JITTER`].
    pub fn jitter_bound(&self) -> std::time::Duration {
        self.period
            .and_then(|gap| gap.to_std().ok())
            .map_or(MAX_JITTER, |gap| gap.min(MAX_JITTER))
    }

    /// The longest jitter this schedule adds.
    pub fn jitter_span(&self) -> Duration {
        self.jitter.span()
    }

    /// The expression with its seconds field, as evaluated.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first due instant (cron match plus jitter) strictly after `after`.
    ///
    /// `None` when the expression never matches again (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let span = self.jitter.span();
        let mut best: Option<DateTime<Utc>> = None;
        for tick in self.ticks_after(after - span).take(MAX_SCAN) {
            // A due instant is never before its tick, so no later tick can do better.
            if best.is_some_and(|best| tick >= best) {
                break;
            }
            let due = tick + self.jitter.delay(tick);
            if due > after && best.is_none_or(|best| due < best) {
                best = Some(due);
            }
        }
        best
    }

    /// The latest due instant in `(last_check, now]`: a check is owed when this is `Some`.
    ///
    /// However many due instants were missed, only the latest counts, so a daemon that was
    /// down for three ticks runs one check, not three. `last_check = None` (never checked)
    /// owes a check as soon as the expression has matched once.
    pub fn missed_since(
        &self,
        last_check: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let span = self.jitter.span();
        let mut best: Option<DateTime<Utc>> = None;
        for tick in self.ticks_at_or_before(now).take(MAX_SCAN) {
            // Due instants lie in [tick, tick + span]: stop once none can beat what we have.
            let floor = best.max(last_check);
            if floor.is_some_and(|floor| tick + span <= floor) {
                break;
            }
            let due = tick + self.jitter.delay(tick);
            if due <= now && last_check.is_none_or(|last| due > last) && best < Some(due) {
                best = Some(due);
            }
        }
        best
    }

    /// Cron matches (without jitter) strictly after `after`, in increasing order.
    pub fn ticks_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        let mut local = truncate(after.with_timezone(&self.timezone).naive_local());
        let mut last = after;
        std::iter::from_fn(move || {
            loop {
                local = self.naive_step(local, Step::Forward)?;
                let at = self.resolve(local)?;
                // Local times that repeat (fall back) or were skipped (spring forward) can map
                // to an instant already passed; each instant fires once.
                if at > last {
                    last = at;
                    return Some(at);
                }
            }
        })
    }

    /// Cron matches (without jitter) at or before `now`, in decreasing order.
    fn ticks_at_or_before(&self, now: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        // After a fall back, local times up to MAX_REPEAT *later* than now's local time were
        // already lived through once (their first occurrence is before now).
        let start = truncate(now.with_timezone(&self.timezone).naive_local()) + MAX_REPEAT;
        let mut local = self.naive_step(start, Step::BackwardInclusive);
        let mut last: Option<DateTime<Utc>> = None;
        std::iter::from_fn(move || {
            loop {
                let current = local?;
                local = self.naive_step(current, Step::Backward);
                let Some(at) = self.resolve(current) else {
                    continue;
                };
                if at <= now && last.is_none_or(|last| at < last) {
                    last = Some(at);
                    return Some(at);
                }
            }
        })
    }

    /// The neighbouring match of the expression on the local wall clock, DST ignored.
    fn naive_step(&self, local: NaiveDateTime, step: Step) -> Option<NaiveDateTime> {
        // Evaluating in UTC makes croner a pure calendar search; the timezone is applied by
        // `resolve`, with this module's documented rules rather than croner's.
        let at = Utc.from_utc_datetime(&local);
        let found = match step {
            Step::Forward => self.cron.find_next_occurrence(&at, false),
            Step::Backward => self.cron.find_previous_occurrence(&at, false),
            Step::BackwardInclusive => self.cron.find_previous_occurrence(&at, true),
        };
        found.ok().map(|t| t.naive_utc())
    }

    /// The instant a local wall-clock time stands for.
    ///
    /// A repeated local time (fall back) is its first occurrence; a skipped one (spring
    /// forward) is the end of the gap, the moment the clocks jump.
    fn resolve(&self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self.timezone.from_local_datetime(&local) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at.to_utc()),
            LocalResult::None => {
                // Offset changes happen on whole minutes.
                let start = local.with_second(0)?;
                (1..=MAX_GAP.num_minutes()).find_map(|m| {
                    self.timezone
                        .from_local_datetime(&(start + Duration::minutes(m)))
                        .earliest()
                        .map(|at| at.to_utc())
                })
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Step {
    Forward,
    Backward,
    BackwardInclusive,
}

/// Cron matches are whole seconds; dropping the fraction keeps croner's search exact.
fn truncate(local: NaiveDateTime) -> NaiveDateTime {
    local.with_nanosecond(0).unwrap_or(local)
}
