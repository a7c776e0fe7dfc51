//! The shipped examples parse into what they say, and `load` names a file it cannot read.

use super::*;

#[test]
fn classic_example_is_the_aib_quickstart() {
    let catalog = parse(catalog::CLASSIC).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(catalog.images.len(), 1);
    let image = &catalog.images[0];
    let Source::Marketplace(source) = &image.source else {
        panic!("marketplace source expected");
    };
    assert_eq!(source.publisher, "Canonical");
    assert_eq!(source.version, VersionSpec::Latest);
    let [Step::Shell(step)] = image.steps.as_slice() else {
        panic!("one shell step expected: {:?}", image.steps);
    };
    let Script::Inline(commands) = &step.script else {
        panic!("inline commands expected");
    };
    let all = commands.join("\n");
    for needle in ["apt update", "apt upgrade -y", "figlet", "/etc/motd"] {
        assert!(all.contains(needle), "{needle} missing from {all}");
    }
    assert!(matches!(
        image.distribute.as_slice(),
        [Distribute::ManagedImage(target)] if target.location == "westeurope"
    ));
    assert_eq!(image.build_timeout_minutes, 80);
    assert_eq!(
        catalog.credential,
        CredentialConfig::ManagedIdentity { client_id: None }
    );
    assert_eq!(catalog.azure.cloud, Cloud::Public);
}

#[test]
fn enterprise_example_shares_recipes_and_distributes_to_two_regions() {
    let catalog = parse(catalog::EXAMPLE_ENTERPRISE).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<_> = catalog.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["ubuntu-2204", "ubuntu-2404", "windows-2022", "windows-2025"]
    );

    let schedule = catalog.schedule.as_ref().expect("global schedule");
    assert_eq!(schedule.cron, "0 6 * * TUE#2");
    assert_eq!(schedule.cron_with_seconds(), "0 0 6 * * TUE#2");
    assert_eq!(schedule.timezone, chrono_tz::Europe::Prague);
    assert_eq!(schedule.jitter, Some(StdDuration::from_secs(30 * 60)));

    let ubuntu = catalog.image("ubuntu-2204").unwrap();
    let baseline = &catalog.recipes["linux-baseline"].steps;
    assert_eq!(&ubuntu.steps[..baseline.len()], baseline.as_slice());
    assert_eq!(
        ubuntu.steps.len(),
        baseline.len() + 1,
        "one extra image step"
    );
    assert_eq!(
        ubuntu.steps.last().and_then(Step::name),
        Some("monitoring-agent")
    );
    let [Distribute::Gallery(gallery)] = ubuntu.distribute.as_slice() else {
        panic!("one gallery target expected");
    };
    let regions: Vec<_> = gallery
        .regions
        .iter()
        .map(|r| (r.name.as_str(), r.replicas))
        .collect();
    assert_eq!(regions, [("westeurope", 2), ("northeurope", 1)]);
    assert_eq!(
        gallery.storage_account_type,
        StorageAccountType::StandardZrs
    );
    assert_eq!(gallery.versions_to_keep, Some(5));
    assert_eq!(
        gallery.end_of_life_after,
        Some(std::time::Duration::from_secs(180 * 86_400))
    );
    assert_eq!(ubuntu.tags["owner"], "platform-team", "default tag merged");
    assert_eq!(ubuntu.tags["os"], "ubuntu");
    assert_eq!(
        ubuntu.max_age,
        Some(chrono::Duration::days(35)),
        "default max age"
    );

    let ubuntu_2404 = catalog.image("ubuntu-2404").unwrap();
    assert_eq!(ubuntu_2404.max_age, Some(chrono::Duration::days(14)));
    assert_eq!(ubuntu_2404.schedule.as_ref().unwrap().cron, "0 3 * * MON");
    assert_eq!(ubuntu_2404.steps, *baseline);

    let windows = catalog.image("windows-2022").unwrap();
    let kinds: Vec<_> = windows
        .steps
        .iter()
        .map(|s| match s {
            Step::PowerShell(_) => "powershell",
            Step::WindowsRestart(_) => "windows_restart",
            Step::WindowsUpdate(_) => "windows_update",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "powershell",
            "windows_restart",
            "windows_update",
            "windows_restart"
        ]
    );
    assert_eq!(windows.vm_size, "Standard_D8s_v5");
    assert_eq!(
        catalog.image("windows-2025").map(|i| i.enabled),
        Some(false)
    );
    assert_eq!(
        catalog.image("windows-2025").unwrap().source.version(),
        Some(&VersionSpec::Exact("26100.2605.241207".into()))
    );

    assert!(matches!(
        &catalog.credential,
        CredentialConfig::ClientSecret { secret_source: SecretSource::SystemdCredential(name), .. }
            if name == "image-refresh-client-secret"
    ));
    assert_eq!(
        catalog
            .azure
            .endpoints
            .resource_manager
            .as_str()
            .trim_end_matches('/'),
        "https://management.azure.com"
    );
    assert_eq!(
        catalog.azure.failed_template_retention,
        image_refresh::catalog::Retention::For(chrono::Duration::days(14))
    );
}

#[test]
fn load_reads_files_and_names_unreadable_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.toml");
    std::fs::write(&path, catalog::CLASSIC).unwrap();
    assert_eq!(catalog::load(&path).unwrap().images.len(), 1);

    let missing = dir.path().join("missing.toml");
    let error = catalog::load(&missing).unwrap_err();
    assert!(matches!(error, CatalogError::Io { .. }));
    assert!(error.to_string().contains("missing.toml"), "{error}");

    std::fs::write(&path, "[azure]\nbogus = 1\n").unwrap();
    let error = catalog::load(&path).unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:2:1: ", path.display())),
        "{error}"
    );
}
