//! The service is not dumpable (security finding, low): no core of a process
//! holding secrets, and no ptrace by its own user. The kernel shows it in who
//! owns `/proc/<pid>`: root, whatever user the process runs as.

use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::support::setup::IMAGE;
use crate::support::world::World;

const NOBODY: u32 = 65534;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_cannot_be_dumped() {
    let setpriv = std::process::Command::new("setpriv")
        .arg("--version")
        .output();
    if !rustix::process::geteuid().is_root() || !setpriv.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: needs root and setpriv to run the service as another user");
        return;
    }
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    let chown = std::process::Command::new("chown")
        .args(["-R", &format!("{NOBODY}:{NOBODY}")])
        .arg(world.dir.path())
        .status()
        .unwrap();
    assert!(chown.success());

    let service = world.service();
    let mut command = std::process::Command::new("setpriv");
    command
        .args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".to_owned(),
        ])
        .arg(service.get_program())
        .args(service.get_args())
        .arg("run")
        .envs(service.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = command.spawn().unwrap();
    // Until the service has checked once, it has set itself up.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while world.sim.count("token.entra") == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let owner = std::fs::metadata(format!("/proc/{}/status", child.id()))
        .unwrap()
        .uid();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        world.sim.count("token.entra") > 0,
        "the service never signed in"
    );
    assert_eq!(
        owner, 0,
        "/proc/<pid> of a dumpable process is owned by its user"
    );
}
