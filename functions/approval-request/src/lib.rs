//! The approval-request Lambda's configuration, read once at cold start (variables in
//! docs/ARCHITECTURE.md).

use autoheal_app::approval::RequestConfig;
use autoheal_aws::secrets::SecretLocation;
use autoheal_domain::approval::BaseUrl;
use autoheal_domain::kafka_cli::Throttle;
use autoheal_lambda::env::{ConfigError, Source, parsed_or, required};

#[derive(Debug, Clone)]
pub struct Config {
    /// The approval topic: approvers only, never the notification topic (the links are bearer).
    pub approval_topic_arn: String,
    pub secret: SecretLocation,
    pub request: RequestConfig,
}

impl Config {
    pub fn from_env(src: &impl Source) -> Result<Self, ConfigError> {
        let invalid = |name: &'static str, value: String, reason: String| ConfigError::Invalid { name, value, reason };
        let secret = required(src, "APPROVAL_SECRET_ARN")?;
        let url = required(src, "APPROVAL_URL")?;
        let minutes: f64 = parsed_or(src, "APPROVAL_TIMEOUT_MINUTES", 60.0)?;
        Ok(Self {
            approval_topic_arn: required(src, "APPROVAL_TOPIC_ARN")?,
            secret: SecretLocation::parse(&secret).map_err(|e| invalid("APPROVAL_SECRET_ARN", secret.clone(), e))?,
            request: RequestConfig {
                base_url: BaseUrl::parse(&url).map_err(|e| invalid("APPROVAL_URL", url.clone(), e))?,
                window_seconds: RequestConfig::window_from_minutes(minutes)
                    .map_err(|e| invalid("APPROVAL_TIMEOUT_MINUTES", minutes.to_string(), e))?,
                throttle: parsed_or(src, "THROTTLE_BYTES_PER_SEC", Throttle::default())?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: [(&str, &str); 3] = [
        ("APPROVAL_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:msk-autoheal-approvals"),
        ("APPROVAL_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:approval-AbCdEf"),
        ("APPROVAL_URL", "https://abc.lambda-url.us-east-1.on.aws/"),
    ];

    /// `extra` first: it overrides the base values.
    fn with<const N: usize>(extra: [(&'static str, &'static str); N]) -> Env {
        Env(extra.into_iter().chain(BASE).collect())
    }

    struct Env(Vec<(&'static str, &'static str)>);
    impl Source for Env {
        fn get(&self, name: &str) -> Option<String> {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_env(&BASE).unwrap();
        assert_eq!(c.request.window_seconds, 3600);
        assert_eq!(c.request.throttle, Throttle::default());
        assert!(matches!(c.secret, SecretLocation::SecretsManager(_)));
        let c = Config::from_env(&with([
            ("APPROVAL_TIMEOUT_MINUTES", "0.25"),
            ("THROTTLE_BYTES_PER_SEC", "10485760"),
            ("APPROVAL_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:123456789012:secret:other-key-XyZ123"),
        ]))
        .unwrap();
        assert_eq!(c.request.window_seconds, 15, "fractions of a minute, for local tests");
        assert_eq!(c.request.throttle.bytes_per_sec(), 10_485_760);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = |extra: [(&'static str, &'static str); 1]| Config::from_env(&with(extra)).unwrap_err().to_string();
        assert!(err([("APPROVAL_URL", "http://example.com/")]).contains("APPROVAL_URL"));
        assert!(err([("APPROVAL_TIMEOUT_MINUTES", "0")]).contains("APPROVAL_TIMEOUT_MINUTES"));
        assert!(err([("APPROVAL_TIMEOUT_MINUTES", "20000")]).contains("APPROVAL_TIMEOUT_MINUTES"));
        assert!(err([("THROTTLE_BYTES_PER_SEC", "1")]).contains("THROTTLE_BYTES_PER_SEC"));
        assert!(err([("APPROVAL_SECRET_ARN", "arn:aws:s3:::bucket")]).contains("APPROVAL_SECRET_ARN"));
        assert_eq!(
            Config::from_env(&[("APPROVAL_TOPIC_ARN", "t")]).unwrap_err(),
            ConfigError::Missing("APPROVAL_SECRET_ARN")
        );
        // The notification topic is not a substitute: approval links go to approvers only.
        let without: Vec<_> = BASE.iter().filter(|(k, _)| *k != "APPROVAL_TOPIC_ARN").copied().collect();
        let env = Env([("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:msk-autoheal")]
            .into_iter()
            .chain(without)
            .collect());
        assert_eq!(Config::from_env(&env).unwrap_err(), ConfigError::Missing("APPROVAL_TOPIC_ARN"));
    }

    #[test]
    fn every_window_the_template_allows_is_accepted() {
        // template.yaml's ApprovalTimeoutMinutes: MinValue 5, MaxValue 1440 (tests/infra/test_iac_approval.py
        // ties MaxValue to MAX_VALIDITY_SECONDS); one minute more is refused at cold start.
        for (minutes, seconds) in [("5", 300), ("60", 3600), ("1440", 86_400)] {
            let c = Config::from_env(&with([("APPROVAL_TIMEOUT_MINUTES", minutes)])).unwrap();
            assert_eq!(c.request.window_seconds, seconds);
        }
        assert!(Config::from_env(&with([("APPROVAL_TIMEOUT_MINUTES", "1441")])).is_err());
    }
}
