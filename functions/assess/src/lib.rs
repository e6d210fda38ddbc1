//! The assess Lambda's configuration, read once at cold start (variables in docs/WORKFLOW.md).

use autoheal_app::workflow::assess::AssessConfig;
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::fixes::KafkaScriptSettings;
use autoheal_domain::kafka_cli::{BootstrapServers, CommandConfigPath, KafkaBinDir, Throttle};
use autoheal_lambda::env::{ConfigError, Source, optional, parsed_or};

pub fn config_from_env(src: &impl Source) -> Result<AssessConfig, ConfigError> {
    let defaults = CapacityPolicy::default();
    let invalid = |name: &'static str, value: String, reason: String| ConfigError::Invalid { name, value, reason };
    let parse_opt = |name: &'static str| optional(src, name);
    Ok(AssessConfig {
        capacity: CapacityPolicy {
            step_per_az: parsed_or(src, "BROKER_STEP_PER_AZ", defaults.step_per_az)?,
            max_brokers: parsed_or(src, "MAX_BROKERS", defaults.max_brokers)?,
        },
        kafka: KafkaScriptSettings {
            bin_dir: parsed_or(src, "KAFKA_BIN_DIR", KafkaBinDir::default())?,
            bootstrap_servers: parse_opt("BOOTSTRAP_SERVERS")
                .map(|v| BootstrapServers::parse(&v).map_err(|e| invalid("BOOTSTRAP_SERVERS", v, e.to_string())))
                .transpose()?,
            command_config: parse_opt("COMMAND_CONFIG")
                .map(|v| CommandConfigPath::parse(&v).map_err(|e| invalid("COMMAND_CONFIG", v, e.to_string())))
                .transpose()?,
            throttle: parsed_or(src, "THROTTLE_BYTES_PER_SEC", Throttle::default())?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_bad_values() {
        let c = config_from_env(&[("X", "y")]).unwrap();
        assert_eq!(c.capacity, CapacityPolicy::default());
        assert_eq!(c.kafka.bin_dir.as_str(), "/opt/kafka/bin");
        let e = config_from_env(&[("KAFKA_BIN_DIR", "/opt/$(id)")]).unwrap_err().to_string();
        assert!(e.contains("KAFKA_BIN_DIR"), "{e}");
        let e = config_from_env(&[("THROTTLE_BYTES_PER_SEC", "0")]).unwrap_err().to_string();
        assert!(e.contains("THROTTLE_BYTES_PER_SEC"), "{e}");
    }
}
