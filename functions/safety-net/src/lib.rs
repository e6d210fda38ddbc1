//! The safety-net Lambda's configuration, read once at cold start: kafka-ops' variables (the
//! cleanup is kafka-ops' use case, so it reaches the client and the bucket the same way), plus the
//! state machine whose executions it watches, the notification topic and the lease table.

use autoheal_lambda::env::{ConfigError, Source, required};

#[derive(Debug, Clone)]
pub struct Config {
    pub kafka: kafka_ops::Config,
    pub state_machine_arn: String,
    pub topic_arn: String,
    /// The per-cluster lease's DynamoDB table.
    pub lease_table: String,
}

pub fn config_from_env(src: &impl Source) -> Result<Config, ConfigError> {
    let state_machine_arn = required(src, "STATE_MACHINE_ARN")?;
    if !state_machine_arn.starts_with("arn:") || !state_machine_arn.contains(":stateMachine:") {
        return Err(ConfigError::Invalid {
            name: "STATE_MACHINE_ARN",
            reason: "not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)".into(),
            value: state_machine_arn,
        });
    }
    Ok(Config {
        kafka: kafka_ops::config_from_env(src)?,
        state_machine_arn,
        topic_arn: required(src, "TOPIC_ARN")?,
        lease_table: required(src, "LEASE_TABLE")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:msk-autoheal-remediation";

    #[test]
    fn kafka_ops_variables_and_its_own() {
        let c = config_from_env(&[
            ("CLIENT_INSTANCE_ID", "i-0123456789abcdef0"),
            ("PLAN_BUCKET", "plans-1"),
            ("STATE_MACHINE_ARN", SM),
            ("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
            ("LEASE_TABLE", "leases"),
        ])
        .unwrap();
        assert_eq!(c.state_machine_arn, SM);
        assert_eq!(c.kafka.ops.prefix.as_str(), "autoheal");
        let e = config_from_env(&[
            ("CLIENT_INSTANCE_ID", "i-0123456789abcdef0"),
            ("PLAN_BUCKET", "plans-1"),
            ("STATE_MACHINE_ARN", "remediation"),
            ("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
            ("LEASE_TABLE", "leases"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("STATE_MACHINE_ARN"), "{e}");
    }
}
