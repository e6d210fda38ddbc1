//! Secrets read once at cold start (the approval links' HMAC key): the `SecretSource` port and its
//! adapter over Secrets Manager (GetSecretValue) and SSM Parameter Store (GetParameter, decrypted).
//! Which store is used follows from the ARN or name configured; the value is never logged.

use crate::error::{AwsError, ErrorKind, Result};
use aws_config::SdkConfig;
use std::fmt;
use std::future::Future;
use tracing::instrument;

/// Where a secret lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLocation {
    /// A Secrets Manager secret: its ARN or name.
    SecretsManager(String),
    /// An SSM parameter (a SecureString, usually): its ARN or `/path/name`.
    Parameter(String),
}

impl SecretLocation {
    /// `arn:aws:secretsmanager:…` or a bare secret name → Secrets Manager;
    /// `arn:aws:ssm:…:parameter/…`, `/a/path` or `ssm:name` → Parameter Store.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        let bad =
            |why: &str| Err(format!("invalid secret location {:?}: {why}", s.chars().take(120).collect::<String>()));
        if s.is_empty() || s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("expected a Secrets Manager ARN or name, or an SSM parameter ARN, /path or ssm:name");
        }
        if let Some(rest) = s.strip_prefix("arn:") {
            let service = rest.split(':').nth(1).unwrap_or_default();
            return match service {
                "secretsmanager" => Ok(Self::SecretsManager(s.to_owned())),
                "ssm" if s.contains(":parameter/") => Ok(Self::Parameter(s.to_owned())),
                _ => bad("an ARN must be of a Secrets Manager secret or an SSM parameter"),
            };
        }
        if let Some(name) = s.strip_prefix("ssm:") {
            return if name.is_empty() {
                bad("no parameter name after ssm:")
            } else {
                Ok(Self::Parameter(name.to_owned()))
            };
        }
        if s.starts_with('/') {
            return Ok(Self::Parameter(s.to_owned()));
        }
        Ok(Self::SecretsManager(s.to_owned()))
    }
}

impl fmt::Display for SecretLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SecretsManager(id) => write!(f, "Secrets Manager secret {id}"),
            Self::Parameter(name) => write!(f, "SSM parameter {name}"),
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

/// Secrets Manager and Parameter Store, whichever the location names.
#[derive(Clone, Debug)]
pub struct AwsSecrets {
    secrets_manager: aws_sdk_secretsmanager::Client,
    parameters: aws_sdk_ssm::Client,
}

impl AwsSecrets {
    pub fn new(secrets_manager: aws_sdk_secretsmanager::Client, parameters: aws_sdk_ssm::Client) -> Self {
        Self { secrets_manager, parameters }
    }

    /// Both clients from the shared SDK configuration (building a client makes no call).
    pub fn from_conf(sdk: &SdkConfig) -> Self {
        Self::new(aws_sdk_secretsmanager::Client::new(sdk), aws_sdk_ssm::Client::new(sdk))
    }
}

impl SecretSource for AwsSecrets {
    #[instrument(skip(self), fields(location = %location))]
    async fn read_secret(&self, location: &SecretLocation) -> Result<SecretString> {
        match location {
            SecretLocation::SecretsManager(id) => {
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
            SecretLocation::Parameter(name) => {
                let out = self
                    .parameters
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetParameter", e))?;
                match out.parameter().and_then(|p| p.value()) {
                    Some(v) if !v.is_empty() => Ok(SecretString::new(v)),
                    _ => Err(AwsError::new("GetParameter", ErrorKind::Invalid, format!("{location} has no value"))),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_sdk_ssm::operation::get_parameter::GetParameterOutput;
    use aws_sdk_ssm::types::Parameter;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    const SM_ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:msk-autoheal-approval-AbCdEf";
    const PARAM_ARN: &str = "arn:aws:ssm:us-east-1:123456789012:parameter/msk-autoheal/approval-key";

    #[test]
    fn locations() {
        assert_eq!(SecretLocation::parse(SM_ARN), Ok(SecretLocation::SecretsManager(SM_ARN.into())));
        assert_eq!(SecretLocation::parse("my-secret"), Ok(SecretLocation::SecretsManager("my-secret".into())));
        assert_eq!(SecretLocation::parse(PARAM_ARN), Ok(SecretLocation::Parameter(PARAM_ARN.into())));
        assert_eq!(SecretLocation::parse("/msk/key"), Ok(SecretLocation::Parameter("/msk/key".into())));
        assert_eq!(SecretLocation::parse("ssm:key"), Ok(SecretLocation::Parameter("key".into())));
        for bad in ["", "a b", "arn:aws:s3:::bucket", "arn:aws:ssm:us-east-1:1:document/x", "ssm:"] {
            assert!(SecretLocation::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn values_are_never_printed() {
        assert_eq!(format!("{:?}", SecretString::new("hunter2")), "SecretString(<redacted>)");
    }

    fn secrets(sm: &[&aws_smithy_mocks::Rule], ssm: &[&aws_smithy_mocks::Rule]) -> AwsSecrets {
        AwsSecrets::new(
            mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, sm),
            mock_client!(aws_sdk_ssm, RuleMode::MatchAny, ssm),
        )
    }

    #[tokio::test]
    async fn reads_from_the_store_the_location_names() {
        let sm = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some(SM_ARN))
            .then_output(|| GetSecretValueOutput::builder().secret_string("from-secrets-manager").build());
        let ssm = mock!(aws_sdk_ssm::Client::get_parameter)
            .match_requests(|r| r.name() == Some(PARAM_ARN) && r.with_decryption() == Some(true))
            .then_output(|| {
                GetParameterOutput::builder()
                    .parameter(Parameter::builder().value("from-parameter-store").build())
                    .build()
            });
        let s = secrets(&[&sm], &[&ssm]);
        let v = s.read_secret(&SecretLocation::parse(SM_ARN).unwrap()).await.unwrap();
        assert_eq!(v.expose(), "from-secrets-manager");
        let v = s.read_secret(&SecretLocation::parse(PARAM_ARN).unwrap()).await.unwrap();
        assert_eq!(v.expose(), "from-parameter-store");
        assert_eq!(sm.num_calls(), 1);
        assert_eq!(ssm.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_binary_or_empty_secret_is_an_error() {
        let sm = mock!(aws_sdk_secretsmanager::Client::get_secret_value)
            .then_output(|| GetSecretValueOutput::builder().build());
        let ssm = mock!(aws_sdk_ssm::Client::get_parameter).then_output(|| GetParameterOutput::builder().build());
        let s = secrets(&[&sm], &[&ssm]);
        let e = s.read_secret(&SecretLocation::parse(SM_ARN).unwrap()).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Invalid);
        assert!(e.to_string().contains("binary secrets are not supported"), "{e}");
        let e = s.read_secret(&SecretLocation::parse("/x").unwrap()).await.unwrap_err();
        assert!(e.to_string().contains("SSM parameter /x has no value"), "{e}");
    }
}
