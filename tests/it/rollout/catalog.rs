//! The catalog keys of validation and build windows: what they become, and
//! the combinations AIB (or sense) refuses, each at its line and column.

use chrono::Duration;
use image_refresh::catalog::{self, Catalog, CatalogError, Step};

const SUB: &str = "00000000-0000-0000-0000-000000000000";

/// Lines 1–5 of every catalog here.
fn azure() -> String {
    format!(
        "[azure]\nsubscription_id = \"{SUB}\"\nresource_group = \"rg-images\"\nlocation = \"westeurope\"\n\
         identity = \"/subscriptions/{SUB}/resourceGroups/rg-images/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-aib\"\n"
    )
}

/// An image whose table starts on line 6 after [`azure`]; `keys` go on line 8.
fn image(keys: &str) -> String {
    format!(
        "[[images]]\nname = \"img\"\n{keys}\n[images.source]\ntype = \"marketplace\"\npublisher = \"Canonical\"\n\
         offer = \"0001-com-ubuntu-server-jammy\"\nsku = \"22_04-lts-gen2\"\n[[images.distribute]]\ntype = \"vhd\"\n"
    )
}

const VALIDATOR: &str = "[[images.validate]]\ntype = \"shell\"\nname = \"smoke\"\ninline = [\"systemctl is-system-running\"]\n";

fn parse(text: &str) -> Result<Catalog, CatalogError> {
    catalog::parse(text, "test.toml")
}

/// The one problem of `text`: its line, column and message.
fn problem(text: &str) -> (usize, usize, String) {
    let error = parse(text).expect_err("the catalog should be refused");
    let problems = error.problems();
    assert_eq!(problems.len(), 1, "{error}");
    let p = &problems[0];
    (p.line, p.column, p.message.clone())
}

#[test]
fn validators_come_from_recipes_then_the_image_and_feed_the_recipe_hash() {
    let recipe = "[recipes.cis]\n[[recipes.cis.validate]]\ntype = \"file\"\nsource_uri = \"https://example.com/cis.sh\"\n\
                  destination = \"/tmp/cis.sh\"\nsha256_checksum = \"0000000000000000000000000000000000000000000000000000000000000000\"\n";
    let with = parse(&format!(
        "{}{recipe}{}{VALIDATOR}",
        azure(),
        image("recipes = [\"cis\"]\ncontinue_distribute_on_failure = true")
    ))
    .unwrap();
    let validation = &with.images[0].validation;
    assert!(matches!(validation.validators[0], Step::File(_)));
    assert!(matches!(validation.validators[1], Step::Shell(_)));
    assert!(validation.continue_distribute_on_failure);
    assert!(!validation.source_validation_only);
    assert!(with.images[0].steps.is_empty(), "validators are not steps");

    // Without validators the hash is what it always was; with them it differs.
    let without = parse(&format!("{}{}", azure(), image(""))).unwrap();
    let own = parse(&format!("{}{}{VALIDATOR}", azure(), image(""))).unwrap();
    assert_ne!(without.images[0].recipe_hash, own.images[0].recipe_hash);
    let renamed = parse(&format!(
        "{}{}{}",
        azure(),
        image(""),
        VALIDATOR.replace("smoke", "other name")
    ))
    .unwrap();
    assert_eq!(
        own.images[0].recipe_hash, renamed.images[0].recipe_hash,
        "a validator's name only labels the log"
    );
}

#[test]
fn combinations_aib_cannot_run_are_refused_where_they_are_written() {
    let (line, column, message) = problem(&format!(
        "{}{}{}",
        azure(),
        image(""),
        VALIDATOR
            .replace("\"shell\"", "\"windows_restart\"")
            .replace("inline = [\"systemctl is-system-running\"]\n", "")
    ));
    assert_eq!((line, column), (17, 8), "{message}");
    assert!(
        message.contains("`windows_restart` cannot be a validator"),
        "{message}"
    );

    let (line, column, message) = problem(&format!(
        "{}{}",
        azure(),
        image("continue_distribute_on_failure = true")
    ));
    assert_eq!((line, column), (8, 34), "{message}");
    assert!(
        message.contains("without validators has no effect"),
        "{message}"
    );

    let (line, column, message) = problem(&format!(
        "{}{}",
        azure(),
        image("source_validation_only = true")
    ));
    assert_eq!((line, column), (8, 26), "{message}");
    assert!(message.contains("validates nothing"), "{message}");

    let steps = "[[images.steps]]\ntype = \"shell\"\ninline = [\"apt-get upgrade\"]\n";
    let (line, column, message) = problem(&format!(
        "{}{}{steps}{VALIDATOR}",
        azure(),
        image("source_validation_only = true")
    ));
    assert_eq!((line, column), (8, 26), "{message}");
    assert!(
        message.contains("the image's steps would never run"),
        "{message}"
    );

    let only = parse(&format!(
        "{}{}{VALIDATOR}",
        azure(),
        image("source_validation_only = true")
    ))
    .unwrap();
    assert!(only.images[0].validation.source_validation_only);
}

#[test]
fn a_build_window_is_a_cron_and_a_duration_defaulted_per_image() {
    let defaults = "[defaults]\nbuild_window = { cron = \"0 22 * * FRI\", duration = \"8h\", timezone = \"Europe/Prague\" }\n";
    let own = image("build_window = { cron = \"0 1 * * SAT\", duration = \"2h\" }");
    let two = image("").replace("name = \"img\"", "name = \"two\"");
    let catalog = parse(&format!("{}{defaults}{own}{two}", azure())).unwrap();
    let window = catalog.image("img").unwrap().build_window.clone().unwrap();
    assert_eq!(
        (window.cron.as_str(), window.duration, window.timezone),
        ("0 1 * * SAT", Duration::hours(2), chrono_tz::Tz::UTC)
    );
    let inherited = catalog.image("two").unwrap().build_window.clone().unwrap();
    assert_eq!(inherited.duration, Duration::hours(8));
    assert_eq!(inherited.timezone, chrono_tz::Tz::Europe__Prague);

    let (line, column, message) = problem(&format!(
        "{}{}",
        azure(),
        image("build_window = { cron = \"0 25 * * *\", duration = \"2h\" }")
    ));
    assert_eq!((line, column), (8, 25), "{message}");
    assert!(message.contains("bad cron expression"), "{message}");

    let (line, column, message) = problem(&format!(
        "{}{}",
        azure(),
        image("build_window = { cron = \"0 22 * * *\", duration = \"8 hours\" }")
    ));
    assert_eq!((line, column), (8, 50), "{message}");
    assert!(message.contains("is not a duration"), "{message}");

    let (line, column, message) = problem(&format!(
        "{}{}",
        azure(),
        image("build_window = { cron = \"0 * * * *\", duration = \"1h\" }")
    ));
    assert_eq!((line, column), (8, 49), "{message}");
    assert!(message.contains("always open"), "{message}");

    let (line, column, message) = problem(&format!(
        "{}{}",
        azure(),
        image("build_window = { cron = \"0 22 * * *\" }")
    ));
    assert_eq!((line, column), (8, 16), "{message}");
    assert!(message.contains("missing `duration`"), "{message}");
}
