//! Notifications (issue 13): a real HTTP receiver on loopback gets every event
//! kind once, signed, in its documented shape, also after being down and after
//! the daemon was killed with events still undelivered.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use azure_sim::Outcome;
use serde_json::Value;

use crate::support::daemon::eventually;
use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

const KEY: &str = "signing-key-for-tests";

/// What the receiver got, and whether it answers 503 ("down").
#[derive(Default)]
struct Inbox {
    events: Vec<(HeaderMap, Value, Bytes)>,
    down: bool,
}

struct Receiver {
    inbox: Arc<Mutex<Inbox>>,
    /// The secret URL, with a token in its path as Teams and Slack URLs have.
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let app =
            Router::new()
                .route(
                    "/hooks/{token}",
                    post(
                        |State(inbox): State<Arc<Mutex<Inbox>>>,
                         headers: HeaderMap,
                         body: Bytes| async move {
                            let mut inbox = inbox.lock().unwrap();
                            if inbox.down {
                                return StatusCode::SERVICE_UNAVAILABLE;
                            }
                            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                            inbox.events.push((headers, json, body));
                            StatusCode::ACCEPTED
                        },
                    ),
                )
                .with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/s3cr3t-webhook-token-0123456789",
            listener.local_addr().unwrap()
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { inbox, url }
    }

    fn set_down(&self, down: bool) {
        self.inbox.lock().unwrap().down = down;
    }

    fn kinds(&self) -> Vec<String> {
        self.inbox
            .lock()
            .unwrap()
            .events
            .iter()
            .map(|(_, event, _)| event["type"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    fn events(&self) -> Vec<Value> {
        self.inbox
            .lock()
            .unwrap()
            .events
            .iter()
            .map(|e| e.1.clone())
            .collect()
    }
}

/// The classic world with a signed webhook sink reading its URL from a file.
async fn world_with(receiver: &Receiver, service: &str) -> World {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    let url_file = world.dir.path().join("webhook-url");
    image_refresh::cli::simulated::write_private(&url_file, &receiver.url).unwrap();
    let key_file = world.dir.path().join("webhook-key");
    image_refresh::cli::simulated::write_private(&key_file, KEY).unwrap();
    let notify = format!(
        "{service}\n[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl_file = \"{}\"\nsecret_file = \"{}\"\n",
        url_file.display(),
        key_file.display()
    );
    world.write_catalog(&notify, &[IMAGE]);
    world
}

fn sign(body: &[u8]) -> String {
    image_refresh::notify::signature(KEY.as_bytes(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_kind_arrives_once_signed_and_in_shape() {
    let receiver = Receiver::start().await;
    let world = world_with(&receiver, "[service]\ndisable_after_failures = 2").await;
    let mut said = String::new();

    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    said += &text;
    assert_eq!(receiver.kinds(), ["io.image-refresh.build.succeeded"]);

    // A newer base version, and builds that fail twice: the image is disabled.
    world.sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202412010",
    );
    world.sim.set_build_outcome("*", Outcome::Failed, None);
    for _ in 0..2 {
        let (code, text) = world.said(&["run", "--once"]);
        assert_eq!(code, Some(1), "{text}");
        said += &text;
    }
    // A missing source, then Azure not answering (a wrong secret), twice.
    let good = std::fs::read_to_string(&world.config).unwrap();
    world.write_config(&good.replace("sku = \"22_04-lts-gen2\"", "sku = \"22_04-lts-gen9\""));
    assert!(world.command(&["enable", IMAGE]).status.success());
    said += &world.said(&["run", "--once"]).1;
    world.write_config(&good);
    image_refresh::cli::simulated::write_private(&world.secret_file, "wrong").unwrap();
    said += &world.said(&["run", "--once"]).1;
    said += &world.said(&["run", "--once"]).1;
    image_refresh::cli::simulated::write_private(&world.secret_file, world.sim.client_secret())
        .unwrap();
    let (code, text) = world.said(&["notify", "test"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("ops: delivered"), "{text}");
    said += &text;

    assert_eq!(
        receiver.kinds(),
        [
            "io.image-refresh.build.succeeded",
            "io.image-refresh.source.new_version",
            "io.image-refresh.build.failed",
            "io.image-refresh.build.failed",
            "io.image-refresh.image.disabled",
            "io.image-refresh.source.not_found",
            "io.image-refresh.check.failed",
            "io.image-refresh.notify.test",
        ]
    );
    let inbox = receiver.inbox.lock().unwrap();
    let mut ids = std::collections::BTreeSet::new();
    for (headers, event, body) in &inbox.events {
        assert_eq!(headers["content-type"], "application/cloudevents+json");
        assert_eq!(
            headers["x-image-refresh-signature"].to_str().unwrap(),
            sign(body)
        );
        assert_eq!(event["specversion"], "1.0");
        assert!(
            event["source"]
                .as_str()
                .unwrap()
                .starts_with("/image-refresh/")
        );
        assert!(event["time"].as_str().unwrap().ends_with('Z'));
        assert!(
            ids.insert(event["id"].as_str().unwrap().to_owned()),
            "ids are unique"
        );
    }
    let failed = &inbox.events[2].1;
    assert_eq!(failed["subject"], IMAGE);
    assert_eq!(failed["data"]["error_code"], "BuildFailed");
    assert!(
        failed["data"]["log_url"]
            .as_str()
            .unwrap()
            .ends_with("customization.log")
    );
    let new = &inbox.events[1].1["data"];
    assert_eq!(
        (new["old"].as_str(), new["new"].as_str()),
        (Some("22.04.202411050"), Some("22.04.202412010"))
    );
    assert!(
        inbox.events[0].1["data"]["artifact_ids"][0]
            .as_str()
            .is_some()
    );
    drop(inbox);
    // The URL is a secret: no command said it, nor its token.
    assert!(!said.contains("s3cr3t-webhook-token"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_was_down_gets_every_event_later() {
    let receiver = Receiver::start().await;
    let world = world_with(&receiver, "").await;
    receiver.set_down(true);
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(receiver.kinds().is_empty());
    assert!(!text.contains("s3cr3t-webhook-token"), "{text}");

    receiver.set_down(false);
    // The retry waits its backoff; `notify test` delivers what is due first,
    // so let the first retry fall due.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let (code, text) = world.said(&["notify", "test"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        receiver.kinds(),
        [
            "io.image-refresh.build.succeeded",
            "io.image-refresh.notify.test"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_undelivered_events_loses_none() {
    let receiver = Receiver::start().await;
    let world = world_with(&receiver, "").await;
    receiver.set_down(true);
    let daemon = world.spawn("notify-kill", &[]);
    let store = world.store().await;
    eventually("a finished build", &daemon, || async {
        store.last_successful_build(IMAGE).await.unwrap()
    })
    .await;
    daemon.kill();
    let before: Vec<String> = sqlx::query_scalar("SELECT id FROM outbox ORDER BY created_at")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert_eq!(before.len(), 1, "the build's notice is in the outbox");
    assert!(receiver.kinds().is_empty());

    receiver.set_down(false);
    let daemon = world.spawn("notify-restart", &[]);
    eventually("the notice after the restart", &daemon, || async {
        (!receiver.kinds().is_empty()).then_some(())
    })
    .await;
    let events = receiver.events();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0]["id"],
        before[0].as_str(),
        "the same id, for deduplication"
    );
    assert!(!daemon.log().contains("s3cr3t-webhook-token"));
    daemon.stop().await;
    store.close().await;
}

/// The outbox in metrics: failed attempts by sink, and what is still owed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_attempts_and_pending_notices_are_metrics() {
    use crate::daemon::metrics::{free_port, scrape_until};
    let receiver = Receiver::start().await;
    let port = free_port();
    let world = world_with(
        &receiver,
        &format!("[service]\nmetrics_listen = \"127.0.0.1:{port}\""),
    )
    .await;
    receiver.set_down(true);
    let daemon = world.spawn("notify-metrics", &[]);
    let failed = "image_refresh_notifications_failed_total{sink=\"ops\"}";
    let pending = "image_refresh_notifications_pending";
    scrape_until("a failed delivery", &daemon, port, |s| {
        s.get(failed).is_some_and(|v| *v >= 1.0) && s.get(pending).is_some_and(|v| *v >= 1.0)
    })
    .await;
    receiver.set_down(false);
    let text = scrape_until("the notice delivered", &daemon, port, |s| {
        s.get(pending) == Some(&0.0)
    })
    .await;
    assert!(!text.contains("s3cr3t"), "no URL in a label");
    assert_eq!(receiver.kinds(), ["io.image-refresh.build.succeeded"]);
    daemon.stop().await;
}

/// Teams and Slack sinks get their own shapes through the same delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_and_slack_sinks_get_their_formats() {
    let receiver = Receiver::start().await;
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    let mut extra = String::new();
    for kind in ["teams", "slack"] {
        let file = world.dir.path().join(format!("{kind}-url"));
        image_refresh::cli::simulated::write_private(&file, &format!("{}-{kind}", receiver.url))
            .unwrap();
        extra += &format!(
            "[[notify]]\nkind = \"{kind}\"\nurl_file = \"{}\"\nevents = [\"build_failed\", \"notify_test\"]\n\n",
            file.display()
        );
    }
    world.write_catalog(&extra, &[IMAGE]);
    world.sim.set_build_outcome("*", Outcome::Failed, None);
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(1), "{text}");
    let (code, text) = world.said(&["notify", "test"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("teams-1: delivered") && text.contains("slack-2: delivered"),
        "{text}"
    );

    let events = receiver.events();
    assert_eq!(events.len(), 4, "a failure and a test each: {events:#?}");
    let teams: Vec<&Value> = events.iter().filter(|e| e["type"] == "message").collect();
    let slack: Vec<&Value> = events
        .iter()
        .filter(|e| e.get("blocks").is_some())
        .collect();
    assert_eq!((teams.len(), slack.len()), (2, 2));
    let card = &teams[0]["attachments"][0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(
        card["body"][0]["text"],
        format!("{IMAGE}: build failed (BuildFailed)")
    );
    assert_eq!(
        slack[0]["text"],
        format!("{IMAGE}: build failed (BuildFailed)")
    );
    assert_eq!(slack[1]["text"], "image-refresh: a test notification");
}

/// A staged rollout is news: each ring that moves, a ring that cannot move
/// (once, however often it is retried), and a revoke.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_tells_each_ring_a_ring_that_cannot_move_once_and_a_revoke() {
    let receiver = Receiver::start().await;
    let world = crate::support::gallery::world(
        "[[images.distribute.rings]]\nregions = [\"westeurope\"]\n\
         [[images.distribute.rings]]\nregions = [\"northeurope\"]\nafter = \"1d\"\n",
    )
    .await;
    let url_file = world.dir.path().join("webhook-url");
    image_refresh::cli::simulated::write_private(&url_file, &receiver.url).unwrap();
    let mut config = std::fs::read_to_string(&world.config).unwrap();
    config += &format!(
        "\n[[notify]]\nname = \"ops\"\nkind = \"webhook\"\nurl_file = \"{}\"\n",
        url_file.display()
    );
    world.write_config(&config);
    world.sim.add_fault(azure_sim::FaultRule::times(
        "gallery.version.update",
        azure_sim::FaultKind::Status { code: 403 },
        2,
    ));
    for _ in 0..2 {
        let (code, text) = world.said(&["run", "--once"]);
        assert_eq!(
            code,
            Some(1),
            "a ring that cannot move fails the cycle: {text}"
        );
    }
    let (code, text) = world.said(&["run", "--once"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = world.said(&["promote", IMAGE]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = world.said(&["revoke", IMAGE, "1.0.1", "--reason", "boot loop"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(
        receiver.kinds(),
        [
            "io.image-refresh.build.succeeded",
            "io.image-refresh.promotion.failed",
            "io.image-refresh.version.promoted",
            "io.image-refresh.version.promoted",
            "io.image-refresh.version.revoked",
        ]
    );
    let events = receiver.events();
    assert_eq!(events[1]["data"]["ring"], 1);
    let error = events[1]["data"]["error"].as_str().unwrap();
    assert!(error.contains("403"), "{error}");
    assert_eq!(
        events[2]["data"]["latest_in"],
        serde_json::json!(["westeurope"])
    );
    assert_eq!(
        events[2]["data"]["staged_in"],
        serde_json::json!(["northeurope"])
    );
    assert_eq!(events[3]["data"]["staged_in"], serde_json::json!([]));
    assert_eq!(events[4]["data"]["reason"], "boot loop");
    assert_eq!(events[4]["subject"], IMAGE);
}
