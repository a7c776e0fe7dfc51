//! The words stored in the database and printed in JSON, one spelling each.
//!
//! Each enumeration is stored as its lowercase name; the migration's CHECK
//! constraints list the same words, and the tests keep the two in step.

use std::fmt;
use std::str::FromStr;

use super::UnknownValue;

/// Declares an enumeration stored as text, with `as_str`, `ALL`, `Display`
/// and `FromStr`, so the spelling lives in one place.
macro_rules! stored_words {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// A word equals its spelling, so callers compare with the text they read.
        impl PartialEq<&str> for $name {
            fn eq(&self, text: &&str) -> bool {
                self.as_str() == *text
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownValue {
                        kind: $kind,
                        value: text.to_owned(),
                    }),
                }
            }
        }
    };
}

stored_words! {
    /// Where a build is. The database records intent before each Azure call,
    /// so e.g. `run_requested` means "a run may have been accepted; ask Azure".
    pub enum BuildState ("build state") {
        Planned = "planned",
        TemplateCreated = "template_created",
        RunRequested = "run_requested",
        Running = "running",
        Canceling = "canceling",
        Succeeded = "succeeded",
        PartiallySucceeded = "partially_succeeded",
        Failed = "failed",
        Canceled = "canceled",
        TimedOut = "timed_out",
    }
}

impl BuildState {
    /// No further transition happens from a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BuildState::Succeeded
                | BuildState::PartiallySucceeded
                | BuildState::Failed
                | BuildState::Canceled
                | BuildState::TimedOut
        )
    }

    /// The build produced an image people can use.
    pub fn is_success(self) -> bool {
        matches!(self, BuildState::Succeeded | BuildState::PartiallySucceeded)
    }
}

stored_words! {
    /// AIB's `runSubState` of a running build.
    pub enum RunSubState ("run sub-state") {
        Queued = "queued",
        Building = "building",
        Customizing = "customizing",
        Optimizing = "optimizing",
        Validating = "validating",
        Distributing = "distributing",
    }
}

stored_words! {
    /// Whether a build's image template still has to be deleted in Azure.
    pub enum Cleanup ("cleanup") {
        Pending = "pending",
        Done = "done",
        /// Left in Azure on purpose, e.g. for someone to inspect a failure.
        Kept = "kept",
    }
}

stored_words! {
    /// The kind of a check's decision; the words match `check::Decision::kind`.
    pub enum DecisionKind ("decision") {
        NeverBuilt = "never_built",
        NewBaseVersion = "new_base_version",
        RecipeChanged = "recipe_changed",
        TooOld = "too_old",
        RetryAfterFailure = "retry_after_failure",
        InProgress = "in_progress",
        /// A new base version waits out the image's `min_base_age`.
        Soaking = "soaking",
        /// Azure could not tell which version the source is at.
        SourceUnavailable = "source_unavailable",
        /// Azure says the source does not exist: the catalog names something wrong.
        SourceNotFound = "source_not_found",
        UpToDate = "up_to_date",
        Disabled = "disabled",
        /// Stale, but the image's build window is closed; built when it opens.
        WaitingForWindow = "waiting_for_window",
    }
}

impl DecisionKind {
    /// The image gets rebuilt. The database derives its `stale` column from
    /// the same list.
    pub fn is_stale(self) -> bool {
        matches!(
            self,
            DecisionKind::NeverBuilt
                | DecisionKind::NewBaseVersion
                | DecisionKind::RecipeChanged
                | DecisionKind::TooOld
                | DecisionKind::RetryAfterFailure
        )
    }

    /// The image is out of date: rebuilt now, or when its build window opens.
    /// `check` exits 3 and the stale gauge is 1 for both.
    pub fn is_outdated(self) -> bool {
        self.is_stale() || self == DecisionKind::WaitingForWindow
    }
}

stored_words! {
    /// What started a check.
    pub enum CheckTrigger ("check trigger") {
        Schedule = "schedule",
        Startup = "startup",
        Cli = "cli",
        Reload = "reload",
    }
}

stored_words! {
    /// What a notification tells someone: the outbox's `kind`.
    pub enum NoticeKind ("notice kind") {
        BuildSucceeded = "build_succeeded",
        BuildFailed = "build_failed",
        ImageDisabled = "image_disabled",
        CheckFailed = "check_failed",
        SourceNotFound = "source_not_found",
        NewBaseVersion = "new_base_version",
        NotifyTest = "notify_test",
        /// A staged version became latest in one more ring.
        VersionPromoted = "version_promoted",
        /// A ring could not move (said once per episode, not per retry).
        PromotionFailed = "promotion_failed",
        VersionRevoked = "version_revoked",
    }
}

stored_words! {
    /// Where one notice stands with one sink.
    pub enum DeliveryState ("delivery state") {
        Pending = "pending",
        Delivered = "delivered",
        /// Still failing after the sink's `give_up_after`.
        GivenUp = "given_up",
        /// The sink's `events` or `images` filter leaves it out.
        Skipped = "skipped",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_parses_back() {
        for state in BuildState::ALL {
            assert_eq!(state.as_str().parse::<BuildState>(), Ok(*state));
        }
        for sub in RunSubState::ALL {
            assert_eq!(sub.as_str().parse::<RunSubState>(), Ok(*sub));
        }
        for cleanup in Cleanup::ALL {
            assert_eq!(cleanup.as_str().parse::<Cleanup>(), Ok(*cleanup));
        }
        for kind in DecisionKind::ALL {
            assert_eq!(kind.as_str().parse::<DecisionKind>(), Ok(*kind));
        }
        for trigger in CheckTrigger::ALL {
            assert_eq!(trigger.as_str().parse::<CheckTrigger>(), Ok(*trigger));
        }
        for kind in NoticeKind::ALL {
            assert_eq!(kind.as_str().parse::<NoticeKind>(), Ok(*kind));
        }
        for state in DeliveryState::ALL {
            assert_eq!(state.as_str().parse::<DeliveryState>(), Ok(*state));
        }
    }

    #[test]
    fn unknown_word_names_the_kind_and_value() {
        let err = "Running".parse::<BuildState>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "read build state: unknown value \"Running\""
        );
    }
}
