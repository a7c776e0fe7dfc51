//! A secret file others may read (security finding 6): commands warn, the
//! service refuses to start with it.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::setup::IMAGE;
use crate::support::world::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_world_readable_secret_is_warned_about_by_commands_and_refused_by_the_service() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    std::fs::set_permissions(&world.secret_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let check = world
        .binary()
        .arg("check")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert_eq!(
        check.status.code(),
        Some(3),
        "the check still looks: {stderr}"
    );
    assert!(stderr.contains("readable by others"), "{stderr}");

    let mut service = world.service();
    service.arg("run").env_remove("RUST_LOG");
    let run = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::from(service)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the service refuses at once instead of running")
    .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(
        stderr.contains(&world.secret_file.display().to_string()),
        "{stderr}"
    );
    assert_eq!(
        world.sim.count("token.entra"),
        1,
        "only the check signed in"
    );

    // Owner-only again: the service starts (and is stopped by the timeout's drop).
    std::fs::set_permissions(&world.secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let daemon = world.spawn("ok", &[]);
    crate::support::daemon::eventually("a check by the service", &daemon, || async {
        (world.sim.count("token.entra") >= 2).then_some(())
    })
    .await;
    assert!(daemon.stop().await.success());
}
