//! `/metrics`, `/healthz` and `/readyz` of the real daemon against the simulator:
//! values after failed builds, an automatic disable, a good build and a restart;
//! the shipped alert rules on series the daemon really exported (`promtool test
//! rules`), and a real Prometheus scraping the daemon.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use azure_sim::{Outcome, Phase};

use super::{Daemon, IMAGE, eventually, world};
use crate::support::disk::Immutable;

/// A port nothing listens on now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Scrape {
    status: u16,
    content_type: String,
    body: String,
}

async fn get(port: u16, path: &str) -> Option<Scrape> {
    let response = image_refresh::azure::http_client(Default::default())
        .unwrap()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = response.text().await.ok()?;
    Some(Scrape {
        status,
        content_type,
        body,
    })
}

/// Every sample of a text exposition, by its series (`name{labels}`).
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

fn image(name: &str) -> String {
    format!("{name}{{image=\"{IMAGE}\"}}")
}

/// Waits until the scraped samples satisfy `done`; returns the text.
pub(crate) async fn scrape_until(
    what: &str,
    daemon: &Daemon,
    port: u16,
    done: impl Fn(&BTreeMap<String, f64>) -> bool,
) -> String {
    eventually(what, daemon, || async {
        let scrape = get(port, "/metrics").await?;
        done(&samples(&scrape.body)).then_some(scrape.body)
    })
    .await
}

fn catalog_extra(port: u16) -> String {
    format!(
        "[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true\n\n[service]\ndisable_after_failures = 2\nmax_concurrent_builds = 1\nmetrics_listen = \"127.0.0.1:{port}\""
    )
}

fn promtool() -> Option<&'static str> {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found && std::env::var_os("CI").is_some() {
        panic!("promtool is missing in CI; .ci/run installs Debian's prometheus package");
    }
    found.then_some("promtool")
}

fn rules_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/prometheus/image-refresh.rules.yml")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_follow_builds_failures_a_disable_and_survive_a_restart() {
    let world = world(0).await;
    let port = free_port();
    world.write_catalog(&catalog_extra(port), &[IMAGE]);
    world
        .sim
        .set_build_outcome("*", Outcome::Failed, Some(Phase::Customizing));
    let daemon = world.spawn("metrics", &[]);

    eventually("/readyz to answer 200", &daemon, || async {
        get(port, "/readyz").await.filter(|r| r.status == 200)
    })
    .await;
    let failed = format!("image_refresh_builds_total{{image=\"{IMAGE}\",result=\"failed\"}}");
    let disabled_text = scrape_until("two failed builds and a disable", &daemon, port, |s| {
        s.get(&failed) == Some(&2.0) && s.get(&image("image_refresh_image_enabled")) == Some(&0.0)
    })
    .await;
    let s = samples(&disabled_text);
    assert_eq!(s[&image("image_refresh_image_consecutive_failures")], 2.0);
    assert_eq!(
        s["image_refresh_build_duration_seconds_count{result=\"failed\"}"],
        2.0
    );
    assert_eq!(
        s["image_refresh_build_duration_seconds_bucket{result=\"failed\",le=\"300\"}"], 2.0,
        "simulated builds take seconds"
    );
    assert!(
        !s.contains_key(&image("image_refresh_image_last_success_timestamp_seconds")),
        "no good build yet"
    );
    assert!(s["image_refresh_check_last_success_timestamp_seconds"] > 1.7e9);
    assert!(s["image_refresh_next_check_timestamp_seconds"] > 1.7e9);
    assert!(
        s["image_refresh_arm_requests_total{operation=\"template.put\",status_class=\"2xx\"}"]
            >= 2.0,
        "{disabled_text}"
    );
    assert!(s.contains_key(
        "image_refresh_arm_requests_total{operation=\"marketplace.list\",status_class=\"2xx\"}"
    ));
    let decisions: Vec<_> = s
        .iter()
        .filter(|(k, _)| k.starts_with("image_refresh_image_decision{"))
        .collect();
    assert_eq!(
        decisions.iter().filter(|(_, v)| **v == 1.0).count(),
        1,
        "{decisions:?}"
    );
    assert!(!disabled_text.contains("secret"), "{disabled_text}");
    let exported = world.dir.path().join("exported.prom");
    std::fs::write(&exported, &disabled_text).unwrap();

    // Enabled again, the image builds (now successfully) on the next check.
    world.sim.set_build_outcome("*", Outcome::Succeeded, None);
    assert!(world.command(&["enable", IMAGE]).status.success());
    let succeeded = format!("image_refresh_builds_total{{image=\"{IMAGE}\",result=\"succeeded\"}}");
    let good_text = scrape_until("a good build", &daemon, port, |s| {
        s.get(&succeeded) == Some(&1.0)
            && s.get(&image("image_refresh_image_consecutive_failures")) == Some(&0.0)
            && s.get(&image("image_refresh_image_enabled")) == Some(&1.0)
            // The counter moves on the event, the gauges once the history is read again.
            && s.contains_key(&image("image_refresh_image_last_success_timestamp_seconds"))
            && s.get(&image("image_refresh_image_stale")) == Some(&0.0)
    })
    .await;
    let s = samples(&good_text);
    assert!(s[&image("image_refresh_image_last_success_timestamp_seconds")] > 1.7e9);
    assert_eq!(
        s[&format!(
            "image_refresh_image_source_version_info{{image=\"{IMAGE}\",version=\"22.04.202411050\"}}"
        )],
        1.0,
        "{good_text}"
    );
    assert_eq!(s["image_refresh_builds_in_flight"], 0.0);

    // /healthz: 200, then 503 with the reason while the database directory is read-only.
    let health = get(port, "/healthz").await.unwrap();
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    let wal = PathBuf::from(format!("{}-wal", world.database.display()));
    let paths = [world.database.clone(), wal, world.dir.path().to_owned()];
    match Immutable::set(&paths) {
        Some(immutable) => {
            let health = get(port, "/healthz").await.unwrap();
            assert_eq!(health.status, 503, "{}", health.body);
            assert!(
                health.body.contains("cannot be written")
                    && health.body.contains("Operation not permitted"),
                "{}",
                health.body
            );
            drop(immutable);
            // A fault the service hit lasts until its next write goes through.
            eventually("/healthz to answer 200 again", &daemon, || async {
                get(port, "/healthz").await.filter(|r| r.status == 200)
            })
            .await;
        }
        None => {
            eprintln!("NOT CHECKED: chattr +i is not possible here (needs root and ext4/xfs/btrfs)")
        }
    }
    // Routes and methods.
    let scrape = get(port, "/metrics").await.unwrap();
    assert_eq!(
        scrape.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(get(port, "/nope").await.unwrap().status, 404);
    let post = image_refresh::azure::http_client(Default::default())
        .unwrap()
        .post(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status().as_u16(), 405);
    daemon.stop_cleanly().await;

    // After a restart the values come from the history, not from zero.
    let daemon = world.spawn("metrics-again", &[]);
    let again = scrape_until("the restarted daemon's metrics", &daemon, port, |s| {
        s.contains_key(&image("image_refresh_image_enabled"))
    })
    .await;
    let s = samples(&again);
    assert_eq!(s[&failed], 2.0, "{again}");
    assert_eq!(s[&succeeded], 1.0, "{again}");
    assert_eq!(
        s["image_refresh_build_duration_seconds_count{result=\"failed\"}"],
        2.0
    );
    assert_eq!(s[&image("image_refresh_image_enabled")], 1.0);
    assert_eq!(s[&image("image_refresh_image_consecutive_failures")], 0.0);
    assert!(s[&image("image_refresh_image_last_success_timestamp_seconds")] > 1.7e9);
    assert!(s["image_refresh_check_last_success_timestamp_seconds"] > 1.7e9);
    daemon.stop_cleanly().await;

    // The shipped rules on what the daemon exported while the image was disabled.
    let Some(promtool) = promtool() else {
        eprintln!("NOT CHECKED: promtool is missing (install Debian's prometheus)");
        return;
    };
    let test = world.dir.path().join("rules-test.yml");
    std::fs::write(&test, promtool_test(&disabled_text)).unwrap();
    let out = Command::new(promtool)
        .args(["test", "rules"])
        .arg(&test)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "promtool test rules failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A promtool unit test: the exported samples held for 30 minutes beside a
/// target that is up; the build-failed and disabled alerts fire, the others not.
fn promtool_test(exported: &str) -> String {
    let mut series = String::from(
        "      - series: 'up{job=\"image-refresh\",instance=\"daemon\"}'\n        values: '1x30'\n",
    );
    for (name, value) in samples(exported) {
        series.push_str(&format!(
            "      - series: '{name}'\n        values: '{value}x30'\n"
        ));
    }
    let rules = rules_file();
    format!(
        r#"rule_files:
  - {rules}
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{series}    alert_rule_test:
      - eval_time: 20m
        alertname: ImageRefreshBuildFailed
        exp_alerts:
          - exp_labels: {{ severity: warning, image: {IMAGE} }}
            exp_annotations:
              summary: "{IMAGE}: the last build failed"
      - eval_time: 20m
        alertname: ImageRefreshImageDisabled
        exp_alerts:
          - exp_labels: {{ severity: critical, image: {IMAGE} }}
            exp_annotations:
              summary: "{IMAGE} is no longer rebuilt after failing; fix it, then image-refresh enable"
      - eval_time: 20m
        alertname: ImageRefreshSourceNotFound
        exp_alerts: []
      - eval_time: 20m
        alertname: ImageRefreshDown
        exp_alerts: []
"#,
        rules = rules.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_the_daemon() {
    let found = Command::new("prometheus")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "prometheus is missing in CI; .ci/run installs Debian's prometheus package"
        );
        eprintln!("NOT CHECKED: prometheus is missing");
        return;
    }
    let world = world(0).await;
    let port = free_port();
    world.write_catalog(
        &format!("[service]\nmetrics_listen = \"127.0.0.1:{port}\""),
        &[IMAGE],
    );
    let daemon = world.spawn("prometheus-target", &[]);
    let succeeded = format!("image_refresh_builds_total{{image=\"{IMAGE}\",result=\"succeeded\"}}");
    scrape_until("a good build", &daemon, port, |s| {
        s.get(&succeeded) == Some(&1.0)
    })
    .await;

    let prom_port = free_port();
    let config = world.dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: image-refresh\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
            rules_file().display()
        ),
    )
    .unwrap();
    let tsdb = world.dir.path().join("tsdb");
    let log = std::fs::File::create(world.dir.path().join("prometheus.log")).unwrap();
    let mut prometheus = KillOnDrop(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", tsdb.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    );
    let query = |expr: &'static str| async move {
        let url = format!("http://127.0.0.1:{prom_port}/api/v1/query");
        let answer: serde_json::Value = image_refresh::azure::http_client(Default::default())
            .unwrap()
            .get(url)
            .query(&[("query", expr)])
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let result = answer["data"]["result"].as_array()?.clone();
        (!result.is_empty()).then_some(result)
    };
    let up = eventually("Prometheus to scrape the daemon", &daemon, || {
        query("up{job=\"image-refresh\"} == 1")
    })
    .await;
    assert_eq!(up.len(), 1);
    for expr in [
        "image_refresh_builds_total{result=\"succeeded\"} == 1",
        "image_refresh_image_enabled == 1",
        "image_refresh_image_stale == 0",
        "image_refresh_image_decision == 1",
        "image_refresh_image_consecutive_failures == 0",
        "image_refresh_image_last_success_timestamp_seconds > 0",
        "image_refresh_image_source_version_info == 1",
        "image_refresh_build_duration_seconds_count{result=\"succeeded\"} == 1",
        "image_refresh_builds_in_flight == 0",
        "image_refresh_check_last_success_timestamp_seconds > 0",
        "image_refresh_check_duration_seconds >= 0",
        "image_refresh_next_check_timestamp_seconds > 0",
        "image_refresh_arm_requests_total{operation=\"template.put\"} > 0",
        "image_refresh_arm_throttled_total >= 0",
        "image_refresh_notifications_pending == 0",
    ] {
        let found = eventually(expr, &daemon, || query(expr)).await;
        assert!(!found.is_empty(), "{expr}");
    }
    assert!(
        prometheus.0.try_wait().unwrap().is_none(),
        "prometheus exited"
    );
    drop(prometheus);
    daemon.stop_cleanly().await;
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_dashboard_queries_only_metrics_the_daemon_exports() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grafana/image-refresh.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut families: Vec<String> = image_refresh::metrics::FAMILIES
        .iter()
        .map(|f| f.to_string())
        .collect();
    // A histogram's series.
    for suffix in ["_bucket", "_count", "_sum"] {
        families.push(format!("image_refresh_build_duration_seconds{suffix}"));
    }
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 6);
    let mut queried = 0;
    for panel in panels {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("image_refresh_"))
                .collect();
            assert!(!names.is_empty(), "{expr} queries no image-refresh metric");
            for name in names {
                assert!(
                    families.iter().any(|f| f == name),
                    "{name} is not exported: {expr}"
                );
                queried += 1;
            }
        }
    }
    assert!(queried >= 8);
}
