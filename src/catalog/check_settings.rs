//! Raw `[store]`, `[schedule]` and `[defaults]` → typed settings, and the checks
//! of single values every table uses.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use chrono::Duration;
use chrono_tz::Tz;

use super::error::Problems;
use super::model::{Defaults, ScheduleSettings, StoreSettings};
use super::raw::{Int, RawDefaults, RawSchedule, RawStore, S, Str};
use super::values::{
    IdKind, check_location, check_resource_id, is_guid, parse_duration, parse_retention,
};

/// A required string field, reported against its table when missing.
pub(super) fn required<'r>(
    p: &mut Problems,
    field: &'r Str,
    table: Range<usize>,
    what: &str,
    hint: &str,
) -> Option<&'r S<String>> {
    if field.is_none() {
        p.hint(table, format!("missing `{what}`"), hint);
    }
    field.as_ref()
}

pub(super) fn guid(p: &mut Problems, value: &S<String>, field: &str) -> Option<String> {
    if is_guid(value.get_ref()) {
        Some(value.get_ref().to_ascii_lowercase())
    } else {
        p.hide(value.span());
        p.hint(
            value.span(),
            format!("`{field}` is not a GUID"),
            "write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
        );
        None
    }
}

pub(super) fn location(p: &mut Problems, value: &S<String>) -> Option<String> {
    match check_location(value.get_ref()) {
        Ok(()) => Some(value.get_ref().clone()),
        Err(hint) => {
            p.hint(
                value.span(),
                format!("invalid location `{}`", value.get_ref()),
                hint,
            );
            None
        }
    }
}

pub(super) fn resource_id(p: &mut Problems, value: &S<String>, kind: IdKind) -> Option<String> {
    match check_resource_id(value.get_ref(), kind) {
        Ok(()) => Some(value.get_ref().clone()),
        Err(hint) => {
            p.hint(
                value.span(),
                format!("malformed {} resource ID", kind.describe()),
                hint,
            );
            None
        }
    }
}

pub(super) fn check_store(p: &mut Problems, raw: Option<&RawStore>) -> StoreSettings {
    let keep_checks = match raw.and_then(|s| s.keep_checks_days.as_ref()) {
        None => Some(StoreSettings::KEEP_CHECKS),
        Some(days) => match *days.get_ref() {
            d @ 1..=36500 => Some(Duration::days(d)),
            _ => {
                p.hint(
                    days.span(),
                    "`keep_checks_days` out of range",
                    "use 1 to 36500 days; checks that builds refer to are always kept",
                );
                None
            }
        },
    };
    StoreSettings {
        database: raw
            .and_then(|s| s.database.as_ref())
            .map(|d| PathBuf::from(d.get_ref())),
        keep_checks: keep_checks.unwrap_or(StoreSettings::KEEP_CHECKS),
    }
}

pub(super) fn check_schedule(p: &mut Problems, raw: &S<RawSchedule>) -> Option<ScheduleSettings> {
    let schedule = raw.get_ref();
    let cron = required(p, &schedule.cron, raw.span(), "cron", "e.g. cron = \"0 6 * * TUE#2\" (06:00 on the second Tuesday)").and_then(|cron| {
        match crate::schedule::parse_cron(cron.get_ref()) {
            Ok(_) => Some(cron.get_ref().trim().to_owned()),
            Err(reason) => {
                p.hint(cron.span(), format!("bad cron expression `{}`: {reason}", cron.get_ref().trim()), "use 5 fields (minute hour day-of-month month day-of-week) or 6 with leading seconds, e.g. \"0 6 * * TUE#2\"");
                None
            }
        }
    });
    let timezone = match &schedule.timezone {
        None => Some(Tz::UTC),
        Some(tz) => tz.get_ref().parse::<Tz>().ok().or_else(|| {
            p.hint(
                tz.span(),
                format!("unknown timezone `{}`", tz.get_ref()),
                "use an IANA name such as \"Europe/Prague\" or \"UTC\"",
            );
            None
        }),
    };
    let jitter = match &schedule.jitter {
        None => None,
        Some(jitter) => match parse_duration(jitter.get_ref()) {
            Ok(duration) => Some(duration),
            Err(hint) => {
                p.hint(jitter.span(), "bad `jitter`", hint);
                return None;
            }
        },
    };
    let settings = ScheduleSettings {
        cron: cron?,
        timezone: timezone?,
        jitter,
    };
    check_frequency(p, schedule, &settings).then_some(settings)
}

/// Base images change weekly at most: a check every few seconds only spends ARM's
/// budget and grows the history, so it takes `allow_frequent = true`. Jitter longer
/// than the period (or a day) spreads nothing.
fn check_frequency(p: &mut Problems, raw: &RawSchedule, settings: &ScheduleSettings) -> bool {
    const FREQUENT: chrono::Duration = chrono::Duration::minutes(5);
    let Ok(schedule) = crate::schedule::Schedule::new(settings, "") else {
        return true;
    };
    let Some(gap) = schedule.period() else {
        return true;
    };
    let allowed = raw.allow_frequent.as_ref().is_some_and(|a| *a.get_ref());
    let mut ok = true;
    if gap < FREQUENT
        && !allowed
        && let Some(cron) = &raw.cron
    {
        p.hint(
            cron.span(),
            format!(
                "`cron` fires every {} s, more often than every 5 minutes",
                gap.num_seconds()
            ),
            "base images change weekly at most: check daily or weekly, or set \
             allow_frequent = true in this table if you mean it",
        );
        ok = false;
    }
    let bound = schedule.jitter_bound();
    if let (Some(jitter), Some(raw_jitter)) = (settings.jitter, &raw.jitter)
        && jitter > bound
    {
        p.hint(
            raw_jitter.span(),
            format!(
                "`jitter` is longer than the {} s between checks (or a day)",
                bound.as_secs()
            ),
            format!("use at most {} s", bound.as_secs()),
        );
        ok = false;
    }
    ok
}

pub(super) fn check_defaults(p: &mut Problems, raw: Option<&RawDefaults>) -> Defaults {
    let mut defaults = Defaults::default();
    let Some(raw) = raw else {
        return defaults;
    };
    if let Some(size) = raw.vm_size.as_ref().and_then(|size| vm_size(p, size)) {
        defaults.vm_size = size;
    }
    if let Some(size) = disk_size(p, &raw.os_disk_size_gb) {
        defaults.os_disk_size_gb = size;
    }
    if let Some(timeout) = build_timeout(p, &raw.build_timeout_minutes) {
        defaults.build_timeout_minutes = timeout;
    }
    defaults.max_age = max_age(p, &raw.max_age_days);
    defaults.min_base_age = min_base_age(p, &raw.min_base_age);
    defaults.tags = tags(p, raw.tags.as_ref());
    defaults.build_window = raw
        .build_window
        .as_ref()
        .and_then(|w| super::check_window::check_build_window(p, w));
    defaults
}

pub(super) fn vm_size(p: &mut Problems, size: &S<String>) -> Option<String> {
    let value = size.get_ref();
    if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some(value.clone())
    } else {
        p.hint(
            size.span(),
            format!("invalid VM size `{value}`"),
            "use an ARM size name such as \"Standard_D2s_v3\"",
        );
        None
    }
}

pub(super) fn disk_size(p: &mut Problems, size: &Int) -> Option<u32> {
    let size = size.as_ref()?;
    match u32::try_from(*size.get_ref()) {
        Ok(gb) if gb <= 4095 => Some(gb),
        _ => {
            p.hint(
                size.span(),
                "`os_disk_size_gb` out of range",
                "use 0 (keep the source's size) up to 4095",
            );
            None
        }
    }
}

pub(super) fn build_timeout(p: &mut Problems, timeout: &Int) -> Option<u32> {
    let timeout = timeout.as_ref()?;
    match u32::try_from(*timeout.get_ref()) {
        Ok(minutes) if minutes <= 960 => Some(minutes),
        _ => {
            p.hint(
                timeout.span(),
                "`build_timeout_minutes` out of range",
                "AIB accepts 0 to 960 minutes (0 means its default of 240)",
            );
            None
        }
    }
}

/// `min_base_age = "3d"`: how long a new base version soaks before it is built.
pub(super) fn min_base_age(p: &mut Problems, text: &Str) -> Option<Duration> {
    let text = text.as_ref()?;
    let age = duration(p, text)?;
    if age > std::time::Duration::from_secs(90 * 86_400) {
        p.hint(
            text.span(),
            "`min_base_age` out of range",
            "at most \"90d\": a base image that old has newer security fixes waiting",
        );
        return None;
    }
    Duration::from_std(age).ok()
}

/// A duration in the catalog's units ("90s", "30m", "2h", "7d"), or the problem at its span.
pub(super) fn duration(p: &mut Problems, text: &S<String>) -> Option<std::time::Duration> {
    parse_retention(text.get_ref())
        .map_err(|hint| {
            p.hint(
                text.span(),
                format!("`{}` is not a duration", text.get_ref()),
                hint,
            );
        })
        .ok()
}

pub(super) fn max_age(p: &mut Problems, days: &Int) -> Option<Duration> {
    let days = days.as_ref()?;
    match *days.get_ref() {
        d @ 1..=3650 => Some(Duration::days(d)),
        _ => {
            p.hint(
                days.span(),
                "`max_age_days` out of range",
                "use 1 to 3650 days, or leave it out to rebuild only when the source changes",
            );
            None
        }
    }
}

/// Tags as ARM accepts them: keys up to 512 characters without `<>%&\?/`, values up to 256.
/// Problems are reported at the value, the only part toml gives a position for.
pub(super) fn tags(
    p: &mut Problems,
    raw: Option<&BTreeMap<String, S<String>>>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    for (key, value) in raw.into_iter().flatten() {
        let key_ok = !key.is_empty()
            && key.chars().count() <= 512
            && !key.contains(['<', '>', '%', '&', '\\', '?', '/']);
        if !key_ok {
            p.hint(
                value.span(),
                format!("invalid tag name `{key}`"),
                "tag names are 1–512 characters without < > % & \\ ? /",
            );
        } else if value.get_ref().chars().count() > 256 {
            p.hint(
                value.span(),
                format!("value of tag `{key}` is too long"),
                "tag values are at most 256 characters",
            );
        } else {
            tags.insert(key.clone(), value.get_ref().clone());
        }
    }
    tags
}
