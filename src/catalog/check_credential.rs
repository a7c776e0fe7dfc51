//! Raw `[azure.credential]` → how the service authenticates. Only references to secrets are
//! accepted; a secret value in the catalog is an error.

use std::ops::Range;
use std::path::PathBuf;

use super::check_settings::{guid, required};
use super::error::Problems;
use super::raw::{RawCredential, S, Str};
use crate::azure::{CredentialConfig, SecretSource};

const SECRET_HINT: &str = "secrets never go in the catalog: put the secret in a file readable only by the service and set `secret_file`, or name a systemd credential with `credential`";

pub(super) fn check_credential(
    p: &mut Problems,
    raw: Option<&S<RawCredential>>,
) -> Option<CredentialConfig> {
    let Some(raw) = raw else {
        return Some(CredentialConfig::default());
    };
    let cred = raw.get_ref();
    for (key, value) in [
        ("secret", &cred.secret),
        ("client_secret", &cred.client_secret),
        ("password", &cred.password),
    ] {
        if let Some(value) = value {
            p.hint(
                value.span(),
                format!("`{key}` must not be in the catalog"),
                SECRET_HINT,
            );
        }
    }
    let kind = cred
        .kind
        .as_ref()
        .map_or("managed_identity", |k| k.get_ref().as_str());
    let allowed: &[&str] = match kind {
        "managed_identity" => &["client_id"],
        "workload_identity" => &["tenant_id", "client_id", "token_file"],
        "client_secret" => &["tenant_id", "client_id", "secret_file", "credential"],
        "client_certificate" => &["tenant_id", "client_id", "certificate_file", "credential"],
        "azure_cli" => &[],
        other => {
            let span = cred.kind.as_ref().map_or(raw.span(), |k| k.span());
            p.hint(span, format!("unknown credential kind `{other}`"), "use \"managed_identity\", \"workload_identity\", \"client_secret\", \"client_certificate\" or \"azure_cli\"");
            return None;
        }
    };
    let fields = [
        ("tenant_id", &cred.tenant_id),
        ("client_id", &cred.client_id),
        ("token_file", &cred.token_file),
        ("secret_file", &cred.secret_file),
        ("certificate_file", &cred.certificate_file),
        ("credential", &cred.credential),
    ];
    for (name, value) in fields {
        if let Some(value) = value.as_ref().filter(|_| !allowed.contains(&name)) {
            let takes = if allowed.is_empty() {
                "nothing else".to_owned()
            } else {
                allowed.join(", ")
            };
            p.hint(
                value.span(),
                format!("`{name}` is not valid for a {kind} credential"),
                format!("a {kind} credential takes: {takes}"),
            );
        }
    }
    let table = raw.span();
    let tenant_client = |p: &mut Problems| {
        let tenant = required(
            p,
            &cred.tenant_id,
            table.clone(),
            "tenant_id",
            "the Entra tenant GUID",
        )
        .and_then(|t| guid(p, t, "tenant_id"));
        let client = required(
            p,
            &cred.client_id,
            table.clone(),
            "client_id",
            "the application (client) GUID",
        )
        .and_then(|c| guid(p, c, "client_id"));
        Some((tenant?, client?))
    };
    let path = |field: &Str| field.as_ref().map(|f| PathBuf::from(f.get_ref()));
    match kind {
        "managed_identity" => {
            let client_id = match &cred.client_id {
                Some(id) => Some(guid(p, id, "client_id")?),
                None => None,
            };
            Some(CredentialConfig::ManagedIdentity { client_id })
        }
        "workload_identity" => {
            let (tenant_id, client_id) = tenant_client(p)?;
            Some(CredentialConfig::WorkloadIdentity {
                tenant_id: Some(tenant_id),
                client_id: Some(client_id),
                token_file: path(&cred.token_file),
            })
        }
        "client_secret" => {
            let ids = tenant_client(p);
            let secret = secret_source(
                p,
                &cred.secret_file,
                &cred.credential,
                table.clone(),
                "secret_file",
            );
            let (tenant_id, client_id) = ids?;
            Some(CredentialConfig::ClientSecret {
                tenant_id,
                client_id,
                secret_source: secret?,
            })
        }
        "client_certificate" => {
            let ids = tenant_client(p);
            let certificate = secret_source(
                p,
                &cred.certificate_file,
                &cred.credential,
                table.clone(),
                "certificate_file",
            );
            let (tenant_id, client_id) = ids?;
            Some(CredentialConfig::ClientCertificate {
                tenant_id,
                client_id,
                certificate_source: certificate?,
            })
        }
        _ => Some(CredentialConfig::AzureCli { tenant_id: None }),
    }
}

pub(super) fn secret_source(
    p: &mut Problems,
    file: &Str,
    credential: &Str,
    table: Range<usize>,
    file_key: &str,
) -> Option<SecretSource> {
    match (file, credential) {
        (Some(file), None) => Some(SecretSource::File(PathBuf::from(file.get_ref()))),
        (None, Some(name)) => {
            let name_ok = !name.get_ref().is_empty()
                && !name.get_ref().contains(['/', '\0'])
                && name.get_ref() != "."
                && name.get_ref() != "..";
            if name_ok {
                Some(SecretSource::SystemdCredential(name.get_ref().clone()))
            } else {
                p.hint(
                    name.span(),
                    "invalid systemd credential name",
                    "give the name used in `LoadCredential=` (no `/`)",
                );
                None
            }
        }
        (Some(_), Some(name)) => {
            p.hint(
                name.span(),
                format!("give either `{file_key}` or `credential`, not both"),
                "remove one",
            );
            None
        }
        (None, None) => {
            p.hint(
                table,
                format!("missing `{file_key}` or `credential`"),
                format!(
                    "set `{file_key}` to a file path, or `credential` to a systemd credential name"
                ),
            );
            None
        }
    }
}
