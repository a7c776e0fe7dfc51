//! Where log lines go: journald's native protocol (structured fields, levels as
//! priorities) when systemd connected stderr to the journal, readable text on
//! stderr otherwise.

use std::io::IsTerminal;
use std::os::unix::fs::MetadataExt;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the process's subscriber with `filter`.
pub fn init(filter: EnvFilter) {
    if stderr_is_journal() {
        match tracing_journald::layer() {
            Ok(journald) => {
                tracing_subscriber::registry()
                    .with(filter)
                    .with(
                        // Unprefixed, so that `journalctl IMAGE=ubuntu-golden` finds a build.
                        journald
                            .with_field_prefix(None)
                            .with_syslog_identifier("image-refresh".into()),
                    )
                    .init();
                return;
            }
            Err(error) => eprintln!("journald is not reachable ({error}); logging to stderr"),
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ))
        .init();
}

/// Colour only on a terminal, and never when `NO_COLOR` has a value (no-color.org: any
/// non-empty value; an empty one is as good as unset).
fn colour(terminal: bool, no_color: Option<std::ffi::OsString>) -> bool {
    terminal && no_color.is_none_or(|value| value.is_empty())
}

/// systemd sets `JOURNAL_STREAM=dev:inode` of the stream it gave the service;
/// comparing with stderr tells a service from a child that inherited the
/// variable but writes elsewhere (a shell started from the service, say).
pub fn stderr_is_journal() -> bool {
    let Ok(expected) = std::env::var("JOURNAL_STREAM") else {
        return false;
    };
    std::fs::metadata("/proc/self/fd/2")
        .is_ok_and(|stderr| is_same_stream(&expected, stderr.dev(), stderr.ino()))
}

fn is_same_stream(journal_stream: &str, dev: u64, ino: u64) -> bool {
    journal_stream
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        == Some((dev, ino))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_with_a_value_or_no_terminal_means_no_escapes() {
        assert!(colour(true, None));
        assert!(colour(true, Some("".into())));
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }

    #[test]
    fn the_journal_stream_must_be_stderr_itself() {
        assert!(is_same_stream("8:1234", 8, 1234));
        assert!(!is_same_stream("8:1234", 8, 1235));
        assert!(!is_same_stream("garbage", 8, 1234));
    }
}
