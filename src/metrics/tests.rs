//! The registry names every family in [`FAMILIES`], in its order.

use super::*;

#[test]
fn every_family_is_listed_once_it_has_a_series() {
    let m = Metrics::new();
    m.count_build("x", "failed", 10);
    let label = ImageLabel { image: "x".into() };
    let inner = &m.inner;
    for family in [
        &inner.image_stale,
        &inner.image_enabled,
        &inner.image_failures,
        &inner.image_last_success,
        &inner.image_max_age,
    ] {
        family.get_or_create(&label).set(1);
    }
    inner
        .image_decision
        .get_or_create(&DecisionLabels {
            image: "x".into(),
            decision: "up_to_date".into(),
        })
        .set(1);
    inner
        .image_version
        .get_or_create(&VersionLabels {
            image: "x".into(),
            version: "1".into(),
        })
        .set(1);
    inner
        .builds
        .get_or_create(&BuildLabels {
            image: "x".into(),
            result: "failed".into(),
        })
        .inc();
    m.notification_failed("ops");
    use crate::azure::RequestObserver;
    inner.arm.observe(
        &reqwest::Method::GET,
        "/x",
        crate::azure::Answer::Status(429),
    );
    let text = m.encode().unwrap();
    let typed: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(typed, FAMILIES, "{text}");
    assert!(
        text.contains("image_refresh_arm_throttled_total 1"),
        "{text}"
    );
}
