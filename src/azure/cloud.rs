//! Which Azure cloud to talk to: the ARM endpoint, the Entra ID authority and the token audience.

use std::net::IpAddr;

use reqwest::Url;

use super::AzureError;

/// Environment variable that overrides the authority host, as in every Azure SDK.
pub const AUTHORITY_HOST_ENV: &str = "AZURE_AUTHORITY_HOST";

/// Endpoints of one Azure cloud.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudEndpoints {
    /// Base URL of Azure Resource Manager, e.g. `https://management.azure.com/`.
    pub resource_manager: Url,
    /// Entra ID authority host, e.g. `https://login.microsoftonline.com/`.
    pub authority_host: Url,
    /// Audience of ARM tokens; the scope requested is `{audience}/.default`.
    pub audience: String,
    /// Where storage accounts' blobs are, for AIB's customization.log; `None`
    /// when a custom cloud does not say (logs are then only linked, not read).
    pub blob: Option<BlobEndpoint>,
}

/// The blob service of a cloud's storage accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobEndpoint {
    /// Accounts are host names under this suffix, over https:
    /// `{account}.blob.core.windows.net`.
    HostSuffix(&'static str),
    /// Accounts are the first path segment under this base URL (Azure Stack
    /// Hub's path-style endpoints, Azurite, a local emulator).
    PathStyle(Url),
}

/// The audience of Azure Storage tokens; the same in every cloud.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

impl CloudEndpoints {
    pub fn public() -> Self {
        Self::known(
            "https://management.azure.com/",
            "https://login.microsoftonline.com/",
            "https://management.azure.com",
            ".blob.core.windows.net",
        )
    }

    pub fn usgov() -> Self {
        Self::known(
            "https://management.usgovcloudapi.net/",
            "https://login.microsoftonline.us/",
            "https://management.usgovcloudapi.net",
            ".blob.core.usgovcloudapi.net",
        )
    }

    pub fn china() -> Self {
        Self::known(
            "https://management.chinacloudapi.cn/",
            "https://login.chinacloudapi.cn/",
            "https://management.chinacloudapi.cn",
            ".blob.core.chinacloudapi.cn",
        )
    }

    /// Whether a storage token may be sent to `url`: only to this cloud's blob
    /// service, whatever a run's message says the log's address is.
    pub fn check_blob_url(&self, url: &Url) -> Result<(), String> {
        let Some(blob) = &self.blob else {
            return Err("this cloud has no blob endpoint configured ([azure] blob_url)".into());
        };
        let ok = match blob {
            BlobEndpoint::HostSuffix(suffix) => {
                url.scheme() == "https"
                    && url.port().is_none()
                    && url.host_str().is_some_and(|host| {
                        host.strip_suffix(suffix)
                            .is_some_and(|account| !account.is_empty() && !account.contains('.'))
                    })
            }
            BlobEndpoint::PathStyle(base) => {
                url.origin() == base.origin() && url.path().starts_with(base.path())
            }
        };
        if ok {
            Ok(())
        } else {
            Err(format!("{url} is not on this cloud's blob service"))
        }
    }

    /// Custom endpoints (Azure Stack, sovereign clouds not listed above, a local emulator).
    ///
    /// Without an explicit `audience` the ARM URL (without trailing slash) is used, which is
    /// what ARM accepts for every public cloud.
    pub fn custom(
        resource_manager: &str,
        authority_host: &str,
        audience: Option<&str>,
    ) -> Result<Self, AzureError> {
        let resource_manager = parse_secure_url(resource_manager)?;
        let authority_host = parse_secure_url(authority_host)?;
        let audience = match audience {
            Some(a) => a.to_owned(),
            None => resource_manager.as_str().trim_end_matches('/').to_owned(),
        };
        Ok(Self {
            resource_manager,
            authority_host,
            audience,
            blob: None,
        })
    }

    /// Replaces the authority host, e.g. with the value of [`AUTHORITY_HOST_ENV`].
    pub fn with_authority_host(mut self, authority_host: &str) -> Result<Self, AzureError> {
        self.authority_host = parse_secure_url(authority_host)?;
        Ok(self)
    }

    /// The OAuth scope for ARM tokens.
    pub fn arm_scope(&self) -> String {
        format!("{}/.default", self.audience.trim_end_matches('/'))
    }

    fn known(
        resource_manager: &str,
        authority_host: &str,
        audience: &str,
        blob_suffix: &'static str,
    ) -> Self {
        // Proven invariant: the literals above are valid https URLs (unit-tested).
        #[allow(clippy::expect_used)]
        let parse = |s: &str| Url::parse(s).expect("built-in cloud URL is valid");
        Self {
            resource_manager: parse(resource_manager),
            authority_host: parse(authority_host),
            audience: audience.to_owned(),
            blob: Some(BlobEndpoint::HostSuffix(blob_suffix)),
        }
    }
}

/// Parses an endpoint URL and insists on HTTPS unless the host is a loopback address.
pub fn parse_secure_url(raw: &str) -> Result<Url, AzureError> {
    let invalid = |reason: String| AzureError::InvalidEndpoint {
        url: raw.to_owned(),
        reason,
    };
    let mut url = Url::parse(raw).map_err(|e| invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed for literal loopback addresses (127.0.0.0/8, ::1); use https"
                    .to_owned(),
            ));
        }
        other => return Err(invalid(format!("unsupported scheme {other:?}"))),
    }
    if url.host().is_none() {
        return Err(invalid("the URL has no host".to_owned()));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("an endpoint takes no query or fragment".to_owned()));
    }
    // A base URL without trailing slash would lose its last segment in `Url::join`.
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// True when the URL's host is a literal loopback address, where plain http cannot
/// leave the machine. Not `localhost` by name: what a name resolves to is up to
/// `/etc/hosts` and the resolver, and plain http would carry the token wherever.
pub fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let unbracketed = host.trim_start_matches('[').trim_end_matches(']');
    unbracketed
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_clouds_are_https_and_scoped() {
        for cloud in [
            CloudEndpoints::public(),
            CloudEndpoints::usgov(),
            CloudEndpoints::china(),
        ] {
            assert_eq!(cloud.resource_manager.scheme(), "https");
            assert_eq!(cloud.authority_host.scheme(), "https");
            assert!(cloud.arm_scope().ends_with("/.default"));
        }
        assert_eq!(
            CloudEndpoints::usgov().arm_scope(),
            "https://management.usgovcloudapi.net/.default"
        );
    }

    #[test]
    fn storage_tokens_go_only_to_the_clouds_blob_service() {
        let public = CloudEndpoints::public();
        let url = |s: &str| Url::parse(s).unwrap();
        let ok = "https://abc123.blob.core.windows.net/packerlogs/1/customization.log";
        assert_eq!(public.check_blob_url(&url(ok)), Ok(()));
        for bad in [
            "http://abc123.blob.core.windows.net/packerlogs/1/customization.log",
            "https://abc123.blob.core.windows.net.evil.com/x",
            "https://evil.com/abc123.blob.core.windows.net/x",
            "https://a.b.blob.core.windows.net/x",
            "https://blob.core.windows.net/x",
            "https://abc.blob.core.windows.net:8443/x",
            "https://abc.blob.core.usgovcloudapi.net/x",
        ] {
            assert!(public.check_blob_url(&url(bad)).is_err(), "{bad}");
        }
        let mut local =
            CloudEndpoints::custom("http://127.0.0.1:1/", "http://127.0.0.1:1/", None).unwrap();
        assert!(
            local
                .check_blob_url(&url("http://127.0.0.1:1/blob/a/x"))
                .is_err()
        );
        local.blob = Some(BlobEndpoint::PathStyle(
            parse_secure_url("http://127.0.0.1:1/blob").unwrap(),
        ));
        assert_eq!(
            local.check_blob_url(&url("http://127.0.0.1:1/blob/a/x")),
            Ok(())
        );
        assert!(
            local
                .check_blob_url(&url("http://127.0.0.1:2/blob/a/x"))
                .is_err()
        );
        assert!(
            local
                .check_blob_url(&url("http://127.0.0.1:1/other/a/x"))
                .is_err()
        );
    }

    #[test]
    fn http_is_rejected_except_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.3.4.5/",
            "http://[::1]:9000/",
            "https://example.com",
        ] {
            assert!(parse_secure_url(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "http://example.com",
            "http://10.0.0.1:8080",
            "http://[::2]/",
            "http://localhost.evil.com/",
            "http://localhost:1234",
            "http://128.0.0.1/",
            "ftp://127.0.0.1/",
            "not a url",
        ] {
            let err = parse_secure_url(bad).unwrap_err();
            assert!(
                matches!(err, AzureError::InvalidEndpoint { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn custom_cloud_defaults_audience_and_keeps_path_prefix() {
        let c = CloudEndpoints::custom("https://arm.contoso/stack", "https://login.contoso", None)
            .unwrap();
        assert_eq!(c.audience, "https://arm.contoso/stack");
        assert_eq!(
            c.resource_manager.join("subscriptions").unwrap().as_str(),
            "https://arm.contoso/stack/subscriptions"
        );
        let err = c.with_authority_host("http://login.contoso").unwrap_err();
        assert!(err.to_string().contains("loopback"), "{err}");
    }
}
