//! Reading a cron expression as the catalog writes it, and saying plainly what is wrong.
//!
//! croner is given the expression with a seconds field put in front (see `Schedule::new`),
//! and its errors speak of that rewritten form and of its own types ("Pattern must have
//! between 5 and 7", "Pattern contains illegal characters: CronPattern"). The catalog's
//! reader wrote five fields (or six), so the reason names the field they wrote, its text
//! and what it takes.

use croner::Cron;
use croner::errors::CronError;
use croner::parser::{CronParser, Seconds};

/// The fields as croner reads them, with what each takes.
const FIELDS: [(&str, &str); 7] = [
    ("seconds", "0-59"),
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT"),
    ("year", "1-9999"),
];

const NICKNAMES: &str = "@yearly, @annually, @monthly, @weekly, @daily or @hourly";

/// Parses `expression` (5 fields, 6 with leading seconds, 7 with a year last, or one of
/// croner's nicknames such as `@daily`); the error is the reason, in the expression's own
/// terms.
pub fn parse_cron(expression: &str) -> Result<Cron, String> {
    let trimmed = expression.trim();
    if trimmed.starts_with('@') {
        return parse_full(trimmed)
            .map_err(|_| format!("`{trimmed}` is not a cron nickname; use {NICKNAMES}"));
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    let skipped = match fields.len() {
        0 => return Err("it is empty".to_owned()),
        5 => 1,
        6 | 7 => 0,
        n => {
            return Err(format!(
                "it has {n} fields; cron takes 5 (minute hour day-of-month month day-of-week) \
                 or 6 (seconds first)"
            ));
        }
    };
    let full = if skipped == 1 {
        format!("0 {}", fields.join(" "))
    } else {
        fields.join(" ")
    };
    let error = match parse_full(&full) {
        Ok(cron) => return Ok(cron),
        Err(error) => error,
    };
    // The field that fails on its own, every other one a wildcard.
    for (index, field) in fields.iter().enumerate() {
        let position = index + skipped;
        let mut probe = ["*"; 7];
        probe[position] = field;
        if let Err(alone) = parse_full(&probe.join(" ")) {
            return Err(field_reason(position, field, &alone));
        }
    }
    Err(format!(
        "its fields do not fit together ({})",
        lowercase_first(&error)
    ))
}

/// croner as the schedule uses it: seconds first, a year after the day-of-week allowed.
fn parse_full(expression: &str) -> Result<Cron, CronError> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .build()
        .parse(expression)
}

fn field_reason(position: usize, field: &str, error: &CronError) -> String {
    let (name, takes) = FIELDS[position];
    let what = format!("the {name} field `{field}`");
    match error {
        CronError::ComponentError(text) if text.contains("Nth") => {
            format!("{what} is wrong: after # comes 1 to 5 (the first to fifth such weekday)")
        }
        CronError::ComponentError(text) if text.contains("out of bounds") => {
            format!("{what} is out of range: it takes {takes}")
        }
        CronError::ComponentError(text) if text.contains("Step cannot be zero") => {
            format!("{what} has a step of 0; a step (/N) must be at least 1")
        }
        _ => format!(
            "{what} is not a number, range (1-5), list (1,3), step (*/15) or *; it takes {takes}"
        ),
    }
}

fn lowercase_first(error: &CronError) -> String {
    let text = error.to_string();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_cron;

    #[test]
    fn what_croner_took_before_still_parses() {
        assert!(parse_cron("0 6 * * TUE#2").is_ok());
        assert!(parse_cron("30 0 6 * * *").is_ok());
        assert!(parse_cron("0 0 6 * * * 2027").is_ok());
        assert!(parse_cron("@daily").is_ok());
        let reason = parse_cron("@fortnightly").unwrap_err();
        assert!(reason.contains("use @yearly"), "{reason}");
    }

    #[test]
    fn reasons_name_the_user_s_field_not_croner_s_rewriting() {
        let reason = parse_cron("0 25 * * *").unwrap_err();
        assert_eq!(reason, "the hour field `25` is out of range: it takes 0-23");
        let reason = parse_cron("* * *").unwrap_err();
        assert!(
            reason.starts_with("it has 3 fields; cron takes 5"),
            "{reason}"
        );
        let reason = parse_cron("0 6 * * FOO").unwrap_err();
        assert!(
            reason.starts_with("the day-of-week field `FOO` is not a number"),
            "{reason}"
        );
        let reason = parse_cron("0 6 * * MON#9").unwrap_err();
        assert!(reason.contains("after # comes 1 to 5"), "{reason}");
        let reason = parse_cron("*/0 * * * *").unwrap_err();
        assert!(reason.starts_with("the minute field `*/0`"), "{reason}");
        for reason in [
            parse_cron("0 25 * * *"),
            parse_cron("* * *"),
            parse_cron("0 6 * * FOO"),
        ]
        .map(Result::unwrap_err)
        {
            assert!(!reason.contains("CronPattern"), "{reason}");
            assert!(!reason.contains("between 5 and 7"), "{reason}");
        }
    }
}
