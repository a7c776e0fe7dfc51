//! Azure misbehaving: each fault is held for an episode, then cleared. The service stays
//! up, says what is wrong once, and afterwards builds the stale image exactly once.

use azure_sim::{FaultKind, FaultRule};

use super::episode;
use super::service::{
    Daemon, FaultWorld, IMAGE, World, complaints, eventually, one_good_build, running_build, world,
};

/// The Azure client's one warning per outage.
const OUTAGE: &str = "Azure is failing requests";
/// What the service says when a whole check or build attempt gave up; once per attempt,
/// and attempts come with the schedule (every two seconds here).
const GAVE_UP: [&str; 3] = [
    "check failed",
    "build interrupted; trying again later",
    "image(s) are stale; the next check tries again",
];

/// Holds `kind` on every route once the build runs in AIB (so the service is following a
/// run when Azure goes bad), then clears it. Returns the service's log.
async fn mid_build(name: &str, kind: FaultKind) -> (World, String) {
    let world = world(None).await;
    let mut daemon = running_build(&world, name).await;
    world.sim.add_fault(FaultRule::always("*", kind));
    tokio::time::sleep(episode()).await;
    daemon.assert_running();
    world.sim.clear_faults();
    let log = finish(&world, daemon).await;
    (world, log)
}

async fn finish(world: &World, mut daemon: Daemon) -> String {
    one_good_build(world, &daemon).await;
    daemon.assert_running();
    let log = daemon.log();
    daemon.stop_cleanly().await;
    log
}

/// One warning names the problem; the rest are the attempts that gave up, and Azure's
/// recovery is noticed.
fn says_once(log: &str, words: &[&str]) {
    let complaints = complaints(log);
    let outage: Vec<&&str> = complaints.iter().filter(|l| l.contains(OUTAGE)).collect();
    assert_eq!(outage.len(), 1, "one outage warning per episode:\n{log}");
    assert!(
        words.iter().any(|w| outage[0].contains(w)),
        "the warning does not name the problem ({words:?}): {}",
        outage[0]
    );
    let others: Vec<&&str> = complaints
        .iter()
        .filter(|l| !l.contains(OUTAGE) && !GAVE_UP.iter().any(|g| l.contains(g)))
        .collect();
    assert!(
        others.is_empty(),
        "repeated or unexpected complaints: {others:#?}"
    );
    assert!(log.contains("Azure answers again"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_storm_mid_build() {
    let (world, log) = mid_build(
        "throttled",
        FaultKind::Throttle {
            retry_after_secs: 1,
        },
    )
    .await;
    assert!(world.answered(429) > 0, "the storm never hit");
    says_once(&log, &["429 SubscriptionRequestsThrottled"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_burst_mid_build() {
    let (world, log) = mid_build("unavailable", FaultKind::Status { code: 503 }).await;
    assert!(world.answered(503) > 0, "the burst never hit");
    says_once(&log, &["503 ServiceUnavailable"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_mid_build() {
    let (_world, log) = mid_build("dropped", FaultKind::Drop).await;
    says_once(&log, &["connection", "closed", "error sending request"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_answers_mid_build_are_not_an_error() {
    let (_world, log) = mid_build("slow", FaultKind::Latency { ms: 700 }).await;
    let complaints = complaints(&log);
    assert!(complaints.is_empty(), "slow is not wrong: {complaints:#?}");
}

/// azure_identity retries the token endpoint by itself for up to a minute (azure_core's
/// default policy), so this episode lasts until the service gives up and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_token_endpoint_at_start() {
    let world = world(None).await;
    world.sim.add_fault(FaultRule::always(
        "token.entra",
        FaultKind::Status { code: 500 },
    ));
    let mut daemon = world.spawn_logging("token", "image_refresh=debug");
    eventually("a line saying authentication failed", &daemon, || async {
        let log = daemon.log();
        complaints(&log)
            .iter()
            .any(|l| l.contains("authenticate with Azure"))
            .then_some(())
    })
    .await;
    daemon.assert_running();
    assert!(
        world.builds().await.is_empty(),
        "nothing can be built without a token"
    );
    world.sim.clear_faults();
    let log = finish(&world, daemon).await;
    let complaints = complaints(&log);
    let auth: Vec<&&str> = complaints
        .iter()
        .filter(|l| l.contains("authenticate with Azure"))
        .collect();
    assert!(
        auth.iter()
            .all(|l| l.contains("ClientSecretCredential authentication failed")),
        "the line names the credential that failed: {auth:#?}"
    );
    let others: Vec<&&str> = complaints.iter().filter(|l| !auth.contains(l)).collect();
    assert!(others.is_empty(), "unexpected complaints: {others:#?}");
}

/// In an outage no image's source can be read; that is one line per check, not one per
/// image, or a large catalog buries everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_one_line_per_check_not_one_per_image() {
    let world = world(None).await;
    let twins: String = ["ubuntu-twin-a", "ubuntu-twin-b"]
        .iter()
        .map(|name| {
            format!(
                "[[images]]\nname = \"{name}\"\nrecipes = [\"patch\"]\n\
                 [images.source]\ntype = \"marketplace\"\npublisher = \"Canonical\"\n\
                 offer = \"0001-com-ubuntu-server-jammy\"\nsku = \"22_04-lts-gen2\"\n\
                 version = \"latest\"\n[[images.distribute]]\ntype = \"managed_image\"\n\
                 image_id = \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.Compute/images/{name}\"\n"
            )
        })
        .collect();
    // Only the start-up check runs during the test.
    world.write_catalog(
        &format!("[schedule]\ncron = \"0 0 0 1 1 *\"\n\n{twins}"),
        &[IMAGE],
    );
    world.sim.add_fault(FaultRule::always(
        "marketplace.list",
        FaultKind::Status { code: 503 },
    ));
    let daemon = world.spawn_logging("outage", "image_refresh=info");
    let log = eventually("the start-up check to end", &daemon, || async {
        let log = daemon.log();
        log.contains("check done").then_some(log)
    })
    .await;
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("are stale; the next check tries again"))
        .collect();
    assert_eq!(lines.len(), 1, "one line for the check:\n{log}");
    assert!(
        lines[0].contains("cannot tell whether 3 image(s) are stale") && lines[0].contains("503"),
        "the line counts the images and says why: {}",
        lines[0]
    );
    assert!(world.builds().await.is_empty(), "nothing was built blind");
}
