//! One check cycle of 1,000 catalog images over 50 unique marketplace skus,
//! against the loopback simulator answering every request 50 ms late, with a
//! real SQLite history file.
//!
//! Run with `cargo bench --bench check_cycle`. Prints, per lookup concurrency,
//! the wall time of `run_check`, the ARM requests by route and the 429s; a
//! run without latency shows what the cycle costs besides waiting on ARM
//! (catalog-sized history reads and the one write transaction). Two rows
//! show the ARM client's pacing: 1,000 unique skus against ARM's read bucket
//! (its floor: 750 requests past the burst at 25/s, 30 s), and a
//! subscription another client has nearly spent, with the largest number of
//! 429s inside any 100 ms (a herd of retries shows as a large one).

#[path = "support/catalog.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use azure_sim::{FaultKind, FaultRule, Scenario, SimConfig, SimHandle, Simulator, SystemClock};
use image_refresh::app;
use image_refresh::azure::ArmClientOptions;
use image_refresh::azure::arm::{Answer, RequestObserver};
use image_refresh::catalog::{self, Catalog};
use image_refresh::check::{CheckOptions, run_check};
use image_refresh::clock;
use image_refresh::model::CheckTrigger;

const IMAGES: usize = 1000;
const SKUS: usize = 50;
/// The pacing row: every image its own sku.
const MANY_SKUS: usize = 1000;
const LATENCY_MS: u64 = 50;
const CONCURRENCIES: [usize; 4] = [1, 4, 16, 64];

/// ARM's documented read budget per subscription: 250 burst, 25/s refill.
const AZURE_DEFAULT_THROTTLE: &str = "reads = 250\nreads_per_sec = 25";
/// A subscription others have nearly used up: the simulator answers 429 with
/// Retry-After once 20 reads are spent, then refills 5 a second.
const NEARLY_SPENT_THROTTLE: &str = "reads = 20\nreads_per_sec = 5";

struct Setup {
    skus: usize,
    concurrency: usize,
    latency_ms: u64,
    /// Body of the scenario's `[throttle]` table.
    throttle: &'static str,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        println!(
            "check cycle: {IMAGES} images, {SKUS} unique skus, {LATENCY_MS} ms simulated latency on every request"
        );
        let default = CheckOptions::default().concurrency;
        let mut setups: Vec<Setup> = CONCURRENCIES
            .iter()
            .map(|&concurrency| Setup {
                skus: SKUS,
                concurrency,
                latency_ms: LATENCY_MS,
                throttle: AZURE_DEFAULT_THROTTLE,
            })
            .collect();
        setups.push(Setup {
            skus: SKUS,
            concurrency: default,
            latency_ms: 0,
            throttle: AZURE_DEFAULT_THROTTLE,
        });
        setups.push(Setup {
            skus: SKUS,
            concurrency: default,
            latency_ms: LATENCY_MS,
            throttle: NEARLY_SPENT_THROTTLE,
        });
        setups.push(Setup {
            skus: MANY_SKUS,
            concurrency: default,
            latency_ms: LATENCY_MS,
            throttle: AZURE_DEFAULT_THROTTLE,
        });
        for setup in setups {
            let run = cycle(&setup).await;
            let mark = if setup.concurrency == default {
                " (default)"
            } else {
                ""
            };
            println!(
                "skus {:>4}, latency {:>2} ms, concurrency {:>3}{mark}, throttle {}: wall {:>7.1} ms, ARM requests {} ({}), 429s {} ({:.1} %), most 429s in 100 ms {}, lookups {}",
                setup.skus,
                setup.latency_ms,
                setup.concurrency,
                setup.throttle.trim().replace('\n', ", "),
                run.wall.as_secs_f64() * 1000.0,
                run.requests,
                run.routes,
                run.throttled,
                100.0 * run.throttled as f64 / run.requests.max(1) as f64,
                run.herd,
                run.lookups,
            );
        }
    });
}

struct Run {
    wall: Duration,
    requests: usize,
    routes: String,
    throttled: usize,
    /// The most 429s answered within any 100 ms.
    herd: usize,
    lookups: usize,
}

/// When each ARM request attempt was answered 429.
#[derive(Debug, Default)]
struct Throttled(Mutex<Vec<Instant>>);

impl RequestObserver for Throttled {
    fn observe(&self, _: &reqwest::Method, _: &str, answer: Answer) {
        if answer == Answer::Status(429) {
            self.0.lock().expect("not poisoned").push(Instant::now());
        }
    }
}

impl Throttled {
    fn herd(&self) -> usize {
        let at = self.0.lock().expect("not poisoned");
        (0..at.len())
            .map(|i| {
                at[i..]
                    .iter()
                    .take_while(|t| t.duration_since(at[i]) < Duration::from_millis(100))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}

/// A fresh simulator (so throttle buckets start full) and a fresh database per run.
async fn cycle(setup: &Setup) -> Run {
    let scenario =
        Scenario::from_toml(&scenario(setup.throttle, setup.skus)).expect("a valid scenario");
    let sim = Simulator::start(SimConfig::new(SystemClock, scenario))
        .await
        .expect("the simulator starts");
    if setup.latency_ms > 0 {
        // Every route, the token endpoint included: "*" matches them all.
        sim.add_fault(FaultRule::always(
            "*",
            FaultKind::Latency {
                ms: setup.latency_ms,
            },
        ));
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let catalog = catalog(&sim, dir.path(), setup.skus);
    let store = app::open_store(&dir.path().join("history.db"), Some(&catalog))
        .await
        .expect("the history store opens");
    let clock = clock::system();
    let throttled = Arc::new(Throttled::default());
    let options = ArmClientOptions {
        observer: Some(throttled.clone()),
        ..ArmClientOptions::default()
    };
    let arm = app::arm_client(&catalog, clock.clone(), options).expect("an ARM client");

    let started = Instant::now();
    let plan = run_check(
        &arm,
        &store,
        &catalog,
        clock.now(),
        CheckTrigger::Cli,
        CheckOptions {
            concurrency: setup.concurrency,
        },
    )
    .await
    .expect("the check completes");
    let wall = started.elapsed();

    assert_eq!(plan.entries.len(), IMAGES);
    assert_eq!(plan.stale().count(), IMAGES, "every image is new");
    let journal = sim.journal();
    let routes = sim
        .counters()
        .iter()
        .map(|(route, n)| format!("{route} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let run = Run {
        wall,
        requests: journal.len(),
        routes,
        throttled: journal.iter().filter(|e| e.status == 429).count(),
        herd: throttled.herd(),
        lookups: plan.lookups,
    };
    store.close().await;
    sim.shutdown().await.expect("the simulator stops");
    run
}

/// The simulator's throttle model is always on, so a client that bursts past
/// the budget meets real 429s.
fn scenario(throttle: &str, skus: usize) -> String {
    let skus: String = (0..skus)
        .map(|i| {
            format!(
                r#"
[[marketplace]]
location = "westeurope"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "sku-{i:02}"
versions = ["22.04.202409110", "22.04.202410020", "22.04.2024110{i:02}"]
"#
            )
        })
        .collect();
    // The catalog's resource group and build identity (benches/support/catalog.rs).
    let groups = r#"
[[resource_groups]]
name = "rg-images"
location = "westeurope"

[[identities]]
resource_group = "rg-images"
name = "id-aib"
location = "westeurope"
"#;
    format!("[throttle]\n{throttle}\n{skus}{groups}")
}

fn catalog(sim: &SimHandle, dir: &std::path::Path, skus: usize) -> Catalog {
    let text = support::catalog_text(sim, &dir.join("client-secret"), IMAGES, skus)
        .expect("the secret file is written");
    match catalog::parse(&text, "bench.toml") {
        Ok(catalog) => catalog,
        Err(e) => panic!("the generated catalog is valid: {e:?}"),
    }
}
