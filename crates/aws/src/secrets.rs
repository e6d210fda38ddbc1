//! Secrets read once at cold start (the approval links' HMAC key): the `SecretSource` port and its
//! adapter over Secrets Manager (GetSecretValue), the store the stack deploys the key in
//! (template.yaml `ApprovalSecret`, with rotation). The value is never logged.
//!
//! Only Secrets Manager: the roles grant `secretsmanager:GetSecretValue` on that one secret, and a
//! second store the template never configures would be a code path no deployment reaches and no
//! policy allows (tests/infra/test_iac_actions.py compares the calls with the grants).

use crate::error::{AwsError, ErrorKind, Result};
use aws_config::SdkConfig;
use std::fmt;
use std::future::Future;
use tracing::instrument;

/// Where a secret lives: a Secrets Manager secret, by ARN or name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLocation {
    SecretsManager(String),
}

impl SecretLocation {
    /// `arn:aws:secretsmanager:…` or a bare secret name.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let bad =
            |why: &str| Err(format!("invalid secret location {:?}: {why}", s.chars().take(120).collect::<String>()));
        if s.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("expected a Secrets Manager secret ARN or name");
        }
        if let Some(rest) = s.strip_prefix("arn:") {
            let service = rest.split(':').nth(1).unwrap_or_default();
            return match service {
                "secretsmanager" => Ok(Self::SecretsManager(s.to_owned())),
                _ => bad("an ARN must be of a Secrets Manager secret"),
            };
        }
        if s.starts_with('/') || s.starts_with("ssm:") {
            return bad("SSM parameters are not supported: the key lives in Secrets Manager (ApprovalSecret)");
        }
        Ok(Self::SecretsManager(s.to_owned()))
    }
}

impl fmt::Display for SecretLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager(id) => write!(f, "Secrets Manager secret {id}"),
        }
    }
}

/// A secret's text. Its `Debug` is redacted; `expose` is for the one place that uses it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

/// Reading secrets.
pub trait SecretSource: Send + Sync {
    fn read_secret(&self, location: &SecretLocation) -> impl Future<Output = Result<SecretString>> + Send;
}

/// Secrets Manager.
#[derive(Clone, Debug)]
pub struct AwsSecrets {
    secrets_manager: aws_sdk_secretsmanager::Client,
}

impl AwsSecrets {
    pub fn new(secrets_manager: aws_sdk_secretsmanager::Client) -> Self {
        Self { secrets_manager }
    }

    /// The client from the shared SDK configuration (building a client makes no call).
    pub fn from_conf(sdk: &SdkConfig) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(sdk))
    }
}

impl SecretSource for AwsSecrets {
    #[instrument(skip(self), fields(location = %location))]
    async fn read_secret(&self, location: &SecretLocation) -> Result<SecretString> {
        let SecretLocation::SecretsManager(id) = location;
        let out = self
            .secrets_manager
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetSecretValue", e))?;
        match out.secret_string() {
            Some(s) if !s.is_empty() => Ok(SecretString::new(s)),
            _ => Err(AwsError::new(
                "GetSecretValue",
                ErrorKind::Invalid,
                format!("{location} has no SecretString (binary secrets are not supported)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const SM_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:msk-autoheal-approval-AbCdEf";
    const PARAM_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/msk-autoheal/approval-key";

    #[test]
    fn locations() {
        assert_eq!(SecretLocation::parse(SM_ARN), Ok(SecretLocation::SecretsManager(SM_ARN.into())));
        assert_eq!(SecretLocation::parse("my-secret"), Ok(SecretLocation::SecretsManager("my-secret".into())));
        for bad in ["", "a b", "arn:aws:s3:::bucket", PARAM_ARN, "/msk/key", "ssm:key"] {
            assert!(SecretLocation::parse(bad).is_err(), "{bad:?}");
        }
        assert!(SecretLocation::parse("/msk/key").unwrap_err().contains("Secrets Manager"));
    }

    #[test]
    fn values_are_never_printed() {
        assert_eq!(format!("{:?}", SecretString::new("hunter2")), "SecretString(<redacted>)");
    }

    fn secrets(sm: &[&aws_smithy_mocks::Rule]) -> AwsSecrets {
        AwsSecrets::new(mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, sm))
    }

    #[tokio::test]
    async fn reads_the_named_secret() {
        let sm = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some(SM_ARN))
            .then_output(|| GetSecretValueOutput::builder().secret_string("from-secrets-manager").build());
        let s = secrets(&[&sm]);
        let v = s.read_secret(&SecretLocation::parse(SM_ARN).unwrap()).await.unwrap();
        assert_eq!(v.expose(), "from-secrets-manager");
        assert_eq!(sm.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_binary_or_empty_secret_is_an_error() {
        let sm = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().build());
        let s = secrets(&[&sm]);
        let e = s.read_secret(&SecretLocation::parse(SM_ARN).unwrap()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.to_string().contains("binary secrets are not supported"), "{e}");
    }
}
