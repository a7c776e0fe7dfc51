//! The exit-code contract (README, "Exit codes"), through the real binary: a
//! command that could not look never exits 0 (issue 12).

use std::process::Output;

use crate::support::setup::{self, IMAGE};
use crate::support::world::World;

fn run(world: &World, args: &[&str], env: &[(&str, String)]) -> Output {
    world
        .binary()
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every command that asks Azure, when it cannot tell: exit 1, the reason said
/// (`says`), and never "nothing to build" beside "cannot build".
fn could_not_look(world: &World, env: &[(&str, String)], why: &str, says: &[&str]) {
    for args in [
        &["check"][..],
        &["check", "--output", "json"],
        &["build", IMAGE],
        &["build", "--force", IMAGE],
        &["run", "--once"],
    ] {
        let output = run(world, args, env);
        let said = text(&output);
        assert_eq!(output.status.code(), Some(1), "{why}: {args:?}:\n{said}");
        assert!(
            said.contains("cannot tell") || said.contains("cannot build"),
            "{why}: {args:?} says why:\n{said}"
        );
        assert!(
            !said.contains("nothing to build"),
            "{why}: {args:?}:\n{said}"
        );
        for words in says {
            assert!(
                said.contains(words),
                "{why}: {args:?} says {words:?}:\n{said}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_exit_1_everywhere() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    image_refresh::cli::simulated::write_private(&world.secret_file, "not-the-secret").unwrap();
    let secret = world.secret_file.display().to_string();
    could_not_look(
        &world,
        &[],
        "wrong secret",
        &[
            "with the client_secret credential",
            "put a current client secret of app",
            &secret,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_azure_does_not_have_is_exit_1_everywhere() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("sku = \"22_04-lts-gen2\"", "sku = \"22_04-lts-gen9\"");
    world.write_config(&text);
    could_not_look(
        &world,
        &[],
        "misspelled sku",
        &[
            "no marketplace image Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen9 in westeurope",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_managed_identity_is_exit_1_everywhere() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    let text = std::fs::read_to_string(&world.config).unwrap();
    let credential = text.find("[azure.credential]").unwrap();
    let rest = &text[credential..];
    let end = rest.find("\n\n").map_or(text.len(), |i| credential + i);
    let text = format!(
        "{}[azure.credential]\nkind = \"managed_identity\"{}",
        &text[..credential],
        &text[end..]
    );
    world.write_config(&text);
    // What IMDS answers on a VM that has no identity assigned.
    let endpoint = no_identity_endpoint().await;
    let env = [
        ("IDENTITY_ENDPOINT", endpoint),
        ("IDENTITY_HEADER", "h".to_owned()),
    ];
    could_not_look(
        &world,
        &env,
        "no identity",
        &[
            "with the managed_identity credential",
            "run on an Azure host",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_arm_is_exit_1_everywhere() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    // A port nobody listens on: every ARM request is refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace(world.sim.base_url(), &url)
        // Entra stays the simulator's: only ARM is down.
        .replace(
            &format!("authority_host = \"{url}"),
            &format!("authority_host = \"{}", world.sim.base_url()),
        );
    world.write_config(&text);
    // Retries start at 10 ms instead of 1 s, so the client gives up quickly.
    let env = [("IMAGE_REFRESH_POLL_INTERVAL_MS", "10".to_owned())];
    could_not_look(&world, &env, "unreachable ARM", &["error sending request"]);
}

/// A source that does not exist is said at ERROR by the first check that finds
/// it gone, not by the nine after it; fixed and broken again, it is said again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_source_is_said_once_over_ten_checks() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    let good = std::fs::read_to_string(&world.config).unwrap();
    let broken = good.replace("sku = \"22_04-lts-gen2\"", "sku = \"22_04-lts-gen9\"");
    let said = |world: &World| {
        let output = run(world, &["check"], &[]);
        assert_eq!(output.status.code(), Some(1), "{}", text(&output));
        String::from_utf8_lossy(&output.stderr)
            .matches("does not exist in Azure")
            .count()
    };
    world.write_config(&broken);
    let errors: Vec<usize> = (0..10).map(|_| said(&world)).collect();
    assert_eq!(errors, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);

    world.write_config(&good);
    assert_eq!(run(&world, &["check"], &[]).status.code(), Some(3));
    world.write_config(&broken);
    assert_eq!(said(&world), 1, "a new episode");
    let status = run(&world, &["status", "--output", "json"], &[]);
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status[0]["decision_now"]["kind"], "source_not_found");
    let note = status[0]["note"].as_str().unwrap();
    assert!(
        note.starts_with("now: no marketplace image Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen9 in westeurope"),
        "{note}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_to_date_and_stale_are_0_and_3_and_build_says_which() {
    let world = World::builder()
        .scenario(setup::scenario("", 0, 0))
        .start()
        .await;
    world.write_catalog("", &[IMAGE]);
    assert_eq!(run(&world, &["check"], &[]).status.code(), Some(3));
    let built = run(&world, &["build", "--wait", IMAGE], &[]);
    assert_eq!(built.status.code(), Some(0), "{}", text(&built));
    assert!(text(&built).contains(&format!("{IMAGE}: built")));
    assert_eq!(run(&world, &["check"], &[]).status.code(), Some(0));
    let again = run(&world, &["build", IMAGE], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again));
    assert!(
        text(&again).contains(&format!("{IMAGE}: up to date")),
        "{}",
        text(&again)
    );
    assert_eq!(run(&world, &["run", "--once"], &[]).status.code(), Some(0));
}

/// A token endpoint on loopback that answers as IMDS does on a VM without an
/// assigned identity: 400, "Identity not found".
async fn no_identity_endpoint() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/msi/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request).await;
                let body =
                    r#"{"error":"invalid_request","error_description":"Identity not found"}"#;
                let answer = format!(
                    "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes()).await;
            });
        }
    });
    endpoint
}
