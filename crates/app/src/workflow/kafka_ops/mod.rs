//! The Kafka side of the workflow, run over SSM on the client instance: capture the assignment, plan
//! the minimal reassignment, execute it stage by stage with a throttle, verify it, confirm that the
//! symptom is gone, and clean up after a failure. Scripts come from `autoheal_domain::kafka_cli`
//! (validated values only) and run through [`KafkaScripts`] (re-attach, deadline, full output).
//!
//! One file per step: [`capture`], [`plan`], [`execute`], [`verify`], [`confirm`], [`cleanup`],
//! [`dry_run`]; [`throttles`] is the record of the throttles this execution set.

mod capture;
mod cleanup;
mod confirm;
mod dry_run;
mod execute;
mod plan;
mod scripts_runner;
mod throttles;
mod verify;

pub use dry_run::DRY_RUN_DIR;
pub use scripts_runner::{Invocation, KafkaScripts, RunId, ScriptOutput};
pub use throttles::{THROTTLES_FILE, ThrottleRecord, ThrottledEntity};

use crate::error::{AppError, Result};
use crate::workflow::state::WorkflowState;
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::kafka_cli::{
    BootstrapServers, CommandConfigPath, InstanceId, KafkaBinDir, KafkaClient, PlanSource, S3Bucket, S3Key, S3Location,
    Throttle,
};
use autoheal_planner::Assignment;
use autoheal_planner::formats::parse_reassignment_json;
use std::time::Duration;

pub(crate) use capture::Capture;

/// How kafka-ops reaches the Kafka client and where it keeps its files.
#[derive(Debug, Clone)]
pub struct KafkaOpsConfig {
    pub instance_id: InstanceId,
    pub bin_dir: KafkaBinDir,
    /// Given: used as is. Absent: GetBootstrapBrokers, the listener matching `command_config`.
    pub bootstrap_servers: Option<BootstrapServers>,
    pub command_config: Option<CommandConfigPath>,
    pub throttle: Throttle,
    pub bucket: S3Bucket,
    /// Key prefix of everything this workflow writes (`<prefix>/<execution name>/...`).
    pub prefix: S3Key,
    /// On failure, `--cancel` a reassignment that may be in progress (Kafka puts the partitions back).
    pub cancel_on_failure: bool,
    /// Stages: no broker takes part in more than this many moves at once.
    pub max_moves_per_broker: Option<u32>,
    /// Between GetCommandInvocation calls.
    pub poll_interval: Duration,
    /// The agent kills a script running longer than this.
    pub command_timeout_seconds: u32,
}

pub struct KafkaOps<C, R, S> {
    pub clusters: C,
    pub runner: R,
    pub store: S,
    pub config: KafkaOpsConfig,
}

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// The stage's JSON and how the script gets it: inline when small, else from its S3 copy.
    async fn stage_source(&self, key: &str) -> Result<(Vec<u8>, PlanSource)> {
        let json = self.store.get_object(self.config.bucket.as_str(), key).await?;
        let loc = S3Location {
            bucket: self.config.bucket.clone(),
            key: S3Key::parse(key).map_err(|e| AppError::InvalidInput(e.to_string()))?,
        };
        let source = PlanSource::choose(&json, loc);
        Ok((json, source))
    }

    async fn client(&self, state: &WorkflowState) -> Result<KafkaClient> {
        let bootstrap_servers = match &self.config.bootstrap_servers {
            Some(b) => b.clone(),
            None => {
                let all = self.clusters.bootstrap_brokers(&state.cluster_arn).await?;
                let pick = if self.config.command_config.is_some() {
                    all.sasl_iam.or(all.sasl_scram).or(all.tls)
                } else {
                    all.plaintext
                };
                let s = pick.ok_or_else(|| {
                    AppError::InvalidInput(if self.config.command_config.is_some() {
                        "the cluster offers no TLS or SASL listener for the command-config file".into()
                    } else {
                        "the cluster has no plaintext listener: set COMMAND_CONFIG to a client properties file for TLS/SASL".into()
                    })
                })?;
                BootstrapServers::parse(&s)
                    .map_err(|e| AppError::CommandFailed(format!("GetBootstrapBrokers returned {e}")))?
            }
        };
        Ok(KafkaClient {
            bin_dir: self.config.bin_dir.clone(),
            bootstrap_servers,
            command_config: self.config.command_config.clone(),
        })
    }
}

impl<C, R, S> KafkaOps<C, R, S> {
    /// `<prefix>/<execution>/<name>` (the execution's directory itself when `name` is empty).
    fn key(&self, execution: &str, name: &str) -> Result<S3Key> {
        let dir = self.config.prefix.join(execution).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        if name.is_empty() { Ok(dir) } else { dir.join(name).map_err(|e| AppError::InvalidInput(e.to_string())) }
    }
}

/// A stage's (or the plan's) reassignment JSON, read.
fn reassignment(json: &[u8]) -> Result<Assignment> {
    parse_reassignment_json(&String::from_utf8_lossy(json))
        .map_err(|e| AppError::CommandFailed(format!("stage JSON: {e}")))
}

/// Reads the state's execution name as a key segment (Step Functions names are `[A-Za-z0-9_-]`).
pub fn validate_execution_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!("execution name {name:?} is not a safe S3 key segment")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_names() {
        assert!(validate_execution_name("8f3a2b1c-demo-20261125T180000Z").is_ok());
        for bad in ["", "a/b", "a b", "../x", &"x".repeat(81)] {
            assert!(validate_execution_name(bad).is_err(), "{bad:?}");
        }
    }
}
