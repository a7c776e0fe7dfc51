//! What must hold after the last restart let everything finish.

use std::collections::BTreeMap;

use azure_sim::JournalEntry;
use image_refresh::model::{BuildState, Cleanup};
use image_refresh::store::{BuildRecord, EventRecord, Store};
use sqlx::Row;

/// Asserts that the history is intact and each stale image was built exactly
/// once, with exactly one AIB run; `context` goes in every failure message.
pub async fn audit(store: &Store, images: &[String], journal: &[JournalEntry], context: &str) {
    let integrity: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(integrity, "ok", "{context}");

    let builds = store.history(None, 10_000).await.unwrap();
    assert_eq!(
        builds.len(),
        images.len(),
        "one build per stale image, no more, no fewer: {:?}\n{context}",
        builds.iter().map(|b| &b.image).collect::<Vec<_>>()
    );
    let mut per_image: BTreeMap<&str, Vec<&BuildRecord>> = BTreeMap::new();
    for build in &builds {
        per_image
            .entry(build.image.as_str())
            .or_default()
            .push(build);
    }
    for image in images {
        let found = per_image.get(image.as_str()).map_or(0, Vec::len);
        assert_eq!(found, 1, "builds of {image}\n{context}");
    }

    // Each build answers a check that found its image stale at that version.
    for build in &builds {
        let check = build
            .check_id
            .unwrap_or_else(|| panic!("{build:?}\n{context}"));
        let decision = store
            .decisions(check)
            .await
            .unwrap()
            .into_iter()
            .find(|d| d.image == build.image)
            .unwrap_or_else(|| {
                panic!(
                    "check {check} has no decision for {}\n{context}",
                    build.image
                )
            });
        assert!(decision.kind.is_stale(), "{decision:?}\n{context}");
        assert_eq!(
            decision.source_version.as_ref(),
            Some(&build.source_version),
            "{context}"
        );
    }
    let leases: i64 = sqlx::query("SELECT count(*) FROM image_leases")
        .fetch_one(store.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        leases, 0,
        "every lease released or taken over and released\n{context}"
    );

    let runs = runs_per_template(journal);
    for build in &builds {
        let what = format!("build {} of {}", build.id, build.image);
        assert_eq!(
            build.state,
            BuildState::Succeeded,
            "{what}: {:?}\n{context}",
            build.error_message
        );
        assert_eq!(build.cleanup, Cleanup::Done, "{what}\n{context}");
        assert!(build.finished_at.is_some(), "{what}\n{context}");
        let template = build.template_name.as_deref().unwrap();
        let posts = runs.get(template).cloned().unwrap_or_default();
        assert_eq!(
            posts.len(),
            1,
            "{what}: one run POST to {template}, answered {posts:?}\n{context}"
        );
        assert!(
            (200..300).contains(&posts[0]),
            "{what}: {posts:?}\n{context}"
        );
        let events = store.build_events(build.id).await.unwrap();
        check_events(&events, &format!("{what}\n{context}"));
    }
    assert_eq!(
        runs.len(),
        builds.len(),
        "runs of templates no build knows: {runs:?}\n{context}"
    );
}

/// Answer statuses of the `run` POSTs, by template name.
fn runs_per_template(journal: &[JournalEntry]) -> BTreeMap<String, Vec<u16>> {
    let mut runs: BTreeMap<String, Vec<u16>> = BTreeMap::new();
    for entry in journal.iter().filter(|e| e.route == "template.run") {
        // .../imageTemplates/{name}/run
        let template = entry.path.rsplit('/').nth(1).unwrap().to_owned();
        runs.entry(template).or_default().push(entry.status);
    }
    runs
}

/// A build's events: planned first, states only ever moving forward, no
/// event repeated, one terminal state, and the clean-up recorded last, once.
fn check_events(events: &[EventRecord], what: &str) {
    let shown = || {
        events
            .iter()
            .map(|e| {
                format!(
                    "{} {:?} {} ({})",
                    e.state, e.run_sub_state, e.cleanup, e.detail
                )
            })
            .collect::<Vec<_>>()
            .join("\n  ")
    };
    assert_eq!(
        events.first().map(|e| e.state),
        Some(BuildState::Planned),
        "{what}\n  {}",
        shown()
    );
    for pair in events.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(
            rank(a.state) <= rank(b.state),
            "state went back: {what}\n  {}",
            shown()
        );
        assert!(
            (a.state, a.run_sub_state, a.cleanup) != (b.state, b.run_sub_state, b.cleanup),
            "event recorded twice: {what}\n  {}",
            shown()
        );
        assert!(
            !(a.state.is_terminal() && b.state != a.state),
            "{what}\n  {}",
            shown()
        );
    }
    let done: Vec<_> = events
        .iter()
        .filter(|e| e.cleanup == Cleanup::Done)
        .collect();
    assert_eq!(
        done.len(),
        1,
        "clean-up recorded once: {what}\n  {}",
        shown()
    );
    assert_eq!(
        events.last().map(|e| e.cleanup),
        Some(Cleanup::Done),
        "{what}\n  {}",
        shown()
    );
    // Running events differ by AIB's sub-state, which only moves forward.
    let subs: Vec<usize> = events
        .iter()
        .filter_map(|e| e.run_sub_state)
        .map(|s| SUB_STATES.iter().position(|w| *w == s.as_str()).unwrap())
        .collect();
    assert!(
        subs.windows(2).all(|w| w[0] <= w[1]),
        "{what}\n  {}",
        shown()
    );
}

const SUB_STATES: &[&str] = &[
    "queued",
    "building",
    "customizing",
    "optimizing",
    "validating",
    "distributing",
];

fn rank(state: BuildState) -> u8 {
    match state {
        BuildState::Planned => 0,
        BuildState::TemplateCreated => 1,
        BuildState::RunRequested => 2,
        BuildState::Running => 3,
        BuildState::Canceling => 4,
        _ => 5,
    }
}
