//! Marketplace versions: the official list and get shapes, and versions published
//! by hand or by the scenario at their simulated time.

use super::*;

#[tokio::test]
async fn marketplace_list_and_get_have_the_official_shape() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;

    let resp = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API).await;
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()
            .contains_key("x-ms-ratelimit-remaining-subscription-reads")
    );
    let list: Value = resp.json().await.unwrap();
    let example = fixture(
        "compute/ComputeRP-2025-04-01/virtualMachineImageExamples/VirtualMachineImage_List_MaximumSet_Gen.json",
    );
    assert_shape(&list, &example["responses"]["200"]["body"], &[], "");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["22.04.202408010", "22.04.202409110", "22.04.202410020"]
    );

    let top = http()
        .get(url(&sim, &market_path("22_04-lts-gen2"), COMPUTE_API))
        .query(&[("$orderby", "name desc"), ("$top", "1")])
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let top: Value = top.json().await.unwrap();
    assert_eq!(top[0]["name"], "22.04.202410020");

    let one = get(
        &sim,
        &token,
        &format!("{}/22.04.202410020", market_path("22_04-lts-gen2")),
        COMPUTE_API,
    )
    .await;
    assert_eq!(one.status(), 200);
    let one: Value = one.json().await.unwrap();
    let example = fixture(
        "compute/ComputeRP-2025-04-01/virtualMachineImageExamples/VirtualMachineImage_Get_MaximumSet_Gen.json",
    );
    assert_shape(
        &one,
        &example["responses"]["200"]["body"],
        &["architecture", "replicaType", "sizeInGb"],
        "",
    );
    assert_has(
        &one,
        &[
            "/properties/osDiskImage/operatingSystem",
            "/properties/hyperVGeneration",
            "/name",
            "/id",
        ],
    );

    for path in [
        market_path("no-such-sku"),
        format!("{}/1.2.3", market_path("22_04-lts-gen2")),
    ] {
        let resp = get(&sim, &token, &path, COMPUTE_API).await;
        assert_eq!(resp.status(), 404);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "NotFound");
    }
}

#[tokio::test]
async fn publishing_a_version_shows_up_in_the_list() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    sim.publish_version(
        "westeurope",
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        "22.04.202411050",
    );
    let list: Value = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.as_array().unwrap().last().unwrap()["name"],
        "22.04.202411050"
    );
}

#[tokio::test(start_paused = true)]
async fn scenario_publications_appear_at_their_simulated_time() {
    let scenario = format!(
        "{SCENARIO}\n[[publish]]\nat_secs = 3600\nlocation = \"westeurope\"\npublisher = \"Canonical\"\noffer = \"0001-com-ubuntu-server-jammy\"\nsku = \"22_04-lts-gen2\"\nversion = \"22.04.202412010\"\n"
    );
    let clock: SharedClock = Arc::new(ManualClock::new(start_time()));
    let sim = simulator(clock, &scenario).await;
    let token = msi_token(&sim, ARM).await;
    let latest = |v: Value| {
        v.as_array().unwrap().last().unwrap()["name"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let before = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest(before), "22.04.202410020");
    tokio::time::sleep(std::time::Duration::from_secs(3601)).await;
    let after = get(&sim, &token, &market_path("22_04-lts-gen2"), COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(latest(after), "22.04.202412010");
}
