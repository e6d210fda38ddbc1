//! MSK IAM authentication: the SASL/OAUTHBEARER token is a SigV4-presigned
//! `GET https://kafka.<region>.amazonaws.com/?Action=kafka-cluster:Connect` URL, base64url-encoded
//! (the scheme of AWS's aws-msk-iam-sasl-signer). Done here with `aws-sigv4` and the workspace's
//! rustls+ring SDK config rather than that crate, which would pull aws-lc (a second C crypto
//! library) into the workspace build.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine;
use base64::prelude::BASE64_URL_SAFE_NO_PAD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// MSK accepts tokens for up to 15 minutes; librdkafka refreshes at 80% of the lifetime.
const TOKEN_LIFETIME: Duration = Duration::from_secs(900);
/// Getting credentials (IMDS, STS) must not stall librdkafka's refresh for long.
const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(10);

/// application/x-www-form-urlencoded, as the reference signer writes its query.
const FORM: &AsciiSet = &NON_ALPHANUMERIC.remove(b'*').remove(b'-').remove(b'.').remove(b'_');

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("no AWS credentials found (instance profile, environment or profile)")]
    NoCredentialsProvider,
    #[error("could not get AWS credentials: {0}")]
    Credentials(String),
    #[error("could not sign the MSK IAM token: {0}")]
    Signing(String),
}

/// Produces OAUTHBEARER tokens on demand; owns a small runtime for the credential chain.
pub struct IamTokenSource {
    region: String,
    credentials: SharedCredentialsProvider,
    runtime: tokio::runtime::Runtime,
}

impl IamTokenSource {
    /// Loads the default credential chain once (environment, profile, web identity, IMDS).
    pub fn new(region: &str) -> Result<Self, IamError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| IamError::Credentials(e.to_string()))?;
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let config = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(region.to_owned()))
                .http_client(http)
                .load(),
        );
        let credentials = config.credentials_provider().ok_or(IamError::NoCredentialsProvider)?;
        Ok(Self { region: region.to_owned(), credentials, runtime })
    }

    /// A fresh token and its expiry in ms since the epoch.
    pub fn token(&self) -> Result<(String, i64), IamError> {
        let creds = self
            .runtime
            .block_on(async { tokio::time::timeout(CREDENTIALS_TIMEOUT, self.credentials.provide_credentials()).await })
            .map_err(|_| IamError::Credentials("timed out".into()))?
            .map_err(|e| IamError::Credentials(e.to_string()))?;
        sign_token(&self.region, creds, SystemTime::now())
    }
}

/// Signs the connect URL for `region` at `now`; returns the base64url token and its expiry (ms).
pub fn sign_token(region: &str, creds: Credentials, now: SystemTime) -> Result<(String, i64), IamError> {
    let base = format!("https://kafka.{region}.amazonaws.com/?Action=kafka-cluster%3AConnect");
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(TOKEN_LIFETIME);
    let identity = creds.into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("kafka-cluster")
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| IamError::Signing(e.to_string()))?;
    let request = SignableRequest::new("GET", &base, std::iter::empty(), SignableBody::Bytes(&[]))
        .map_err(|e| IamError::Signing(e.to_string()))?;
    let (instructions, _signature) =
        sign(request, &params.into()).map_err(|e| IamError::Signing(e.to_string()))?.into_parts();
    let mut url = base;
    for (name, value) in instructions.params() {
        url.push('&');
        url.extend(utf8_percent_encode(name, FORM));
        url.push('=');
        url.extend(utf8_percent_encode(value, FORM));
    }
    url.push_str("&User-Agent=");
    url.extend(utf8_percent_encode(concat!("msk-autoheal-stress-producer/", env!("CARGO_PKG_VERSION")), FORM));
    // Expiry from the signing time truncated to the second, as X-Amz-Date carries it.
    let signed_s = now.duration_since(UNIX_EPOCH).map_err(|e| IamError::Signing(e.to_string()))?.as_secs();
    let expiry_ms = ((signed_s + TOKEN_LIFETIME.as_secs()) * 1000) as i64;
    Ok((BASE64_URL_SAFE_NO_PAD.encode(url.as_bytes()), expiry_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(token: &str) -> String {
        String::from_utf8(BASE64_URL_SAFE_NO_PAD.decode(token).unwrap()).unwrap()
    }

    fn query(url: &str) -> Vec<(String, String)> {
        let q = url.split_once('?').unwrap().1;
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                let dec = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8().unwrap().into_owned();
                (dec(k), dec(v))
            })
            .collect()
    }

    #[test]
    fn token_is_a_presigned_connect_url() {
        let creds = Credentials::new("AKIDEXAMPLE", "secret", Some("sess/ion+token=".into()), None, "test");
        let now = UNIX_EPOCH + Duration::from_secs(1_764_093_600); // 2025-11-25T18:00:00Z
        let (token, expiry) = sign_token("us-east-1", creds, now).unwrap();
        assert!(!token.contains(['+', '/', '=']), "base64url without padding");
        let url = decode(&token);
        assert!(url.starts_with("https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect&"), "{url}");
        let q = query(&url);
        let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
        assert_eq!(get("Action"), "kafka-cluster:Connect");
        assert_eq!(get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
        assert_eq!(get("X-Amz-Credential"), "AKIDEXAMPLE/20251125/us-east-1/kafka-cluster/aws4_request");
        assert_eq!(get("X-Amz-Date"), "20251125T180000Z");
        assert_eq!(get("X-Amz-Expires"), "900");
        assert_eq!(get("X-Amz-SignedHeaders"), "host");
        assert_eq!(get("X-Amz-Security-Token"), "sess/ion+token=", "session token survives encoding");
        assert_eq!(get("X-Amz-Signature").len(), 64);
        assert!(get("User-Agent").starts_with("msk-autoheal-stress-producer/"));
        assert_eq!(expiry, (1_764_093_600 + 900) * 1000);
        // Nothing secret in the token: the secret key only shapes the signature.
        assert!(!url.contains("secret"));
    }

    #[test]
    fn signature_depends_on_key_region_and_time() {
        let now = UNIX_EPOCH + Duration::from_secs(1_764_093_600);
        let sig = |key: &str, region: &str, t: SystemTime| {
            let creds = Credentials::new("AKID", key, None, None, "test");
            let (tok, _) = sign_token(region, creds, t).unwrap();
            query(&decode(&tok)).into_iter().find(|(k, _)| k == "X-Amz-Signature").unwrap().1
        };
        let a = sig("k1", "us-east-1", now);
        assert_eq!(a, sig("k1", "us-east-1", now), "deterministic");
        assert_ne!(a, sig("k2", "us-east-1", now));
        assert_ne!(a, sig("k1", "eu-west-1", now));
        assert_ne!(a, sig("k1", "us-east-1", now + Duration::from_secs(1)));
    }
}
