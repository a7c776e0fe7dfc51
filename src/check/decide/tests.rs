//! Every reason, without Azure or a database.

use super::*;

const HASH: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const OTHER_HASH: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T06:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn build(id: &'static str, outcome: Outcome, days_ago: i64) -> PastBuild<'static> {
    PastBuild {
        id: id.into(),
        recipe_hash: HASH,
        source_version: "22.04.202411010",
        outcome,
        finished_at: Some(now() - Duration::days(days_ago)),
    }
}

fn facts(last_success: Option<PastBuild<'static>>) -> Facts<'static> {
    Facts {
        wanted: Wanted {
            recipe_hash: HASH,
            max_age: Some(Duration::days(30)),
            min_base_age: None,
            enabled: true,
            auto_disabled: None,
            window_closed_until: None,
        },
        last_attempt: last_success.clone(),
        last_success,
        source_version: "22.04.202411010",
        source_first_seen: None,
        now: now(),
    }
}

#[test]
fn a_new_base_version_soaks_for_min_base_age_then_is_built() {
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 3)));
    f.source_version = "22.04.202411200";
    f.wanted.min_base_age = Some(Duration::days(3));
    f.source_first_seen = Some(now() - Duration::days(1));
    let decision = decide(&f);
    assert_eq!(
        decision,
        Decision::Soaking {
            old: "22.04.202411010".into(),
            new: "22.04.202411200".into(),
            eligible_from: now() + Duration::days(2),
        }
    );
    assert!(!decision.is_stale());
    assert!(
        decision
            .reason()
            .starts_with("new base version 22.04.202411010 → 22.04.202411200, eligible from ")
    );
    // Seen just now: the whole soak is ahead.
    f.source_first_seen = None;
    assert!(
        matches!(decide(&f), Decision::Soaking { eligible_from, .. } if eligible_from == now() + Duration::days(3))
    );
    f.source_first_seen = Some(now() - Duration::days(3));
    assert!(matches!(decide(&f), Decision::NewBaseVersion { .. }));
    // Soak is for new base versions: a first build does not wait.
    let mut first = facts(None);
    first.wanted.min_base_age = Some(Duration::days(3));
    assert_eq!(decide(&first), Decision::NeverBuilt);
}

#[test]
fn a_stale_image_waits_for_its_closed_build_window_and_nothing_else_does() {
    let opens_at = now() + Duration::hours(30);
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 3)));
    f.source_version = "22.04.202411200";
    f.wanted.window_closed_until = Some(opens_at);
    let decision = decide(&f);
    assert_eq!(
        decision,
        Decision::WaitingForWindow {
            stale: Box::new(Decision::NewBaseVersion {
                old: "22.04.202411010".into(),
                new: "22.04.202411200".into(),
            }),
            opens_at,
        }
    );
    assert!(!decision.is_stale() && decision.kind().is_outdated());
    assert!(
        decision.reason().starts_with(
            "new base version 22.04.202411010 → 22.04.202411200; waiting for the build window, opens "
        ),
        "{}",
        decision.reason()
    );
    // Up to date, or already building: a closed window changes nothing.
    f.source_version = "22.04.202411010";
    assert_eq!(decide(&f), Decision::UpToDate);
    let mut running = facts(Some(build("b1", Outcome::Succeeded, 3)));
    running.last_attempt = Some(build("b2", Outcome::InProgress, 0));
    running.wanted.window_closed_until = Some(opens_at);
    assert!(matches!(decide(&running), Decision::InProgress { .. }));
    // A first build waits too: the window says when builds start.
    let mut first = facts(None);
    first.wanted.window_closed_until = Some(opens_at);
    assert!(matches!(decide(&first), Decision::WaitingForWindow { .. }));
}

#[test]
fn never_built() {
    assert_eq!(decide(&facts(None)), Decision::NeverBuilt);
}

#[test]
fn up_to_date_when_nothing_changed() {
    let decision = decide(&facts(Some(build("b1", Outcome::Succeeded, 3))));
    assert_eq!(decision, Decision::UpToDate);
    assert!(!decision.is_stale());
}

#[test]
fn new_base_version_names_both_versions() {
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 3)));
    f.source_version = "22.04.202411200";
    let decision = decide(&f);
    assert_eq!(
        decision,
        Decision::NewBaseVersion {
            old: "22.04.202411010".into(),
            new: "22.04.202411200".into()
        }
    );
    assert_eq!(
        decision.reason(),
        "new base version 22.04.202411010 → 22.04.202411200"
    );
}

#[test]
fn recipe_changed_shows_short_hashes() {
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 3)));
    f.wanted.recipe_hash = OTHER_HASH;
    assert_eq!(
        decide(&f).reason(),
        "recipe changed sha256:aaaaaaaaaaaa → sha256:bbbbbbbbbbbb"
    );
}

#[test]
fn too_old_only_past_the_maximum_age() {
    let at_limit = decide(&facts(Some(build("b1", Outcome::Succeeded, 30))));
    assert_eq!(at_limit, Decision::UpToDate);
    let past = decide(&facts(Some(build("b1", Outcome::Succeeded, 31))));
    assert_eq!(
        past,
        Decision::TooOld {
            age_days: 31,
            max_age_days: 30
        }
    );
    assert!(past.is_stale());
}

#[test]
fn no_maximum_age_never_ages_out() {
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 400)));
    f.wanted.max_age = None;
    assert_eq!(decide(&f), Decision::UpToDate);
}

#[test]
fn failed_attempt_is_retried_even_when_a_success_exists() {
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 10)));
    f.last_attempt = Some(build("b2", Outcome::Failed, 1));
    assert_eq!(
        decide(&f),
        Decision::RetryAfterFailure {
            failed_build: "b2".into()
        }
    );
}

#[test]
fn running_build_is_not_doubled() {
    let mut f = facts(None);
    f.last_attempt = Some(build("b3", Outcome::InProgress, 0));
    let decision = decide(&f);
    assert_eq!(decision, Decision::InProgress { build: "b3".into() });
    assert!(!decision.is_stale());
}

#[test]
fn disabled_wins_over_everything() {
    let mut f = facts(None);
    f.wanted.enabled = false;
    assert_eq!(decide(&f).kind(), "disabled");
    let mut f = facts(None);
    f.wanted.auto_disabled = Some("3 consecutive failed builds");
    assert_eq!(decide(&f).reason(), "disabled: 3 consecutive failed builds");
}

#[test]
fn a_new_base_version_is_named_before_a_recipe_change() {
    let mut f = facts(Some(build("b1", Outcome::Succeeded, 3)));
    f.source_version = "22.04.202411200";
    f.wanted.recipe_hash = OTHER_HASH;
    assert_eq!(decide(&f).kind(), "new_base_version");
}

#[test]
fn age_needs_a_finish_time_and_a_clock_that_moved_forward() {
    let mut unfinished = build("b1", Outcome::Succeeded, 0);
    unfinished.finished_at = None;
    assert_eq!(decide(&facts(Some(unfinished))), Decision::UpToDate);
    // A build stamped in the future (clock skew between hosts) is not old.
    let future = build("b1", Outcome::Succeeded, -5);
    assert_eq!(decide(&facts(Some(future))), Decision::UpToDate);
}

#[test]
fn short_ids_and_bare_hashes_are_shown_whole() {
    let f = {
        let mut f = facts(Some(build("b1", Outcome::Succeeded, 3)));
        f.last_attempt = Some(build("b2", Outcome::Failed, 1));
        f
    };
    assert_eq!(decide(&f).reason(), "retry after failed build b2");
    let long = Decision::InProgress {
        build: "0123456789abcdef".into(),
    };
    assert_eq!(long.reason(), "build 01234567 in progress");
    assert_eq!(short_hash("abc"), "sha256:abc");
}

#[test]
fn a_catalog_switch_wins_over_a_stored_reason() {
    let wanted = Wanted {
        recipe_hash: HASH,
        max_age: None,
        min_base_age: None,
        enabled: false,
        auto_disabled: Some("3 consecutive failed builds"),
        window_closed_until: None,
    };
    assert_eq!(
        disabled(&wanted),
        Some(Decision::Disabled {
            why: "enabled = false in the catalog".into()
        })
    );
    let enabled = Wanted {
        enabled: true,
        auto_disabled: None,
        ..wanted
    };
    assert_eq!(disabled(&enabled), None);
}

#[test]
fn every_kind_matches_its_stored_word_and_staleness() {
    let all = [
        Decision::NeverBuilt,
        Decision::NewBaseVersion {
            old: "1".into(),
            new: "2".into(),
        },
        Decision::RecipeChanged {
            old: "a".into(),
            new: "b".into(),
        },
        Decision::TooOld {
            age_days: 2,
            max_age_days: 1,
        },
        Decision::RetryAfterFailure {
            failed_build: "b".into(),
        },
        Decision::InProgress { build: "b".into() },
        Decision::Soaking {
            old: "a".into(),
            new: "b".into(),
            eligible_from: now(),
        },
        Decision::SourceUnavailable { error: "e".into() },
        Decision::SourceNotFound {
            missing: "m".into(),
        },
        Decision::UpToDate,
        Decision::Disabled { why: "w".into() },
        Decision::WaitingForWindow {
            stale: Box::new(Decision::NeverBuilt),
            opens_at: now(),
        },
    ];
    for decision in all {
        let json = serde_json::to_value(&decision).unwrap();
        assert_eq!(json["kind"], decision.kind().as_str());
    }
}
