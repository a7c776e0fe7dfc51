//! The recipe hash: what changes it and what does not.

use super::*;

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
