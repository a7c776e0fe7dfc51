//! Tokens from a plain-http identity endpoint never go through a proxy; other
//! hosts still do.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use image_refresh::clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::setup;

/// A proxy on loopback that counts who connects and refuses everything.
pub(crate) struct StubProxy {
    pub(crate) url: String,
    pub(crate) connections: Arc<AtomicUsize>,
    pub(crate) first_request: Arc<std::sync::Mutex<String>>,
}

impl StubProxy {
    pub(crate) async fn start() -> StubProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let first_request = Arc::new(std::sync::Mutex::new(String::new()));
        let (count, first) = (connections.clone(), first_request.clone());
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 2048];
                let n = stream.read(&mut buf).await.unwrap_or(0);
                {
                    let mut first = first.lock().unwrap();
                    if first.is_empty() {
                        *first = String::from_utf8_lossy(&buf[..n]).into_owned();
                    }
                }
                let _ = stream
                    .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        StubProxy {
            url,
            connections,
            first_request,
        }
    }
}

fn managed_identity_catalog(arm_url: &str, sim: &azure_sim::SimHandle) -> String {
    format!(
        r#"[azure]
subscription_id = "00000000-0000-0000-0000-000000000000"
resource_group = "rg-image-builder"
location = "westeurope"
identity = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder"
cloud = "custom"
resource_manager_url = "{arm_url}"
authority_host = "{authority}"
resource_manager_audience = "{audience}"

[azure.credential]
kind = "managed_identity"

[[images]]
name = "{image}"
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
[[images.distribute]]
type = "vhd"
"#,
        authority = sim.authority_host(),
        audience = sim.arm_audience(),
        image = setup::IMAGE,
    )
}

async fn check_through(
    proxy: &StubProxy,
    catalog: &str,
    env: &[(&str, String)],
) -> std::process::Output {
    let sim_dir = tempfile::tempdir().unwrap();
    let config = sim_dir.path().join("image-refresh.toml");
    std::fs::write(&config, catalog).unwrap();
    let mut command =
        tokio::process::Command::from(setup::binary(&config, &sim_dir.path().join("history.db")));
    command
        .arg("check")
        .env_remove("RUST_LOG")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTP_PROXY", &proxy.url)
        .env("HTTPS_PROXY", &proxy.url)
        .envs(env.iter().map(|(k, v)| (k, v)));
    command.output().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_identity_endpoint_is_never_reached_through_a_proxy() {
    let sim = setup::simulator(clock::system(), &setup::scenario("", 0, 0)).await;
    let proxy = StubProxy::start().await;
    let catalog = managed_identity_catalog(sim.base_url(), &sim);
    let identity = [
        ("IDENTITY_ENDPOINT", sim.identity_endpoint()),
        ("IDENTITY_HEADER", sim.identity_header().to_owned()),
    ];
    let output = check_through(&proxy, &catalog, &identity).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        proxy.connections.load(Ordering::SeqCst),
        0,
        "the proxy saw: {}\n{stderr}",
        proxy.first_request.lock().unwrap()
    );
    assert!(sim.count("token.msi") >= 1, "{stderr}");
    assert_eq!(output.status.code(), Some(3), "stale, not failed: {stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_https_endpoint_goes_through_the_proxy() {
    let sim = setup::simulator(clock::system(), &setup::scenario("", 0, 0)).await;
    let proxy = StubProxy::start().await;
    let secrets = tempfile::tempdir().unwrap();
    let secret = setup::secret_file(&sim, secrets.path());
    // Hosts nobody serves: the request only ever reaches the loopback proxy.
    let catalog = managed_identity_catalog("https://arm.proxied.invalid", &sim)
        .replace(
            &format!("authority_host = \"{}\"", sim.authority_host()),
            "authority_host = \"https://login.proxied.invalid\"",
        )
        .replace(
            "kind = \"managed_identity\"",
            &format!(
                "kind = \"client_secret\"\ntenant_id = \"{}\"\nclient_id = \"{}\"\nsecret_file = \"{}\"",
                sim.tenant_id(),
                sim.client_id(),
                secret.display()
            ),
        );
    // The check retries its token request for a while; the first one is the answer.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("image-refresh.toml");
    std::fs::write(&config, catalog).unwrap();
    let mut child = tokio::process::Command::from(setup::binary(&config, &dir.path().join("h.db")))
        .arg("check")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTPS_PROXY", &proxy.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while proxy.connections.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = child.kill().await;
    let first = proxy.first_request.lock().unwrap().clone();
    assert!(
        first.starts_with("CONNECT login.proxied.invalid:443"),
        "{first:?}"
    );
}
