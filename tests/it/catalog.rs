//! The catalog format: shipped examples, every kind of problem with its exact position,
//! and the recipe hash.

use std::time::Duration as StdDuration;

use image_refresh::azure::{CredentialConfig, SecretSource};
use image_refresh::catalog::{
    self, Catalog, CatalogError, Cloud, Distribute, Script, Source, Step, StorageAccountType,
    VersionSpec,
};

const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// Lines 1–5 of every test catalog.
fn azure() -> String {
    format!(
        "[azure]\n\
         subscription_id = \"{SUB}\"\n\
         resource_group = \"rg-images\"\n\
         location = \"westeurope\"\n\
         identity = \"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib\"\n"
    )
}

/// A valid image starting on line `6` when appended to [`azure`]; 9 lines long.
const IMAGE: &str = r#"[[images]]
name = "img"
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "22_04-lts-gen2"
[[images.distribute]]
type = "vhd"
"#;

fn parse(source: &str) -> Result<Catalog, CatalogError> {
    catalog::parse(source, "test.toml")
}

fn problems(source: &str) -> Vec<(usize, usize, String)> {
    match parse(source) {
        Ok(_) => panic!("expected problems in:\n{source}"),
        Err(error) => error
            .problems()
            .iter()
            .map(|p| (p.line, p.column, p.message.clone()))
            .collect(),
    }
}

/// Asserts that the catalog has exactly one problem, at `line:column`, whose message contains
/// `message`; returns its hint.
#[track_caller]
fn single_problem(source: &str, line: usize, column: usize, message: &str) -> String {
    let error = parse(source).expect_err("catalog should be rejected");
    let found = error.problems();
    assert_eq!(found.len(), 1, "expected one problem, got:\n{error}");
    let problem = &found[0];
    assert_eq!(
        (problem.line, problem.column),
        (line, column),
        "wrong position:\n{error}"
    );
    assert!(
        problem.message.contains(message),
        "message {:?} lacks {message:?}",
        problem.message
    );
    problem.hint.clone().unwrap_or_default()
}

fn image_with(extra_image_keys: &str) -> String {
    format!("{}{}{IMAGE}", azure(), extra_image_keys)
}

// ─── shipped examples ───────────────────────────────────────────────────────────────────

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

// ─── problems, each with its exact position ─────────────────────────────────────────────

#[test]
fn unknown_key_is_rejected_with_its_position() {
    let source = image_with("").replace("name = \"img\"\n", "name = \"img\"\ncolour = \"red\"\n");
    let hint = single_problem(&source, 8, 1, "unknown field `colour`");
    assert!(hint.contains("`distribute`"), "{hint}");

    // After [[images.distribute]], keys belong to the target.
    let source = format!("{}{IMAGE}replicas = 2\n", azure());
    let hint = single_problem(&source, 15, 1, "unknown field `replicas`");
    assert!(hint.contains("`regions`"), "{hint}");
}

#[test]
fn unknown_recipe_reference() {
    let source =
        image_with("") + "[recipes.base]\nsteps = [{ type = \"shell\", inline = [\"true\"] }]\n";
    let source = source.replace(
        "name = \"img\"\n",
        "name = \"img\"\nrecipes = [\"base\", \"nope\"]\n",
    );
    let hint = single_problem(&source, 8, 20, "unknown recipe `nope`");
    assert!(hint.contains("`base`"), "{hint}");
}

#[test]
fn duplicate_image_name() {
    let source = format!("{}{IMAGE}{IMAGE}", azure());
    let hint = single_problem(&source, 16, 8, "duplicate image name `img`");
    assert!(hint.contains("line 7"), "{hint}");
}

#[test]
fn malformed_resource_ids() {
    let bad_identity = azure().replace(
        "providers/Microsoft.ManagedIdentity",
        "providers/Microsoft.Compute",
    );
    let hint = single_problem(
        &bad_identity,
        5,
        12,
        "malformed user-assigned identity resource ID",
    );
    assert!(hint.contains("userAssignedIdentities"), "{hint}");

    let version_id = format!(
        "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d/versions/1.0.0"
    );
    let source = image_with("").replace(
        "type = \"vhd\"\n",
        &format!("type = \"gallery\"\nimage_id = \"{version_id}\"\n"),
    );
    let hint = single_problem(
        &source,
        15,
        12,
        "malformed gallery image definition resource ID",
    );
    assert!(hint.contains("`version`"), "{hint}");
}

/// `subnet_id` keeps the build VM in the company's network; `container_instance_subnet_id`
/// (isolated builds) needs it, in the same virtual network.
#[test]
fn build_network_subnets() {
    let subnet = |vnet: &str, name: &str| {
        format!(
            "/subscriptions/{SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}"
        )
    };
    let with = |lines: &str| format!("{}{lines}{IMAGE}", azure());

    let both = with(&format!(
        "subnet_id = \"{}\"\ncontainer_instance_subnet_id = \"{}\"\n",
        subnet("vnet-build", "snet-vm"),
        subnet("VNET-Build", "snet-aci")
    ));
    let network = parse(&both).unwrap().azure.network.unwrap();
    assert_eq!(network.subnet_id, subnet("vnet-build", "snet-vm"));
    assert_eq!(
        network.container_instance_subnet_id,
        Some(subnet("VNET-Build", "snet-aci"))
    );
    assert_eq!(parse(&with("")).unwrap().azure.network, None);

    let hint = single_problem(
        &with(&format!(
            "subnet_id = \"{}\"\n",
            subnet("vnet-build", "snet-vm").replace("/subnets/snet-vm", "")
        )),
        6,
        13,
        "malformed subnet resource ID",
    );
    assert!(
        hint.contains("virtualNetworks/<vnet>/subnets/<subnet>"),
        "{hint}"
    );

    let hint = single_problem(
        &with(&format!(
            "container_instance_subnet_id = \"{}\"\n",
            subnet("vnet-build", "snet-aci")
        )),
        6,
        32,
        "`container_instance_subnet_id` without `subnet_id`",
    );
    assert!(hint.contains("set `subnet_id`"), "{hint}");

    single_problem(
        &with(&format!(
            "subnet_id = \"{}\"\ncontainer_instance_subnet_id = \"{}\"\n",
            subnet("vnet-build", "snet-vm"),
            subnet("vnet-other", "snet-aci")
        )),
        7,
        32,
        "in another virtual network",
    );
}

#[test]
fn bad_checksum() {
    let source = format!(
        "{}{IMAGE}[[images.steps]]\ntype = \"shell\"\nscript_uri = \"https://example.com/a.sh\"\nsha256_checksum = \"abc123\"\n",
        azure()
    );
    let hint = single_problem(&source, 18, 19, "bad checksum");
    assert!(hint.contains("64 hexadecimal"), "{hint}");
}

#[test]
fn downloads_need_a_checksum() {
    let source = format!(
        "{}{IMAGE}[[images.steps]]\ntype = \"file\"\nsource_uri = \"https://example.com/a\"\ndestination = \"/tmp/a\"\n",
        azure()
    );
    let hint = single_problem(&source, 15, 1, "`source_uri` needs a `sha256_checksum`");
    assert!(hint.contains("recipe hash"), "{hint}");
}

#[test]
fn bad_version_strings() {
    let source = image_with("").replace(
        "sku = \"22_04-lts-gen2\"\n",
        "sku = \"22_04-lts-gen2\"\nversion = \"22.04\"\n",
    );
    let hint = single_problem(&source, 13, 11, "bad version `22.04`");
    assert!(hint.contains("latest"), "{hint}");

    let gallery_source = format!(
        "{}[[images]]\nname = \"img\"\n[images.source]\ntype = \"gallery\"\nimage_id = \"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d\"\nversion = \"v1\"\n[[images.distribute]]\ntype = \"vhd\"\n",
        azure()
    );
    single_problem(&gallery_source, 11, 11, "bad version `v1`");
}

#[test]
fn service_limits_default_and_are_range_checked() {
    let catalog = parse(&image_with("")).unwrap();
    assert_eq!(catalog.service.max_concurrent_builds, 4);
    assert_eq!(catalog.service.disable_after_failures, 3);

    let source = format!(
        "{}[service]\nmax_concurrent_builds = 10\ndisable_after_failures = 0\n{IMAGE}",
        azure()
    );
    let catalog = parse(&source).unwrap();
    assert_eq!(catalog.service.max_concurrent_builds, 10);
    assert_eq!(catalog.service.disable_after_failures, 0);

    let source = format!(
        "{}[service]\nmax_concurrent_builds = 0\ndisable_after_failures = -1\n{IMAGE}",
        azure()
    );
    let found = problems(&source);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (7, 25));
    assert!(found[0].2.contains("`max_concurrent_builds` out of range"));
    assert_eq!((found[1].0, found[1].1), (8, 26));
    assert!(found[1].2.contains("`disable_after_failures` out of range"));

    let source = format!("{}[service]\nmax_builds = 2\n{IMAGE}", azure());
    single_problem(&source, 7, 1, "unknown field `max_builds`");
}

#[test]
fn metrics_listen_is_off_by_default_and_loopback_unless_remote_is_allowed() {
    let catalog = parse(&image_with("")).unwrap();
    assert_eq!(catalog.service.metrics_listen, None, "off when absent");

    let source = format!(
        "{}[service]\nmetrics_listen = \"127.0.0.1:9464\"\n{IMAGE}",
        azure()
    );
    let catalog = parse(&source).unwrap();
    assert_eq!(
        catalog.service.metrics_listen,
        Some("127.0.0.1:9464".parse().unwrap())
    );

    let source = format!(
        "{}[service]\nmetrics_listen = \"0.0.0.0:9464\"\n{IMAGE}",
        azure()
    );
    let hint = single_problem(&source, 7, 18, "`metrics_listen` is not a loopback address");
    assert!(hint.contains("metrics_allow_remote = true"), "{hint}");
    assert!(hint.contains("reverse proxy"), "{hint}");

    let source = format!(
        "{}[service]\nmetrics_listen = \"0.0.0.0:9464\"\nmetrics_allow_remote = true\n{IMAGE}",
        azure()
    );
    let catalog = parse(&source).unwrap();
    assert_eq!(
        catalog.service.metrics_listen,
        Some("0.0.0.0:9464".parse().unwrap())
    );

    let source = format!(
        "{}[service]\nmetrics_listen = \"localhost\"\n{IMAGE}",
        azure()
    );
    let hint = single_problem(
        &source,
        7,
        18,
        "`metrics_listen` is not an address and port",
    );
    assert!(hint.contains("127.0.0.1:9464"), "{hint}");
}

#[test]
fn bad_cron_expression_and_timezone() {
    let source = format!(
        "{}[schedule]\ncron = \"61 * * * *\"\ntimezone = \"Mars/Olympus\"\n{IMAGE}",
        azure()
    );
    let found = problems(&source);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!((found[0].0, found[0].1), (7, 8));
    assert!(found[0].2.contains("bad cron expression"), "{found:?}");
    assert_eq!((found[1].0, found[1].1), (8, 12));
    assert!(
        found[1].2.contains("unknown timezone `Mars/Olympus`"),
        "{found:?}"
    );

    // Croner's extensions are accepted, with and without seconds; per-image schedules too.
    for cron in ["0 6 * * TUE#2", "0 0 6 L * *", "30 2 * * 1-5"] {
        let source = format!("{}[schedule]\ncron = \"{cron}\"\n{IMAGE}", azure());
        parse(&source).unwrap_or_else(|e| panic!("{cron}: {e}"));
    }
    let source = format!("{}{IMAGE}[images.schedule]\ncron = \"0 6 * *\"\n", azure());
    single_problem(&source, 16, 8, "bad cron expression");
}

#[test]
fn missing_identity() {
    let source = azure().lines().take(4).collect::<Vec<_>>().join("\n") + "\n" + IMAGE;
    let hint = single_problem(&source, 1, 1, "missing `identity`");
    assert!(hint.contains("userAssignedIdentities"), "{hint}");
}

#[test]
fn field_that_does_not_belong_to_the_step_type() {
    let source = format!(
        "{}{IMAGE}[[images.steps]]\ntype = \"shell\"\ninline = [\"true\"]\nrun_elevated = true\n",
        azure()
    );
    let hint = single_problem(
        &source,
        18,
        16,
        "`run_elevated` is not valid for a shell step",
    );
    assert!(hint.contains("inline"), "{hint}");

    let source = format!(
        "{}{IMAGE}[[images.steps]]\ntype = \"powershell\"\ninline = [\"whoami\"]\nrun_as_system = true\n",
        azure()
    );
    single_problem(
        &source,
        18,
        17,
        "`run_as_system` requires `run_elevated = true`",
    );
}

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

#[test]
fn all_semantic_problems_are_reported_together_in_file_order() {
    let source = format!(
        r#"{}[schedule]
cron = "not a cron"
[[images]]
name = "img"
recipes = ["missing"]
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "o"
sku = "s"
version = "x"
[[images.steps]]
type = "windows_restart"
restart_timeout = "soon"
[[images.distribute]]
type = "gallery"
image_id = "nope"
regions = [{{ name = "West Europe", replicas = 2 }}]
"#,
        azure()
    );
    let found = problems(&source);
    let positions: Vec<_> = found.iter().map(|(l, c, _)| (*l, *c)).collect();
    assert_eq!(
        positions,
        [(7, 8), (10, 12), (16, 11), (19, 19), (22, 12), (23, 12)],
        "{found:#?}"
    );
    let error = parse(&source).unwrap_err().to_string();
    assert!(
        error.starts_with("test.toml:7:8: bad cron expression"),
        "{error}"
    );
    assert_eq!(error.matches("\n  hint: ").count(), 6, "{error}");
}

// ─── recipe hash ────────────────────────────────────────────────────────────────────────

fn hash_of(source: &str) -> String {
    let catalog = parse(source).unwrap_or_else(|e| panic!("{e}\n{source}"));
    catalog.images[0].recipe_hash.hex().to_owned()
}

const HASHED: &str = r#"
[[images]]
name = "img"
recipes = ["base"]
os_disk_size_gb = 64
vm_size = "Standard_D2s_v3"
tags = { team = "a" }
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "o"
sku = "s"
version = "latest"
plan = { name = "p", product = "o", publisher = "Canonical" }
[[images.distribute]]
type = "vhd"
[recipes.base]
[[recipes.base.steps]]
type = "shell"
name = "patch"
inline = ["apt-get update", "apt-get upgrade -y"]
[[recipes.base.steps]]
type = "powershell"
script_uri = "https://example.com/x.ps1"
sha256_checksum = "1e66f76d92a550d089523affaedd56c809733c05182f91759a0dd88b4f1eb7e1"
run_elevated = true
valid_exit_codes = [0, 3010]
"#;

#[test]
fn recipe_hash_ignores_key_order_formatting_and_comments() {
    let original = hash_of(&(azure() + HASHED));
    let reordered = r#"
[recipes.base]
# the same recipe, written differently
steps = [
  { inline = [ "apt-get update",   "apt-get upgrade -y" ], type = "shell", name = "patch" },
  { valid_exit_codes = [0, 3010], run_elevated = true, type = "powershell",
    sha256_checksum = "1E66F76D92A550D089523AFFAEDD56C809733C05182F91759A0DD88B4F1EB7E1",
    script_uri = "https://example.com/x.ps1" },
]

[[images]]
tags = { team = "a" }
vm_size = "Standard_D2s_v3"
os_disk_size_gb = 64   # same size
recipes = ["base"]
name = "img"
distribute = [{ type = "vhd" }]
source = { version = "latest", sku = "s", offer = "o", publisher = "Canonical", type = "marketplace", plan = { publisher = "Canonical", product = "o", name = "p" } }
"#;
    assert_eq!(hash_of(&(azure() + reordered)), original);
}

#[test]
fn recipe_hash_changes_with_what_goes_into_the_image() {
    let original = hash_of(&(azure() + HASHED));
    let changes = [
        ("\"apt-get upgrade -y\"", "\"apt-get dist-upgrade -y\""),
        ("valid_exit_codes = [0, 3010]", "valid_exit_codes = [0]"),
        (
            "1e66f76d92a550d089523affaedd56c809733c05182f91759a0dd88b4f1eb7e1",
            &"a".repeat(64),
        ),
        ("plan = { name = \"p\"", "plan = { name = \"q\""),
        ("sku = \"s\"", "sku = \"s2\""),
        ("os_disk_size_gb = 64", "os_disk_size_gb = 128"),
        (
            "type = \"vhd\"",
            "type = \"vhd\"\n[[images.steps]]\ntype = \"windows_restart\"",
        ),
    ];
    for (from, to) in changes {
        let changed = HASHED.replacen(from, to, 1);
        assert_ne!(changed, HASHED, "{from} not found");
        assert_ne!(
            hash_of(&(azure() + &changed)),
            original,
            "{from} → {to} kept the hash"
        );
    }
}

#[test]
fn recipe_hash_ignores_version_size_timeout_tags_names_and_targets() {
    let original = hash_of(&(azure() + HASHED));
    let changes = [
        ("version = \"latest\"", "version = \"22.04.202411010\""),
        (
            "vm_size = \"Standard_D2s_v3\"",
            "vm_size = \"Standard_D8s_v5\"\nbuild_timeout_minutes = 300",
        ),
        ("tags = { team = \"a\" }", "tags = { team = \"b\" }"),
        ("name = \"patch\"", "name = \"renamed\""),
        (
            "type = \"vhd\"",
            "type = \"vhd\"\n[[images.distribute]]\ntype = \"vhd\"",
        ),
    ];
    for (from, to) in changes {
        let changed = HASHED.replacen(from, to, 1);
        assert_ne!(changed, HASHED, "{from} not found");
        assert_eq!(
            hash_of(&(azure() + &changed)),
            original,
            "{from} → {to} changed the hash"
        );
    }
    let catalog = parse(&(azure() + HASHED)).unwrap();
    let hash = &catalog.images[0].recipe_hash;
    assert_eq!(hash.short(), format!("sha256:{}", &original[..12]));
    assert_eq!(hash.to_string(), hash.short());
    assert_eq!(original.len(), 64);
}

#[test]
fn image_names_are_unique_regardless_of_case_and_tags_follow_arm_rules() {
    let second = IMAGE.replace("name = \"img\"", "name = \"IMG\"");
    let source = format!("{}{IMAGE}{second}", azure());
    single_problem(&source, 16, 8, "duplicate image name `IMG`");

    let source = image_with("").replace(
        "name = \"img\"\n",
        "name = \"img\"\ntags = { \"a/b\" = \"x\" }\n",
    );
    let hint = single_problem(&source, 8, 18, "invalid tag name `a/b`");
    assert!(hint.contains("512"), "{hint}");
}

#[test]
fn plain_rendering_lists_every_problem_with_its_hint() {
    let source = format!(
        r#"{}[recipes.base]
[[recipes.base.steps]]
type = "shell"
inline = ["true"]
restart_timeout = "5m"
[[recipes.base.steps]]
type = "ansible"
[[images]]
name = "img"
recipes = ["base", "extra"]
[images.source]
type = "managed_image"
image_id = "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/images/golden"
version = "latest"
[[images.distribute]]
type = "gallery"
image_id = "/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d"
regions = ["westeurope", {{ name = "westeurope", replicas = 2 }}]
location = "northeurope"
"#,
        azure()
    );
    let error = parse(&source).unwrap_err();
    insta::assert_snapshot!(error.to_string());
}

/// AIB takes a platform image from its template's region: an image is built where
/// its source is, and its gallery version must start in that region.
#[test]
fn an_image_is_built_where_its_source_is() {
    let image = |regions: &str| {
        format!(
            "{}[[images]]\nname = \"img\"\n[images.source]\ntype = \"marketplace\"\n\
             publisher = \"Canonical\"\noffer = \"0001-com-ubuntu-server-jammy\"\n\
             sku = \"22_04-lts-gen2\"\nlocation = \"northeurope\"\n[[images.distribute]]\n\
             type = \"gallery\"\nimage_id = \"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/g/images/img\"\n{regions}",
            azure()
        )
    };
    let catalog = parse(&image("")).unwrap();
    let built = catalog.image("img").unwrap();
    assert_eq!(built.location, "northeurope");
    assert!(matches!(
        built.distribute.as_slice(),
        [Distribute::Gallery(target)] if target.regions.iter().map(|r| r.name.as_str()).eq(["northeurope"])
    ));
    let body =
        image_refresh::build::template::render(image_refresh::build::template::TemplateInput {
            image: built,
            azure: &catalog.azure,
            source_version: "22.04.202411050",
            build_id: "00000000-0000-0000-0000-000000000001",
        });
    assert_eq!(body["location"], "northeurope");

    let hint = single_problem(
        &image("regions = [{ name = \"westeurope\" }]\n"),
        17,
        11,
        "`regions` does not include northeurope, where the image is built",
    );
    assert!(hint.contains("name = \"northeurope\""), "{hint}");
    parse(&image(
        "regions = [{ name = \"westeurope\" }, { name = \"northeurope\" }]\n",
    ))
    .unwrap();
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

#[test]
fn failed_template_retention_is_a_duration_and_excludes_keeping_for_ever() {
    use image_refresh::catalog::Retention;
    let with = |extra: &str| format!("{}{extra}{IMAGE}", azure());
    let retention = |extra: &str| parse(&with(extra)).unwrap().azure.failed_template_retention;
    assert_eq!(retention(""), Retention::FAILED_TEMPLATES);
    assert_eq!(
        retention("failed_template_retention = \"36h\"\n"),
        Retention::For(chrono::Duration::hours(36))
    );
    assert_eq!(
        retention("failed_template_retention = \"0s\"\n"),
        Retention::For(chrono::Duration::zero())
    );
    assert_eq!(
        retention("keep_failed_templates = true\n"),
        Retention::Forever
    );
    let hint = single_problem(
        &with("failed_template_retention = \"a week\"\n"),
        6,
        29,
        "`a week` is not a duration",
    );
    assert!(hint.contains("\"7d\""), "{hint}");
    single_problem(
        &with("keep_failed_templates = true\nfailed_template_retention = \"1d\"\n"),
        6,
        25,
        "`keep_failed_templates` and `failed_template_retention` both set",
    );
}

/// Security finding 4: a schedule that fires every few seconds is refused unless
/// asked for, and jitter is at most the time between checks.
#[test]
fn frequent_schedules_need_to_be_asked_for_and_jitter_fits_the_period() {
    let hint = single_problem(
        &format!("{}[schedule]\ncron = \"* * * * * *\"\n{IMAGE}", azure()),
        7,
        8,
        "`cron` fires every 1 s, more often than every 5 minutes",
    );
    assert!(hint.contains("allow_frequent = true"), "{hint}");
    parse(&format!(
        "{}[schedule]\ncron = \"* * * * * *\"\nallow_frequent = true\n{IMAGE}",
        azure()
    ))
    .unwrap();
    single_problem(
        &format!(
            "{}[schedule]\ncron = \"0 * * * *\"\njitter = \"2h\"\n{IMAGE}",
            azure()
        ),
        8,
        10,
        "`jitter` is longer than the 3600 s between checks (or a day)",
    );
    parse(&format!(
        "{}[schedule]\ncron = \"0 * * * *\"\njitter = \"59m\"\n{IMAGE}",
        azure()
    ))
    .unwrap();
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

/// AIB needs a configured staging group empty while it builds: one image each.
#[test]
fn a_staging_group_serves_one_image() {
    let staging =
        format!("staging_resource_group = \"/subscriptions/{SUB}/resourceGroups/rg-stage\"\n");
    let second = IMAGE.replace("name = \"img\"", "name = \"two\"");
    // From [azure], shared by both images: said at the [azure] key.
    let hint = single_problem(
        &format!("{}{staging}{IMAGE}{second}", azure()),
        6,
        26,
        "images `img` and `two` share the staging resource group",
    );
    assert!(hint.contains("its [[images]] table"), "{hint}");
    // One image's own: fine, and the template names it.
    let own = IMAGE.replace("name = \"img\"\n", &format!("name = \"img\"\n{staging}"));
    let catalog = parse(&format!("{}{own}{second}", azure())).unwrap();
    assert!(
        catalog
            .image("img")
            .unwrap()
            .staging_resource_group
            .as_deref()
            .unwrap()
            .ends_with("/rg-stage")
    );
    assert_eq!(catalog.image("two").unwrap().staging_resource_group, None);
    // Both their own, the same one: said at the second image's key.
    let both = second.replace("name = \"two\"\n", &format!("name = \"two\"\n{staging}"));
    single_problem(
        &format!("{}{own}{both}", azure()),
        18,
        26,
        "images `img` and `two` share the staging resource group",
    );
}

/// `[[notify]]`: the URL is a secret read from a file or a systemd credential;
/// kinds, events and images are checked like everything else.
#[test]
fn notify_sinks_are_checked() {
    let with = |notify: &str| format!("{}{IMAGE}{notify}", azure());
    let catalog = parse(&with(
        "[[notify]]\nkind = \"teams\"\ncredential = \"teams-url\"\nevents = [\"build_failed\", \"image_disabled\"]\nimages = [\"img\"]\ngive_up_after = \"2d\"\n",
    ))
    .unwrap();
    let sink = &catalog.notify[0];
    assert_eq!(sink.name, "teams-1");
    assert_eq!(sink.kind, image_refresh::catalog::SinkKind::Teams);
    assert_eq!(
        sink.give_up_after,
        std::time::Duration::from_secs(2 * 86_400)
    );
    use image_refresh::model::NoticeKind;
    assert!(sink.wants(NoticeKind::BuildFailed, Some("img")));
    assert!(!sink.wants(NoticeKind::BuildSucceeded, Some("img")));
    assert!(!sink.wants(NoticeKind::BuildFailed, Some("other")));
    assert!(sink.wants(NoticeKind::NotifyTest, None));

    // The URL itself has no key: an inline URL is an unknown field.
    single_problem(
        &with("[[notify]]\nkind = \"webhook\"\nurl = \"https://hooks.example/T0\"\n"),
        17,
        1,
        "unknown field `url`",
    );
    single_problem(
        &with("[[notify]]\nkind = \"pager\"\nurl_file = \"/etc/u\"\n"),
        16,
        8,
        "unknown notify kind `pager`",
    );
    single_problem(
        &with(
            "[[notify]]\nkind = \"slack\"\nurl_file = \"/etc/u\"\nevents = [\"build_exploded\"]\n",
        ),
        18,
        11,
        "unknown event `build_exploded`",
    );
    single_problem(
        &with("[[notify]]\nkind = \"slack\"\nurl_file = \"/etc/u\"\nimages = [\"nope\"]\n"),
        18,
        11,
        "unknown image `nope`",
    );
    single_problem(
        &with("[[notify]]\nkind = \"slack\"\n"),
        15,
        1,
        "missing `url_file` or `credential`",
    );
}

#[test]
fn min_base_age_is_a_duration_defaulted_per_image() {
    let own = IMAGE.replace(
        "name = \"img\"\n",
        "name = \"img\"\nmin_base_age = \"12h\"\n",
    );
    let two = IMAGE.replace("name = \"img\"", "name = \"two\"");
    let catalog = parse(&format!(
        "{}[defaults]\nmin_base_age = \"3d\"\n{own}{two}",
        azure()
    ))
    .unwrap();
    assert_eq!(
        catalog.image("img").unwrap().min_base_age,
        Some(chrono::Duration::hours(12))
    );
    assert_eq!(
        catalog.image("two").unwrap().min_base_age,
        Some(chrono::Duration::days(3))
    );
    assert_eq!(
        parse(&format!("{}{IMAGE}", azure())).unwrap().images[0].min_base_age,
        None
    );
    single_problem(
        &format!("{}[defaults]\nmin_base_age = \"1y\"\n{IMAGE}", azure()),
        7,
        16,
        "`1y` is not a duration",
    );
}

#[test]
fn end_of_life_after_is_a_duration_on_gallery_targets_only() {
    let gallery = IMAGE.replace(
        "type = \"vhd\"",
        "type = \"gallery\"\nimage_id = \"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/i\"\nend_of_life_after = \"soon\"",
    );
    let source = format!("{}{gallery}", azure());
    let line = source
        .lines()
        .position(|l| l.starts_with("end_of_life_after"))
        .unwrap()
        + 1;
    let hint = single_problem(&source, line, 21, "`end_of_life_after` cannot be `soon`");
    assert!(hint.contains("90d"), "{hint}");
    let vhd = IMAGE.replace(
        "type = \"vhd\"",
        "type = \"vhd\"\nend_of_life_after = \"90d\"",
    );
    let found = problems(&format!("{}{vhd}", azure()));
    assert!(
        found
            .iter()
            .any(|(_, _, m)| m.contains("end_of_life_after")),
        "{found:?}"
    );
}
