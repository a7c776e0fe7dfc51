//! Rendering for people (tables) and scripts (JSON).

use comfy_table::{ContentArrangement, Table, presets::UTF8_BORDERS_ONLY};
use miette::IntoDiagnostic;
use serde::Serialize;

const MAX_PIPED_WIDTH: u16 = 140;

/// A table with a header row, plain borders and no colour, so it reads the same
/// in a terminal, a pager and a pasted incident note.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_BORDERS_ONLY)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(header);
    // Piped output has no terminal width; wrap long AIB messages anyway.
    if table.width().is_none() {
        table.set_width(MAX_PIPED_WIDTH);
    }
    table
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> miette::Result<()> {
    let text = serde_json::to_string_pretty(value).into_diagnostic()?;
    println!("{text}");
    Ok(())
}

pub use crate::report::chain;

/// "3d 4h", "2h 5m", "40s": the age of a build at a glance.
pub fn human_duration(duration: chrono::Duration) -> String {
    let secs = duration.num_seconds().max(0);
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{secs}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use chrono::Duration;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(Duration::seconds(40)), "40s");
        assert_eq!(human_duration(Duration::seconds(125)), "2m");
        assert_eq!(human_duration(Duration::minutes(125)), "2h 5m");
        assert_eq!(human_duration(Duration::hours(76)), "3d 4h");
        assert_eq!(human_duration(Duration::seconds(-5)), "0s");
    }
}
