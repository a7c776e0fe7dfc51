//! `status`: one line per image about now, not about the last check: what the
//! last build did, what a check would decide now, and whether anyone follows a
//! build that has not finished.

use std::collections::HashMap;
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use miette::IntoDiagnostic;
use serde::Serialize;

use super::output::{self, human_duration};
use super::{Existing, GlobalArgs, Output, open_store_and_catalog};
use crate::build::is_followed;
use crate::catalog::Catalog;
use crate::check::{self, Decision};
use crate::promote::PromotionView;
use crate::store::{ImageStatus, Lease, Revocation, Store};

/// One image as `status --output json` prints it: the stored state, and what
/// it means now.
#[derive(Debug, Serialize)]
struct Line {
    #[serde(flatten)]
    stored: ImageStatus,
    /// What a check would decide now from the newest resolved source version,
    /// the catalog and history; absent before the first check or without a catalog.
    decision_now: Option<Decision>,
    /// For a build that has not finished: whether a live process follows it.
    followed: Option<bool>,
    /// Gallery image versions taken out of `latest` by `revoke`, oldest first.
    revoked: Vec<Revocation>,
    /// Staged versions still being promoted, oldest first.
    promotions: Vec<PromotionView>,
    note: String,
}

pub async fn status(global: &GlobalArgs, format: Output) -> miette::Result<ExitCode> {
    let (store, catalog) = open_store_and_catalog(global, Existing::Required).await?;
    let lines = read(&store, catalog.as_ref(), Utc::now()).await;
    store.close().await;
    let lines = lines?;
    match format {
        Output::Json => output::print_json(&lines)?,
        Output::Table => print(&lines, Utc::now()),
    }
    Ok(ExitCode::SUCCESS)
}

async fn read(
    store: &Store,
    catalog: Option<&Catalog>,
    now: DateTime<Utc>,
) -> miette::Result<Vec<Line>> {
    let rows = store.status().await.into_diagnostic()?;
    let leases: HashMap<String, Lease> = store
        .leases()
        .await
        .into_diagnostic()?
        .into_iter()
        .map(|lease| (lease.image.clone(), lease))
        .collect();
    let mut revoked: HashMap<String, Vec<Revocation>> = HashMap::new();
    for r in store.revocations(None).await.into_diagnostic()? {
        revoked.entry(r.image.clone()).or_default().push(r);
    }
    let mut promotions: HashMap<String, Vec<PromotionView>> = HashMap::new();
    for p in store.promotions(None).await.into_diagnostic()? {
        let view = PromotionView::of(&p);
        if view.is_open() {
            promotions.entry(p.image.clone()).or_default().push(view);
        }
    }
    let mut lines = Vec::with_capacity(rows.len());
    for stored in rows {
        let image = catalog.and_then(|c| c.image(&stored.state.name));
        let decision_now = match image {
            Some(image) => check::decide_now(store, image, &stored, now)
                .await
                .into_diagnostic()?
                .map(|entry| entry.decision),
            None => None,
        };
        let followed = stored
            .last_build
            .as_ref()
            .filter(|b| !b.state.is_terminal())
            .map(|_| is_followed(leases.get(&stored.state.name), now));
        let revoked = revoked.remove(&stored.state.name).unwrap_or_default();
        let mut note = note(
            &stored,
            decision_now.as_ref(),
            followed,
            catalog.is_some() && image.is_none(),
            now,
        );
        for r in &revoked {
            let pending = if r.done_at.is_none() {
                ", not yet applied in Azure"
            } else {
                ""
            };
            note.push_str(&format!(
                "; revoked {} by {}: {}{pending}",
                r.version, r.revoked_by, r.reason
            ));
        }
        let promotions = promotions.remove(&stored.state.name).unwrap_or_default();
        for p in &promotions {
            note.push_str(&format!("; {}", p.describe()));
        }
        lines.push(Line {
            stored,
            decision_now,
            followed,
            revoked,
            promotions,
            note,
        });
    }
    Ok(lines)
}

/// "last build failed 2h ago: Code; now: retry after failed build 1a2b3c4d".
fn note(
    stored: &ImageStatus,
    now_decision: Option<&Decision>,
    followed: Option<bool>,
    left_catalog: bool,
    now: DateTime<Utc>,
) -> String {
    if let Some(why) = &stored.state.disabled_reason {
        return format!("disabled: {why}");
    }
    let mut parts = Vec::new();
    if let Some(build) = &stored.last_build {
        let id = super::history::short_id(&build.id.to_string());
        let age = human_duration(now - build.finished_at.unwrap_or(build.created_at));
        parts.push(match followed {
            Some(true) => format!("build {id} {} for {age}", build.state),
            Some(false) => format!(
                "build {id} {} for {age}, followed by no process: the service or `run --once` \
                 resumes it",
                build.state
            ),
            None => format!("last build {} {age} ago", build.state),
        });
    }
    if left_catalog {
        parts.push("no longer in the catalog".to_owned());
    } else if let Some(decision) = now_decision {
        parts.push(format!("now: {}", decision.reason()));
    } else if let Some(reason) = &stored.last_reason {
        parts.push(format!("last check: {reason}"));
    } else {
        parts.push("not checked yet".to_owned());
    }
    parts.join("; ")
}

fn print(lines: &[Line], now: DateTime<Utc>) {
    let mut table = output::table([
        "image",
        "enabled",
        "last build",
        "result",
        "age",
        "source version",
        "note",
    ]);
    for line in lines {
        let row = &line.stored;
        let last = row.last_build.as_ref();
        let age = row
            .last_success
            .as_ref()
            .and_then(|b| b.finished_at)
            .map(|at| human_duration(now - at))
            .unwrap_or_else(|| "-".into());
        table.add_row([
            row.state.name.clone(),
            if row.state.enabled { "yes" } else { "no" }.to_owned(),
            last.map(|b| b.created_at.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "never".into()),
            last.map(|b| b.state.to_string())
                .unwrap_or_else(|| "-".into()),
            age,
            row.last_success
                .as_ref()
                .map(|b| b.source_version.clone())
                .unwrap_or_else(|| "-".into()),
            line.note.clone(),
        ]);
    }
    println!("{table}");
}
