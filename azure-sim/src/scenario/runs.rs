//! How runs end: their outcome, the phases they move through, and the rules that
//! pick an outcome for a template by name.

use serde::Deserialize;

use super::BuildTimings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    PartiallySucceeded,
    Failed,
}

/// Sub-states of a run, in the order AIB moves through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Building,
    Customizing,
    Validating,
    Distributing,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Queued,
        Phase::Building,
        Phase::Customizing,
        Phase::Validating,
        Phase::Distributing,
    ];

    pub fn wire_name(self) -> &'static str {
        match self {
            Phase::Queued => "Queued",
            Phase::Building => "Building",
            Phase::Customizing => "Customizing",
            Phase::Validating => "Validating",
            Phase::Distributing => "Distributing",
        }
    }

    pub fn secs(self, t: &BuildTimings) -> u64 {
        match self {
            Phase::Queued => t.queued_secs,
            Phase::Building => t.building_secs,
            Phase::Customizing => t.customizing_secs,
            Phase::Validating => t.validating_secs,
            Phase::Distributing => t.distributing_secs,
        }
    }
}

/// How runs of templates whose name matches `match` (`*` wildcards) end.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildRule {
    #[serde(rename = "match")]
    pub pattern: String,
    pub outcome: Outcome,
    /// Where a failed run stops; customizing when not given.
    pub fail_in: Option<Phase>,
    /// Extra simulated seconds added to the customizing phase (a slow build).
    #[serde(default)]
    pub extra_secs: u64,
}
