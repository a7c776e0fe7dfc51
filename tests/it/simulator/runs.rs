//! Runs of a template: the sub-states and artifacts of a good run, the customization
//! log of a failed one, and cancelling a running one.

use super::*;

#[tokio::test(start_paused = true)]
async fn a_run_moves_through_the_sub_states_and_leaves_its_artifacts() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;

    let resp = post(
        &sim,
        &token,
        &format!("{}/run", template_path("ubuntu-2204")),
    )
    .await;
    assert_eq!(resp.status(), 202);
    for h in ["azure-asyncoperation", "location", "retry-after"] {
        assert!(resp.headers().contains_key(h), "missing {h}");
    }
    let op_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut seen: Vec<String> = Vec::new();
    let final_run = loop {
        let t: Value = get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
            .await
            .json()
            .await
            .unwrap();
        let run = t["properties"]["lastRunStatus"].clone();
        let sub = run["runSubState"].as_str().unwrap().to_owned();
        if seen.last() != Some(&sub) {
            seen.push(sub);
        }
        if run["runState"] != "Running" {
            assert_eq!(t["properties"]["source"]["exactVersion"], "22.04.202410020");
            break run;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    };
    assert_eq!(
        seen,
        [
            "Queued",
            "Building",
            "Customizing",
            "Validating",
            "Distributing"
        ]
    );
    assert_eq!(final_run["runState"], "Succeeded");
    assert_eq!(final_run["startTime"], "2026-11-10T06:00:00.000000Z");
    assert!(final_run["endTime"].is_string());
    assert_eq!(json_at(&sim, &token, &op_url).await["status"], "Succeeded");

    let outputs: Value = get(
        &sim,
        &token,
        &format!("{}/runOutputs", template_path("ubuntu-2204")),
        AIB_API,
    )
    .await
    .json()
    .await
    .unwrap();
    let example = fixture("imagebuilder/2025-10-01/examples/ListRunOutputs.json");
    assert_shape(&outputs, &example["responses"]["200"]["body"], &[], "");
    let one: Value = get(
        &sim,
        &token,
        &format!("{}/runOutputs/ubuntu-gallery", template_path("ubuntu-2204")),
        AIB_API,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_shape(
        &one,
        &fixture("imagebuilder/2025-10-01/examples/GetRunOutput.json")["responses"]["200"]["body"],
        &[],
        "",
    );

    // The gallery version exists with the publishing profile the template asked for; the seed had 1.0.0.
    let version_id = one["properties"]["artifactId"].as_str().unwrap();
    assert!(
        version_id.ends_with("/galleries/gal/images/ubuntu/versions/1.0.1"),
        "{version_id}"
    );
    let version: Value = get(&sim, &token, version_id, GALLERY_API)
        .await
        .json()
        .await
        .unwrap();
    let example =
        fixture("compute/GalleryRP-2024-03-03/galleryExamples/GalleryImageVersion_Get.json");
    // A gallery image version is a tracked resource: `tags` is in the spec, not the example.
    assert_shape(
        &version,
        &example["responses"]["200"]["body"],
        &["type", "excludeFromLatest", "tags", "systemData"],
        "",
    );
    assert_eq!(
        version["tags"]["team"], "platform",
        "AIB tags what it makes with the distributor's artifactTags"
    );
    assert_eq!(
        version["properties"]["publishingProfile"]["excludeFromLatest"],
        true
    );
    assert_eq!(
        version["properties"]["publishingProfile"]["targetRegions"][0]["regionalReplicaCount"],
        2
    );
    let gallery_images = "/subscriptions/sub-1/resourceGroups/rg/providers/Microsoft.Compute/galleries/gal/images/ubuntu";
    let listed: Value = get(
        &sim,
        &token,
        &format!("{gallery_images}/versions"),
        GALLERY_API,
    )
    .await
    .json()
    .await
    .unwrap();
    let example = fixture(
        "compute/GalleryRP-2024-03-03/galleryExamples/GalleryImageVersion_ListByGalleryImage.json",
    );
    assert_shape(
        &listed,
        &example["responses"]["200"]["body"],
        &["type", "excludeFromLatest", "tags", "systemData"],
        "",
    );
    assert_eq!(listed["value"].as_array().unwrap().len(), 2);
    assert_eq!(
        get(&sim, &token, gallery_images, GALLERY_API)
            .await
            .status(),
        200
    );

    let managed = outputs["value"][1]["properties"]["artifactId"]
        .as_str()
        .unwrap()
        .to_owned();
    let image: Value = get(&sim, &token, &managed, COMPUTE_API)
        .await
        .json()
        .await
        .unwrap();
    let example = fixture("compute/ComputeRP-2025-04-01/imageExamples/Image_Get.json");
    // The spec's ImageProperties has sourceVirtualMachine; the example does not show it.
    assert_shape(
        &image,
        &example["responses"]["200"]["body"],
        &["hyperVGeneration", "sourceVirtualMachine", "tags"],
        "",
    );

    // Deleting artifacts: 202 then gone.
    let del = http()
        .delete(url(&sim, version_id, GALLERY_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    assert_eq!(
        get(&sim, &token, version_id, GALLERY_API).await.status(),
        404
    );
    let del = http()
        .delete(url(&sim, &managed, COMPUTE_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    assert_eq!(get(&sim, &token, &managed, COMPUTE_API).await.status(), 404);

    // Deleting the template is a long-running operation followed through Location.
    let del = http()
        .delete(url(&sim, &template_path("ubuntu-2204"), AIB_API))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 202);
    let location = del.headers()["location"].to_str().unwrap().to_owned();
    let poll = http()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 202);
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    let poll = http()
        .get(&location)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(poll.status(), 204);
    assert_eq!(
        get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
            .await
            .status(),
        404
    );
}

#[tokio::test(start_paused = true)]
async fn failed_builds_point_at_customization_log() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "fail-ubuntu", &gallery_template()).await;
    let resp = post(
        &sim,
        &token,
        &format!("{}/run", template_path("fail-ubuntu")),
    )
    .await;
    let op_url = resp.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let t: Value = get(&sim, &token, &template_path("fail-ubuntu"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    let run = &t["properties"]["lastRunStatus"];
    assert_eq!(run["runState"], "Failed");
    assert_eq!(run["runSubState"], "Customizing");
    assert!(
        run["message"]
            .as_str()
            .unwrap()
            .contains("customization.log")
    );
    let op = json_at(&sim, &token, &op_url).await;
    assert_eq!(op["status"], "Failed");
    assert!(op["error"]["code"].is_string() && op["error"]["message"].is_string());
    let outputs: Value = get(
        &sim,
        &token,
        &format!("{}/runOutputs", template_path("fail-ubuntu")),
        AIB_API,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(outputs["value"], json!([]));

    // A control call overrides the scenario for the next run.
    sim.queue_build_outcome(Outcome::PartiallySucceeded, None);
    post(
        &sim,
        &token,
        &format!("{}/run", template_path("fail-ubuntu")),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let t: Value = get(&sim, &token, &template_path("fail-ubuntu"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["properties"]["lastRunStatus"]["runState"],
        "PartiallySucceeded"
    );
    sim.set_build_outcome("fail-*", Outcome::Failed, Some(Phase::Validating));
    post(
        &sim,
        &token,
        &format!("{}/run", template_path("fail-ubuntu")),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(600)).await;
    let t: Value = get(&sim, &token, &template_path("fail-ubuntu"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["properties"]["lastRunStatus"]["runSubState"],
        "Validating"
    );
}

#[tokio::test(start_paused = true)]
async fn a_running_build_can_be_canceled() {
    let (sim, _clock) = start().await;
    let token = msi_token(&sim, ARM).await;
    provisioned(&sim, &token, "ubuntu-2204", &gallery_template()).await;
    let run = post(
        &sim,
        &token,
        &format!("{}/run", template_path("ubuntu-2204")),
    )
    .await;
    let run_op = run.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        post(
            &sim,
            &token,
            &format!("{}/run", template_path("ubuntu-2204"))
        )
        .await
        .status(),
        409
    );
    tokio::time::sleep(std::time::Duration::from_secs(15)).await;
    let cancel = post(
        &sim,
        &token,
        &format!("{}/cancel", template_path("ubuntu-2204")),
    )
    .await;
    assert_eq!(cancel.status(), 202);
    let cancel_op = cancel.headers()["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .to_owned();
    let t: Value = get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Canceling");
    tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    let t: Value = get(&sim, &token, &template_path("ubuntu-2204"), AIB_API)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["properties"]["lastRunStatus"]["runState"], "Canceled");
    assert_eq!(json_at(&sim, &token, &run_op).await["status"], "Canceled");
    assert_eq!(
        json_at(&sim, &token, &cancel_op).await["status"],
        "Succeeded"
    );
    assert_eq!(
        post(
            &sim,
            &token,
            &format!("{}/cancel", template_path("ubuntu-2204"))
        )
        .await
        .status(),
        409
    );
}
