//! Facts about this machine that leases and schedules rely on.
//!
//! The shipped unit runs with `ProcSubset=pid`, which hides every part of
//! /proc that is not a process directory (/proc/sys among them): the host
//! name therefore comes from uname(2), not from /proc/sys/kernel/hostname.

/// This machine's name, for leases and schedule jitter: uname(2)'s node name.
pub fn host_name() -> String {
    let uname = rustix::system::uname();
    let name = uname.nodename().to_string_lossy();
    match name.trim() {
        "" => "localhost".to_owned(),
        name => name.to_owned(),
    }
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

    /// Runs the `#[ignore]`d unit test `test` (its full path) under a /proc
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
            .args([
                "--exact",
                test,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
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

    #[test]
    #[ignore = "run by the_host_name_survives_a_proc_of_processes_only in its sandbox"]
    fn report_host_name_in_sandbox() {
        if !sandbox::inside() {
            return;
        }
        let visible = std::path::Path::new("/proc/sys/kernel/hostname").exists();
        println!("{}hostname-file={visible}", sandbox::REPORT);
        println!("{}host={}", sandbox::REPORT, host_name());
    }
}
