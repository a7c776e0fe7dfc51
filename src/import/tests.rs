use serde_json::json;

use super::{Input, NoteKind, import};
use crate::catalog;

const SUB: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg";

fn template(properties: serde_json::Value) -> serde_json::Value {
    json!({
        "name": "t",
        "location": "westeurope",
        "identity": { "type": "UserAssigned", "userAssignedIdentities": {
            format!("{SUB}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"): {}
        }},
        "properties": properties,
    })
}

fn base(extra: serde_json::Value) -> serde_json::Value {
    let mut properties = json!({
        "source": { "type": "ManagedImage", "imageId": format!("{SUB}/providers/Microsoft.Compute/images/src") },
        "customize": [ { "type": "Shell", "inline": ["true"] } ],
        "distribute": [ { "type": "VHD", "runOutputName": "t-1" } ],
    });
    for (key, value) in extra.as_object().unwrap() {
        properties[key] = value.clone();
    }
    template(properties)
}

fn import_one(name: &str, document: &serde_json::Value) -> super::Import {
    import(&[Input {
        name: name.into(),
        text: document.to_string(),
    }])
}

/// The import of one template, which must validate.
fn run(document: serde_json::Value) -> super::Import {
    let imported = import_one("t.json", &document);
    catalog::parse(&imported.toml, "imported.toml").expect("the import validates");
    imported
}

#[test]
fn abort_on_both_errors_keeps_failed_templates() {
    let imported = run(base(json!({
        "errorHandling": { "onCustomizerError": "abort", "onValidationError": "abort" }
    })));
    assert!(
        imported.toml.contains("keep_failed_templates = true"),
        "{}",
        imported.toml
    );
    assert!(
        imported
            .notes
            .iter()
            .all(|n| !n.path.contains("errorHandling"))
    );
}

#[test]
fn abort_on_one_kind_only_is_said() {
    let imported = run(base(json!({
        "errorHandling": { "onCustomizerError": "abort" }
    })));
    let active = |l: &&str| l.starts_with("keep_failed_templates");
    assert_eq!(
        imported.toml.lines().filter(active).count(),
        0,
        "{}",
        imported.toml
    );
    let note = imported
        .notes
        .iter()
        .find(|n| n.path == "properties.errorHandling")
        .unwrap();
    assert_eq!(note.kind, NoteKind::Dropped);
}

#[test]
fn an_unknown_customizer_is_kept_as_a_comment() {
    let imported = run(base(json!({
        "customize": [ { "type": "Shell", "inline": ["true"] }, { "type": "Ansible", "playbook": "x.yml" } ]
    })));
    assert!(
        imported
            .toml
            .contains(r#"# {"playbook":"x.yml","type":"Ansible"}"#),
        "{}",
        imported.toml
    );
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.path == "properties.customize[1]" && n.message.contains("\"Ansible\""))
    );
    assert_eq!(imported.images, 1);
}

#[test]
fn regions_of_mixed_storage_take_the_first_and_say_so() {
    let gallery = format!("{SUB}/providers/Microsoft.Compute/galleries/g/images/d");
    let imported = run(base(json!({
        "distribute": [ { "type": "SharedImage", "galleryImageId": gallery, "runOutputName": "t-1",
            "targetRegions": [
                { "name": "westeurope", "replicaCount": 2, "storageAccountType": "Premium_LRS" },
                { "name": "northeurope", "storageAccountType": "Standard_LRS" } ] } ]
    })));
    assert!(
        imported
            .toml
            .contains(r#"storage_account_type = "Premium_LRS""#)
    );
    let note = imported
        .notes
        .iter()
        .find(|n| n.kind == NoteKind::Changed)
        .unwrap();
    assert!(note.message.contains("Premium_LRS, Standard_LRS"), "{note}");
}

#[test]
fn an_expression_the_importer_cannot_evaluate_is_named() {
    let mut resource = base(json!({}));
    resource["type"] = json!("Microsoft.VirtualMachineImages/imageTemplates");
    resource["location"] = json!("[resourceGroup().location]");
    let imported = import_one("d.json", &json!({ "resources": [resource] }));
    assert!(imported.notes.iter().any(|n| {
        n.path == "location"
            && n.message
                .contains("[resourceGroup().location] is an ARM expression")
    }));
    // The location is refused, replaced by the placeholder, and said.
    assert!(catalog::parse(&imported.toml, "imported.toml").is_ok());
    assert!(
        imported
            .notes
            .iter()
            .any(|n| n.kind == NoteKind::FillIn && n.path == "location")
    );
}

#[test]
fn names_become_catalog_names_and_stay_unique() {
    let mut first = base(json!({}));
    first["name"] = json!("-my template!");
    let imported = import(&[
        Input {
            name: "a.json".into(),
            text: first.to_string(),
        },
        Input {
            name: "b.json".into(),
            text: first.to_string(),
        },
    ]);
    let catalog = catalog::parse(&imported.toml, "imported.toml").unwrap();
    let names: Vec<&str> = catalog.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["my-template-", "my-template--2"]);
}
