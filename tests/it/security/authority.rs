//! `AZURE_AUTHORITY_HOST` cannot redirect the catalog's client secret
//! (security finding 3): a value that names another authority is an error.

use std::sync::atomic::Ordering;

use image_refresh::clock;

use super::proxy::StubProxy;
use super::setup;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_cannot_send_the_client_secret_to_another_authority() {
    let sim = setup::simulator(clock::system(), &setup::scenario("", 0, 0)).await;
    // Stands for whatever listener the environment was pointed at.
    let collector = StubProxy::start().await;
    let dir = tempfile::tempdir().unwrap();
    let secret = setup::secret_file(&sim, dir.path());
    let config = dir.path().join("image-refresh.toml");
    std::fs::write(&config, setup::catalog(&sim, &secret, "", &[setup::IMAGE])).unwrap();
    let check = |authority: String| {
        let mut command =
            tokio::process::Command::from(setup::binary(&config, &dir.path().join("history.db")));
        command
            .arg("check")
            .env_remove("RUST_LOG")
            .env("AZURE_AUTHORITY_HOST", authority);
        command
    };

    let refused = check(collector.url.clone()).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert_eq!(collector.connections.load(Ordering::SeqCst), 0, "{stderr}");
    assert!(
        stderr.contains(&collector.url),
        "names the variable's value: {stderr}"
    );
    assert!(
        stderr.contains(sim.authority_host()),
        "names the catalog's authority: {stderr}"
    );
    assert_eq!(sim.count("token.entra"), 0);

    // The same authority as the catalog's is no conflict.
    let agreed = check(sim.authority_host().to_owned())
        .output()
        .await
        .unwrap();
    assert_eq!(
        agreed.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&agreed.stderr)
    );
    assert_eq!(sim.count("token.entra"), 1);
}
