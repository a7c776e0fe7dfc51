//! The service manager's notification protocol (`sd_notify`), written out
//! because it is one datagram per message: `KEY=value` lines sent to the unix
//! socket named by `$NOTIFY_SOCKET` (a leading `@` means Linux's abstract
//! namespace). Without the variable (a terminal, a test) every call is a no-op.

use std::ffi::OsStr;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use tracing::{debug, warn};

/// Sends state changes to systemd.
pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

impl Notifier {
    /// The notifier systemd asked for through the environment.
    pub fn from_env() -> Notifier {
        Notifier::new(std::env::var_os("NOTIFY_SOCKET").as_deref())
    }

    /// A notifier for the socket `path`; `None` or an unusable path gives one
    /// that sends nothing (and says why once in the log).
    pub fn new(path: Option<&OsStr>) -> Notifier {
        let Some(path) = path.filter(|p| !p.is_empty()) else {
            return Notifier { target: None };
        };
        match connect(path) {
            Ok(target) => Notifier {
                target: Some(target),
            },
            Err(error) => {
                warn!(socket = %path.to_string_lossy(), %error, "cannot notify the service manager");
                Notifier { target: None }
            }
        }
    }

    /// Whether messages go anywhere.
    pub fn is_active(&self) -> bool {
        self.target.is_some()
    }

    /// Start-up is done: the database is open and in-flight builds are resumed.
    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    /// A line `systemctl status` shows.
    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    /// Still alive; due at least every `WATCHDOG_USEC`.
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    pub fn reloading(&self) {
        self.send("RELOADING=1\nSTATUS=reloading the catalog");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1\nSTATUS=stopping; AIB runs keep going in Azure");
    }

    fn send(&self, message: &str) {
        let Some((socket, addr)) = &self.target else {
            return;
        };
        // A full socket buffer or a vanished manager must not stall the service.
        if let Err(error) = socket.send_to_addr(message.as_bytes(), addr) {
            warn!(%error, "could not notify the service manager");
        } else {
            debug!(message, "notified the service manager");
        }
    }
}

fn connect(path: &OsStr) -> std::io::Result<(UnixDatagram, SocketAddr)> {
    let addr = socket_addr(path)?;
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    Ok((socket, addr))
}

fn socket_addr(path: &OsStr) -> std::io::Result<SocketAddr> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_bytes();
    match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)
        }
        None => SocketAddr::from_pathname(path),
    }
}

/// How often to send `WATCHDOG=1`: half the interval systemd expects, so one
/// late tick is not fatal. `None` when no watchdog is armed for this process.
pub fn watchdog_interval(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    if let Some(pid) = pid
        && pid.trim().parse::<u32>().ok() != Some(own_pid)
    {
        return None;
    }
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0)?;
    Some(Duration::from_micros(usec / 2))
}

/// [`watchdog_interval`] from this process's environment.
pub fn watchdog_from_env() -> Option<Duration> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchdog_runs_at_half_the_interval_for_this_process_only() {
        assert_eq!(
            watchdog_interval(Some("20000000"), None, 7),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            watchdog_interval(Some("20000000"), Some("7"), 7),
            Some(Duration::from_secs(10))
        );
        assert_eq!(watchdog_interval(Some("20000000"), Some("8"), 7), None);
        assert_eq!(watchdog_interval(None, None, 7), None);
        assert_eq!(watchdog_interval(Some("0"), None, 7), None);
    }

    #[test]
    fn messages_arrive_as_datagrams_on_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(Some(path.as_os_str()));
        assert!(notifier.is_active());
        notifier.ready("idle");
        notifier.watchdog();
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=idle");
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"WATCHDOG=1");
    }

    #[test]
    fn abstract_socket_names_start_with_an_at_sign() {
        let name = format!("image-refresh-test-{}", uuid::Uuid::new_v4().simple());
        let addr = socket_addr(OsStr::new(&format!("@{name}"))).unwrap();
        use std::os::linux::net::SocketAddrExt;
        assert_eq!(addr.as_abstract_name(), Some(name.as_bytes()));
    }

    #[test]
    fn without_a_socket_nothing_is_sent() {
        assert!(!Notifier::new(None).is_active());
        assert!(!Notifier::new(Some(OsStr::new(""))).is_active());
    }
}
