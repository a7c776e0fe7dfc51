//! The process's one HTTP client, and its adapter for azure_identity's token requests.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use azure_core::http::headers::{HeaderName, HeaderValue, Headers};
use azure_core::http::{AsyncRawResponse, Body, HttpClient, Method, Request, StatusCode};
use reqwest::Url;

use super::{AzureError, is_loopback};

/// Timeouts of the shared HTTP client.
#[derive(Debug, Clone, Copy)]
pub struct HttpTimeouts {
    pub connect: Duration,
    /// Whole request including the body; ARM itself gives up on a request after 60 s.
    pub request: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(90),
        }
    }
}

/// Builds the HTTP client (rustls) that ARM requests and token requests share.
///
/// Proxies come from `HTTPS_PROXY`, `HTTP_PROXY` and `ALL_PROXY` (either case),
/// minus `NO_PROXY`, but never for a loopback or link-local host: the managed
/// identity endpoint (IMDS, `169.254.169.254`) speaks plain http, and a proxy
/// would see the token in clear text.
pub fn http_client(timeouts: HttpTimeouts) -> Result<reqwest::Client, AzureError> {
    install_crypto_provider();
    with_proxies(reqwest::Client::builder().no_proxy())
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        // ARM does not redirect; following one would carry the bearer token elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("image-refresh/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| AzureError::Transport {
            request: "build the HTTP client".to_owned(),
            detail: e.to_string(),
            outcome_unknown: false,
        })
}

/// Makes ring rustls' process-wide crypto provider, which reqwest (built with
/// `rustls-no-provider`) takes for every client; without one, building a client panics.
/// ring rather than reqwest's default aws-lc-rs: the same TLS for ARM, in a fraction of
/// the build time (BENCHMARKS.md, "Build times and the package").
fn install_crypto_provider() {
    // Err means a provider is installed already: the first call's, or the embedder's own.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn with_proxies(builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
    let from_env = |names: &[&str]| {
        names
            .iter()
            .find_map(|name| std::env::var(name).ok().filter(|value| !value.is_empty()))
    };
    let https = from_env(&["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]);
    let http = from_env(&["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]);
    if https.is_none() && http.is_none() {
        return builder;
    }
    let proxy = reqwest::Proxy::custom(move |url| {
        if is_local(url) {
            return None;
        }
        match url.scheme() {
            "https" => https.clone(),
            "http" => http.clone(),
            _ => None,
        }
    })
    .no_proxy(reqwest::NoProxy::from_env());
    builder.proxy(proxy)
}

/// Loopback (as [`is_loopback`] judges it, or `localhost` by name) and
/// link-local hosts: nothing a proxy should carry.
fn is_local(url: &Url) -> bool {
    is_loopback(url)
        || match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_link_local(),
            Some(url::Host::Ipv6(ip)) => (ip.segments()[0] & 0xffc0) == 0xfe80,
            Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// azure_identity's transport, backed by our reqwest client.
///
/// azure_identity insists on an https authority host, which a loopback token endpoint (a test
/// double, a local proxy) cannot offer. When the configured authority host is plain http on a
/// loopback address we hand azure_identity the https form of it and this transport sends
/// exactly those requests — same host and port — over http again. Nothing else is rewritten.
pub(crate) struct IdentityTransport {
    http: reqwest::Client,
    plain_http_authority: Option<(String, u16)>,
}

impl fmt::Debug for IdentityTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityTransport")
            .field("plain_http_authority", &self.plain_http_authority)
            .finish_non_exhaustive()
    }
}

impl IdentityTransport {
    /// Returns the transport and the authority host to give azure_identity.
    pub(crate) fn new(http: reqwest::Client, authority_host: &Url) -> (Self, Url) {
        let mut given = authority_host.clone();
        let mut plain_http_authority = None;
        if authority_host.scheme() == "http" {
            // Only loopback hosts get here (`parse_secure_url`), and http→https is always a
            // valid scheme change for a URL with a host.
            let port = authority_host.port_or_known_default().unwrap_or(80);
            if given.set_scheme("https").is_ok() && given.set_port(Some(port)).is_ok() {
                let host = given.host_str().unwrap_or_default().to_owned();
                plain_http_authority = Some((host, port));
            }
        }
        (
            Self {
                http,
                plain_http_authority,
            },
            given,
        )
    }

    fn target(&self, url: &Url) -> Url {
        let mut url = url.clone();
        if let Some((host, port)) = &self.plain_http_authority
            && url.scheme() == "https"
            && url.host_str() == Some(host.as_str())
            && url.port_or_known_default() == Some(*port)
        {
            // Both calls only fail for URLs without a host, which this one has.
            let _ = url.set_scheme("http");
            let _ = url.set_port(Some(*port));
        }
        url
    }
}

#[async_trait::async_trait]
impl HttpClient for IdentityTransport {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        use azure_core::error::{Error, ErrorKind};
        let method = match request.method() {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
            Method::Head => reqwest::Method::HEAD,
            Method::Patch => reqwest::Method::PATCH,
            other => {
                return Err(Error::with_message(
                    ErrorKind::Other,
                    format!("unsupported token request method {other:?}"),
                ));
            }
        };
        let mut builder = self.http.request(method, self.target(request.url()));
        for (name, value) in request.headers().iter() {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder = match request.body() {
            Body::Bytes(bytes) => builder.body(bytes.clone()),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(Error::with_message(
                    ErrorKind::Other,
                    "streamed request bodies are not supported for token requests",
                ));
            }
        };
        let response = builder.send().await.map_err(|e| {
            let kind = if e.is_connect() {
                ErrorKind::Connection
            } else {
                ErrorKind::Io
            };
            Error::with_error(kind, e.without_url(), "token request failed")
        })?;
        let status = StatusCode::from(response.status().as_u16());
        let headers: HashMap<HeaderName, HeaderValue> = response
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                let value = v.to_str().ok()?.to_owned();
                Some((
                    HeaderName::from(k.as_str().to_owned()),
                    HeaderValue::from(value),
                ))
            })
            .collect();
        let body = response.bytes().await.map_err(|e| {
            Error::with_error(ErrorKind::Io, e.without_url(), "token response body")
        })?;
        Ok(AsyncRawResponse::from_bytes(
            status,
            Headers::from(headers),
            body,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_loopback_authority_goes_back_to_http() {
        let http = http_client(HttpTimeouts::default()).unwrap();
        let configured = Url::parse("http://127.0.0.1:8181/").unwrap();
        let (transport, given) = IdentityTransport::new(http.clone(), &configured);
        assert_eq!(given.as_str(), "https://127.0.0.1:8181/");
        let token_url = given.join("tenant/oauth2/v2.0/token").unwrap();
        assert_eq!(
            transport.target(&token_url).as_str(),
            "http://127.0.0.1:8181/tenant/oauth2/v2.0/token"
        );
        for other in [
            "https://127.0.0.1:9999/x",
            "https://login.microsoftonline.com/x",
        ] {
            let url = Url::parse(other).unwrap();
            assert_eq!(transport.target(&url), url);
        }
    }

    #[test]
    fn default_port_survives_the_scheme_change() {
        let configured = Url::parse("http://localhost/").unwrap();
        let (transport, given) =
            IdentityTransport::new(http_client(HttpTimeouts::default()).unwrap(), &configured);
        assert_eq!(given.as_str(), "https://localhost:80/");
        assert_eq!(
            transport.target(&given.join("t").unwrap()).as_str(),
            "http://localhost/t"
        );
    }

    #[test]
    fn https_authority_is_left_alone() {
        let configured = Url::parse("https://login.microsoftonline.us/").unwrap();
        let (transport, given) =
            IdentityTransport::new(http_client(HttpTimeouts::default()).unwrap(), &configured);
        assert_eq!(given, configured);
        assert!(transport.plain_http_authority.is_none());
    }
}
