//! Image templates: the official example bodies accepted in the official shape,
//! invalid ones refused as AIB refuses them, immutability, and the journal of PUTs.

use super::*;

#[tokio::test(start_paused = true)]
async fn official_example_bodies_are_accepted_with_the_official_response_shape() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    let resp = put_template(&sim, &token, "myImageTemplate", &linux_example()).await;
    assert_eq!(resp.status(), 201);
    let op_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        op_url.starts_with(sim.base_url()) && op_url.contains("api-version=2025-10-01"),
        "{op_url}"
    );
    let created: Value = resp.json().await.unwrap();
    let example = fixture("imagebuilder/2025-10-01/examples/CreateImageTemplateLinux.json");
    // systemData: an image template is a TrackedResource (common-types v3).
    let extra = ["provisioningState", "tags", "systemData"];
    assert_shape(&created, &example["responses"]["201"]["body"], &extra, "");
    assert_eq!(json_at(&sim, &token, &op_url).await["status"], "InProgress");

    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let op = json_at(&sim, &token, &op_url).await;
    assert_eq!(op["status"], "Succeeded");
    let got: Value = get(&sim, &token, &template_path("myImageTemplate"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    let example = fixture("imagebuilder/2025-10-01/examples/GetImageTemplate.json");
    assert_shape(
        &got,
        &example["responses"]["200"]["body"],
        &["provisioningState", "tags", "vnetConfig", "systemData"],
        "",
    );
    assert_has(
        &got,
        &[
            "/identity/userAssignedIdentities",
            "/properties/provisioningState",
            "/properties/source/type",
        ],
    );

    // The second template of the official list example: PlatformImage source, two distributors.
    let list = fixture("imagebuilder/2025-10-01/examples/ListImageTemplatesByRg.json");
    let mut second = list["responses"]["200"]["body"]["value"][1].clone();
    for read_only in ["id", "name", "type"] {
        second.as_object_mut().unwrap().remove(read_only);
    }
    let resp = put_template(&sim, &token, "fromList", &second).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
}

#[tokio::test]
async fn invalid_template_bodies_are_rejected_as_the_service_does() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    type Mutation = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Mutation)> = vec![
        (
            "/properties/distribute",
            Box::new(|b| {
                b["properties"]
                    .as_object_mut()
                    .unwrap()
                    .remove("distribute");
            }),
        ),
        (
            "/properties/Source",
            Box::new(|b| {
                let s = b["properties"]["source"].take();
                b["properties"]["Source"] = s;
            }),
        ),
        (
            "/properties/bogus",
            Box::new(|b| {
                b["properties"]["bogus"] = json!(1);
            }),
        ),
        (
            "/properties/source/type",
            Box::new(|b| {
                b["properties"]["source"]["type"] = json!("platformimage");
            }),
        ),
        (
            "/properties/buildTimeoutInMinutes",
            Box::new(|b| {
                b["properties"]["buildTimeoutInMinutes"] = json!(961);
            }),
        ),
        (
            "/properties/distribute/0/runOutputName",
            Box::new(|b| {
                b["properties"]["distribute"][0]["runOutputName"] = json!("has space");
            }),
        ),
        (
            "/properties/distribute/1/location",
            Box::new(|b| {
                b["properties"]["distribute"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("location");
            }),
        ),
        (
            "/identity",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("identity");
            }),
        ),
        (
            "/location",
            Box::new(|b| {
                b.as_object_mut().unwrap().remove("location");
            }),
        ),
    ];
    for (pointer, mutate) in cases {
        let mut body = gallery_template();
        mutate(&mut body);
        let resp = put_template(&sim, &token, "bad", &body).await;
        assert_eq!(resp.status(), 400, "{pointer}");
        let err: Value = resp.json().await.unwrap();
        assert_eq!(err["error"]["code"], "InvalidParameter");
        assert!(
            err["error"]["message"].as_str().unwrap().contains(pointer),
            "{pointer}: {err}"
        );
    }
    let mut no_uami = gallery_template();
    no_uami["identity"] = json!({"type": "None"});
    let resp = put_template(&sim, &token, "bad", &no_uami).await;
    assert_eq!(resp.status(), 400);
    assert!(azure_sim::schema::validate_image_template(&gallery_template()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn templates_are_immutable() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    let same = put_template(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    assert_eq!(same.status(), 200);
    let mut changed = gallery_template();
    changed["properties"]["buildTimeoutInMinutes"] = json!(120);
    let resp = put_template(&sim, &token, "ubuntu-2204", &changed).await;
    assert_eq!(resp.status(), 409);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(err["error"]["code"], "Conflict");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Update/Upgrade of image templates is currently not supported")
    );
}

#[tokio::test(start_paused = true)]
async fn the_journal_records_what_was_sent_without_tokens() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    let puts: Vec<_> = sim
        .journal()
        .into_iter()
        .filter(|e| e.route == "template.put")
        .collect();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].method, "PUT");
    assert_eq!(puts[0].query, "api-version=2025-10-01");
    assert_eq!(puts[0].body.as_ref().unwrap(), &gallery_template());
    assert_eq!(puts[0].status, 201);
    assert!(!format!("{:?}", sim.journal()).contains(&token));
    assert_eq!(sim.counters()["template.get"], 1);
    sim.shutdown().await.unwrap();
}
