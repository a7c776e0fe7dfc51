//! What keeps secrets and tokens where they belong: no secret in the catalog or its
//! diagnostics, HTTPS endpoints, fixed clouds, and ARM-safe names.

use super::*;

#[test]
fn secrets_are_rejected_and_never_echoed() {
    let source = format!(
        "{}[azure.credential]\nkind = \"client_secret\"\ntenant_id = \"{SUB}\"\nclient_id = \"{SUB}\"\nsecret_file = \"/etc/image-refresh/secret\"\nclient_secret = \"hunter2-very-secret\"\n{IMAGE}",
        azure()
    );
    let hint = single_problem(
        &source,
        11,
        17,
        "`client_secret` must not be in the catalog",
    );
    assert!(hint.contains("secrets never go in the catalog"), "{hint}");
    let error = parse(&source).unwrap_err();
    let debug = format!("{error:?}");
    let report = parse(&source).unwrap_err().into_report();
    let mut fancy = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut fancy, report.as_ref())
        .unwrap();
    assert!(
        fancy.contains("catalog test.toml has 1 problem\n"),
        "{fancy}"
    );
    for rendering in [error.to_string(), debug, fancy.clone()] {
        assert!(
            !rendering.contains("hunter2"),
            "secret leaked:\n{rendering}"
        );
    }
    assert!(
        fancy.contains("client_secret = "),
        "snippet shown:\n{fancy}"
    );
}

#[test]
fn endpoints_must_be_https_unless_loopback() {
    let with = |extra: &str| format!("{}{extra}{IMAGE}", azure());
    let custom =
        "cloud = \"custom\"\nresource_manager_audience = \"https://management.azure.com\"\n";
    let catalog = parse(&with(&format!(
        "{custom}resource_manager_url = \"http://127.0.0.1:8080/\"\n\
         authority_host = \"https://login.microsoftonline.com\"\n"
    )))
    .unwrap();
    assert_eq!(
        catalog
            .azure
            .endpoints
            .resource_manager
            .as_str()
            .trim_end_matches('/'),
        "http://127.0.0.1:8080"
    );
    assert_eq!(
        catalog
            .azure
            .endpoints
            .authority_host
            .as_str()
            .trim_end_matches('/'),
        "https://login.microsoftonline.com"
    );

    let hint = single_problem(
        &with(&format!(
            "{custom}resource_manager_url = \"https://arm.example\"\n\
             authority_host = \"http://login.example.com\"\n"
        )),
        9,
        18,
        "invalid `authority_host`",
    );
    assert!(hint.contains("https://"), "{hint}");

    let found = problems(&with(
        "cloud = \"custom\"\nresource_manager_url = \"https://arm.example\"\n",
    ));
    let messages: Vec<_> = found
        .iter()
        .map(|(l, c, m)| format!("{l}:{c} {m}"))
        .collect();
    assert_eq!(
        messages,
        [
            "1:1 `cloud = \"custom\"` needs `authority_host`",
            "1:1 `cloud = \"custom\"` needs `resource_manager_audience`"
        ]
    );

    let china = parse(&with("cloud = \"china\"\n")).unwrap();
    assert_eq!(
        china
            .azure
            .endpoints
            .authority_host
            .as_str()
            .trim_end_matches('/'),
        "https://login.chinacloudapi.cn"
    );
}

/// A named cloud's endpoints are fixed: one added line must not send its tokens
/// or client secret to another host (security finding 2).
#[test]
fn a_named_cloud_refuses_endpoint_overrides() {
    let with = |extra: &str| format!("{}{extra}{IMAGE}", azure());
    for (key, column) in [("resource_manager_url", 24), ("authority_host", 18)] {
        let hint = single_problem(
            &with(&format!("{key} = \"https://collector.example\"\n")),
            6,
            column,
            &format!("`{key}` overrides a named cloud's endpoint"),
        );
        assert!(hint.contains("cloud = \"custom\""), "{hint}");
    }
    single_problem(
        &with("cloud = \"usgov\"\nresource_manager_audience = \"https://collector.example\"\n"),
        7,
        29,
        "`resource_manager_audience` overrides a named cloud's endpoint",
    );
}

/// A storage token for the failed build's log goes only to the named cloud's
/// blob service; a custom cloud names its own, and nothing else may.
#[test]
fn blob_url_is_for_custom_clouds_only() {
    let with = |extra: &str| format!("{}{extra}{IMAGE}", azure());
    let hint = single_problem(
        &with("blob_url = \"https://collector.example/\"\n"),
        6,
        12,
        "`blob_url` overrides a named cloud's endpoint",
    );
    assert!(hint.contains("leave it out"), "{hint}");
    let catalog = parse(&with("")).unwrap();
    assert_eq!(
        catalog.azure.endpoints.blob,
        Some(image_refresh::azure::BlobEndpoint::HostSuffix(
            ".blob.core.windows.net"
        ))
    );
}

/// Everything a person could read of an invalid catalog.
fn renderings(source: &str) -> String {
    let error = parse(source).unwrap_err();
    let mut fancy = String::new();
    let report = parse(source).unwrap_err().into_report();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .render_report(&mut fancy, report.as_ref())
        .unwrap();
    format!("{error}\n{error:?}\n{fancy}")
}

/// Security finding (low): diagnostics blanked only three key names, and only when
/// the file parsed; a value that failed the GUID check was shown as written.
#[test]
fn diagnostics_never_show_a_secret_looking_value() {
    // An unknown key whose value is a webhook URL with its key in it; a syntax
    // error on the very line of a SAS token.
    for source in [
        format!(
            "{}notify_webhook_url = \"https://hooks.example/abc?sig=Zm9vYmFy-leak\"\n{IMAGE}",
            azure()
        ),
        format!("{}sas_token = \"sv=2024&sig=leak2\n{IMAGE}", azure()),
    ] {
        let shown = renderings(&source);
        assert!(shown.contains("test.toml:6:"), "{shown}");
        assert!(!shown.contains("leak"), "secret shown:\n{shown}");
    }

    // A client secret pasted where the client id goes.
    let pasted = format!(
        "{}[azure.credential]\nkind = \"client_secret\"\ntenant_id = \"{SUB}\"\nclient_id = \"Qx8~pasted.secret-value\"\nsecret_file = \"/etc/image-refresh/secret\"\n{IMAGE}",
        azure()
    );
    let shown = renderings(&pasted);
    assert!(shown.contains("`client_id` is not a GUID"), "{shown}");
    assert!(!shown.contains("pasted.secret"), "secret shown:\n{shown}");
}

/// Security finding (low): marketplace names become ARM path segments, and `..`
/// silently climbed out of the path.
#[test]
fn marketplace_names_follow_arms_rules() {
    let with = |publisher: &str, sku: &str| {
        format!(
            "{}[[images]]\nname = \"img\"\n[images.source]\ntype = \"marketplace\"\n\
             publisher = \"{publisher}\"\noffer = \"0001-com-ubuntu-server-jammy\"\n\
             sku = \"{sku}\"\n[[images.distribute]]\ntype = \"vhd\"\n",
            azure()
        )
    };
    single_problem(&with("Canonical", ".."), 12, 7, "invalid marketplace `sku`");
    single_problem(
        &with("Canon ical", "22_04-lts-gen2"),
        10,
        13,
        "invalid marketplace `publisher`",
    );
    parse(&with("MicrosoftWindowsServer", "18.04-LTS")).unwrap();
}
