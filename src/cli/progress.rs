//! Build progress for people: one live line per build on a terminal, plain
//! lines (one per change) otherwise, so logs and CI output stay readable.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::output::human_duration;
use crate::build::Progress;

/// Prints progress until every sender is dropped.
pub fn spawn_printer(mut updates: mpsc::UnboundedReceiver<Progress>) -> JoinHandle<()> {
    let live = std::io::stderr().is_terminal();
    tokio::spawn(async move {
        // In order of appearance, so lines do not jump around.
        let mut builds: Vec<(Progress, String)> = Vec::new();
        let mut drawn = 0usize;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                update = updates.recv() => {
                    let Some(update) = update else { break };
                    let line = describe(&update);
                    let known = builds.iter_mut().find(|(p, _)| p.build_id == update.build_id);
                    let changed = known.as_ref().is_none_or(|(_, old)| *old != line);
                    if !live && changed {
                        eprintln!("{} {line}", Utc::now().format("%H:%M:%S"));
                    }
                    match known {
                        Some(entry) => *entry = (update, line),
                        None => builds.push((update, line)),
                    }
                }
                _ = tick.tick(), if live => {}
            }
            if live {
                drawn = redraw(&builds, drawn);
            }
        }
        if live {
            redraw(&builds, drawn);
        }
    })
}

fn describe(p: &Progress) -> String {
    let state = match p.run_sub_state {
        Some(sub) if !p.state.is_terminal() => format!("{} ({sub})", p.state),
        _ => p.state.to_string(),
    };
    let id = super::history::short_id(&p.build_id.to_string());
    format!("{:<16} {id}  {state}", p.image)
}

fn redraw(builds: &[(Progress, String)], drawn: usize) -> usize {
    let mut err = std::io::stderr().lock();
    if drawn > 0 {
        // Move up over the previous frame and clear it.
        let _ = write!(err, "\x1b[{drawn}A");
    }
    for (progress, line) in builds {
        if progress.state.is_terminal() {
            let _ = writeln!(err, "\x1b[2K{line}");
        } else {
            let elapsed = human_duration(Utc::now() - progress.started_at);
            let _ = writeln!(err, "\x1b[2K{line}  {elapsed}");
        }
    }
    builds.len()
}
