//! Facts about this machine that leases and schedules rely on.
//!
//! The shipped unit runs with `ProcSubset=pid`, which hides every part of
//! /proc that is not a process directory (/proc/sys among them), and with
//! `ProtectProc=invisible`, which hides other users' processes: the host name
//! therefore comes from uname(2), not from /proc/sys/kernel/hostname, and
//! whether a process exists from kill(2), not from `/proc/<pid>`.

use std::path::Path;

/// This machine's name, for leases and schedule jitter: uname(2)'s node name.
pub fn host_name() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy();
    match name.trim() {
        "" => "localhost".to_owned(),
        name => name.to_owned(),
    }
}

/// What kill(pid, 0) says about a process of this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// It exists: it may be signalled, or it belongs to another user (EPERM),
    /// which `ProtectProc=invisible` also hides from /proc.
    Exists,
    /// No such process (ESRCH).
    Gone,
    /// The answer says neither (an impossible pid, a refused call).
    Unknown,
}

/// Asks the kernel whether process `pid` exists, sending no signal.
pub fn presence(pid: u32) -> Presence {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return Presence::Unknown;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) | Err(rustix::io::Errno::PERM) => Presence::Exists,
        Err(rustix::io::Errno::SRCH) => Presence::Gone,
        Err(_) => Presence::Unknown,
    }
}

/// When process `pid` started, in clock ticks after boot: with the pid, it
/// names one process of one boot. `None` where /proc does not show the
/// process (another user's under `ProtectProc=invisible`, no /proc at all).
pub fn process_start(pid: u32) -> Option<u64> {
    start_in(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

/// This process's start, as [`process_start`]; /proc/self shows it even under
/// `ProtectProc=invisible` and `ProcSubset=pid`.
pub fn own_start() -> Option<u64> {
    start_in(Path::new("/proc/self/stat"))
}

fn start_in(stat: &Path) -> Option<u64> {
    parse_start(&std::fs::read_to_string(stat).ok()?)
}

/// Field 22 of proc_pid_stat(5). The command name before it is in
/// parentheses and may itself hold spaces and parentheses.
fn parse_start(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // After the name come field 3 (the state) onwards.
    after_name.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
pub(crate) mod sandbox {
    //! Runs one unit test of this binary again in a mount namespace of its own
    //! whose /proc is mounted with chosen options, as the unit's
    //! `ProcSubset=pid` (`subset=pid`) and `ProtectProc=invisible`
    //! (`hidepid=invisible`) mount it for the service.

    use std::process::Command;

    /// Set for the re-run test, which does nothing without it.
    pub const HELPER_ENV: &str = "IMAGE_REFRESH_SANDBOX_HELPER";
    /// Prefix of the lines the re-run test reports on.
    pub const REPORT: &str = "sandbox-report ";

    /// Runs the unit test `test` (its full path) again under a /proc
    /// mounted with `proc_options`, as uid and gid `uid` when given, with
    /// `env` set; returns its report lines. `None`, with the reason printed,
    /// where namespaces or mounting are refused (not root, no util-linux).
    pub fn rerun(
        test: &str,
        proc_options: &str,
        uid: Option<u32>,
        env: &[(&str, String)],
    ) -> Option<Vec<String>> {
        let exe = std::env::current_exe().unwrap();
        let mut command = Command::new("unshare");
        command.args(["--mount", "--fork", "--", "sh", "-c"]).arg(
            // Exit 77: the mount was refused.
            "mount -t proc -o \"$1\" proc /proc || exit 77; shift; exec \"$@\"",
        );
        command.args(["sh", proc_options]);
        if let Some(uid) = uid {
            command.args([
                "setpriv".to_owned(),
                format!("--reuid={uid}"),
                format!("--regid={uid}"),
                "--clear-groups".to_owned(),
            ]);
        }
        command
            .arg(exe)
            .args(["--exact", test, "--nocapture", "--test-threads=1"])
            .env(HELPER_ENV, "1")
            .envs(env.iter().map(|(k, v)| (k, v)));
        let output = match command.output() {
            Ok(output) => output,
            Err(error) => {
                eprintln!("skipped: cannot run unshare: {error}");
                return None;
            }
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let refused = output.status.code() == Some(77)
            || (stderr.contains("unshare failed") && !stdout.contains("running 1 test"));
        if refused {
            eprintln!("skipped: a /proc mounted with {proc_options} is refused here: {stderr}");
            return None;
        }
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{test} under /proc -o {proc_options}: {}\n{stdout}\n{stderr}",
            output.status
        );
        Some(
            stdout
                .lines()
                // libtest may print the test's name on the same line first.
                .filter_map(|line| line.find(REPORT).map(|at| &line[at + REPORT.len()..]))
                .map(str::to_owned)
                .collect(),
        )
    }

    /// Whether this run is the re-run inside the sandbox.
    pub fn inside() -> bool {
        std::env::var_os(HELPER_ENV).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uname_n() -> String {
        let output = std::process::Command::new("uname")
            .arg("-n")
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    #[test]
    fn a_process_start_is_field_22_of_its_stat() {
        let stat = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 90 0 0 0 1 0 0 0 20 0 1 0 \
                    987654 5431296 321 18446744073709551615";
        assert_eq!(parse_start(stat), Some(987654));
        assert_eq!(parse_start("4242 (cut short) S 1"), None);
        assert_eq!(parse_start(""), None);
        let own = own_start().unwrap();
        assert_eq!(process_start(std::process::id()), Some(own));
    }

    #[test]
    fn kill_0_tells_a_live_process_from_a_gone_one() {
        assert_eq!(presence(std::process::id()), Presence::Exists);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert_eq!(presence(pid), Presence::Gone);
        assert_eq!(presence(0), Presence::Unknown);
        assert_eq!(presence(u32::MAX), Presence::Unknown);
    }

    #[test]
    fn the_host_name_is_unames() {
        assert_eq!(host_name(), uname_n());
    }

    /// The unit's `ProcSubset=pid` hides /proc/sys/kernel/hostname; the name
    /// must still be the machine's, not "localhost".
    #[test]
    fn the_host_name_survives_a_proc_of_processes_only() {
        let Some(report) = sandbox::rerun(
            "host::tests::report_host_name_in_sandbox",
            "subset=pid",
            None,
            &[],
        ) else {
            return;
        };
        let expected = uname_n();
        if expected == "localhost" {
            eprintln!("note: this machine is called localhost, like the old fallback");
        }
        assert_eq!(
            report,
            ["hostname-file=false".to_owned(), format!("host={expected}")]
        );
    }

    /// Asserts what it can wherever it runs; inside the sandbox of
    /// [`the_host_name_survives_a_proc_of_processes_only`] it also reports.
    #[test]
    fn report_host_name_in_sandbox() {
        assert_eq!(host_name(), uname_n());
        if sandbox::inside() {
            let visible = std::path::Path::new("/proc/sys/kernel/hostname").exists();
            println!("{}hostname-file={visible}", sandbox::REPORT);
            println!("{}host={}", sandbox::REPORT, host_name());
        }
    }
}
