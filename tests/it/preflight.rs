//! `validate --online` and the preflight before each build's template PUT
//! (issue 12), through the real binary against the simulator.

use serde_json::Value;

use crate::support::setup;
use crate::support::world::World;

const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// A subscription where everything the catalog below names exists and fits
/// (the classic scenario holds its resource group and identity); `settings`
/// go to `[settings]`.
fn scenario_with(settings: &str, extra: &str) -> String {
    format!(
        r#"{base}
[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "ubuntu-gen2"
location = "westeurope"
hyper_v_generation = "V2"

[[galleries]]
resource_group = "rg-gallery"
gallery = "gal"
image = "ubuntu-gen1"
location = "westeurope"
hyper_v_generation = "V1"
{extra}"#,
        base = setup::scenario(settings, 0, 0)
    )
}

fn scenario(extra: &str) -> String {
    scenario_with("", extra)
}

fn gallery_image(name: &str) -> String {
    format!(
        "/subscriptions/{SUB}/resourceGroups/rg-gallery/providers/Microsoft.Compute/galleries/gal/images/{name}"
    )
}

/// A catalog of `images`, each `[[images]]` table as given.
fn catalog(world: &World, azure_extra: &str, images: &[String]) -> String {
    let mut text = format!(
        r#"[azure]
subscription_id = "{SUB}"
resource_group = "rg-image-builder"
location = "westeurope"
identity = "/subscriptions/{SUB}/resourceGroups/rg-image-builder/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib-builder"
{azure_extra}
{endpoints}
[recipes.patch]
[[recipes.patch.steps]]
type = "shell"
name = "patch"
inline = ["sudo apt update"]
"#,
        endpoints = setup::endpoints(&world.sim, &world.secret_file),
    );
    for image in images {
        text.push_str(image);
    }
    text
}

fn image(name: &str, sku: &str, version: &str, target: &str) -> String {
    format!(
        r#"
[[images]]
name = "{name}"
recipes = ["patch"]
[images.source]
type = "marketplace"
publisher = "Canonical"
offer = "0001-com-ubuntu-server-jammy"
sku = "{sku}"
version = "{version}"
[[images.distribute]]
{target}
"#
    )
}

fn gallery_target(image: &str, regions: &str) -> String {
    format!(
        "type = \"gallery\"\nimage_id = \"{}\"\nregions = [{regions}]\n",
        gallery_image(image)
    )
}

fn managed_target(group: &str, name: &str) -> String {
    format!(
        "type = \"managed_image\"\nimage_id = \"/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.Compute/images/{name}\"\n"
    )
}

fn online(world: &World) -> (Option<i32>, Vec<Value>, String) {
    let output = world.command(&["validate", "--online", "--output", "json"]);
    let problems: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap_or_default();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), problems, stderr)
}

/// The 1-based line of the first line containing `needle` after line `after`.
fn line_of(text: &str, needle: &str, after: usize) -> usize {
    text.lines()
        .enumerate()
        .skip(after)
        .find(|(_, line)| line.contains(needle))
        .map(|(i, _)| i + 1)
        .unwrap_or_else(|| panic!("{needle} not in the catalog"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_azure_has_everything_for_passes() {
    let world = World::builder().scenario(scenario("")).start().await;
    let text = catalog(
        &world,
        "",
        &[image(
            "ok",
            "22_04-lts-gen2",
            "latest",
            &gallery_target("ubuntu-gen2", "\"westeurope\""),
        )],
    );
    world.write_config(&text);
    let output = world.command(&["validate", "--online"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("Azure has everything"));
    crate::support::role::assert_allows(&world.sim.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_each_problem_is_reported_at_once_each_at_its_line() {
    let world = World::builder()
        .scenario(scenario(
            r#"
[[resource_groups]]
name = "rg-staging"
location = "northeurope"
resources = ["Microsoft.Storage/storageAccounts/leftover"]
"#,
        ))
        .start()
        .await;
    // The unregistered provider is a setting of the whole subscription: its
    // own world below.
    let staging =
        format!("staging_resource_group = \"/subscriptions/{SUB}/resourceGroups/rg-staging\"");
    let text = catalog(
        &world,
        "",
        &[
            image(
                "lost",
                "22_04-lts-gen9",
                "latest",
                &gallery_target("ubuntu-gen2", "\"westeurope\""),
            ),
            image(
                "pinned",
                "22_04-lts-gen2",
                "22.04.199901010",
                &gallery_target("ubuntu-gen2", "\"westeurope\""),
            ),
            image(
                "nodef",
                "22_04-lts-gen2",
                "latest",
                &gallery_target("ubuntu-none", "\"westeurope\""),
            ),
            image(
                "gen1",
                "22_04-lts-gen2",
                "latest",
                &gallery_target("ubuntu-gen1", "\"westeurope\""),
            ),
            image(
                "region",
                "22_04-lts-gen2",
                "latest",
                &gallery_target("ubuntu-gen2", "\"westeurope\", \"westeurop\""),
            ),
            image(
                "managed",
                "22_04-lts-gen2",
                "latest",
                &managed_target("rg-missing", "golden"),
            ),
        ],
    )
    .replace(
        "userAssignedIdentities/id-aib-builder",
        "userAssignedIdentities/id-missing",
    )
    // A staging group serves one image.
    .replace(
        "name = \"gen1\"\n",
        &format!("name = \"gen1\"\n{staging}\n"),
    );
    world.write_config(&text);
    let (code, problems, stderr) = online(&world);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!problems.is_empty(), "{stderr}");
    let found = |needle: &str| -> &Value {
        problems
            .iter()
            .find(|p| p["message"].as_str().unwrap().contains(needle))
            .unwrap_or_else(|| panic!("no problem about {needle:?} in {problems:#?}"))
    };
    let at = |p: &Value| p["line"].as_u64().unwrap() as usize;
    let image_line = |name: &str| line_of(&text, &format!("name = \"{name}\""), 0);

    assert_eq!(
        at(found("id-missing does not exist")),
        line_of(&text, "identity =", 0)
    );
    let staging_line = line_of(&text, "staging_resource_group", 0);
    assert_eq!(at(found("rg-staging is not empty")), staging_line);
    let region = found("rg-staging is in northeurope");
    assert_eq!(at(region), staging_line);
    assert!(
        region["message"]
            .as_str()
            .unwrap()
            .contains("but gen1 builds in westeurope"),
        "{region}"
    );
    let lost = found(
        "no marketplace image Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen9 in westeurope",
    );
    assert_eq!(at(lost), line_of(&text, "sku = \"22_04-lts-gen9\"", 0));
    assert_eq!(
        at(found("has no version 22.04.199901010")),
        line_of(&text, "version = \"22.04.199901010\"", 0)
    );
    let nodef = found("ubuntu-none does not exist");
    assert_eq!(
        at(nodef),
        line_of(&text, "images/ubuntu-none", image_line("nodef"))
    );
    let gen1 = found("ubuntu-gen1 does not fit the source");
    assert!(
        gen1["message"]
            .as_str()
            .unwrap()
            .contains("Hyper-V generation is V1, the source's is V2")
    );
    assert_eq!(
        at(gen1),
        line_of(&text, "images/ubuntu-gen1", image_line("gen1"))
    );
    assert_eq!(
        at(found("`westeurop` is not a location")),
        line_of(&text, "\"westeurop\"", 0)
    );
    assert_eq!(
        at(found("rg-missing (for the managed image) does not exist")),
        line_of(&text, "rg-missing", image_line("managed"))
    );
    for p in &problems {
        assert_eq!(p["certain"], true, "{p}");
        assert!(p["column"].as_u64().unwrap() >= 1);
    }
    assert_eq!(problems.len(), 9, "{problems:#?}");

    // People get the same problems as snippets with file:line:col.
    let output = world.command(&["validate", "--online"]);
    assert_eq!(output.status.code(), Some(1));
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(
        report.contains(&format!("image-refresh.toml:{staging_line}:")),
        "{report}"
    );
    // Every question preflight asks (staging group contents, pinned versions,
    // identities, …) is one the daemon's role allows.
    crate::support::role::assert_allows(&world.sim.journal());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unregistered_provider_and_a_missing_group_are_named() {
    let world = World::builder()
        .scenario(scenario_with(
            "unregistered_providers = [\"Microsoft.VirtualMachineImages\"]",
            "",
        ))
        .start()
        .await;
    let text = catalog(
        &world,
        "",
        &[image(
            "ok",
            "22_04-lts-gen2",
            "latest",
            &gallery_target("ubuntu-gen2", "\"westeurope\""),
        )],
    )
    .replace(
        "resource_group = \"rg-image-builder\"",
        "resource_group = \"rg-nope\"",
    );
    world.write_config(&text);
    let (code, problems, stderr) = online(&world);
    assert_eq!(code, Some(1), "{stderr}");
    let messages: Vec<&str> = problems
        .iter()
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(
            |m| m.contains("Microsoft.VirtualMachineImages resource provider is NotRegistered")
        ),
        "{messages:?}"
    );
    let group = problems
        .iter()
        .find(|p| p["message"].as_str().unwrap().contains("rg-nope"))
        .unwrap();
    assert_eq!(
        group["line"].as_u64().unwrap() as usize,
        line_of(&text, "rg-nope", 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_without_a_token_is_one_problem_not_one_per_question() {
    let world = World::builder().scenario(scenario("")).start().await;
    let text = catalog(
        &world,
        "",
        &[image(
            "ok",
            "22_04-lts-gen2",
            "latest",
            &gallery_target("ubuntu-gen2", "\"westeurope\""),
        )],
    );
    world.write_config(&text);
    image_refresh::cli::simulated::write_private(&world.secret_file, "not-the-secret").unwrap();
    let (code, problems, stderr) = online(&world);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let message = problems[0]["message"].as_str().unwrap();
    assert!(
        message.contains("with the client_secret credential"),
        "{message}"
    );
    assert_eq!(
        problems[0]["line"].as_u64().unwrap() as usize,
        line_of(&text, "[azure.credential]", 0)
    );
}

/// A build to a gallery definition that does not exist fails in seconds,
/// before any template is PUT, with its own error code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_build_to_a_missing_definition_fails_before_any_template_put() {
    let world = World::builder().scenario(scenario("")).start().await;
    let text = catalog(
        &world,
        "",
        &[image(
            "nodef",
            "22_04-lts-gen2",
            "latest",
            &gallery_target("ubuntu-none", "\"westeurope\""),
        )],
    );
    world.write_config(&text);
    let output = world.command(&["build", "--wait", "nodef"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        world.journal("template.put").is_empty(),
        "no template was PUT"
    );
    let builds = world.builds().await;
    assert_eq!(builds.len(), 1);
    let build = &builds[0];
    assert_eq!(build.state.as_str(), "failed");
    assert_eq!(
        build.error_code.as_deref(),
        Some(image_refresh::build::PREFLIGHT_FAILED)
    );
    assert!(
        build
            .error_message
            .as_deref()
            .unwrap()
            .contains("ubuntu-none does not exist"),
        "{build:?}"
    );
    assert_eq!(build.template_name, None);
    assert_eq!(build.cleanup.as_str(), "done");
}
