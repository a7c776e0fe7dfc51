//! Wiring: turn a catalog into the process's Azure client and history store.
//!
//! The CLI commands and the daemon all start here, so they share one code path
//! whether they talk to Azure or to the simulator (which only differs by URL).

use std::path::Path;
use std::sync::Arc;

use crate::azure::{
    self, ArmClient, ArmClientOptions, AzureError, CloudEndpoints, CredentialConfig, HttpTimeouts,
};
use crate::catalog::{Catalog, CredentialSettings, SecretSource};
use crate::clock::SharedClock;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("set up the Azure client")]
    Azure(#[from] AzureError),
    #[error("open the history database")]
    Store(#[from] StoreError),
}

/// The endpoints the catalog names. `AZURE_AUTHORITY_HOST`, as in every Azure
/// SDK, overrides the authority host of a named cloud.
pub fn endpoints(catalog: &Catalog) -> Result<CloudEndpoints, AzureError> {
    let e = &catalog.azure.endpoints;
    let endpoints = CloudEndpoints::custom(
        &e.resource_manager_url,
        &e.authority_host,
        Some(&e.resource_manager_audience),
    )?;
    match std::env::var(azure::AUTHORITY_HOST_ENV) {
        Ok(host) if !host.is_empty() => endpoints.with_authority_host(&host),
        _ => Ok(endpoints),
    }
}

fn credential_config(settings: &CredentialSettings) -> CredentialConfig {
    let secret = |source: &SecretSource| match source {
        SecretSource::File(path) => azure::SecretSource::File(path.clone()),
        SecretSource::SystemdCredential(name) => {
            azure::SecretSource::SystemdCredential(name.clone())
        }
    };
    match settings {
        CredentialSettings::ManagedIdentity { client_id } => CredentialConfig::ManagedIdentity {
            client_id: client_id.clone(),
        },
        CredentialSettings::WorkloadIdentity {
            tenant_id,
            client_id,
            token_file,
        } => CredentialConfig::WorkloadIdentity {
            tenant_id: Some(tenant_id.clone()),
            client_id: Some(client_id.clone()),
            token_file: token_file.clone(),
        },
        CredentialSettings::ClientSecret {
            tenant_id,
            client_id,
            secret: source,
        } => CredentialConfig::ClientSecret {
            tenant_id: tenant_id.clone(),
            client_id: client_id.clone(),
            secret_source: secret(source),
        },
        CredentialSettings::ClientCertificate {
            tenant_id,
            client_id,
            certificate,
        } => CredentialConfig::ClientCertificate {
            tenant_id: tenant_id.clone(),
            client_id: client_id.clone(),
            certificate_source: secret(certificate),
        },
        CredentialSettings::AzureCli => CredentialConfig::AzureCli { tenant_id: None },
    }
}

/// The ARM client for the catalog's cloud and credential.
pub fn arm_client(
    catalog: &Catalog,
    clock: SharedClock,
    options: ArmClientOptions,
) -> Result<ArmClient, AppError> {
    let endpoints = endpoints(catalog)?;
    let http = azure::http_client(HttpTimeouts::default())?;
    // A cache that can rebuild its credential: azure_identity keeps tokens of
    // its own, which a 401 must be able to throw away.
    let tokens = Arc::new(azure::token_cache(
        &credential_config(&catalog.credential),
        &endpoints,
        &http,
        clock.clone(),
    )?);
    Ok(ArmClient::new(http, &endpoints, tokens, clock, options))
}

/// Opens the history store and makes sure every catalog image has its row.
pub async fn open_store(path: &Path, catalog: Option<&Catalog>) -> Result<Store, AppError> {
    let store = Store::open(path).await?;
    if let Some(catalog) = catalog {
        store
            .ensure_images(catalog.images.iter().map(|i| i.name.as_str()))
            .await?;
    }
    Ok(store)
}

/// Names this process in image leases (see [`crate::build::name_this_process`]).
pub fn lease_holder() -> String {
    crate::build::name_this_process()
}

/// This machine's name, for leases and schedule jitter (see [`crate::host`]).
pub fn host_name() -> String {
    crate::host::host_name()
}
