//! Long-running operations and paging against the scripted stub.

use std::time::Duration;

use image_refresh::azure::{AzureError, PollKind, image_templates};
use serde_json::json;

use super::deadline;
use super::stub::{Stub, TEMPLATE_PATH, answer, golden, stub_client};

#[tokio::test]
async fn template_put_follows_azure_async_operation_then_reads_the_template() {
    let stub = Stub::start().await;
    let op = format!(
        "{}/subscriptions/sub/providers/Microsoft.VirtualMachineImages/locations/westus/operations/op1?api-version=2025-10-01",
        stub.base
    );
    stub.script(
        "PUT",
        TEMPLATE_PATH,
        vec![answer(
            201,
            vec![("azure-asyncoperation", op), ("retry-after", "0".into())],
            Some(json!({"properties": {"provisioningState": "Creating"}})),
        )],
    );
    let op_path = "/subscriptions/sub/providers/Microsoft.VirtualMachineImages/locations/westus/operations/op1";
    stub.script(
        "GET",
        op_path,
        vec![
            answer(
                200,
                vec![("retry-after", "0".into())],
                Some(json!({"status": "InProgress"})),
            ),
            answer(200, vec![], Some(json!({"status": "Succeeded"}))),
        ],
    );
    stub.script(
        "GET",
        TEMPLATE_PATH,
        vec![answer(
            200,
            vec![],
            Some(json!({"properties": {"provisioningState": "Succeeded"}})),
        )],
    );
    let client = stub_client(&stub);

    let status = image_templates::put(
        &client,
        &golden(),
        &json!({"location": "westus"}),
        deadline(30),
    )
    .await
    .unwrap();
    assert_eq!(
        status.provisioning_state,
        Some(image_templates::ProvisioningState::Succeeded)
    );
    let seen: Vec<(String, String)> = stub
        .seen()
        .into_iter()
        .map(|s| (s.method, s.path))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("PUT".to_owned(), TEMPLATE_PATH.to_owned()),
            ("GET".to_owned(), op_path.to_owned()),
            ("GET".to_owned(), op_path.to_owned()),
            ("GET".to_owned(), TEMPLATE_PATH.to_owned()),
        ]
    );
    // Every request is authenticated and carries its own client request id.
    let seen = stub.seen();
    assert!(
        seen.iter()
            .all(|s| s.authorization.as_deref() == Some("Bearer stub-token"))
    );
    let ids: std::collections::HashSet<_> =
        seen.iter().map(|s| s.request_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), seen.len());
}

#[tokio::test]
async fn failed_run_operation_reports_its_code_and_message() {
    let stub = Stub::start().await;
    let op_path = "/subscriptions/sub/providers/Microsoft.VirtualMachineImages/locations/westus/operations/run1";
    stub.script(
        "POST",
        &format!("{TEMPLATE_PATH}/run"),
        vec![answer(
            202,
            vec![
                (
                    "azure-asyncoperation",
                    format!("{}{op_path}?api-version=2025-10-01", stub.base),
                ),
                ("retry-after", "0".into()),
            ],
            None,
        )],
    );
    stub.script(
        "GET",
        op_path,
        vec![answer(200, vec![], Some(json!({"status": "Failed", "error": {"code": "CustomizerFailed", "message": "script exited with 1"}})))],
    );
    let client = stub_client(&stub);

    let poller = image_templates::run(&client, &golden())
        .await
        .unwrap()
        .expect("202 gives a poller");
    assert_eq!(poller.kind(), PollKind::AsyncOperation);
    assert_eq!(poller.url().path(), op_path);
    let err = poller.wait(deadline(30)).await.unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("CustomizerFailed"), "{shown}");
    assert!(shown.contains("script exited with 1"), "{shown}");
    assert!(matches!(err, AzureError::Lro { ref status, .. } if &**status == "Failed"));
}

#[tokio::test]
async fn delete_follows_location_until_no_content() {
    let stub = Stub::start().await;
    let result_path =
        "/subscriptions/sub/providers/Microsoft.Compute/locations/westus/operationresults/d1";
    stub.script(
        "DELETE",
        TEMPLATE_PATH,
        vec![answer(
            202,
            vec![
                (
                    "location",
                    format!("{}{result_path}?api-version=2025-10-01", stub.base),
                ),
                ("retry-after", "0".into()),
            ],
            None,
        )],
    );
    stub.script(
        "GET",
        result_path,
        vec![
            answer(202, vec![("retry-after", "0".into())], None),
            answer(202, vec![("retry-after", "0".into())], None),
            answer(204, vec![], None),
        ],
    );
    let client = stub_client(&stub);

    image_templates::delete(&client, &golden(), deadline(30))
        .await
        .unwrap();
    let polls = stub.seen().iter().filter(|s| s.path == result_path).count();
    assert_eq!(polls, 3);
}

#[tokio::test]
async fn operation_that_never_ends_times_out_at_the_deadline() {
    let stub = Stub::start().await;
    let op_path = "/subscriptions/sub/providers/Microsoft.VirtualMachineImages/locations/westus/operations/slow";
    stub.script(
        "POST",
        &format!("{TEMPLATE_PATH}/cancel"),
        vec![answer(
            202,
            vec![(
                "azure-asyncoperation",
                format!("{}{op_path}?api-version=2025-10-01", stub.base),
            )],
            None,
        )],
    );
    stub.script(
        "GET",
        op_path,
        vec![answer(
            200,
            vec![("retry-after", "0".into())],
            Some(json!({"status": "InProgress"})),
        )],
    );
    let client = stub_client(&stub);

    let poller = image_templates::cancel(&client, &golden())
        .await
        .unwrap()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    let err = poller.wait(deadline).await.unwrap_err();
    assert!(matches!(err, AzureError::Timeout { .. }), "{err:?}");
    assert!(tokio::time::Instant::now() >= deadline);
    assert!(stub.seen().iter().any(|s| s.path == op_path));
}

#[tokio::test]
async fn run_outputs_follow_next_link_across_pages() {
    let stub = Stub::start().await;
    let outputs = format!("{TEMPLATE_PATH}/runOutputs");
    let item = |name: &str, artifact: &str| json!({"name": name, "properties": {"artifactId": artifact, "provisioningState": "Succeeded"}});
    // Page one links to page two with a relative nextLink, as in the spec example.
    stub.script(
        "GET",
        &outputs,
        vec![
            answer(200, vec![], Some(json!({
                "value": [item("managed", "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/images/img1")],
                "nextLink": format!("{outputs}?api-version=2025-10-01&$skipToken=2")
            }))),
            answer(200, vec![], Some(json!({"value": [item("gallery", "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i/versions/1.2.3")]}))),
        ],
    );
    let client = stub_client(&stub);

    let outputs_seen = image_templates::run_outputs(&client, &golden())
        .await
        .unwrap();
    let names: Vec<_> = outputs_seen.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec!["managed", "gallery"]);
    assert!(
        outputs_seen[1]
            .artifact_id
            .as_deref()
            .unwrap()
            .ends_with("/versions/1.2.3")
    );
    let queries: Vec<_> = stub.seen().into_iter().map(|s| s.query).collect();
    assert_eq!(
        queries,
        vec![
            "api-version=2025-10-01",
            "api-version=2025-10-01&$skipToken=2"
        ]
    );
}
