//! The answers a preflight got, each asked once: a catalog of fifty images
//! sharing one resource group and identity asks about them once, and builds
//! started from one check share what the first one learned for a while.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::azure::resources::{ImageTraits, ResourceGroup};
use crate::azure::{AzureError, gallery};

/// One answer Azure gave.
#[derive(Debug, Clone)]
pub(super) enum Found {
    Exists(bool),
    State(Option<String>),
    Names(Vec<String>),
    Group(Option<ResourceGroup>),
    Traits(Option<ImageTraits>),
    GalleryVersion(Option<gallery::GalleryImageVersion>),
}

/// Why a question has no answer: the credential (stop asking) or anything else.
#[derive(Debug, Clone)]
pub(super) enum Unasked {
    Credential(String),
    Failed(String),
}

impl From<AzureError> for Unasked {
    fn from(error: AzureError) -> Unasked {
        match error {
            AzureError::Auth(_) => Unasked::Credential(error.to_string()),
            other => Unasked::Failed(other.to_string()),
        }
    }
}

pub(super) type Answer = Result<Found, Unasked>;

/// Answers by question, each kept for `fresh_for`.
#[derive(Debug)]
pub struct Lookups {
    fresh_for: Duration,
    answers: Mutex<HashMap<String, (Instant, Answer)>>,
}

/// How long an answer serves later builds by default: a cycle's builds start
/// within minutes of each other, and a definition created meanwhile is seen
/// by the next cycle.
const FRESH_FOR_A_CYCLE: Duration = Duration::from_secs(600);

impl Default for Lookups {
    fn default() -> Lookups {
        Lookups::new(FRESH_FOR_A_CYCLE)
    }
}

impl Lookups {
    /// Answers kept for `fresh_for`: a preflight's own run, or a cycle's builds.
    pub fn new(fresh_for: Duration) -> Lookups {
        Lookups {
            fresh_for,
            answers: Mutex::new(HashMap::new()),
        }
    }

    /// The answer to `question`, asking `ask` only when none is fresh. Two
    /// builds asking at once may both ask; the answers agree.
    pub(super) async fn get<F>(&self, question: String, ask: F) -> Answer
    where
        F: Future<Output = Result<Found, AzureError>>,
    {
        let now = Instant::now();
        if let Some((at, answer)) = self.lock().get(&question)
            && now.duration_since(*at) < self.fresh_for
        {
            return answer.clone();
        }
        let answer = ask.await.map_err(Unasked::from);
        self.lock().insert(question, (now, answer.clone()));
        answer
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Answer)>> {
        // Only ever held to read or insert one entry; a panic cannot leave it torn.
        self.answers.lock().unwrap_or_else(|e| e.into_inner())
    }
}
