//! `logs BUILD`: where a build's customization.log is, and what it says.
//!
//! AIB writes the log to a storage account in the build's staging resource
//! group; the link works while the failed build's template is kept
//! (`failed_template_retention`), and reading it needs Storage Blob Data Reader.

use std::io::Write;
use std::process::ExitCode;

use miette::{IntoDiagnostic, miette};
use reqwest::Url;

use super::{Existing, GlobalArgs, load_catalog, open_store_and_catalog};
use crate::app::{self, Tuning};
use crate::azure::AzureError;
use crate::build::log_url;
use crate::clock;
use crate::store::{BuildRecord, Store};

pub async fn logs(global: &GlobalArgs, build: &str, url_only: bool) -> miette::Result<ExitCode> {
    // Only reads the history: a missing database is an error, never a new one.
    let (store, catalog) = open_store_and_catalog(global, Existing::Required).await?;
    let found = find(&store, build).await;
    store.close().await;
    let build = found?;
    let url = address(&build)?;
    if url_only {
        println!("{url}");
        return Ok(ExitCode::SUCCESS);
    }
    let catalog = match catalog {
        Some(catalog) => catalog,
        None => load_catalog(global)?,
    };
    let tuning = Tuning::from_env().into_diagnostic()?;
    let arm = app::arm_client(&catalog, clock::system(), tuning.arm).into_diagnostic()?;
    eprintln!(
        "customization.log of build {} ({}, {}): {url}",
        build.id, build.image, build.state
    );
    let parsed = Url::parse(&url).into_diagnostic()?;
    match arm.read_blob(&parsed).await {
        Ok(bytes) => {
            let text = terminal_safe(&String::from_utf8_lossy(&bytes));
            std::io::stdout()
                .write_all(text.as_bytes())
                .into_diagnostic()?;
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            eprintln!("error: cannot read the log: {error}");
            eprintln!("hint: {}", remedy(&error));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The one build `prefix` names.
async fn find(store: &Store, prefix: &str) -> miette::Result<BuildRecord> {
    let prefix = prefix.trim();
    if prefix.len() < 4 || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(miette!(
            help = "give the build id, or its first 8 characters as `history` shows them",
            "`{prefix}` is not a build id"
        ));
    }
    let mut found = store.builds_by_prefix(prefix, 2).await.into_diagnostic()?;
    match found.len() {
        0 => Err(miette!(
            help = "`image-refresh history` lists the builds",
            "no build {prefix} in the history"
        )),
        1 => Ok(found.remove(0)),
        _ => Err(miette!(
            help = "give more characters of the id",
            "more than one build starts with {prefix}"
        )),
    }
}

/// The recorded address; builds recorded before it had a column of its own
/// still have it in their message.
fn address(build: &BuildRecord) -> miette::Result<String> {
    build
        .log_url
        .clone()
        .or_else(|| build.error_message.as_deref().and_then(log_url))
        .ok_or_else(|| {
            miette!(
                help = "AIB names its log when a run fails; `history --output json` shows the \
                        build's error",
                "build {} ({}) has no customization.log address recorded",
                build.id,
                build.state
            )
        })
}

fn remedy(error: &AzureError) -> &'static str {
    match error {
        AzureError::Arm { status: 403, .. } => {
            "the daemon's identity may not read the log: grant it Storage Blob Data Reader on \
             the build's staging resource group, or open the link as someone who may"
        }
        AzureError::Arm { status: 404, .. } => {
            "the log is gone: the failed build's template and its staging resource group were \
             deleted (see [azure] failed_template_retention)"
        }
        AzureError::InvalidEndpoint { .. } => {
            "the address is not on the catalog's cloud's blob service, so no token is sent to \
             it; open the link yourself"
        }
        _ => "the address above still works in a browser signed in to Azure",
    }
}

/// Build output carries terminal escapes (coloured apt, progress bars); they
/// are shown, not obeyed.
pub(super) fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        assert_eq!(
            terminal_safe("ok\r\n\u{1b}[31mred\u{9b}\tend"),
            "ok\n\\u{1b}[31mred\\u{9b}\tend"
        );
    }
}
