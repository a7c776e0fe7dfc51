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

/// Every command that asks Azure, when it cannot tell: exit 1, the reason said,
/// and never "nothing to build" beside "cannot build".
fn could_not_look(world: &World, env: &[(&str, String)], why: &str) {
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
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_client_secret_is_exit_1_everywhere() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    image_refresh::cli::simulated::write_private(&world.secret_file, "not-the-secret").unwrap();
    could_not_look(&world, &[], "wrong secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_azure_does_not_have_is_exit_1_everywhere() {
    let world = World::builder().start().await;
    world.write_catalog("", &[IMAGE]);
    let text = std::fs::read_to_string(&world.config)
        .unwrap()
        .replace("sku = \"22_04-lts-gen2\"", "sku = \"22_04-lts-gen9\"");
    world.write_config(&text);
    could_not_look(&world, &[], "misspelled sku");
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
    could_not_look(&world, &env, "no identity");
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
