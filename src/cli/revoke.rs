//! `revoke`: take a bad gallery image version out of `latest` everywhere.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr, miette};

use super::{GlobalArgs, Output, open_app, output};
use crate::promote::{RevokeError, RevokeRequest};

pub async fn revoke(
    global: &GlobalArgs,
    image: &str,
    version: &str,
    reason: &str,
    by: Option<String>,
    force: bool,
    format: Output,
) -> miette::Result<ExitCode> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(miette!(
            help = "say why, e.g. --reason \"kernel panic on boot with the new agent\"",
            "a revoke needs a reason"
        ));
    }
    let app = open_app(global).await?;
    let Some(entry) = app.catalog.image(image) else {
        let known: Vec<&str> = app.catalog.images.iter().map(|i| i.name.as_str()).collect();
        return Err(miette!(
            help = format!("images in the catalog: {}", known.join(", ")),
            "unknown image {image}"
        ));
    };
    let by = by.unwrap_or_else(login_name);
    let pipeline = app.pipeline(None);
    // An earlier revoke killed half-way is finished first, as any process does.
    pipeline.finish_revocations().await;
    let revoked = pipeline
        .revoke(RevokeRequest {
            image: entry,
            version,
            reason,
            by: &by,
            force,
        })
        .await;
    drop(pipeline);
    super::notify::flush(&app).await;
    app.store.close().await;
    let revoked = match revoked {
        Ok(revoked) => revoked,
        Err(error @ RevokeError::WouldLeaveNothing { .. }) => {
            return Err(miette!(
                help = "publish or promote a good version first, or add --force to revoke anyway",
                "{error}"
            ));
        }
        Err(error) => return Err(error).into_diagnostic().wrap_err("revoke failed"),
    };
    match format {
        Output::Json => output::print_json(&revoked)?,
        Output::Table => {
            println!(
                "{image} {version}: revoked by {by} ({reason}); excluded from latest everywhere"
            );
            for latest in &revoked.latest {
                let definition = latest
                    .gallery_image_id
                    .rsplit('/')
                    .next()
                    .unwrap_or_default();
                match &latest.version {
                    Some(v) => println!("  latest in {} ({definition}): {v}", latest.region),
                    None => println!("  latest in {} ({definition}): none", latest.region),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Who runs the command: `sudo`'s caller before the account it switched to.
pub(super) fn login_name() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .into_iter()
        .filter_map(|key| std::env::var(key).ok())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| format!("uid {}", rustix::process::getuid().as_raw()))
}
