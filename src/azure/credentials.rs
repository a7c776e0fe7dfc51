//! Which identity the daemon authenticates as, built on azure_identity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::certificate::CertificateAssertion;
use super::http::IdentityTransport;
use super::token_cache::CredentialAbout;
use super::{AzureError, CloudEndpoints, TokenCache};
use crate::clock::SharedClock;

/// systemd passes `LoadCredential=`/`SetCredential=` files in this directory.
pub const CREDENTIALS_DIRECTORY_ENV: &str = "CREDENTIALS_DIRECTORY";

/// Where a client secret or certificate is read from. Never inline: the catalog is not a secret store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file holding only the secret (a trailing newline is ignored).
    File(PathBuf),
    /// A systemd credential name, resolved against `$CREDENTIALS_DIRECTORY`.
    SystemdCredential(String),
}

impl SecretSource {
    /// Where the secret is read from, as a person would look for it.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::File(path) => format!("the file {}", path.display()),
            SecretSource::SystemdCredential(name) => format!("the systemd credential {name:?}"),
        }
    }
}

/// The most a secret or certificate file may hold; a PEM key and certificate fit
/// many times over, while a catalog pointed at some large file reads none of it.
pub const MAX_SECRET_FILE: u64 = 64 * 1024;

/// What a secret file holds, which decides its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// A client secret: one line.
    Line,
    /// A PEM file with the private key and the certificate.
    Pem,
}

impl SecretSource {
    /// The file the secret is read from. `credentials_directory` is the value of
    /// `$CREDENTIALS_DIRECTORY`.
    pub fn path(&self, credentials_directory: Option<&Path>) -> Result<PathBuf, AzureError> {
        match self {
            SecretSource::File(path) => Ok(path.clone()),
            SecretSource::SystemdCredential(name) => {
                if name.is_empty() || name.contains('/') || name == "." || name == ".." {
                    return Err(AzureError::Auth(format!(
                        "read systemd credential {name:?}: a credential name is a plain file name"
                    )));
                }
                let dir = credentials_directory.ok_or_else(|| {
                    AzureError::Auth(format!(
                        "read systemd credential {name:?}: ${CREDENTIALS_DIRECTORY_ENV} is not set \
                         (is the service started with LoadCredential=?)"
                    ))
                })?;
                Ok(dir.join(name))
            }
        }
    }

    /// Whether others than its owner may read the file: `Some(mode)` when the
    /// group or the world may. The service refuses such a file; commands warn.
    pub fn loose_mode(
        &self,
        credentials_directory: Option<&Path>,
    ) -> Result<Option<u32>, AzureError> {
        let path = self.path(credentials_directory)?;
        let meta = std::fs::metadata(&path).map_err(|e| {
            AzureError::Auth(format!("read credential file {}: {e}", path.display()))
        })?;
        Ok(loose(&meta))
    }

    /// Reads the secret: a regular file (a link to one is followed) of at most
    /// [`MAX_SECRET_FILE`] bytes, one line for [`SecretKind::Line`]. Errors name
    /// the file, never its content.
    pub fn read(
        &self,
        credentials_directory: Option<&Path>,
        kind: SecretKind,
    ) -> Result<Secret, AzureError> {
        use std::io::Read;
        let path = self.path(credentials_directory)?;
        let refuse = |why: String| {
            AzureError::Auth(format!("read credential file {}: {why}", path.display()))
        };
        let file = std::fs::File::open(&path).map_err(|e| refuse(e.to_string()))?;
        let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
        if !meta.is_file() {
            return Err(refuse("not a regular file".to_owned()));
        }
        if meta.len() > MAX_SECRET_FILE {
            return Err(refuse(format!(
                "{} bytes, more than a secret file holds ({MAX_SECRET_FILE} at most)",
                meta.len()
            )));
        }
        let mut text = String::new();
        file.take(MAX_SECRET_FILE + 1)
            .read_to_string(&mut text)
            .map_err(|e| refuse(e.to_string()))?;
        if let Some(mode) = loose(&meta) {
            tracing::warn!(
                file = %path.display(),
                mode = format!("{mode:04o}"),
                "the credential file is readable by others than its owner; chmod 600 it"
            );
        }
        let secret = text.trim_end_matches(['\r', '\n']);
        if secret.is_empty() {
            return Err(refuse("the file is empty".to_owned()));
        }
        if kind == SecretKind::Line && secret.contains(['\r', '\n']) {
            return Err(refuse(
                "a client secret is one line, and this file has several".to_owned(),
            ));
        }
        Ok(Secret::new(secret.to_owned()))
    }
}

/// The permission bits of a file its group or the world may read.
fn loose(meta: &std::fs::Metadata) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    (mode & 0o077 != 0).then_some(mode & 0o777)
}

/// How to authenticate. Managed identity is the default for a daemon running in Azure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialConfig {
    /// System-assigned, or user-assigned when `client_id` is set. Uses `IDENTITY_ENDPOINT` and
    /// `IDENTITY_HEADER` when present (App Service style), else the VM's IMDS.
    ManagedIdentity { client_id: Option<String> },
    /// Kubernetes workload identity; `None` fields fall back to `AZURE_TENANT_ID`,
    /// `AZURE_CLIENT_ID` and `AZURE_FEDERATED_TOKEN_FILE`.
    WorkloadIdentity {
        tenant_id: Option<String>,
        client_id: Option<String>,
        token_file: Option<PathBuf>,
    },
    /// A service principal with a client secret.
    ClientSecret {
        tenant_id: String,
        client_id: String,
        secret_source: SecretSource,
    },
    /// A service principal with a certificate: one PEM file holding the RSA private key and
    /// the certificate (as `az ad sp create-for-rbac --create-cert` writes it).
    ClientCertificate {
        tenant_id: String,
        client_id: String,
        certificate_source: SecretSource,
    },
    /// The signed-in Azure CLI user: for a person at a terminal.
    AzureCli { tenant_id: Option<String> },
}

impl CredentialConfig {
    /// The `kind` as the catalog spells it, and what to set when it gets no token.
    pub fn about(&self) -> CredentialAbout {
        let (kind, remedy) = match self {
            CredentialConfig::ManagedIdentity { client_id: None } => (
                "managed_identity",
                "run on an Azure host with a managed identity (IMDS, or IDENTITY_ENDPOINT and \
                 IDENTITY_HEADER set), or set [azure.credential] kind = \"client_secret\" or \
                 \"client_certificate\""
                    .to_owned(),
            ),
            CredentialConfig::ManagedIdentity {
                client_id: Some(id),
            } => (
                "managed_identity",
                format!(
                    "attach the user-assigned identity with client id {id} to this host, or fix \
                     [azure.credential] client_id"
                ),
            ),
            CredentialConfig::WorkloadIdentity { .. } => (
                "workload_identity",
                "check that token_file holds a current federated token and that the app \
                 registration trusts its issuer"
                    .to_owned(),
            ),
            CredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                secret_source,
            } => (
                "client_secret",
                format!(
                    "put a current client secret of app {client_id} (tenant {tenant_id}) in {}",
                    secret_source.describe()
                ),
            ),
            CredentialConfig::ClientCertificate {
                tenant_id,
                client_id,
                certificate_source,
            } => (
                "client_certificate",
                format!(
                    "upload the certificate in {} to app {client_id} (tenant {tenant_id}), or \
                     replace it if it expired",
                    certificate_source.describe()
                ),
            ),
            CredentialConfig::AzureCli { .. } => (
                "azure_cli",
                "run `az login` as the user that runs image-refresh".to_owned(),
            ),
        };
        CredentialAbout { kind, remedy }
    }
}

impl Default for CredentialConfig {
    fn default() -> Self {
        CredentialConfig::ManagedIdentity { client_id: None }
    }
}

/// Builds the credential. `http` is the process's HTTP client, reused for token requests;
/// `clock` dates certificate assertions.
pub fn credential(
    config: &CredentialConfig,
    endpoints: &CloudEndpoints,
    http: &reqwest::Client,
    clock: SharedClock,
) -> Result<Arc<dyn TokenCredential>, AzureError> {
    let credentials_directory = std::env::var_os(CREDENTIALS_DIRECTORY_ENV).map(PathBuf::from);
    let (transport, authority_host) =
        IdentityTransport::new(http.clone(), &endpoints.authority_host);
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority_host.as_str().trim_end_matches('/').to_owned();
    // Always explicit, so azure_identity never reads AZURE_AUTHORITY_HOST behind our back:
    // the caller decides the precedence (see `CloudEndpoints::with_authority_host`).
    let client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(transport))),
        cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
        ..Default::default()
    };
    let auth_error =
        |what: &str, e: azure_core::Error| AzureError::Auth(format!("set up {what}: {e}"));

    let credential: Arc<dyn TokenCredential> = match config {
        CredentialConfig::ManagedIdentity { client_id } => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: client_id.clone().map(UserAssignedId::ClientId),
                client_options,
            }))
            .map_err(|e| auth_error("managed identity", e))?
        }
        CredentialConfig::WorkloadIdentity {
            tenant_id,
            client_id,
            token_file,
        } => WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions { client_options },
            client_id: client_id.clone(),
            tenant_id: tenant_id.clone(),
            token_file_path: token_file.clone(),
        }))
        .map_err(|e| auth_error("workload identity", e))?,
        CredentialConfig::ClientSecret {
            tenant_id,
            client_id,
            secret_source,
        } => {
            let secret = secret_source.read(credentials_directory.as_deref(), SecretKind::Line)?;
            ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                secret,
                Some(ClientSecretCredentialOptions { client_options }),
            )
            .map_err(|e| auth_error("client secret credential", e))?
        }
        CredentialConfig::ClientCertificate {
            tenant_id,
            client_id,
            certificate_source,
        } => {
            let pem = certificate_source.read(credentials_directory.as_deref(), SecretKind::Pem)?;
            let token_endpoint = format!(
                "{}/{tenant_id}/oauth2/v2.0/token",
                endpoints.authority_host.as_str().trim_end_matches('/')
            );
            let assertion =
                CertificateAssertion::from_pem(&pem, client_id, &token_endpoint, clock)?;
            ClientAssertionCredential::new(
                tenant_id.clone(),
                client_id.clone(),
                assertion,
                Some(ClientAssertionCredentialOptions { client_options }),
            )
            .map_err(|e| auth_error("client certificate credential", e))?
        }
        CredentialConfig::AzureCli { tenant_id } => {
            AzureCliCredential::new(Some(AzureCliCredentialOptions {
                tenant_id: tenant_id.clone(),
                ..Default::default()
            }))
            .map_err(|e| auth_error("Azure CLI credential", e))?
        }
    };
    Ok(credential)
}

/// A token cache for `config` that rebuilds the credential whenever ARM rejects a token, so
/// neither our cache nor azure_identity's can keep handing out a dead one.
pub fn token_cache(
    config: &CredentialConfig,
    endpoints: &CloudEndpoints,
    http: &reqwest::Client,
    clock: SharedClock,
) -> Result<TokenCache, AzureError> {
    let (config, endpoints, http) = (config.clone(), endpoints.clone(), http.clone());
    let credential_clock = clock.clone();
    let about = config.about();
    Ok(TokenCache::rebuildable(
        move || credential(&config, &endpoints, &http, credential_clock.clone()),
        clock,
    )?
    .about(about))
}

#[cfg(test)]
#[path = "credentials_tests.rs"]
mod tests;
