//! Raw steps → typed steps.

use std::ops::Range;

use super::error::Problems;
use super::raw::{RawStep, S, Str};
use super::step::{
    FileStep, PowerShellStep, Script, ShellStep, Step, WindowsRestartStep, WindowsUpdateStep,
};
use super::values::{check_sha256, check_url, parse_duration};

const TYPES: &str =
    "\"shell\", \"powershell\", \"file\", \"windows_restart\" or \"windows_update\"";

/// A step's `type`, read once from the catalog's text.
#[derive(Debug, Clone, Copy)]
enum StepKind {
    Shell,
    PowerShell,
    File,
    WindowsRestart,
    WindowsUpdate,
}

impl StepKind {
    fn from_name(name: &str) -> Option<StepKind> {
        Some(match name {
            "shell" => StepKind::Shell,
            "powershell" => StepKind::PowerShell,
            "file" => StepKind::File,
            "windows_restart" => StepKind::WindowsRestart,
            "windows_update" => StepKind::WindowsUpdate,
            _ => return None,
        })
    }

    /// The keys a step of this kind takes besides `type` and `name`.
    fn fields(self) -> &'static [&'static str] {
        match self {
            StepKind::Shell => &["inline", "script_uri", "sha256_checksum"],
            StepKind::PowerShell => &[
                "inline",
                "script_uri",
                "sha256_checksum",
                "run_elevated",
                "run_as_system",
                "valid_exit_codes",
            ],
            StepKind::File => &["source_uri", "destination", "sha256_checksum"],
            StepKind::WindowsRestart => &[
                "restart_command",
                "restart_check_command",
                "restart_timeout",
            ],
            StepKind::WindowsUpdate => &["search_criteria", "filters", "update_limit"],
        }
    }
}

/// Checks one step; `None` when it has problems (they are recorded).
pub(super) fn check_step(p: &mut Problems, raw: &S<RawStep>) -> Option<Step> {
    let step = raw.get_ref();
    let Some(kind) = &step.r#type else {
        p.hint(
            raw.span(),
            "step has no `type`",
            format!("set `type` to {TYPES}"),
        );
        return None;
    };
    let Some(step_kind) = StepKind::from_name(kind.get_ref()) else {
        p.hint(
            kind.span(),
            format!("unknown step type `{}`", kind.get_ref()),
            format!("use {TYPES}"),
        );
        return None;
    };
    let allowed = step_kind.fields();
    let kind = kind.get_ref().as_str();
    let before = p.len();
    for (field, span) in present_fields(step) {
        if !allowed.contains(&field) {
            p.hint(
                span,
                format!("`{field}` is not valid for a {kind} step"),
                format!("a {kind} step takes: name, {}", allowed.join(", ")),
            );
        }
    }
    let name = step.name.as_ref().map(|n| n.get_ref().clone());
    let typed = match step_kind {
        StepKind::Shell => script(p, raw).map(|script| Step::Shell(ShellStep { name, script })),
        StepKind::PowerShell => powershell(p, raw, name),
        StepKind::File => file(p, raw, name),
        StepKind::WindowsRestart => windows_restart(p, step, name),
        StepKind::WindowsUpdate => windows_update(p, step, name),
    };
    // A step with a misplaced field is not returned even if its own fields are fine.
    typed.filter(|_| p.len() == before)
}

fn present_fields(step: &RawStep) -> Vec<(&'static str, Range<usize>)> {
    fn span<T>(field: &Option<S<T>>) -> Option<Range<usize>> {
        field.as_ref().map(|f| f.span())
    }
    [
        ("inline", span(&step.inline)),
        ("script_uri", span(&step.script_uri)),
        ("sha256_checksum", span(&step.sha256_checksum)),
        ("run_elevated", span(&step.run_elevated)),
        ("run_as_system", span(&step.run_as_system)),
        ("valid_exit_codes", span(&step.valid_exit_codes)),
        ("source_uri", span(&step.source_uri)),
        ("destination", span(&step.destination)),
        ("restart_command", span(&step.restart_command)),
        ("restart_check_command", span(&step.restart_check_command)),
        ("restart_timeout", span(&step.restart_timeout)),
        ("search_criteria", span(&step.search_criteria)),
        ("filters", span(&step.filters)),
        ("update_limit", span(&step.update_limit)),
    ]
    .into_iter()
    .filter_map(|(field, span)| span.map(|span| (field, span)))
    .collect()
}

fn script(p: &mut Problems, raw: &S<RawStep>) -> Option<Script> {
    let step = raw.get_ref();
    match (&step.inline, &step.script_uri) {
        (Some(_), Some(uri)) => {
            p.hint(
                uri.span(),
                "a step has either `inline` or `script_uri`, not both",
                "split it into two steps",
            );
            None
        }
        (None, None) => {
            p.hint(
                raw.span(),
                "step has neither `inline` nor `script_uri`",
                "add `inline = [\"command\", …]` or `script_uri` with `sha256_checksum`",
            );
            None
        }
        (Some(inline), None) => {
            if let Some(checksum) = &step.sha256_checksum {
                p.hint(
                    checksum.span(),
                    "`sha256_checksum` applies to `script_uri`, not to `inline` commands",
                    "remove it",
                );
            }
            if inline.get_ref().is_empty() {
                p.error(inline.span(), "`inline` has no commands");
                return None;
            }
            Some(Script::Inline(inline.get_ref().clone()))
        }
        (None, Some(uri)) => {
            let uri = url(p, uri);
            let checksum = checksum(p, raw, &step.sha256_checksum, "script_uri");
            Some(Script::Uri {
                uri: uri?,
                sha256_checksum: checksum?,
            })
        }
    }
}

fn url(p: &mut Problems, uri: &S<String>) -> Option<String> {
    match check_url(uri.get_ref()) {
        Ok(()) => Some(uri.get_ref().clone()),
        Err(hint) => {
            p.hint(uri.span(), format!("invalid URI `{}`", uri.get_ref()), hint);
            None
        }
    }
}

/// Required wherever a download is involved: the recipe hash only sees content through it.
fn checksum(p: &mut Problems, raw: &S<RawStep>, checksum: &Str, uri_field: &str) -> Option<String> {
    let Some(checksum) = checksum else {
        p.hint(
            raw.span(),
            format!("`{uri_field}` needs a `sha256_checksum`"),
            "the checksum pins the content, so that a changed file changes the recipe hash and triggers a rebuild; compute it with `sha256sum <file>`",
        );
        return None;
    };
    match check_sha256(checksum.get_ref()) {
        Ok(checksum) => Some(checksum),
        Err(hint) => {
            p.hint(checksum.span(), "bad checksum", hint);
            None
        }
    }
}

fn powershell(p: &mut Problems, raw: &S<RawStep>, name: Option<String>) -> Option<Step> {
    let step = raw.get_ref();
    let script = script(p, raw);
    let run_elevated = step.run_elevated.as_ref().is_some_and(|f| *f.get_ref());
    let run_as_system = step.run_as_system.as_ref().is_some_and(|f| *f.get_ref());
    if let Some(system) = step
        .run_as_system
        .as_ref()
        .filter(|_| run_as_system && !run_elevated)
    {
        p.hint(
            system.span(),
            "`run_as_system` requires `run_elevated = true`",
            "AIB only runs as Local System in an elevated session; add `run_elevated = true`",
        );
    }
    let mut valid_exit_codes = Vec::new();
    for code in step
        .valid_exit_codes
        .iter()
        .flat_map(|codes| codes.get_ref())
    {
        match i32::try_from(*code.get_ref()) {
            Ok(value) => valid_exit_codes.push(value),
            Err(_) => p.error(code.span(), "exit code out of range for a 32-bit integer"),
        }
    }
    Some(Step::PowerShell(PowerShellStep {
        name,
        script: script?,
        run_elevated,
        run_as_system,
        valid_exit_codes,
    }))
}

fn file(p: &mut Problems, raw: &S<RawStep>, name: Option<String>) -> Option<Step> {
    let step = raw.get_ref();
    let source_uri = match &step.source_uri {
        Some(uri) => url(p, uri),
        None => {
            p.error(raw.span(), "file step has no `source_uri`");
            None
        }
    };
    let destination = match &step.destination {
        Some(dest) if !dest.get_ref().trim().is_empty() => Some(dest.get_ref().clone()),
        Some(dest) => {
            p.error(dest.span(), "`destination` is empty");
            None
        }
        None => {
            p.hint(
                raw.span(),
                "file step has no `destination`",
                "give the absolute path in the build VM, e.g. \"/tmp/agent.deb\"",
            );
            None
        }
    };
    let sha256_checksum = checksum(p, raw, &step.sha256_checksum, "source_uri");
    Some(Step::File(FileStep {
        name,
        source_uri: source_uri?,
        destination: destination?,
        sha256_checksum: sha256_checksum?,
    }))
}

fn windows_restart(p: &mut Problems, step: &RawStep, name: Option<String>) -> Option<Step> {
    let mut restart_timeout = None;
    if let Some(timeout) = &step.restart_timeout {
        match parse_duration(timeout.get_ref()) {
            Ok(_) => restart_timeout = Some(timeout.get_ref().clone()),
            Err(hint) => {
                p.hint(timeout.span(), "bad `restart_timeout`", hint);
                return None;
            }
        }
    }
    Some(Step::WindowsRestart(WindowsRestartStep {
        name,
        restart_command: step.restart_command.as_ref().map(|c| c.get_ref().clone()),
        restart_check_command: step
            .restart_check_command
            .as_ref()
            .map(|c| c.get_ref().clone()),
        restart_timeout,
    }))
}

fn windows_update(p: &mut Problems, step: &RawStep, name: Option<String>) -> Option<Step> {
    let mut update_limit = None;
    if let Some(limit) = &step.update_limit {
        match u32::try_from(*limit.get_ref()) {
            Ok(value) => update_limit = Some(value),
            Err(_) => {
                p.hint(
                    limit.span(),
                    "bad `update_limit`",
                    "use a count of 0 or more (0 means AIB's default of 1000)",
                );
                return None;
            }
        }
    }
    Some(Step::WindowsUpdate(WindowsUpdateStep {
        name,
        search_criteria: step.search_criteria.as_ref().map(|c| c.get_ref().clone()),
        filters: step
            .filters
            .as_ref()
            .map(|f| f.get_ref().clone())
            .unwrap_or_default(),
        update_limit,
    }))
}
