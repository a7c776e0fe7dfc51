//! Every kind of problem in an image, each with its exact position and hint, all
//! reported together.

use super::*;

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
