//! The detector Lambda's configuration, read once at cold start (variables in docs/ARCHITECTURE.md).

use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::cluster::ClusterName;
use autoheal_domain::remediation::{DetectorPolicy, Mode};
use autoheal_lambda::env::{ConfigError, Source, optional, parsed_or, required};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub state_machine_arn: String,
    pub topic_arn: Option<String>,
    /// LEASE_TABLE: the DynamoDB table of per-cluster leases.
    pub lease_table: String,
    pub policy: DetectorPolicy,
}

impl Config {
    pub fn from_env(src: &impl Source) -> Result<Self, ConfigError> {
        let defaults = DetectorPolicy::default();
        let approval_clusters = match optional(src, "APPROVAL_CLUSTERS") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    ClusterName::parse(s).map_err(|e| ConfigError::Invalid {
                        name: "APPROVAL_CLUSTERS",
                        value: list.clone(),
                        reason: e.to_string(),
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let step_per_az = parsed_or(src, "BROKER_STEP_PER_AZ", defaults.capacity.step_per_az)?;
        if step_per_az == 0 {
            return Err(ConfigError::Invalid {
                name: "BROKER_STEP_PER_AZ",
                value: "0".into(),
                reason: "must be at least 1".into(),
            });
        }
        Ok(Self {
            state_machine_arn: required(src, "STATE_MACHINE_ARN")?,
            lease_table: required(src, "LEASE_TABLE")?,
            topic_arn: optional(src, "TOPIC_ARN"),
            policy: DetectorPolicy {
                capacity: CapacityPolicy {
                    step_per_az,
                    max_brokers: parsed_or(src, "MAX_BROKERS", defaults.capacity.max_brokers)?,
                },
                mode: parsed_or::<Mode>(src, "MODE", defaults.mode)?,
                approval_clusters,
                cooldown_minutes: parsed_or(src, "COOLDOWN_MINUTES", defaults.cooldown_minutes)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::from_env(&[("STATE_MACHINE_ARN", "arn:sm"), ("LEASE_TABLE", "leases")]).unwrap();
        assert_eq!(c.policy, DetectorPolicy::default());
        assert_eq!(c.lease_table, "leases");
        assert_eq!(c.topic_arn, None);
        let c = Config::from_env(&[
            ("STATE_MACHINE_ARN", "arn:sm"),
            ("LEASE_TABLE", "leases"),
            ("MODE", "approval"),
            ("APPROVAL_CLUSTERS", "a, b-2"),
            ("MAX_BROKERS", "6"),
            ("BROKER_STEP_PER_AZ", "2"),
            ("COOLDOWN_MINUTES", "0"),
            ("TOPIC_ARN", "arn:topic"),
        ])
        .unwrap();
        assert_eq!(c.policy.mode, Mode::Approval);
        assert_eq!(c.policy.approval_clusters.len(), 2);
        assert_eq!(c.policy.capacity, CapacityPolicy { step_per_az: 2, max_brokers: 6 });
        assert_eq!(c.policy.cooldown_minutes, 0);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = |env: &[(&str, &str); 3]| Config::from_env(env).unwrap_err().to_string();
        let base = |k, v| [("STATE_MACHINE_ARN", "a"), ("LEASE_TABLE", "t"), (k, v)];
        assert!(err(&base("MODE", "yolo")).contains("MODE"));
        assert!(err(&base("MAX_BROKERS", "-1")).contains("MAX_BROKERS"));
        assert!(err(&base("APPROVAL_CLUSTERS", "ok,bad name")).contains("APPROVAL_CLUSTERS"));
        assert!(err(&base("BROKER_STEP_PER_AZ", "0")).contains("BROKER_STEP_PER_AZ"));
        assert_eq!(Config::from_env(&[("MODE", "auto")]).unwrap_err(), ConfigError::Missing("STATE_MACHINE_ARN"));
        assert_eq!(Config::from_env(&[("STATE_MACHINE_ARN", "a")]).unwrap_err(), ConfigError::Missing("LEASE_TABLE"));
    }
}
