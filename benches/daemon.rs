//! The service (`image-refresh run`, the real binary) against the loopback
//! simulator: time from start to READY=1, idle RSS and CPU, and a wave of
//! stale images built under the concurrency limit.
//!
//! Run with `cargo bench --bench daemon`. `IDLE_SECS` sets the idle window
//! (default 60; the issue's figure is 600). `IMAGE_REFRESH_BIN` measures another
//! build of the binary, e.g. one built with `--no-default-features`. Builds take 2 s of simulated AIB
//! time; the service polls every 100 ms, as in the tests.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use azure_sim::SimHandle;
use image_refresh::clock;
use image_refresh::store::Store;

#[path = "../tests/it/support/setup.rs"]
mod setup;

const WAVE: usize = 20;
const LIMIT: usize = 10;

const SCENARIO: &str = r#"
[settings]
subscription_id = "00000000-0000-0000-0000-000000000000"
[build]
provision_secs = 0
queued_secs = 0
building_secs = 0
customizing_secs = 2
validating_secs = 0
distributing_secs = 0
[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
versions = ["22.04.202411050"]
[[resource_groups]]
name = "rg-image-builder"
location = "westeurope"
[[identities]]
resource_group = "rg-image-builder"
name = "id-aib-builder"
location = "westeurope"
"#;

fn main() {
    let idle_secs: u64 = std::env::var("IDLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        let sim = setup::simulator(clock::system(), SCENARIO).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let ticks = clock_ticks();

        // A wave: WAVE never-built images, at most LIMIT at once.
        write_catalog(
            &sim,
            dir.path(),
            &format!("[schedule]\ncron = \"0 0 1 1 *\"\n[service]\nmax_concurrent_builds = {LIMIT}"),
            WAVE,
        );
        let started = Instant::now();
        let (mut wave, ready) = start(dir.path(), "wave");
        let store = Store::open(&dir.path().join("history.db")).await.expect("store");
        let mut most = 0;
        loop {
            let builds = store.history(None, 1000).await.expect("history");
            let in_flight = builds.iter().filter(|b| !b.state.is_terminal()).count();
            most = most.max(in_flight);
            let done = builds.iter().filter(|b| b.state.is_terminal()).count();
            if done == WAVE {
                let ok = builds.iter().filter(|b| b.state.is_success()).count();
                println!(
                    "wave of {WAVE} stale images, limit {LIMIT}: READY after {ready:?}, all built after {:?} ({ok} succeeded), at most {most} in flight, {} run POSTs",
                    started.elapsed(),
                    sim.count("template.run")
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (_, rss) = usage(wave.id(), ticks);
        println!("RSS after the wave: {rss} KiB");
        stop(&mut wave);
        store.close().await;

        // Idle: the same images, all built and checked; the next due instant is
        // next New Year, so the service has nothing to do but wait.
        let (mut idle, ready) = start(dir.path(), "idle");
        println!("start to READY=1 ({WAVE} images with history): {ready:?}");
        let (cpu0, _) = usage(idle.id(), ticks);
        tokio::time::sleep(Duration::from_secs(idle_secs)).await;
        let (cpu1, rss) = usage(idle.id(), ticks);
        println!(
            "idle {idle_secs} s: CPU {:.3} s ({:.4} %), RSS {rss} KiB",
            cpu1 - cpu0,
            (cpu1 - cpu0) / idle_secs as f64 * 100.0
        );
        stop(&mut idle);
        sim.shutdown().await.expect("simulator shutdown");
    });
}

fn write_catalog(sim: &SimHandle, dir: &Path, extra: &str, images: usize) {
    let secret = setup::secret_file(sim, dir);
    let mut text = format!("{}{extra}\n", setup::azure(sim, &secret));
    for n in 0..images {
        text.push_str(&format!(
            r#"
[[images]]
name = "image-{n:02}"
steps = [{{ type = "shell", name = "patch", inline = ["sudo apt update"] }}]
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
[[images.distribute]]
type = "managed_image"
image_id = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.Compute/images/image-{n:02}"
"#
        ));
    }
    std::fs::write(dir.join("image-refresh.toml"), text).expect("catalog");
}

/// Starts the service and waits for READY=1; returns it and how long that took.
fn start(dir: &Path, name: &str) -> (Child, Duration) {
    let socket_path = dir.join(format!("{name}.sock"));
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("socket timeout");
    let started = Instant::now();
    let (config, database) = (dir.join("image-refresh.toml"), dir.join("history.db"));
    // Another build of the daemon (say, `--no-default-features`) can be measured
    // with the same simulator and catalog.
    let mut command = match std::env::var_os("IMAGE_REFRESH_BIN") {
        Some(bin) => {
            let mut command = Command::new(bin);
            command
                .arg("--config")
                .arg(&config)
                .arg("--database")
                .arg(&database);
            command
        }
        None => setup::binary(&config, &database),
    };
    let mut child = command
        .arg("run")
        .env("NOTIFY_SOCKET", &socket_path)
        .env("IMAGE_REFRESH_POLL_INTERVAL_MS", "100")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn image-refresh run");
    let mut buf = [0u8; 4096];
    loop {
        match socket.recv(&mut buf) {
            Ok(n) if buf[..n].starts_with(b"READY=1") => return (child, started.elapsed()),
            Ok(_) => {}
            Err(error) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the service never said READY=1: {error}");
            }
        }
    }
}

fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
}

/// CPU seconds (user + system) and resident set in KiB of `pid`.
fn usage(pid: u32, ticks_per_sec: f64) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat, 11 and 12 after the name.
    let cpu = (field(11) + field(12)) as f64 / ticks_per_sec;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (cpu, rss)
}

/// Clock ticks per second for /proc times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
