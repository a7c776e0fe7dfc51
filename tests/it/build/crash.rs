//! kill -9 at every point of a build: the task running it is aborted (an
//! aborted sqlx transaction rolls back, like a killed process's), then a new
//! process with its own store and client resumes from the database.

use std::sync::Arc;

use image_refresh::azure::image_templates::{self, TemplateRef};
use image_refresh::build::{self, BuildContext};
use image_refresh::model::{BuildState, Cleanup};
use tokio::task::JoinHandle;

use super::{BuildWorld, IMAGE, World, events, instant_world, only_build, options, states};

/// When the first process dies.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// Right after Azure answered its `n`-th request, before the answer is used.
    AfterRequest(usize),
    /// Right after the `n`-th state was recorded (as the progress channel shows).
    AfterState(usize),
}

/// What became of one crash.
struct Survivor {
    /// Whether the first process finished before the crash point came.
    finished_first: bool,
}

async fn crash_and_resume(crash: Crash) -> Survivor {
    let h = instant_world().await;
    let (ctx, mut progress) = super::with_progress(h.process("first", options()).await);
    let ctx = Arc::new(ctx);
    let job = h.job();
    let first: JoinHandle<_> = {
        let ctx = ctx.clone();
        tokio::spawn(async move { build::run_job(&ctx, &job).await })
    };
    let mut states_seen = 0;
    loop {
        if first.is_finished() {
            break;
        }
        let reached = match crash {
            Crash::AfterRequest(n) => h.sim.journal().len() >= n,
            Crash::AfterState(n) => {
                while progress.try_recv().is_ok() {
                    states_seen += 1;
                }
                states_seen >= n
            }
        };
        if reached {
            first.abort();
            break;
        }
        tokio::task::yield_now().await;
    }
    let finished_first = match first.await {
        Ok(result) => {
            result.unwrap();
            true
        }
        Err(error) => {
            assert!(error.is_cancelled(), "{crash:?}: {error}");
            false
        }
    };
    super::bury(&ctx).await;

    // The restarted process: the dead one's lease has expired by now.
    h.clock
        .skip(options().lease_ttl + chrono::Duration::minutes(1));
    let second = h.process("second", options()).await;
    restart(&h, &second).await;

    let record = only_build(&second.store).await;
    assert_eq!(
        record.state,
        BuildState::Succeeded,
        "{crash:?}: {record:#?}"
    );
    assert_eq!(record.artifact_ids.len(), 1, "{crash:?}");
    assert_eq!(record.cleanup, Cleanup::Done, "{crash:?}");
    assert_eq!(
        h.journal("template.run").len(),
        1,
        "{crash:?}: one run POST"
    );
    let template_name = record.template_name.clone().unwrap();
    assert!(
        h.journal("template.put")
            .iter()
            .all(|put| put.path.ends_with(&template_name)),
        "{crash:?}: a repeated PUT names the same template"
    );
    let log = events(&second.store, record.id).await;
    assert_eq!(
        states(&log),
        [
            BuildState::Planned,
            BuildState::TemplateCreated,
            BuildState::RunRequested,
            BuildState::Running,
            BuildState::Succeeded,
        ],
        "{crash:?}"
    );
    assert_eq!(log.last().unwrap().cleanup, Cleanup::Done, "{crash:?}");
    let template = TemplateRef {
        subscription_id: h.catalog.azure.subscription_id.clone(),
        resource_group: h.catalog.azure.resource_group.clone(),
        name: record.template_name.clone().unwrap(),
    };
    assert_eq!(
        image_templates::get(&second.arm, &template).await.unwrap(),
        None,
        "{crash:?}: template deleted"
    );
    assert_eq!(second.store.lease(IMAGE).await.unwrap(), None, "{crash:?}");
    Survivor { finished_first }
}

/// What the daemon does when it starts: resume what is unfinished, then build
/// what is still stale (here: the image, if no build of it was recorded).
async fn restart(h: &World, ctx: &BuildContext) {
    for build in ctx.store.unfinished_builds().await.unwrap() {
        build::resume(ctx, &h.catalog, build).await.unwrap();
    }
    if ctx.store.last_build(IMAGE).await.unwrap().is_none() {
        build::run_job(ctx, &h.job()).await.unwrap();
    }
}

#[tokio::test]
async fn a_crash_after_any_azure_request_leaves_exactly_one_run() {
    let mut n = 1;
    while !crash_and_resume(Crash::AfterRequest(n))
        .await
        .finished_first
    {
        n += 1;
        assert!(n < 100, "the build never finished");
    }
    // Every request of a build was a crash point: token, PUT, its polls,
    // reads, run, outputs, DELETE and its polls.
    assert!(n > 10, "only {n} crash points");
}

#[tokio::test]
async fn a_crash_after_any_recorded_state_leaves_exactly_one_run() {
    let mut n = 1;
    while !crash_and_resume(Crash::AfterState(n)).await.finished_first {
        n += 1;
        assert!(n < 100, "the build never finished");
    }
    // planned, template_created, run_requested, running, succeeded.
    assert!(n >= 5, "only {n} crash points");
}
