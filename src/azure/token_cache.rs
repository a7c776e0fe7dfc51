//! Access tokens cached per scope and refreshed before they expire.
//!
//! The azure_identity credentials cache too, but by the system clock; this layer follows the
//! injected clock so the refresh policy is testable, and it makes sure only one refresh runs at
//! a time however many requests are waiting. When ARM rejects a token anyway (revoked, or
//! expired by a clock the credential does not follow), [`TokenCache::invalidate`] drops it and,
//! for a cache built with [`TokenCache::rebuildable`], replaces the credential so its internal
//! cache cannot hand the same token back.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use azure_core::credentials::{AccessToken, Secret, TokenCredential};
use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::AzureError;
use crate::clock::SharedClock;

/// How long before expiry a token is replaced.
pub const REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

type BuildCredential = dyn Fn() -> Result<Arc<dyn TokenCredential>, AzureError> + Send + Sync;

/// A credential with a per-scope token cache.
pub struct TokenCache {
    credential: std::sync::Mutex<Arc<dyn TokenCredential>>,
    rebuild: Option<Box<BuildCredential>>,
    /// Which credential this is and what to set when it fails, for the error people read.
    about: Option<CredentialAbout>,
    clock: SharedClock,
    tokens: Mutex<HashMap<String, CachedToken>>,
}

/// Names a credential in its errors: `kind` as the catalog spells it, and the remedy.
#[derive(Debug, Clone)]
pub struct CredentialAbout {
    pub kind: &'static str,
    pub remedy: String,
}

struct CachedToken {
    token: Secret,
    expires_on: DateTime<Utc>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("credential", &self.current())
            .field("rebuildable", &self.rebuild.is_some())
            .finish_non_exhaustive()
    }
}

impl TokenCache {
    pub fn new(credential: Arc<dyn TokenCredential>, clock: SharedClock) -> Self {
        Self {
            credential: std::sync::Mutex::new(credential),
            rebuild: None,
            about: None,
            clock,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// A cache that builds its credential with `build` now and again after each
    /// [`invalidate`](Self::invalidate) (which also re-reads secret files, so a rotated secret
    /// is picked up).
    pub fn rebuildable(
        build: impl Fn() -> Result<Arc<dyn TokenCredential>, AzureError> + Send + Sync + 'static,
        clock: SharedClock,
    ) -> Result<Self, AzureError> {
        let credential = build()?;
        Ok(Self {
            rebuild: Some(Box::new(build)),
            ..Self::new(credential, clock)
        })
    }

    /// Names the credential and its remedy in every token error.
    pub fn about(mut self, about: CredentialAbout) -> Self {
        self.about = Some(about);
        self
    }

    fn current(&self) -> Arc<dyn TokenCredential> {
        // Only ever held to clone or swap an Arc; a panic cannot leave it half-updated.
        self.credential
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Forgets the token for `scope` after ARM refused it; the next call fetches a new one.
    pub async fn invalidate(&self, scope: &str) {
        let mut tokens = self.tokens.lock().await;
        tokens.remove(scope);
        if let Some(build) = &self.rebuild {
            match build() {
                Ok(fresh) => {
                    *self.credential.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not rebuild the credential; keeping the old one")
                }
            }
        }
    }

    /// A token for `scope`, refreshed once it has less than [`REFRESH_MARGIN`] left.
    ///
    /// If the refresh fails while the cached token is still valid, the cached token is used:
    /// an Entra ID hiccup should not stop a build a few minutes before it would matter.
    pub async fn token(&self, scope: &str) -> Result<Secret, AzureError> {
        // Holding the lock across the fetch is the single-flight: concurrent callers wait for
        // the one refresh instead of each asking Entra ID.
        let mut tokens = self.tokens.lock().await;
        let now = self.clock.now();
        let cached = tokens.get(scope);
        if let Some(cached) = cached
            && cached.expires_on - REFRESH_MARGIN > now
        {
            return Ok(cached.token.clone());
        }
        let fetched = self.current().get_token(&[scope], None).await;
        let AccessToken { token, expires_on } = match (fetched, cached) {
            (Ok(token), _) => token,
            (Err(e), Some(cached)) if cached.expires_on > now => {
                tracing::warn!(scope, error = %one_line(&e), expires_on = %cached.expires_on,
                    "token refresh failed; using the cached token until it expires");
                return Ok(cached.token.clone());
            }
            (Err(e), _) => {
                return Err(AzureError::Auth(match &self.about {
                    Some(about) => format!(
                        "get a token for {scope} with the {} credential: {}; {}",
                        about.kind,
                        one_line(&e),
                        about.remedy
                    ),
                    None => format!("get a token for {scope}: {}", one_line(&e)),
                }));
            }
        };
        let expires_on =
            DateTime::from_timestamp(expires_on.unix_timestamp(), 0).ok_or_else(|| {
                AzureError::Auth(format!("token for {scope} has an impossible expiry time"))
            })?;
        tracing::debug!(scope, %expires_on, "fetched a new access token");
        tokens.insert(
            scope.to_owned(),
            CachedToken {
                token: token.clone(),
                expires_on,
            },
        );
        Ok(token)
    }
}

/// azure_identity's messages span lines ("…\nTo troubleshoot, visit …") and keep the
/// endpoint's answer in their causes: one line with the causes, for one log line.
fn one_line(error: &azure_core::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};
    use azure_core::credentials::TokenRequestOptions;
    use azure_core::time::OffsetDateTime;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Issues "token-N" valid for one hour from the manual clock's now; fails the calls whose
    /// number is in `fail`.
    #[derive(Debug)]
    struct CountingCredential {
        clock: Arc<ManualClock>,
        calls: AtomicUsize,
        fail: Vec<usize>,
    }

    #[async_trait::async_trait]
    impl TokenCredential for CountingCredential {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if self.fail.contains(&n) {
                return Err(azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    "Entra ID is unavailable",
                ));
            }
            // Let concurrent callers pile up behind the lock.
            tokio::task::yield_now().await;
            let expires = self.clock.now() + chrono::Duration::hours(1);
            Ok(AccessToken::new(
                format!("token-{n}"),
                OffsetDateTime::from_unix_timestamp(expires.timestamp()).unwrap(),
            ))
        }
    }

    fn setup() -> (Arc<ManualClock>, Arc<CountingCredential>, Arc<TokenCache>) {
        setup_failing(Vec::new())
    }

    fn setup_failing(
        fail: Vec<usize>,
    ) -> (Arc<ManualClock>, Arc<CountingCredential>, Arc<TokenCache>) {
        let start = DateTime::parse_from_rfc3339("2026-11-10T06:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let clock = Arc::new(ManualClock::new(start));
        let credential = Arc::new(CountingCredential {
            clock: clock.clone(),
            calls: AtomicUsize::new(0),
            fail,
        });
        let cache = Arc::new(TokenCache::new(credential.clone(), clock.clone()));
        (clock, credential, cache)
    }

    #[tokio::test]
    async fn reuses_then_refreshes_five_minutes_before_expiry() {
        let (clock, credential, cache) = setup();
        let scope = "https://management.azure.com/.default";
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-1");
        clock.advance(chrono::Duration::minutes(54));
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-1");
        // 4 minutes left: inside the margin, so a new token is fetched.
        clock.advance(chrono::Duration::minutes(2));
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-2");
        assert_eq!(credential.calls.load(Ordering::SeqCst), 2);
        // Scopes are cached separately.
        assert_eq!(
            cache.token("other/.default").await.unwrap().secret(),
            "token-3"
        );
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-2");
    }

    #[tokio::test]
    async fn failed_refresh_falls_back_to_the_cached_token_until_it_expires() {
        let (clock, credential, cache) = setup_failing(vec![2, 3]);
        let scope = "s/.default";
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-1");
        clock.advance(chrono::Duration::minutes(57));
        // Refresh (call 2) fails, but token-1 has three minutes left.
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-1");
        clock.advance(chrono::Duration::minutes(4));
        // Refresh (call 3) fails and token-1 has expired: now it is an error.
        let err = cache.token(scope).await.unwrap_err();
        assert!(err.to_string().contains("Entra ID is unavailable"), "{err}");
        // Call 4 succeeds.
        assert_eq!(cache.token(scope).await.unwrap().secret(), "token-4");
        assert_eq!(credential.calls.load(Ordering::SeqCst), 4);
    }

    /// Always answers "cred-{tag}", valid for an hour.
    #[derive(Debug)]
    struct TaggedCredential {
        tag: usize,
        clock: Arc<ManualClock>,
    }

    #[async_trait::async_trait]
    impl TokenCredential for TaggedCredential {
        async fn get_token(
            &self,
            _scopes: &[&str],
            _options: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let expires = self.clock.now() + chrono::Duration::hours(1);
            Ok(AccessToken::new(
                format!("cred-{}", self.tag),
                OffsetDateTime::from_unix_timestamp(expires.timestamp()).unwrap(),
            ))
        }
    }

    #[tokio::test]
    async fn invalidate_rebuilds_the_credential_and_fetches_anew() {
        let (clock, _, _) = setup();
        let builds = Arc::new(AtomicUsize::new(0));
        let factory = {
            let (builds, clock) = (builds.clone(), clock.clone());
            move || {
                let tag = builds.fetch_add(1, Ordering::SeqCst) + 1;
                let clock = clock.clone();
                Ok(Arc::new(TaggedCredential { tag, clock }) as Arc<dyn TokenCredential>)
            }
        };
        let cache = TokenCache::rebuildable(factory, clock.clone()).unwrap();
        assert_eq!(cache.token("s").await.unwrap().secret(), "cred-1");
        assert_eq!(cache.token("s").await.unwrap().secret(), "cred-1");
        cache.invalidate("s").await;
        assert_eq!(cache.token("s").await.unwrap().secret(), "cred-2");
        assert_eq!(builds.load(Ordering::SeqCst), 2);

        // Without a factory the cached token is dropped but the credential stays.
        let fixed = TokenCache::new(
            Arc::new(TaggedCredential {
                tag: 7,
                clock: clock.clone(),
            }),
            clock,
        );
        assert_eq!(fixed.token("s").await.unwrap().secret(), "cred-7");
        fixed.invalidate("s").await;
        assert_eq!(fixed.token("s").await.unwrap().secret(), "cred-7");
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_refresh() {
        let (_clock, credential, cache) = setup();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let cache = cache.clone();
                tokio::spawn(async move { cache.token("s/.default").await.unwrap() })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().secret(), "token-1");
        }
        assert_eq!(credential.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn debug_output_has_no_token() {
        let (_clock, _credential, cache) = setup();
        cache.token("s/.default").await.unwrap();
        let rendered = format!("{cache:?}");
        assert!(!rendered.contains("token-"), "{rendered}");
    }
}
