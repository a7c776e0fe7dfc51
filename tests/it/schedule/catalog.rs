//! A whole catalog: the global schedule, per-image overrides, the default, catch-up.

use std::collections::HashMap;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use image_refresh::catalog::{self, CLASSIC, Catalog};
use image_refresh::schedule::{CatalogSchedules, DEFAULT_CRON};

use super::{at, settings};

/// The shipped catalog with `[schedule]` (if any) spliced in and images `a`, `b`, `c`, `off`.
fn catalog(global: Option<&str>) -> Catalog {
    let text = match global {
        Some(table) => format!("{CLASSIC}\n{table}\n"),
        None => CLASSIC.to_owned(),
    };
    let mut catalog = catalog::parse(&text, "test.toml").unwrap();
    let base = catalog.images[0].clone();
    catalog.images = ["a", "b", "c", "off"]
        .into_iter()
        .map(|name| {
            let mut image = base.clone();
            image.name = name.to_owned();
            image.enabled = name != "off";
            image
        })
        .collect();
    // `b` checks on Wednesday after Patch Tuesday in New York, `c` has its own jitter.
    catalog.images[1].schedule = Some(settings("0 6 9-15 * +WED", Tz::America__New_York, None));
    catalog.images[2].schedule = Some(settings(
        "0 6 * * TUE#2",
        Tz::Europe__Prague,
        Some(StdDuration::from_secs(600)),
    ));
    catalog
}

const PATCH_TUESDAY: &str = "[schedule]\ncron = \"0 6 * * TUE#2\"\ntimezone = \"Europe/Prague\"";

#[test]
fn the_catalog_validator_accepts_every_documented_form() {
    for cron in [
        "0 6 * * TUE#2",
        "0 6 9-15 * +WED",
        "0 6 1,15 * *",
        "30 0 6 * * MON-FRI",
    ] {
        let table = format!(
            "[schedule]\ncron = \"{cron}\"\ntimezone = \"America/New_York\"\njitter = \"30m\""
        );
        let catalog = catalog::parse(&format!("{CLASSIC}\n{table}\n"), "t.toml").unwrap();
        CatalogSchedules::new(&catalog, "host").unwrap();
    }
}

#[test]
fn images_follow_their_own_schedule_or_the_catalogs() {
    let schedules = CatalogSchedules::new(&catalog(Some(PATCH_TUESDAY)), "host").unwrap();
    assert!(!schedules.uses_default());
    let now = at("2026-11-01T00:00:00Z");
    // 10 November 06:00 CET for `a`; `c` too but up to ten minutes later; `b` on the 11th.
    let (first, images) = schedules.next_due(now).unwrap();
    assert_eq!(
        (first, images),
        (at("2026-11-10T05:00:00Z"), vec!["a".to_owned()])
    );
    let (second, images) = schedules.next_due(first).unwrap();
    assert_eq!(images, ["c"]);
    assert!(second > first && second <= first + chrono::Duration::minutes(10));
    assert_eq!(
        schedules.next_due(second).unwrap(),
        (at("2026-11-11T11:00:00Z"), vec!["b".to_owned()])
    );
    assert!(
        schedules.schedule_for("off").is_none(),
        "disabled images are never due"
    );
}

#[test]
fn without_any_schedule_images_are_checked_daily_at_six_utc() {
    let mut catalog = catalog(None);
    let own: Vec<_> = catalog
        .images
        .iter()
        .map(|i| i.schedule.is_some())
        .collect();
    assert_eq!(own, [false, true, true, false]);
    let schedules = CatalogSchedules::new(&catalog, "host").unwrap();
    assert!(schedules.uses_default());
    assert_eq!(
        schedules.schedule_for("a").unwrap().expression(),
        format!("0 {DEFAULT_CRON}")
    );
    assert_eq!(
        schedules.next_due(at("2026-11-25T07:00:00Z")).unwrap(),
        (at("2026-11-26T06:00:00Z"), vec!["a".to_owned()])
    );
    // When every enabled image has its own schedule, the default is not in use.
    catalog.images.retain(|image| image.schedule.is_some());
    assert!(
        !CatalogSchedules::new(&catalog, "host")
            .unwrap()
            .uses_default()
    );
}

#[test]
fn after_downtime_each_image_is_due_once_and_never_checked_ones_at_once() {
    let schedules = CatalogSchedules::new(&catalog(Some(PATCH_TUESDAY)), "host").unwrap();
    // The daemon was down from September to 25 November: `a` and `c` missed October and
    // November, `b` too; `c` was never checked at all.
    let mut last: HashMap<String, DateTime<Utc>> = HashMap::new();
    last.insert("a".into(), at("2026-09-08T05:00:10Z"));
    last.insert("b".into(), at("2026-09-09T10:00:10Z"));
    let now = at("2026-11-25T09:30:00Z");
    let lookup = |last: &HashMap<String, DateTime<Utc>>| {
        let last = last.clone();
        move |image: &str| last.get(image).copied()
    };
    assert_eq!(schedules.due_images(lookup(&last), now), ["a", "b", "c"]);
    // One cycle checks them all; afterwards nothing is due until December.
    for image in ["a", "b", "c"] {
        last.insert(image.into(), now);
    }
    assert!(schedules.due_images(lookup(&last), now).is_empty());
    assert!(
        schedules
            .due_images(lookup(&last), at("2026-12-08T04:59:59Z"))
            .is_empty()
    );
    assert_eq!(
        schedules.due_images(lookup(&last), at("2026-12-08T05:00:00Z")),
        ["a"]
    );
}
