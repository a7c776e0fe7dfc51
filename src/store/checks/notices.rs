//! The notices a finished or failed check makes, once per episode: what the
//! check before it said decides whether this one is news.

use chrono::{DateTime, Utc};

use super::DecisionRecord;
use crate::model::{CheckId, DecisionKind, NoticeKind};

/// Whether the check before `id` failed or could not read some source: a
/// check that goes wrong again is the same episode, not a new notice.
pub(super) async fn previous_check_went_wrong(
    conn: &mut sqlx::SqliteConnection,
    id: CheckId,
) -> Result<bool, sqlx::Error> {
    let wrong: Option<bool> = sqlx::query_scalar(
        "SELECT c.error IS NOT NULL OR EXISTS (
             SELECT 1 FROM check_decisions AS d
             WHERE d.check_id = c.id AND d.decision = 'source_unavailable')
         FROM check_cycles AS c
         WHERE c.id < ?1 AND c.finished_at IS NOT NULL ORDER BY c.id DESC LIMIT 1",
    )
    .bind(id.0)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(wrong == Some(true))
}

/// The notices a decision makes, once per episode: a source newly missing, a
/// base version not announced before. Read before the decision is written.
pub(super) async fn tell(
    conn: &mut sqlx::SqliteConnection,
    decision: &DecisionRecord,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let kind = match decision.kind {
        DecisionKind::SourceNotFound => NoticeKind::SourceNotFound,
        DecisionKind::NewBaseVersion => NoticeKind::NewBaseVersion,
        _ => return Ok(()),
    };
    let previous: Option<(String, String)> = sqlx::query_as(
        "SELECT decision, reason FROM check_decisions WHERE image = ?1
         ORDER BY check_id DESC LIMIT 1",
    )
    .bind(&decision.image)
    .fetch_optional(&mut *conn)
    .await?;
    let said = match (&previous, kind) {
        (Some((word, _)), NoticeKind::SourceNotFound) => word == decision.kind.as_str(),
        (Some((word, reason)), _) => word == decision.kind.as_str() && *reason == decision.reason,
        (None, _) => false,
    };
    if said {
        return Ok(());
    }
    let data = match kind {
        NoticeKind::SourceNotFound => serde_json::json!({
            "image": decision.image, "missing": decision.reason,
        }),
        _ => {
            let old: Option<String> = sqlx::query_scalar(
                "SELECT source_version FROM builds
                 WHERE image = ?1 AND state IN ('succeeded', 'partially_succeeded')
                 ORDER BY created_at DESC, rowid DESC LIMIT 1",
            )
            .bind(&decision.image)
            .fetch_optional(&mut *conn)
            .await?;
            serde_json::json!({
                "image": decision.image, "old": old, "new": decision.source_version,
                "reason": decision.reason,
            })
        }
    };
    crate::store::outbox::enqueue(conn, kind, Some(&decision.image), at, &data).await?;
    Ok(())
}
