//! Service principal certificates: a signed JWT client assertion, on the rustls crypto stack.
//!
//! azure_identity's own `ClientCertificateCredential` needs its `client_certificate` feature,
//! which links OpenSSL. The protocol is small (RFC 7523 client assertion, RS256, `x5t`
//! thumbprint), so we sign with ring — already here for TLS — and hand the assertion to
//! azure_identity's `ClientAssertionCredential`, which does the token request and caching.

use std::fmt;

use azure_core::credentials::Secret;
use azure_core::http::ClientMethodOptions;
use azure_identity::ClientAssertion;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::AzureError;
use crate::clock::SharedClock;

/// How long an assertion is valid; Entra ID accepts up to ten minutes.
const LIFETIME_SECS: i64 = 600;

/// Signs client assertions with a certificate's RSA key.
pub(crate) struct CertificateAssertion {
    client_id: String,
    audience: String,
    key: RsaKeyPair,
    /// Base64url SHA-1 thumbprint of the certificate (the JWT `x5t` header).
    x5t: String,
    clock: SharedClock,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("x5t", &self.x5t)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    /// `pem` holds the RSA private key (PKCS#8 or PKCS#1) and the certificate, leaf first.
    /// `token_endpoint` is the audience Entra ID expects in the assertion.
    pub(crate) fn from_pem(
        pem: &Secret,
        client_id: &str,
        token_endpoint: &str,
        clock: SharedClock,
    ) -> Result<Self, AzureError> {
        let bytes = pem.secret().as_bytes();
        let invalid = |what: &str| AzureError::Auth(format!("read client certificate: {what}"));
        let key = match PrivateKeyDer::from_pem_slice(bytes)
            .map_err(|_| invalid("no private key in the PEM file"))?
        {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err(invalid("the private key is not an RSA key")),
        }
        .map_err(|e| invalid(&format!("the RSA private key is unusable ({e})")))?;
        let certificate = CertificateDer::pem_slice_iter(bytes)
            .next()
            .ok_or_else(|| invalid("no certificate in the PEM file"))?
            .map_err(|_| invalid("the certificate is not valid PEM"))?;
        let thumbprint = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, certificate.as_ref());
        Ok(Self {
            client_id: client_id.to_owned(),
            audience: token_endpoint.to_owned(),
            key,
            x5t: URL_SAFE_NO_PAD.encode(thumbprint.as_ref()),
            clock,
        })
    }

    fn assertion(&self) -> Result<String, AzureError> {
        let now = self.clock.now().timestamp();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t});
        let claims = serde_json::json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_SECS,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| AzureError::Auth("sign the client assertion".to_owned()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.assertion().map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::{DateTime, Utc};
    use ring::signature::{KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use std::sync::Arc;

    const PEM: &str = include_str!("testdata/client-certificate.pem");
    /// `openssl x509 -outform DER | openssl dgst -sha1 -binary | base64url` of the fixture.
    const X5T: &str = "vNo94F4uqPYB-KA7_EgX4DRy0C8";

    fn assertion_at(now: &str) -> (CertificateAssertion, String) {
        let now = DateTime::parse_from_rfc3339(now)
            .unwrap()
            .with_timezone(&Utc);
        let signer = CertificateAssertion::from_pem(
            &Secret::new(PEM.to_owned()),
            "app-id",
            "https://login.example/tenant/oauth2/v2.0/token",
            Arc::new(ManualClock::new(now)),
        )
        .unwrap();
        let jwt = signer.assertion().unwrap();
        (signer, jwt)
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn assertion_is_a_signed_jwt_for_the_token_endpoint() {
        let (signer, jwt) = assertion_at("2026-11-10T06:00:00Z");
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], X5T);
        let claims = decode(parts[1]);
        assert_eq!(
            claims["aud"],
            "https://login.example/tenant/oauth2/v2.0/token"
        );
        assert_eq!(claims["iss"], "app-id");
        assert_eq!(claims["sub"], "app-id");
        let now = 1_794_290_400; // 2026-11-10T06:00:00Z
        assert_eq!(claims["nbf"], now);
        assert_eq!(claims["exp"], now + LIFETIME_SECS);

        let public = UnparsedPublicKey::new(
            &RSA_PKCS1_2048_8192_SHA256,
            signer.key.public_key().as_ref().to_vec(),
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        public.verify(signed.as_bytes(), &signature).unwrap();
        // A tampered claim set no longer verifies.
        let forged = format!(
            "{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(b"{\"aud\":\"x\"}")
        );
        assert!(public.verify(forged.as_bytes(), &signature).is_err());
    }

    #[test]
    fn each_assertion_has_a_fresh_id() {
        let (signer, first) = assertion_at("2026-11-10T06:00:00Z");
        let second = signer.assertion().unwrap();
        let jti = |jwt: &str| decode(jwt.split('.').nth(1).unwrap())["jti"].clone();
        assert_ne!(jti(&first), jti(&second));
    }

    #[test]
    fn pem_without_key_or_certificate_is_rejected_without_echoing_it() {
        let start = DateTime::parse_from_rfc3339("2026-11-10T06:00:00Z").unwrap();
        let clock: SharedClock = Arc::new(ManualClock::new(start.with_timezone(&Utc)));
        let cert_only: String = PEM
            .split_inclusive('\n')
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .collect();
        let err =
            CertificateAssertion::from_pem(&Secret::new(cert_only), "a", "aud", clock.clone())
                .unwrap_err();
        assert!(err.to_string().contains("no private key"), "{err}");
        let key_only: String = PEM
            .split_inclusive('\n')
            .take_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .collect();
        let err = CertificateAssertion::from_pem(&Secret::new(key_only.clone()), "a", "aud", clock)
            .unwrap_err();
        assert!(err.to_string().contains("no certificate"), "{err}");
        assert!(!err.to_string().contains("PRIVATE KEY"));
    }
}
