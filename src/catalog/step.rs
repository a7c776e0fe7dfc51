//! Customization steps: one variant per AIB customizer.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    Shell(ShellStep),
    #[serde(rename = "powershell")]
    PowerShell(PowerShellStep),
    File(FileStep),
    WindowsRestart(WindowsRestartStep),
    WindowsUpdate(WindowsUpdateStep),
}

impl Step {
    /// The friendly name shown in AIB logs, if one was given.
    pub fn name(&self) -> Option<&str> {
        match self {
            Step::Shell(s) => s.name.as_deref(),
            Step::PowerShell(s) => s.name.as_deref(),
            Step::File(s) => s.name.as_deref(),
            Step::WindowsRestart(s) => s.name.as_deref(),
            Step::WindowsUpdate(s) => s.name.as_deref(),
        }
    }
}

/// Commands given inline, or a script downloaded from a URI and checked against its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Script {
    Inline(Vec<String>),
    Uri {
        uri: String,
        /// Lowercase hex. Required so that a changed script changes the recipe hash.
        sha256_checksum: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShellStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub script: Script,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PowerShellStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub script: Script,
    pub run_elevated: bool,
    /// Only allowed together with `run_elevated`, as AIB requires.
    pub run_as_system: bool,
    /// Empty means AIB's default, `[0]`.
    pub valid_exit_codes: Vec<i32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub source_uri: String,
    /// Absolute path in the build VM; its directory must already exist.
    pub destination: String,
    /// Lowercase hex.
    pub sha256_checksum: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsRestartStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_check_command: Option<String>,
    /// AIB's format, a number and a unit: "5m", "2h", "300s".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_timeout: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowsUpdateStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_criteria: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_limit: Option<u32>,
}
