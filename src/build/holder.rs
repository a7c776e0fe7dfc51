//! Recognising a lease holder that died on this host.
//!
//! A process killed with SIGKILL (or by the OOM killer) cannot release its
//! leases, and its restart would otherwise wait out the lease ttl before it
//! may follow its own builds again. Holders are named "hostname:pid:uuid":
//! when the holder ran on this host and its pid no longer exists, it is dead.
//!
//! Errs towards "alive": a pid reused by another process, a zombie, or a
//! system without /proc all leave the lease to expire by itself. Assumes a
//! host name is not shared by machines (or pid namespaces) using one database.

use std::path::Path;

/// Whether `other`, a lease holder, was a process on the same host as `own`
/// that no longer exists.
pub(super) fn is_dead_on_this_host(own: &str, other: &str) -> bool {
    let (Some((own_host, own_pid)), Some((host, pid))) = (host_and_pid(own), host_and_pid(other))
    else {
        return false;
    };
    if host != own_host || pid == own_pid {
        return false;
    }
    let proc = Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

fn host_and_pid(holder: &str) -> Option<(&str, u32)> {
    let mut parts = holder.split(':');
    let host = parts.next().filter(|host| !host.is_empty())?;
    let pid = parts.next()?.parse().ok()?;
    Some((host, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> String {
        format!("box:{}:aaaa", std::process::id())
    }

    #[test]
    fn a_live_process_is_not_dead() {
        assert!(!is_dead_on_this_host(&me(), &me().replace("aaaa", "bbbb")));
        // pid 1 always exists.
        assert!(!is_dead_on_this_host(&me(), "box:1:cccc"));
    }

    #[test]
    fn a_missing_pid_on_this_host_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(is_dead_on_this_host(&me(), &format!("box:{pid}:dddd")));
    }

    #[test]
    fn another_host_or_an_unreadable_holder_is_never_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_dead_on_this_host(
            &me(),
            &format!("elsewhere:{pid}:dddd")
        ));
        assert!(!is_dead_on_this_host(&me(), "box:not-a-pid:x"));
        assert!(!is_dead_on_this_host(&me(), "operator"));
    }
}
