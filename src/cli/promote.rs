//! `promote`: move a staged gallery image version to its next ring by hand;
//! and how every command that promotes says what it did.

use std::process::ExitCode;

use miette::{IntoDiagnostic, WrapErr, miette};

use super::{GlobalArgs, Output, open_app, output};
use crate::promote::{Moved, PromoteError};

pub async fn promote(
    global: &GlobalArgs,
    image: &str,
    version: Option<&str>,
    all: bool,
    by: Option<String>,
    format: Output,
) -> miette::Result<ExitCode> {
    let app = open_app(global).await?;
    if app.catalog.image(image).is_none() {
        let known: Vec<&str> = app.catalog.images.iter().map(|i| i.name.as_str()).collect();
        return Err(miette!(
            help = format!("images in the catalog: {}", known.join(", ")),
            "unknown image {image}"
        ));
    }
    let by = by.unwrap_or_else(super::revoke::login_name);
    let pipeline = app.pipeline(None);
    // A revoke or a ring an earlier process left half-done is finished first.
    pipeline.finish_revocations().await;
    let moved = pipeline.promote(image, version, all, &by).await;
    drop(pipeline);
    super::notify::flush(&app).await;
    app.store.close().await;
    let moved = match moved {
        Ok(moved) => moved,
        Err(error @ (PromoteError::NothingStaged { .. } | PromoteError::NotStaged { .. })) => {
            return Err(miette!(
                help = "`image-refresh status` shows each image's staged versions",
                "{error}"
            ));
        }
        Err(error @ PromoteError::Revoked { .. }) => return Err(miette!("{error}")),
        Err(error) => return Err(error).into_diagnostic().wrap_err("promote failed"),
    };
    match format {
        Output::Json => output::print_json(&moved)?,
        Output::Table => {
            for m in &moved {
                println!("{}", say(m));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// "ubuntu 1.0.3 (gal/ubuntu): ring 1 of 2, latest in westeurope; ring 2 from …".
pub(super) fn say(m: &Moved) -> String {
    let definition = m.gallery_image_id.rsplit('/').next().unwrap_or_default();
    let mut line = if m.ring >= m.rings {
        format!(
            "{} {} ({definition}): latest everywhere",
            m.image, m.version
        )
    } else {
        format!(
            "{} {} ({definition}): ring {} of {}, latest in {}",
            m.image,
            m.version,
            m.ring,
            m.rings,
            m.latest_in.join(", ")
        )
    };
    match m.next_at {
        Some(at) => line.push_str(&format!(
            "; ring {} moves {}",
            m.ring + 1,
            at.format("%Y-%m-%d %H:%M UTC")
        )),
        None if m.ring < m.rings => line.push_str(&format!(
            "; ring {} waits for `image-refresh promote {}`",
            m.ring + 1,
            m.image
        )),
        None => {}
    }
    line
}

/// The moves of a cycle as `run --once` and `build` print them; true when a
/// move failed (a revoked version not moving is not a failure).
pub(super) fn print_moves(moves: &[Result<Moved, PromoteError>], format: Output) -> bool {
    let mut failed = false;
    for m in moves {
        match m {
            Ok(m) if format == Output::Table => println!("{}", say(m)),
            Ok(_) | Err(PromoteError::Revoked { .. }) => {}
            Err(error) => {
                failed = true;
                eprintln!("error: {}", output::chain(error));
            }
        }
    }
    failed
}
