//! Two processes never build one image at once: the image lease.

use std::sync::Arc;

use azure_sim::{FaultKind, FaultRule};
use image_refresh::build::{self, BuildError, BuildOptions};
use image_refresh::clock::Clock;
use image_refresh::model::CheckTrigger;
use image_refresh::model::{BuildState, Cleanup};
use image_refresh::pipeline::Pipeline;
use image_refresh::store::ClaimError;

use super::{BuildWorld, IMAGE, instant_world, only_build, options, with_progress, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_racing_for_one_image_build_it_once() {
    let h = world("").await;
    let daemon = Arc::new(h.process("daemon", options()).await);
    let operator = Arc::new(h.process("operator", options()).await);
    let start = |ctx: &Arc<image_refresh::build::BuildContext>| {
        let (ctx, job) = (ctx.clone(), h.job());
        tokio::spawn(async move { build::run_job(&ctx, &job).await })
    };
    let (a, b) = (start(&daemon), start(&operator));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let (winner, record, loser) = match (a, b) {
        (Ok(record), Err(error)) => ("daemon", record, error),
        (Err(error), Ok(record)) => ("operator", record, error),
        other => panic!("exactly one process must build: {other:?}"),
    };
    assert_eq!(record.state, BuildState::Succeeded);
    match &loser {
        BuildError::Claim(ClaimError::HeldBy { image, holder, .. }) => {
            assert_eq!(image, IMAGE);
            assert_eq!(holder, winner);
        }
        other => panic!("the loser must be told who builds: {other:?}"),
    }
    assert!(loser.to_string().contains(winner), "{loser}");
    assert_eq!(only_build(&daemon.store).await.id, record.id);
    assert_eq!(h.journal("template.put").len(), 1);
    assert_eq!(h.journal("template.run").len(), 1);
}

#[tokio::test]
async fn a_crashed_holders_lease_is_taken_over_once_it_expires() {
    let h = world("").await;
    let (first, mut progress) = with_progress(h.process("crashed", options()).await);
    let first = Arc::new(first);
    let task = {
        let (first, job) = (first.clone(), h.job());
        tokio::spawn(async move { build::run_job(&first, &job).await })
    };
    while let Some(p) = progress.recv().await {
        if p.state == BuildState::Running {
            task.abort();
            break;
        }
    }
    assert!(task.await.unwrap_err().is_cancelled());
    super::bury(&first).await;
    let left = only_build(&h.store().await).await;
    assert!(!left.state.is_terminal(), "{left:?}");

    let second = h.process("restarted", options()).await;
    let error = build::resume(&second, &h.catalog, left.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, BuildError::Claim(ClaimError::HeldBy { holder, .. }) if holder == "crashed"),
        "{error:?}"
    );
    // Nobody renews the dead process's lease; after its ttl it is free.
    h.clock
        .skip(options().lease_ttl + chrono::Duration::seconds(1));
    let record = build::resume(&second, &h.catalog, left).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(h.journal("template.run").len(), 1);
    assert_eq!(second.store.lease(IMAGE).await.unwrap(), None);
}

#[tokio::test]
async fn a_build_longer_than_the_lease_keeps_it_by_renewing() {
    let h = world("[[builds]]\nmatch = \"*\"\noutcome = \"succeeded\"\nextra_secs = 2\n").await;
    let (first, mut progress) = with_progress(h.process("first", options()).await);
    let first = Arc::new(first);
    let task = {
        let (first, job) = (first.clone(), h.job());
        tokio::spawn(async move { build::run_job(&first, &job).await })
    };
    while let Some(p) = progress.recv().await {
        if p.state == BuildState::Running {
            break;
        }
    }
    // Twice the lease's life passes while the run goes on...
    h.clock.skip(options().lease_ttl * 2);
    // ...and the builder's next poll renews it.
    let store = h.store().await;
    loop {
        let lease = store.lease(IMAGE).await.unwrap().unwrap();
        if lease.expires_at > h.clock.now() {
            break;
        }
        tokio::task::yield_now().await;
    }
    let second = h.process("second", options()).await;
    let error = build::run_job(&second, &h.job()).await.unwrap_err();
    assert!(
        matches!(&error, BuildError::Claim(ClaimError::HeldBy { holder, .. }) if holder == "first"),
        "{error:?}"
    );
    let record = task.await.unwrap().unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(h.journal("template.run").len(), 1);
}

/// A template DELETE can take many minutes while AIB deletes its staging resource group;
/// one that outlasts the lease's ttl still keeps the lease, so no other process takes
/// the build over meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_azure_wait_keeps_the_lease() {
    let h = world("").await;
    let short = BuildOptions {
        lease_ttl: chrono::Duration::seconds(3),
        ..options()
    };
    let (ctx, mut progress) = with_progress(h.process("slow", short).await);
    h.sim.add_fault(FaultRule::always(
        "template.delete",
        FaultKind::Latency { ms: 5_000 },
    ));
    let ctx = Arc::new(ctx);
    let task = {
        let (ctx, job) = (ctx.clone(), h.job());
        tokio::spawn(async move { build::run_job(&ctx, &job).await })
    };
    while let Some(p) = progress.recv().await {
        if p.state == BuildState::Succeeded {
            break;
        }
    }
    // The DELETE is under way and answers after 5 s; the ttl has passed by now.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    let other = h.process("other", options()).await;
    let claim = other
        .store
        .try_claim(IMAGE, "other", h.clock.now(), chrono::Duration::minutes(10))
        .await;
    assert!(
        matches!(&claim, Err(ClaimError::HeldBy { holder, .. }) if holder == "slow"),
        "the waiting holder must still hold the image: {claim:?}"
    );
    let record = task.await.unwrap().unwrap();
    assert_eq!(record.cleanup, Cleanup::Done);
    assert_eq!(h.accepted("template.delete"), 1);
}

/// A process SIGKILLed after its build's last record (the clean-up) but before
/// it released the lease, as the crash suite found: nothing claims that image
/// again (its build is finished, its check answered), so no claim takes the
/// lease over, and the restart must release it. A live holder's lease stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_left_after_the_last_record_is_released_by_the_restart() {
    let h = instant_world().await;
    let dead = format!(
        "{}:{}:killed",
        image_refresh::host::host_name(),
        exited_pid()
    );
    let killed = h.process(&dead, options()).await;
    let record = build::run_job(&killed, &h.job()).await.unwrap();
    assert_eq!(record.state, BuildState::Succeeded);
    assert_eq!(record.cleanup, Cleanup::Done);
    // The lease as it was in the instant before the release.
    let ttl = options().lease_ttl;
    killed
        .store
        .try_claim(IMAGE, &dead, h.clock.now(), ttl)
        .await
        .unwrap();
    // A lease of a live process on this host (pid 1 always exists).
    let alive = format!("{}:1:alive", image_refresh::host::host_name());
    killed
        .store
        .try_claim("other-image", &alive, h.clock.now(), ttl)
        .await
        .unwrap();
    super::bury(&killed).await;

    let restarted = Pipeline::new(
        h.process(&image_refresh::build::name_this_process(), options())
            .await,
    );
    let report = restarted
        .run_cycle(&h.catalog, CheckTrigger::Startup, |_| {})
        .await
        .unwrap();
    assert!(report.results.is_empty(), "{:?}", report.results);
    assert_eq!(restarted.store().lease(IMAGE).await.unwrap(), None);
    let kept = restarted.store().lease("other-image").await.unwrap();
    assert_eq!(kept.map(|lease| lease.holder), Some(alive));
    assert_eq!(h.journal("template.run").len(), 1);
}

/// The pid of a process that has exited and been reaped.
fn exited_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}
