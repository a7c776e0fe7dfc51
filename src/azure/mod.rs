//! The Azure client: credentials, ARM requests (retry, rate limits, long-running operations)
//! and the typed operations the daemon needs.
//!
//! This module knows nothing about the catalog; the caller turns configuration into
//! [`CloudEndpoints`] and [`CredentialConfig`].

pub mod api_versions;
pub mod arm;
mod certificate;
mod cloud;
mod credentials;
mod error;
pub mod gallery;
pub mod gallery_latest;
mod http;
pub mod image_templates;
pub mod lro;
pub mod managed_images;
pub mod marketplace;
pub mod resources;
mod token_cache;
pub mod version;

pub use arm::{Answer, ArmClient, ArmClientOptions, ArmResponse, RequestObserver, ResourcePath};
pub use cloud::{
    AUTHORITY_HOST_ENV, BlobEndpoint, CloudEndpoints, STORAGE_SCOPE, is_loopback, parse_secure_url,
};
pub use credentials::{
    CREDENTIALS_DIRECTORY_ENV, CredentialConfig, MAX_SECRET_FILE, SecretKind, SecretSource,
    credential, token_cache,
};
pub use error::AzureError;
pub use http::{HttpTimeouts, http_client};
pub use lro::{LroPoller, LroState, PollKind};
pub use token_cache::{CredentialAbout, REFRESH_MARGIN, TokenCache};
