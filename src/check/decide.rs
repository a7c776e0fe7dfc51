//! The staleness decision: a pure function of what the catalog wants, what was
//! last built, what Azure offers now, and the time.
//!
//! Keeping it pure is what lets `check` explain every decision and lets the
//! tests enumerate every reason without Azure or a database.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::DecisionKind;

/// What the catalog says about one image, reduced to what the decision needs.
#[derive(Debug, Clone)]
pub struct Wanted<'a> {
    pub recipe_hash: &'a str,
    pub max_age: Option<Duration>,
    /// A new base version is taken only once known this long.
    pub min_base_age: Option<Duration>,
    /// `false` when the catalog disables the image.
    pub enabled: bool,
    /// Why the history store stopped building the image automatically, if it did.
    pub auto_disabled: Option<&'a str>,
    /// When the image's build window opens next, if it is closed now; `None`
    /// when a build may start now.
    pub window_closed_until: Option<DateTime<Utc>>,
}

/// A past build, reduced to what the decision needs.
#[derive(Debug, Clone)]
pub struct PastBuild<'a> {
    pub id: String,
    pub recipe_hash: &'a str,
    pub source_version: &'a str,
    pub outcome: Outcome,
    /// When the image was produced (or the attempt ended).
    pub finished_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    InProgress,
}

/// Everything the decision looks at.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub wanted: Wanted<'a>,
    /// The newest build that produced an image.
    pub last_success: Option<PastBuild<'a>>,
    /// The newest build of any outcome.
    pub last_attempt: Option<PastBuild<'a>>,
    /// The exact source version Azure offers now.
    pub source_version: &'a str,
    /// When a check first saw that version; `None` for one seen just now.
    pub source_first_seen: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Why an image is (or is not) rebuilt. Each variant carries what a person
/// needs to agree with the decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    NeverBuilt,
    NewBaseVersion {
        old: String,
        new: String,
    },
    RecipeChanged {
        old: String,
        new: String,
    },
    TooOld {
        age_days: i64,
        max_age_days: i64,
    },
    RetryAfterFailure {
        failed_build: String,
    },
    InProgress {
        build: String,
    },
    /// A new base version waits out `min_base_age` before it is built.
    Soaking {
        old: String,
        new: String,
        eligible_from: DateTime<Utc>,
    },
    /// Azure could not say which version is current; nothing is built.
    SourceUnavailable {
        error: String,
    },
    /// Azure says the source does not exist; `missing` names it. Retried only at
    /// the next scheduled check: asking again sooner cannot change the answer.
    SourceNotFound {
        missing: String,
    },
    UpToDate,
    Disabled {
        why: String,
    },
    /// Stale (`stale` says why), but its build window is closed until `opens_at`.
    WaitingForWindow {
        stale: Box<Decision>,
        opens_at: DateTime<Utc>,
    },
}

impl Decision {
    /// Whether the image is rebuilt; the kind decides (see [`DecisionKind::is_stale`]).
    pub fn is_stale(&self) -> bool {
        self.kind().is_stale()
    }

    /// The stable word stored in history and printed in JSON.
    pub fn kind(&self) -> DecisionKind {
        match self {
            Decision::NeverBuilt => DecisionKind::NeverBuilt,
            Decision::NewBaseVersion { .. } => DecisionKind::NewBaseVersion,
            Decision::RecipeChanged { .. } => DecisionKind::RecipeChanged,
            Decision::TooOld { .. } => DecisionKind::TooOld,
            Decision::RetryAfterFailure { .. } => DecisionKind::RetryAfterFailure,
            Decision::InProgress { .. } => DecisionKind::InProgress,
            Decision::Soaking { .. } => DecisionKind::Soaking,
            Decision::SourceUnavailable { .. } => DecisionKind::SourceUnavailable,
            Decision::SourceNotFound { .. } => DecisionKind::SourceNotFound,
            Decision::UpToDate => DecisionKind::UpToDate,
            Decision::Disabled { .. } => DecisionKind::Disabled,
            Decision::WaitingForWindow { .. } => DecisionKind::WaitingForWindow,
        }
    }

    /// One line for the plan table and the build record.
    pub fn reason(&self) -> String {
        match self {
            Decision::NeverBuilt => "never built".into(),
            Decision::NewBaseVersion { old, new } => format!("new base version {old} → {new}"),
            Decision::RecipeChanged { old, new } => format!("recipe changed {old} → {new}"),
            Decision::TooOld {
                age_days,
                max_age_days,
            } => format!("image is {age_days} days old (maximum {max_age_days})"),
            Decision::RetryAfterFailure { failed_build } => {
                format!("retry after failed build {}", short_id(failed_build))
            }
            Decision::InProgress { build } => format!("build {} in progress", short_id(build)),
            Decision::Soaking {
                old,
                new,
                eligible_from,
            } => format!(
                "new base version {old} → {new}, eligible from {}",
                eligible_from.format("%Y-%m-%d %H:%M UTC")
            ),
            Decision::SourceUnavailable { error } => format!("{UNAVAILABLE}{error}"),
            Decision::SourceNotFound { missing } => missing.clone(),
            Decision::UpToDate => "up to date".into(),
            Decision::Disabled { why } => format!("disabled: {why}"),
            Decision::WaitingForWindow { stale, opens_at } => format!(
                "{}; waiting for the build window, opens {}",
                stale.reason(),
                opens_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        }
    }
}

const UNAVAILABLE: &str = "source version unknown: ";

/// The error inside a recorded `source_unavailable` reason.
pub(super) fn unavailable_error(reason: &str) -> &str {
    reason.strip_prefix(UNAVAILABLE).unwrap_or(reason)
}

/// Decides one image. Order matters: a disabled image is never built, a running
/// build is never doubled, and a failure is retried before anything else is
/// considered so the reason names the failure people need to look at.
pub fn decide(facts: &Facts<'_>) -> Decision {
    let decision = decide_at_any_time(facts);
    match facts.wanted.window_closed_until {
        Some(opens_at) if decision.is_stale() => Decision::WaitingForWindow {
            stale: Box::new(decision),
            opens_at,
        },
        _ => decision,
    }
}

/// The decision as if builds could start now.
fn decide_at_any_time(facts: &Facts<'_>) -> Decision {
    let wanted = &facts.wanted;
    if let Some(disabled) = disabled(wanted) {
        return disabled;
    }
    if let Some(attempt) = &facts.last_attempt {
        match attempt.outcome {
            Outcome::InProgress => {
                return Decision::InProgress {
                    build: attempt.id.clone(),
                };
            }
            Outcome::Failed => {
                return Decision::RetryAfterFailure {
                    failed_build: attempt.id.clone(),
                };
            }
            Outcome::Succeeded => {}
        }
    }
    let Some(built) = &facts.last_success else {
        return Decision::NeverBuilt;
    };
    if built.source_version != facts.source_version {
        let (old, new) = (built.source_version.into(), facts.source_version.into());
        if let Some(min_age) = wanted.min_base_age {
            let eligible_from = facts.source_first_seen.unwrap_or(facts.now) + min_age;
            if eligible_from > facts.now {
                return Decision::Soaking {
                    old,
                    new,
                    eligible_from,
                };
            }
        }
        return Decision::NewBaseVersion { old, new };
    }
    if built.recipe_hash != wanted.recipe_hash {
        return Decision::RecipeChanged {
            old: short_hash(built.recipe_hash),
            new: short_hash(wanted.recipe_hash),
        };
    }
    if let (Some(max_age), Some(finished)) = (wanted.max_age, built.finished_at) {
        let age = facts.now - finished;
        if age > max_age {
            return Decision::TooOld {
                age_days: age.num_days(),
                max_age_days: max_age.num_days(),
            };
        }
    }
    Decision::UpToDate
}

/// Whether the image is switched off, by the catalog or by the history store.
/// Checked before anything else, even whether Azure could name a version.
pub fn disabled(wanted: &Wanted<'_>) -> Option<Decision> {
    if !wanted.enabled {
        return Some(Decision::Disabled {
            why: "enabled = false in the catalog".into(),
        });
    }
    wanted
        .auto_disabled
        .map(|why| Decision::Disabled { why: why.into() })
}

/// Build ids are shown by their first 8 characters, as `history` shows them.
fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// Hashes are shown by their first 12 hex digits, as `validate` shows them.
fn short_hash(hash: &str) -> String {
    let hex = hash.strip_prefix("sha256:").unwrap_or(hash);
    format!("sha256:{}", hex.get(..12).unwrap_or(hex))
}

#[cfg(test)]
mod tests;
