//! Naming lease holders, and recognising one that died on this host.
//!
//! A process killed with SIGKILL (or by the OOM killer) cannot release its
//! leases, and its restart would otherwise wait out the lease ttl before it
//! may follow its own builds again. Holders are named "host:pid:start:uuid",
//! `start` being when the process started (see [`host::process_start`]);
//! older ones, and a process that cannot read its own start, are
//! "host:pid:uuid". A holder of this host is dead when kill(pid, 0) finds no
//! such process, or when /proc shows that its pid now belongs to a process
//! that started at another time (the pid was reused).
//!
//! Never `/proc/<pid>` alone: the unit's `ProtectProc=invisible` hides other
//! users' processes, so a live `build --wait` run by root would look dead.
//! Errs towards "alive": another user's process (EPERM), a zombie, or a start
//! time /proc does not show leave the lease to expire by itself. Assumes a
//! host name is not shared by machines (or pid namespaces) using one database.

use chrono::{DateTime, Utc};

use crate::host::{self, Presence};
use crate::store::Lease;

/// Names this process in leases: "host:pid:start:uuid".
pub fn name_this_process() -> String {
    let host = host::host_name();
    let pid = std::process::id();
    let uuid = uuid::Uuid::new_v4().simple();
    match host::own_start() {
        Some(start) => format!("{host}:{pid}:{start}:{uuid}"),
        None => format!("{host}:{pid}:{uuid}"),
    }
}

/// Whether `other`, a lease holder, was a process on the same host as `own`
/// that no longer exists.
pub(super) fn is_dead_on_this_host(own: &str, other: &str) -> bool {
    is_dead_seen(own, other, look)
}

/// Whether a live process follows the build of `lease`'s image: the lease is
/// unexpired and its holder, if it ran on this host, still runs.
pub fn is_followed(lease: Option<&Lease>, now: DateTime<Utc>) -> bool {
    lease.is_some_and(|lease| {
        lease.expires_at > now && !is_dead_on_this_host(&name_this_process(), &lease.holder)
    })
}

/// What this host shows of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    presence: Presence,
    /// `None` where /proc does not show the process.
    start: Option<u64>,
}

fn look(pid: u32) -> Seen {
    // kill first: a pid that is freed and reused in between shows the new
    // process's start, and the recorded one is dead indeed.
    let presence = host::presence(pid);
    Seen {
        presence,
        start: host::process_start(pid),
    }
}

/// [`is_dead_on_this_host`] with what the host shows of a pid given by `look`.
fn is_dead_seen(own: &str, other: &str, look: impl FnOnce(u32) -> Seen) -> bool {
    let (Some(own), Some(other)) = (Holder::parse(own), Holder::parse(other)) else {
        return false;
    };
    if other.host != own.host {
        return false;
    }
    if other.pid == own.pid {
        // This process (another of its contexts, after a reload), unless the
        // pid had belonged to a process that started at another time.
        return differ(other.start, own.start);
    }
    died(other.start, look(other.pid))
}

/// Whether a process recorded as starting at `recorded` is gone, given what
/// the host shows of its pid.
fn died(recorded: Option<u64>, seen: Seen) -> bool {
    match seen.presence {
        Presence::Gone => true,
        // EPERM is `Exists`: another user's process, alive.
        Presence::Exists | Presence::Unknown => differ(recorded, seen.start),
    }
}

fn differ(a: Option<u64>, b: Option<u64>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a != b)
}

/// A holder name, parsed.
#[derive(Debug, PartialEq, Eq)]
struct Holder<'a> {
    host: &'a str,
    pid: u32,
    start: Option<u64>,
}

impl<'a> Holder<'a> {
    /// "host:pid:start:uuid", or "host:pid:uuid" without a start.
    fn parse(holder: &'a str) -> Option<Holder<'a>> {
        let parts: Vec<&str> = holder.split(':').collect();
        let host = parts.first().copied().filter(|host| !host.is_empty())?;
        let pid = parts.get(1)?.parse().ok()?;
        let start = match parts.len() {
            4 => parts[2].parse().ok(),
            _ => None,
        };
        Some(Holder { host, pid, start })
    }
}

#[cfg(test)]
mod tests {
    use std::process::{Child, Command};

    use super::*;
    use crate::host::sandbox;

    fn me() -> String {
        format!(
            "box:{}:{}:aaaa",
            std::process::id(),
            host::own_start().unwrap()
        )
    }

    /// A live child and its recorded start; killed and reaped on drop.
    struct Live(Child, u64);

    impl Live {
        fn spawn() -> Live {
            let child = Command::new("sleep").arg("60").spawn().unwrap();
            let start = host::process_start(child.id()).unwrap();
            Live(child, start)
        }

        fn pid(&self) -> u32 {
            self.0.id()
        }
    }

    impl Drop for Live {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    fn exited_pid() -> u32 {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    }

    #[test]
    fn this_process_is_named_with_its_start() {
        let name = name_this_process();
        let holder = Holder::parse(&name).unwrap();
        assert_eq!(holder.host, host::host_name());
        assert_eq!(holder.pid, std::process::id());
        assert_eq!(holder.start, host::own_start());
        assert_eq!(name.split(':').count(), 4, "{name}");
    }

    #[test]
    fn old_and_new_holder_names_parse() {
        let new = Holder::parse("box:42:1234:aaaa").unwrap();
        assert_eq!((new.host, new.pid, new.start), ("box", 42, Some(1234)));
        let old = Holder::parse("box:42:aaaa").unwrap();
        assert_eq!((old.host, old.pid, old.start), ("box", 42, None));
        // A start that is not a number is not used.
        assert_eq!(Holder::parse("box:42:x:aaaa").unwrap().start, None);
        assert_eq!(Holder::parse("operator"), None);
        assert_eq!(Holder::parse(":42:aaaa"), None);
    }

    #[test]
    fn a_live_process_is_not_dead() {
        let live = Live::spawn();
        let (pid, start) = (live.pid(), live.1);
        assert!(!is_dead_on_this_host(
            &me(),
            &format!("box:{pid}:{start}:bbbb")
        ));
        assert!(!is_dead_on_this_host(&me(), &format!("box:{pid}:bbbb")));
        // This process under another uuid (a reloaded context), and pid 1.
        assert!(!is_dead_on_this_host(&me(), &me().replace("aaaa", "bbbb")));
        assert!(!is_dead_on_this_host(&me(), "box:1:cccc"));
    }

    #[test]
    fn an_exited_pid_on_this_host_is_dead() {
        let pid = exited_pid();
        assert!(is_dead_on_this_host(&me(), &format!("box:{pid}:dddd")));
        assert!(is_dead_on_this_host(&me(), &format!("box:{pid}:77:dddd")));
    }

    #[test]
    fn a_pid_that_started_at_another_time_was_reused() {
        let live = Live::spawn();
        let (pid, start) = (live.pid(), live.1);
        let before = start.saturating_sub(1);
        assert!(is_dead_on_this_host(
            &me(),
            &format!("box:{pid}:{before}:eeee")
        ));
        // Our own pid, recorded by a process of another start (another boot).
        let own = std::process::id();
        assert!(is_dead_on_this_host(&me(), &format!("box:{own}:1:eeee")));
    }

    #[test]
    fn another_users_process_is_alive_though_proc_hides_it() {
        // What kill(pid, 0) and a /proc mounted hidepid=invisible show a
        // process of another user: EPERM, and no /proc/<pid>.
        let hidden = Seen {
            presence: Presence::Exists,
            start: None,
        };
        assert!(!is_dead_seen(&me(), "box:4242:1234:ffff", |_| hidden));
        assert!(!is_dead_seen(&me(), "box:4242:ffff", |_| hidden));
        // Only a start /proc shows positively can call it reused.
        let shown = Seen {
            start: Some(99),
            ..hidden
        };
        assert!(is_dead_seen(&me(), "box:4242:1234:ffff", |_| shown));
        assert!(!is_dead_seen(&me(), "box:4242:99:ffff", |_| shown));
        // An unusable answer is not death either.
        let unknown = Seen {
            presence: Presence::Unknown,
            start: None,
        };
        assert!(!is_dead_seen(&me(), "box:4242:1234:ffff", |_| unknown));
        let gone = Seen {
            presence: Presence::Gone,
            start: None,
        };
        assert!(is_dead_seen(&me(), "box:4242:1234:ffff", |_| gone));
    }

    #[test]
    fn another_host_or_an_unreadable_holder_is_never_dead() {
        let pid = exited_pid();
        assert!(!is_dead_on_this_host(
            &me(),
            &format!("elsewhere:{pid}:dddd")
        ));
        assert!(!is_dead_on_this_host(&me(), "box:not-a-pid:x"));
        assert!(!is_dead_on_this_host(&me(), "operator"));
        assert!(!is_dead_on_this_host(
            "operator",
            &format!("box:{pid}:dddd")
        ));
    }

    const HOLDER_ENV: &str = "IMAGE_REFRESH_SANDBOX_HOLDER";

    /// The security finding: under the unit's `ProtectProc=invisible` (with
    /// `ProcSubset=pid`), a service user cannot see a live root process, such
    /// as `build --wait` run by an operator, in /proc. Judging by /proc/<pid>
    /// called it dead and took its lease; kill(pid, 0) answers EPERM: alive.
    #[test]
    fn a_live_holder_that_protect_proc_hides_is_alive() {
        let live = Live::spawn();
        let holder = format!("{}:{}:{}:cli", host::host_name(), live.pid(), live.1);
        let report = sandbox::rerun(
            "build::holder::tests::judge_in_sandbox",
            "hidepid=invisible,subset=pid",
            Some(65534),
            &[(HOLDER_ENV, holder)],
        );
        drop(live);
        let Some(report) = report else {
            return;
        };
        assert_eq!(
            report,
            [
                // What the old test looked at: the holder is invisible...
                "proc-entry=false",
                // ...though kill(pid, 0) finds it (EPERM)...
                "presence=Exists",
                // ...and this process's own start is readable for its name.
                "own-start=true",
                "dead=false",
            ]
        );
    }

    /// Outside a sandbox, judges a live child of its own; inside the one of
    /// [`a_live_holder_that_protect_proc_hides_is_alive`], that test's holder,
    /// and reports what it saw.
    #[test]
    fn judge_in_sandbox() {
        if !sandbox::inside() {
            let live = Live::spawn();
            let holder = format!("{}:{}:{}:cli", host::host_name(), live.pid(), live.1);
            assert!(!is_dead_on_this_host(&name_this_process(), &holder));
            return;
        }
        let holder = std::env::var(HOLDER_ENV).unwrap();
        let pid = Holder::parse(&holder).unwrap().pid;
        let report = |line: String| println!("{}{line}", sandbox::REPORT);
        let entry = std::path::Path::new("/proc").join(pid.to_string());
        report(format!("proc-entry={}", entry.exists()));
        report(format!("presence={:?}", host::presence(pid)));
        report(format!("own-start={}", host::own_start().is_some()));
        let dead = is_dead_on_this_host(&name_this_process(), &holder);
        report(format!("dead={dead}"));
    }
}
