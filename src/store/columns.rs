//! How values are written to and read from columns.
//!
//! Timestamps are stored as `2026-11-25T09:00:00Z`: whole seconds, always the
//! same width, so text order is time order and SQL can compare them directly.
//! Sub-second parts are dropped on the way in.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

pub(super) fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(super) fn time(row: &SqliteRow, column: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    let text: String = row.try_get(column)?;
    parse_time(column, &text)
}

pub(super) fn opt_time(
    row: &SqliteRow,
    column: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| parse_time(column, &text)).transpose()
}

fn parse_time(column: &str, text: &str) -> Result<DateTime<Utc>, sqlx::Error> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| decode_error(column, e))
}

/// A stored enumeration word.
pub(super) fn word<T>(row: &SqliteRow, column: &str) -> Result<T, sqlx::Error>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: String = row.try_get(column)?;
    text.parse().map_err(|e| decode_error(column, e))
}

pub(super) fn opt_word<T>(row: &SqliteRow, column: &str) -> Result<Option<T>, sqlx::Error>
where
    T: FromStr,
    T::Err: std::error::Error + Send + Sync + 'static,
{
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| text.parse().map_err(|e| decode_error(column, e)))
        .transpose()
}

/// A count stored as a non-negative INTEGER.
pub(super) fn count(row: &SqliteRow, column: &str) -> Result<u32, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|e| decode_error(column, e))
}

pub(super) fn decode_error(
    column: &str,
    source: impl std::error::Error + Send + Sync + 'static,
) -> sqlx::Error {
    sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_whole_seconds_in_utc() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00.750+01:00")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(time_text(at), "2026-11-25T09:00:00Z");
    }
}
