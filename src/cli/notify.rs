//! `notify test`, and the flush every one-shot command does: notices a
//! command made are handed to their sinks before it exits; what a sink did not
//! take stays in the outbox for the service.

use std::process::ExitCode;
use std::time::Duration;

use miette::{IntoDiagnostic, miette};
use serde::Serialize;
use tracing::warn;

use super::{GlobalArgs, Output, open_app, output};
use crate::app::App;
use crate::model::{DeliveryState, NoticeKind};
use crate::notify;
use crate::report::chain;

/// How long a one-shot command waits for its sinks.
const FLUSH_FOR: Duration = Duration::from_secs(30);

pub async fn flush(app: &App) {
    if app.catalog.notify.is_empty() {
        return;
    }
    let flushed = match notify::sender(app) {
        Ok(sender) => sender
            .flush(tokio::time::Instant::now() + FLUSH_FOR)
            .await
            .map_err(|e| chain(&e)),
        Err(error) => Err(chain(&error)),
    };
    match flushed {
        Ok(round) if round.failed > 0 => {
            warn!("some notifications could not be delivered yet; the service retries them")
        }
        Ok(_) => {}
        Err(error) => warn!(%error, "could not deliver notifications; the service retries them"),
    }
}

/// `notify test --output json`: the test notice and what each sink did with it.
#[derive(Serialize)]
struct TestReport<'a> {
    notice_id: &'a str,
    sinks: &'a [SinkResult<'a>],
}

#[derive(Serialize)]
struct SinkResult<'a> {
    sink: &'a str,
    /// The stored delivery state; absent when the sink was not tried (older notices
    /// are still due).
    delivery: Option<DeliveryState>,
    error: Option<String>,
}

impl SinkResult<'_> {
    fn print(&self) {
        match (self.delivery, &self.error) {
            (Some(DeliveryState::Delivered), _) => println!("{}: delivered", self.sink),
            (Some(_), error) => println!(
                "{}: not delivered: {}",
                self.sink,
                error.as_deref().unwrap_or("no answer")
            ),
            (None, _) => println!("{}: not tried (older notices are still due)", self.sink),
        }
    }
}

/// Sends a `notify_test` event to every sink and says what each did with it.
pub async fn test(global: &GlobalArgs, format: Output) -> miette::Result<ExitCode> {
    let app = open_app(global).await?;
    let outcome = async {
        if app.catalog.notify.is_empty() {
            return Err(miette!(
                help = "add a [[notify]] table (README, \"Notifications\")",
                "the catalog has no [[notify]] sinks"
            ));
        }
        let sender = notify::sender(&app).map_err(|e| miette!("{}", chain(&e)))?;
        let data = serde_json::json!({
            "message": "a test from `image-refresh notify test`",
            "host": crate::host::host_name(),
        });
        let id = app
            .store
            .enqueue_notice(NoticeKind::NotifyTest, None, app.clock.now(), &data)
            .await
            .into_diagnostic()?;
        sender
            .flush(tokio::time::Instant::now() + FLUSH_FOR)
            .await
            .into_diagnostic()?;
        let settled = app.store.deliveries_of(&id).await.into_diagnostic()?;
        let sinks: Vec<SinkResult> = app
            .catalog
            .notify
            .iter()
            .map(|sink| {
                let found = settled.iter().find(|d| d.0 == sink.name);
                SinkResult {
                    sink: &sink.name,
                    delivery: found.map(|d| d.1),
                    error: found.and_then(|d| d.2.clone()),
                }
            })
            .collect();
        let all = sinks
            .iter()
            .all(|s| s.delivery == Some(DeliveryState::Delivered));
        match format {
            Output::Json => output::print_json(&TestReport {
                notice_id: &id,
                sinks: &sinks,
            })?,
            Output::Table => sinks.iter().for_each(SinkResult::print),
        }
        Ok(all)
    }
    .await;
    app.store.close().await;
    Ok(if outcome? {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
