//! Wrong value types, said in the catalog's words: serde's "invalid type: string "35",
//! expected i64" becomes "`max_age_days` must be a whole number, found string "35"" with a
//! hint like every other problem has ("a whole number of days, e.g. 35").

use std::ops::Range;

/// What each key takes, for the keys whose type alone does not say enough.
const KEY_HINTS: &[(&str, &str)] = &[
    ("max_age_days", "a whole number of days, e.g. 35"),
    ("keep_checks_days", "a whole number of days, e.g. 90"),
    (
        "build_timeout_minutes",
        "a whole number of minutes, e.g. 80",
    ),
    ("os_disk_size_gb", "a whole number of GiB, e.g. 64"),
    ("max_concurrent_builds", "a whole number of builds, e.g. 2"),
    (
        "disable_after_failures",
        "a whole number of failed builds in a row, e.g. 3",
    ),
    ("update_limit", "a whole number of updates, e.g. 1000"),
    ("versions_to_keep", "a whole number of versions, e.g. 5"),
    ("replicas", "a whole number of replicas, e.g. 1"),
    (
        "valid_exit_codes",
        "a list of whole numbers, e.g. [0, 3010]",
    ),
    (
        "inline",
        "a list of quoted commands, e.g. [\"sudo apt update\"]",
    ),
    (
        "recipes",
        "a list of recipe names, e.g. [\"patch-and-banner\"]",
    ),
    (
        "filters",
        "a list of quoted filters, e.g. [\"include:$_.Title -like '*Security*'\"]",
    ),
    ("events", "a list of event names, e.g. [\"build_failed\"]"),
    ("images", "a list of image names, e.g. [\"ubuntu-golden\"]"),
    ("min_base_age", "a quoted duration, e.g. \"3d\""),
    ("jitter", "a quoted duration, e.g. \"30m\""),
    (
        "failed_template_retention",
        "a quoted duration, e.g. \"14d\"",
    ),
    ("give_up_after", "a quoted duration, e.g. \"24h\""),
    ("restart_timeout", "a quoted duration, e.g. \"10m\""),
];

/// The message and hint for toml's "invalid type: FOUND, expected EXPECTED", or `None`
/// for any other shape error.
pub(super) fn wrong_type(
    source: &str,
    span: &Range<usize>,
    message: &str,
) -> Option<(String, String)> {
    let (found, expected) = message
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?;
    let wanted = plain_type(expected);
    let Some(key) = key_at(source, span.start) else {
        return Some((
            format!("this value must be {wanted}, found {found}"),
            generic_hint(expected),
        ));
    };
    let hint = KEY_HINTS
        .iter()
        .find(|(name, _)| *name == key)
        .map_or_else(|| generic_hint(expected), |(_, hint)| (*hint).to_owned());
    Some((format!("`{key}` must be {wanted}, found {found}"), hint))
}

/// serde's name of a type, as the catalog's reader thinks of it.
fn plain_type(expected: &str) -> String {
    match expected.trim() {
        "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize" => {
            "a whole number".to_owned()
        }
        "a boolean" => "true or false".to_owned(),
        "a string" => "a quoted string".to_owned(),
        "a sequence" => "a list".to_owned(),
        other if other.starts_with("struct ") || other == "a map" => "a table".to_owned(),
        other => other.to_owned(),
    }
}

fn generic_hint(expected: &str) -> String {
    match plain_type(expected).as_str() {
        "a whole number" => "write the number without quotes or a decimal point, e.g. 3",
        "true or false" => "write true or false, without quotes",
        "a quoted string" => "put the value in double quotes, e.g. key = \"value\"",
        "a list" => "put the values in brackets, e.g. [\"a\", \"b\"]",
        "a table" => "give a [table] or an inline { key = value } table",
        _ => "see config/examples/enterprise.toml for what each key takes",
    }
    .to_owned()
}

/// The key whose value starts at `offset`, when it is written `key = value` on that line
/// (an element of a list spanning lines has no key on its own line).
fn key_at(source: &str, offset: usize) -> Option<&str> {
    let before = source.get(..offset)?;
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    // The last `=`: in an inline table (`{ name = "a", replicas = "2" }`) that is the key's.
    let (key, _) = line.rsplit_once('=')?;
    let key = key
        .trim()
        .rsplit(|c: char| matches!(c, '{' | ',' | '[' | '.') || c.is_whitespace())
        .next()?
        .trim_matches('"');
    let plain = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    plain.then_some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hint_for(source: &str, value: &str, message: &str) -> (String, String) {
        let start = source.find(value).unwrap();
        wrong_type(source, &(start..start + value.len()), message).unwrap()
    }

    #[test]
    fn a_known_key_gets_its_own_hint() {
        let (message, hint) = hint_for(
            "[defaults]\nmax_age_days = \"35\"\n",
            "\"35\"",
            "invalid type: string \"35\", expected i64",
        );
        assert_eq!(
            message,
            "`max_age_days` must be a whole number, found string \"35\""
        );
        assert_eq!(hint, "a whole number of days, e.g. 35");
    }

    #[test]
    fn other_keys_get_their_type_s_hint() {
        let (message, hint) = hint_for(
            "[azure]\nkeep_failed_templates = \"yes\"\n",
            "\"yes\"",
            "invalid type: string \"yes\", expected a boolean",
        );
        assert_eq!(
            message,
            "`keep_failed_templates` must be true or false, found string \"yes\""
        );
        assert_eq!(hint, "write true or false, without quotes");
    }

    #[test]
    fn a_value_on_a_line_of_its_own_is_still_explained() {
        let (message, _) = hint_for(
            "valid_exit_codes = [\n  \"0\",\n]\n",
            "\"0\"",
            "invalid type: string \"0\", expected i64",
        );
        assert_eq!(
            message,
            "this value must be a whole number, found string \"0\""
        );
    }

    #[test]
    fn a_key_in_an_inline_table_is_found() {
        let (message, hint) = hint_for(
            "regions = [{ name = \"westeurope\", replicas = \"2\" }]\n",
            "\"2\"",
            "invalid type: string \"2\", expected i64",
        );
        assert_eq!(
            message,
            "`replicas` must be a whole number, found string \"2\""
        );
        assert_eq!(hint, "a whole number of replicas, e.g. 1");
    }

    #[test]
    fn other_shape_errors_are_left_alone() {
        assert!(wrong_type("a = 1", &(0..1), "unknown field `a`, expected `b`").is_none());
    }
}
