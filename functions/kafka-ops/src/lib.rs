//! The kafka-ops Lambda's configuration, read once at cold start (variables in docs/WORKFLOW.md).

use autoheal_app::workflow::kafka_ops::KafkaOpsConfig;
use autoheal_domain::cluster::ClusterArn;
use autoheal_domain::kafka_cli::{
    BootstrapServers, CommandConfigPath, InstanceId, KafkaBinDir, S3Bucket, S3Key, Throttle,
};
use autoheal_lambda::env::{ConfigError, Source, optional, parsed_or, required};
use std::str::FromStr;
use std::time::Duration;

/// How long before the Lambda's deadline an invocation stops waiting for its SSM command and
/// answers `StillRunning` (time to write the answer and for the runtime to return it).
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(15);

/// The instant to stop waiting by: the invocation's deadline (`Context::deadline`, milliseconds
/// since the epoch) less [`DEADLINE_MARGIN`]; at once when that is already past.
pub fn wait_until(deadline_ms: u64) -> std::time::Instant {
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
    let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
    std::time::Instant::now() + left.saturating_sub(DEADLINE_MARGIN)
}

#[derive(Debug, Clone)]
pub struct Config {
    pub ops: KafkaOpsConfig,
    /// The one cluster this deployment may touch (CLUSTER_ARN); other clusters' states are refused.
    pub cluster_arn: Option<ClusterArn>,
}

fn validated<T: FromStr>(src: &impl Source, name: &'static str, value: Option<String>) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    let _ = src;
    value
        .map(|v| v.parse::<T>().map_err(|e| ConfigError::Invalid { name, reason: e.to_string(), value: v }))
        .transpose()
}

pub fn config_from_env(src: &impl Source) -> Result<Config, ConfigError> {
    let instance: InstanceId =
        validated(src, "CLIENT_INSTANCE_ID", Some(required(src, "CLIENT_INSTANCE_ID")?))?.expect("some");
    let bucket: S3Bucket = validated(src, "PLAN_BUCKET", Some(required(src, "PLAN_BUCKET")?))?.expect("some");
    let cluster_arn = optional(src, "CLUSTER_ARN")
        .map(|v| {
            ClusterArn::parse(&v).map_err(|e| ConfigError::Invalid {
                name: "CLUSTER_ARN",
                reason: e.to_string(),
                value: v,
            })
        })
        .transpose()?;
    Ok(Config {
        ops: KafkaOpsConfig {
            instance_id: instance,
            bin_dir: parsed_or(src, "KAFKA_BIN_DIR", KafkaBinDir::default())?,
            bootstrap_servers: validated::<BootstrapServers>(
                src,
                "BOOTSTRAP_SERVERS",
                optional(src, "BOOTSTRAP_SERVERS"),
            )?,
            command_config: validated::<CommandConfigPath>(src, "COMMAND_CONFIG", optional(src, "COMMAND_CONFIG"))?,
            throttle: parsed_or(src, "THROTTLE_BYTES_PER_SEC", Throttle::default())?,
            bucket,
            prefix: parsed_or(src, "PLAN_PREFIX", S3Key::parse("autoheal").expect("valid"))?,
            cancel_on_failure: parsed_or(src, "CANCEL_ON_FAILURE", true)?,
            max_moves_per_broker: validated::<u32>(src, "MAX_MOVES_PER_BROKER", optional(src, "MAX_MOVES_PER_BROKER"))?,
            poll_interval: Duration::from_secs(1),
            command_timeout_seconds: parsed_or(src, "COMMAND_TIMEOUT_SECONDS", 3600)?,
        },
        cluster_arn,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_values_and_defaults() {
        let c = config_from_env(&[("CLIENT_INSTANCE_ID", "i-0123456789abcdef0"), ("PLAN_BUCKET", "plans-1")]).unwrap();
        assert_eq!(c.ops.prefix.as_str(), "autoheal");
        assert!(c.ops.cancel_on_failure);
        assert_eq!(c.ops.bootstrap_servers, None);
        assert_eq!(c.ops.command_timeout_seconds, 3600);
        assert!(config_from_env(&[("PLAN_BUCKET", "plans-1")]).unwrap_err().to_string().contains("CLIENT_INSTANCE_ID"));
    }

    #[test]
    fn the_wait_ends_a_margin_before_the_lambda_deadline() {
        let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
        let until = wait_until(now_ms + 120_000);
        let left = until - std::time::Instant::now();
        assert!(left <= Duration::from_secs(105) && left > Duration::from_secs(100), "{left:?}");
        assert!(wait_until(now_ms + 5_000) <= std::time::Instant::now(), "less than the margin left: stop at once");
    }

    #[test]
    fn nothing_unchecked_reaches_a_script() {
        for (name, bad) in [
            ("BOOTSTRAP_SERVERS", "b:9092;reboot"),
            ("COMMAND_CONFIG", "/etc/$(id)"),
            ("KAFKA_BIN_DIR", "relative/bin"),
            ("CLIENT_INSTANCE_ID", "i-x"),
            ("PLAN_BUCKET", "Bad_Bucket"),
        ] {
            let mut env = vec![("CLIENT_INSTANCE_ID", "i-0123456789abcdef0"), ("PLAN_BUCKET", "plans-1")];
            env.retain(|(k, _)| *k != name);
            env.push((name, bad));
            while env.len() < 3 {
                env.push(("UNRELATED", "x"));
            }
            let env: [(&str, &str); 3] = env.try_into().unwrap_or_else(|v: Vec<_>| panic!("{v:?}"));
            let e = config_from_env(&env).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
    }
}
