//! Preflight: read-only questions to Azure that find what would make AIB
//! refuse a template or fail a build an hour in, before anything is created.
//!
//! `validate --online` asks them for the whole catalog and reports every
//! finding at its catalog line; each build asks them for its image before its
//! template PUT, so a missing gallery definition fails in seconds. A finding
//! is `certain` when Azure answered (404, not registered, a mismatch); one
//! that could not be asked is not, and never fails a build by itself.

mod image;
mod lookups;
mod traits;

use std::future::Future;

use crate::azure::resources::{self, ResourceGroup};
use crate::azure::{ArmClient, AzureError, api_versions};
use crate::catalog::{AzureSettings, Catalog, Finding, Image, Key, KeyPath};

pub use lookups::Lookups;
use lookups::{Found, Unasked};

/// Azure's provider for image templates; AIB needs it registered.
const IMAGE_BUILDER: &str = "Microsoft.VirtualMachineImages";

/// One thing a preflight found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub finding: Finding,
    /// Azure answered; `false` when the question could not be asked.
    pub certain: bool,
}

/// The whole catalog: the settings, then each image.
pub async fn catalog(arm: &ArmClient, catalog: &Catalog, lookups: &Lookups) -> Vec<Issue> {
    let mut run = Run::new(arm, &catalog.azure, lookups);
    run.settings().await;
    for (index, image) in catalog.images.iter().enumerate() {
        run.image(image, Some(index)).await;
    }
    run.issues
}

/// What one build from `source_version` needs: the settings and its image.
/// The findings' catalog paths are left empty: a build reports them as text.
pub async fn image(
    arm: &ArmClient,
    azure: &AzureSettings,
    image: &Image,
    source_version: &str,
    lookups: &Lookups,
) -> Vec<Issue> {
    let mut run = Run::new(arm, azure, lookups);
    run.source_version = Some(source_version.to_owned());
    run.settings().await;
    run.image(image, None).await;
    run.issues
}

struct Run<'a> {
    arm: &'a ArmClient,
    azure: &'a AzureSettings,
    lookups: &'a Lookups,
    issues: Vec<Issue>,
    /// The credential got no token: every further question would say so again.
    stopped: bool,
    /// The exact version a build uses, instead of what the catalog names: the
    /// check already resolved "latest", so a build asks only about that one.
    source_version: Option<String>,
}

fn azure(key: &'static str) -> KeyPath {
    KeyPath::of(&[Key::Name("azure"), Key::Name(key)])
}

impl<'a> Run<'a> {
    fn new(arm: &'a ArmClient, azure: &'a AzureSettings, lookups: &'a Lookups) -> Self {
        Run {
            arm,
            azure,
            lookups,
            issues: Vec::new(),
            stopped: false,
            source_version: None,
        }
    }

    fn found(&mut self, at: Vec<KeyPath>, message: String, hint: Option<&str>) {
        self.issues.push(Issue {
            finding: Finding {
                at,
                message,
                hint: hint.map(str::to_owned),
            },
            certain: true,
        });
    }

    /// Asks once per [`Lookups`]; says what could not be asked, at `at`.
    async fn ask<F>(
        &mut self,
        at: &[KeyPath],
        what: &str,
        question: String,
        ask: F,
    ) -> Option<Found>
    where
        F: Future<Output = Result<Found, AzureError>>,
    {
        if self.stopped {
            return None;
        }
        match self.lookups.get(question, ask).await {
            Ok(found) => Some(found),
            Err(Unasked::Credential(error)) => {
                self.stopped = true;
                self.issues.push(Issue {
                    finding: Finding {
                        at: vec![azure("credential"), KeyPath::of(&[Key::Name("azure")])],
                        message: format!("the credential gets no token: {error}"),
                        hint: None,
                    },
                    certain: true,
                });
                None
            }
            Err(Unasked::Failed(error)) => {
                self.issues.push(Issue {
                    finding: Finding {
                        at: at.to_vec(),
                        message: format!("could not check {what}: {error}"),
                        hint: Some("Azure did not answer; try again".into()),
                    },
                    certain: false,
                });
                None
            }
        }
    }

    async fn locations(&mut self) -> Option<Vec<String>> {
        let arm = self.arm;
        let sub = &self.azure.subscription_id;
        match self
            .ask(
                &[azure("subscription_id")],
                "the subscription's locations",
                format!("locations {sub}"),
                async move { resources::locations(arm, sub).await.map(Found::Names) },
            )
            .await
        {
            Some(Found::Names(names)) => Some(names),
            _ => None,
        }
    }

    /// Says when `region` is not one of the subscription's locations.
    async fn region(&mut self, region: &str, at: Vec<KeyPath>) {
        let Some(known) = self.locations().await else {
            return;
        };
        let folded = |s: &str| s.replace(' ', "").to_ascii_lowercase();
        if !known.iter().any(|k| folded(k) == folded(region)) {
            self.found(
                at,
                format!("`{region}` is not a location of the subscription"),
                Some("use a region name as `az account list-locations -o table` lists it, e.g. westeurope"),
            );
        }
    }

    async fn group(
        &mut self,
        sub: &str,
        name: &str,
        at: &[KeyPath],
    ) -> Option<Option<ResourceGroup>> {
        let arm = self.arm;
        let (s, n) = (sub.to_owned(), name.to_owned());
        match self
            .ask(
                at,
                &format!("resource group {name}"),
                format!("group {sub}/{name}"),
                async move {
                    resources::resource_group(arm, &s, &n)
                        .await
                        .map(Found::Group)
                },
            )
            .await
        {
            Some(Found::Group(group)) => Some(group),
            _ => None,
        }
    }

    async fn exists(
        &mut self,
        id: &str,
        api_version: &'static str,
        at: &[KeyPath],
    ) -> Option<bool> {
        let arm = self.arm;
        let owned = id.to_owned();
        match self
            .ask(at, id, format!("exists {id}"), async move {
                resources::exists(arm, &owned, api_version)
                    .await
                    .map(Found::Exists)
            })
            .await
        {
            Some(Found::Exists(exists)) => Some(exists),
            _ => None,
        }
    }

    /// `[azure]`: the token, subscription, provider, groups and identity.
    async fn settings(&mut self) {
        let arm = self.arm;
        let settings = self.azure;
        let sub = settings.subscription_id.clone();
        let s = sub.clone();
        let state = self
            .ask(
                &[azure("subscription_id")],
                "the subscription",
                format!("subscription {sub}"),
                async move {
                    resources::subscription_state(arm, &s)
                        .await
                        .map(Found::State)
                },
            )
            .await;
        match state {
            Some(Found::State(None)) => self.found(
                vec![azure("subscription_id")],
                format!("subscription {sub} does not exist, or the credential has no role on it"),
                Some("check subscription_id, and give the daemon's identity its role there (README, \"Azure prerequisites\")"),
            ),
            Some(Found::State(Some(state))) if !state.eq_ignore_ascii_case("Enabled") => self.found(
                vec![azure("subscription_id")],
                format!("subscription {sub} is {state}"),
                Some("AIB builds only in an enabled subscription"),
            ),
            _ => {}
        }
        if self.stopped {
            return;
        }
        let s = sub.clone();
        let provider = self
            .ask(
                &[KeyPath::of(&[Key::Name("azure")])],
                "the resource provider",
                format!("provider {sub}"),
                async move {
                    resources::provider_state(arm, &s, IMAGE_BUILDER)
                        .await
                        .map(Found::State)
                },
            )
            .await;
        if let Some(Found::State(state)) = provider
            && !state
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("Registered"))
        {
            self.found(
                vec![KeyPath::of(&[Key::Name("azure")])],
                format!(
                    "the {IMAGE_BUILDER} resource provider is {} in subscription {sub}",
                    state.as_deref().unwrap_or("unknown")
                ),
                Some(
                    "register it: az provider register --namespace Microsoft.VirtualMachineImages",
                ),
            );
        }
        let rg = settings.resource_group.clone();
        if let Some(None) = self.group(&sub, &rg, &[azure("resource_group")]).await {
            self.found(
                vec![azure("resource_group")],
                format!("resource group {rg} (for the image templates) does not exist"),
                Some("create it (az group create) or name an existing one"),
            );
        }
        let identity = settings.identity.clone();
        if let Some(false) = self
            .exists(
                &identity,
                api_versions::MANAGED_IDENTITY,
                &[azure("identity")],
            )
            .await
        {
            self.found(
                vec![azure("identity")],
                format!("the user-assigned identity {identity} does not exist"),
                Some("create it (az identity create) and give it the roles AIB needs"),
            );
        }
        self.region(&settings.location, vec![azure("location")])
            .await;
    }
}
