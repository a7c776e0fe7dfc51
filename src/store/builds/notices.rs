//! The notices a build's end makes: succeeded or failed, and the image disabled
//! when it failed too often.

use super::BuildRecord;
use crate::model::NoticeKind;

/// The notices a build's end makes, in the transaction that records it.
pub(super) async fn tell(
    conn: &mut sqlx::SqliteConnection,
    record: &BuildRecord,
    disabled: Option<&str>,
) -> Result<(), sqlx::Error> {
    let at = record.finished_at.unwrap_or(record.updated_at);
    let (kind, data) = if record.state.is_success() {
        (
            NoticeKind::BuildSucceeded,
            serde_json::json!({
                "image": record.image, "build_id": record.id.to_string(),
                "state": record.state, "source_version": record.source_version,
                "artifact_ids": record.artifact_ids,
            }),
        )
    } else {
        (
            NoticeKind::BuildFailed,
            serde_json::json!({
                "image": record.image, "build_id": record.id.to_string(),
                "state": record.state, "source_version": record.source_version,
                "error_code": record.error_code, "error_message": record.error_message,
                "log_url": record.log_url,
            }),
        )
    };
    crate::store::outbox::enqueue(conn, kind, Some(&record.image), at, &data).await?;
    if let Some(reason) = disabled {
        let data = serde_json::json!({
            "image": record.image, "reason": reason, "build_id": record.id.to_string(),
        });
        crate::store::outbox::enqueue(
            conn,
            NoticeKind::ImageDisabled,
            Some(&record.image),
            at,
            &data,
        )
        .await?;
    }
    Ok(())
}
