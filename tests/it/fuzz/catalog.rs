//! `catalog::parse` on arbitrary text and on mutations of the shipped examples.

use image_refresh::catalog::{self, CLASSIC, CatalogError, EXAMPLE_ENTERPRISE};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

use super::config;

/// Every rejection lists at least one problem, each inside the text with a message.
fn check(text: &str) -> Result<(), TestCaseError> {
    let Err(error) = catalog::parse(text, "fuzz.toml") else {
        return Ok(());
    };
    prop_assert!(
        matches!(error, CatalogError::Invalid(_)),
        "parsing text is never an I/O error: {error}"
    );
    let problems = error.problems();
    prop_assert!(!problems.is_empty(), "a rejection without a problem");
    let lines: Vec<&str> = text.split('\n').collect();
    for problem in problems {
        let at = format!("{}:{}: {}", problem.line, problem.column, problem.message);
        prop_assert!(
            problem.line >= 1 && problem.line <= lines.len(),
            "line outside the text: {at}"
        );
        let width = lines[problem.line - 1].chars().count();
        prop_assert!(
            problem.column >= 1 && problem.column <= width + 1,
            "column outside line {} ({width} characters): {at}",
            problem.line
        );
        prop_assert!(!problem.message.trim().is_empty(), "empty message at {at}");
        prop_assert!(
            problem.span.start <= problem.span.end && problem.span.end <= text.len(),
            "span {:?} outside the text ({} bytes): {at}",
            problem.span,
            text.len()
        );
        prop_assert!(
            text.is_char_boundary(problem.span.start) && text.is_char_boundary(problem.span.end),
            "span {:?} splits a character: {at}",
            problem.span
        );
    }
    prop_assert!(!error.to_string().trim().is_empty());
    // The terminal rendering slices the source by the spans: it must not panic either.
    let rendered = format!("{:?}", error.into_report());
    prop_assert!(!rendered.trim().is_empty());
    Ok(())
}

/// One edit of a catalog, as people make them by mistake.
#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    /// Swaps the values of two `key = value` lines.
    SwapValues(usize, usize),
    ReplaceValue(usize, String),
    InsertLine(usize, String),
    /// Cuts the text at a (character) position.
    Truncate(usize),
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\"\"".to_owned()),
        Just("\"latest\"".to_owned()),
        Just("0".to_owned()),
        Just("-1".to_owned()),
        Just("99999999999999999999999".to_owned()),
        Just("1.5".to_owned()),
        Just("true".to_owned()),
        Just("[]".to_owned()),
        Just("{}".to_owned()),
        Just("[1, \"a\", true]".to_owned()),
        Just("1979-05-27T07:32:00Z".to_owned()),
        Just("\"/subscriptions/x/resourceGroups\"".to_owned()),
        Just("\"0 6 * * TUE#9\"".to_owned()),
        Just("\"ü→😀\"".to_owned()),
        Just("\"unterminated".to_owned()),
        Just("'''\nmulti\n'''".to_owned()),
        "[ -~]{0,20}".prop_map(|s| format!("\"{}\"", s.replace(['"', '\\'], ""))),
        any::<String>(),
    ]
}

fn inserted_line() -> impl Strategy<Value = String> {
    prop_oneof![
        ("[a-z_]{1,12}", value()).prop_map(|(k, v)| format!("{k} = {v}")),
        "[a-z_.]{1,20}".prop_map(|t| format!("[{t}]")),
        "[a-z_.]{1,20}".prop_map(|t| format!("[[{t}]]")),
        Just("[[images]]".to_owned()),
        Just("[[images.steps]]".to_owned()),
        Just("[recipes.x]".to_owned()),
        Just("type = \"windows_update\"".to_owned()),
        any::<String>(),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let index = any::<prop::sample::Index>();
    prop_oneof![
        index
            .clone()
            .prop_map(|i| Mutation::DeleteLine(i.index(usize::MAX))),
        index
            .clone()
            .prop_map(|i| Mutation::DuplicateLine(i.index(usize::MAX))),
        (index.clone(), index.clone())
            .prop_map(|(a, b)| Mutation::SwapValues(a.index(usize::MAX), b.index(usize::MAX))),
        (index.clone(), value()).prop_map(|(i, v)| Mutation::ReplaceValue(i.index(usize::MAX), v)),
        (index.clone(), inserted_line())
            .prop_map(|(i, l)| Mutation::InsertLine(i.index(usize::MAX), l)),
        index.prop_map(|i| Mutation::Truncate(i.index(usize::MAX))),
    ]
}

/// Lines that assign a value, by index into `lines`.
fn assignments(lines: &[String]) -> Vec<usize> {
    (0..lines.len())
        .filter(|&i| !lines[i].trim_start().starts_with('#') && lines[i].contains(" = "))
        .collect()
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    let n = lines.len();
    let keyed = assignments(&lines);
    match mutation {
        Mutation::DeleteLine(i) => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) => {
            let line = lines[i % n].clone();
            lines.insert(i % n, line);
        }
        Mutation::SwapValues(a, b) if !keyed.is_empty() => {
            let (a, b) = (keyed[a % keyed.len()], keyed[b % keyed.len()]);
            let split = |l: &str| {
                let (k, v) = l.split_once(" = ").unwrap_or((l, ""));
                (k.to_owned(), v.to_owned())
            };
            let ((ka, va), (kb, vb)) = (split(&lines[a]), split(&lines[b]));
            lines[a] = format!("{ka} = {vb}");
            lines[b] = format!("{kb} = {va}");
        }
        Mutation::ReplaceValue(i, value) if !keyed.is_empty() => {
            let at = keyed[i % keyed.len()];
            let key = lines[at].split(" = ").next().unwrap_or_default().to_owned();
            lines[at] = format!("{key} = {value}");
        }
        Mutation::SwapValues(..) | Mutation::ReplaceValue(..) => {}
        Mutation::InsertLine(i, line) => lines.insert(i % (n + 1), line.clone()),
        Mutation::Truncate(at) => {
            let text = lines.join("\n");
            let chars = text.chars().count();
            return text.chars().take(at % (chars + 1)).collect();
        }
    }
    lines.join("\n")
}

fn example() -> impl Strategy<Value = &'static str> {
    prop_oneof![Just(CLASSIC), Just(EXAMPLE_ENTERPRISE)]
}

#[test]
fn the_shipped_examples_parse() {
    // The mutations below start from valid catalogs, so rejections come from the mutation.
    catalog::parse(CLASSIC, "classic.toml").unwrap();
    catalog::parse(EXAMPLE_ENTERPRISE, "enterprise.toml").unwrap();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        check(&text)?;
    }

    #[test]
    fn toml_like_text_never_panics(
        lines in prop::collection::vec(inserted_line(), 0..12)
    ) {
        check(&lines.join("\n"))?;
    }

    #[test]
    fn mutated_examples_are_accepted_or_located(
        source in example(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        let text = mutations.iter().fold(source.to_owned(), |text, m| apply(&text, m));
        check(&text)?;
    }
}
