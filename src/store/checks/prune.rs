//! Pruning old checks, with their decisions, resolved versions and the notices
//! no sink still owes.

use chrono::{DateTime, Utc};

use crate::store::columns::time_text;
use crate::store::{Store, StoreError};

impl Store {
    /// Deletes checks that started before `before`, with their decisions and
    /// resolved versions, except those a build refers to and each image's latest
    /// decision (`status` reads it). Returns how many checks went.
    pub async fn prune_checks(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        const ACTION: &str = "delete old checks";
        let mut tx = self.begin_write(ACTION).await?;
        sqlx::query(
            "CREATE TEMP TABLE IF NOT EXISTS prunable (id INTEGER PRIMARY KEY);
             DELETE FROM prunable;",
        )
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        sqlx::query(
            "INSERT INTO prunable (id)
             SELECT id FROM check_cycles
             WHERE started_at < ?1
               AND id NOT IN (SELECT check_id FROM builds WHERE check_id IS NOT NULL)
               AND id NOT IN (SELECT max(check_id) FROM check_decisions GROUP BY image)",
        )
        .bind(time_text(before))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(ACTION))?;
        for table in ["resolved_versions", "check_decisions"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE check_id IN (SELECT id FROM prunable)"
            ))
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?;
        }
        let gone = sqlx::query("DELETE FROM check_cycles WHERE id IN (SELECT id FROM prunable)")
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(ACTION))?
            .rows_affected();
        // Notices as old, once no sink still owes a delivery of them.
        for statement in [
            "DELETE FROM deliveries WHERE event_id IN (
                 SELECT id FROM outbox WHERE created_at < ?1
                 AND id NOT IN (SELECT event_id FROM deliveries WHERE state = 'pending'))",
            "DELETE FROM outbox WHERE created_at < ?1
                 AND id NOT IN (SELECT event_id FROM deliveries)",
        ] {
            sqlx::query(statement)
                .bind(time_text(before))
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(ACTION))?;
        }
        tx.commit().await.map_err(StoreError::query(ACTION))?;
        Ok(gone)
    }
}
