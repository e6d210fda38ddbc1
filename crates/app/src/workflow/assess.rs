//! Assess: the cluster must be ACTIVE and provisioned; the target is checked against the ceiling
//! and the AZ count; the fix is rendered in every format for the notification, the approval email
//! and operators who prefer to apply it themselves.

use super::state::{Assessment, WorkflowState};
use crate::error::{AppError, Result};
use autoheal_aws::ports::ClusterControl;
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::cluster::ClusterState;
use autoheal_domain::fixes::{BrokerChange, FixRequest, KafkaScriptSettings, render_all};
use autoheal_domain::time::Timestamp;
use tracing::info;

#[derive(Debug, Clone, Default)]
pub struct AssessConfig {
    pub capacity: CapacityPolicy,
    /// How the Kafka CLI fix reaches the cluster.
    pub kafka: KafkaScriptSettings,
}

pub struct Assess<C> {
    pub clusters: C,
    pub config: AssessConfig,
}

impl<C: ClusterControl> Assess<C> {
    pub async fn run(&self, mut state: WorkflowState, now: Timestamp) -> Result<WorkflowState> {
        let info = self.clusters.describe_cluster(&state.cluster_arn).await?;
        match info.state {
            ClusterState::Active => {}
            ClusterState::Failed => {
                return Err(AppError::ClusterFailed(format!("cluster {} is FAILED", info.name)));
            }
            other => {
                // The ASL retries ClusterNotActive a few times: MAINTENANCE or a broker reboot ends.
                return Err(AppError::ClusterNotActive(format!(
                    "cluster {} is {other}, not ACTIVE: nothing is changed on a cluster that is busy",
                    info.name
                )));
            }
        }
        if !info.provisioned {
            return Err(AppError::InvalidInput(format!(
                "cluster {} is serverless: it has no brokers to add",
                info.name
            )));
        }
        let target = state.target_broker_count;
        let max = self.config.capacity.max_brokers;
        if target > max {
            return Err(AppError::AtCeiling(format!(
                "target {target} brokers exceeds MAX_BROKERS={max}; nothing was changed"
            )));
        }
        if info.az_count == 0 || !target.is_multiple_of(info.az_count) {
            return Err(AppError::InvalidInput(format!(
                "target {target} brokers is not a multiple of the cluster's {} AZs (MSK requires it)",
                info.az_count
            )));
        }
        let scale_needed = info.broker_count < target;
        let fixes = if scale_needed {
            let req = FixRequest {
                cluster_arn: state.cluster_arn.clone(),
                current_version: info.current_version.clone(),
                brokers: BrokerChange::new(info.broker_count, target)
                    .map_err(|e| AppError::InvalidInput(e.to_string()))?,
            };
            Some(render_all(&req, &self.config.kafka))
        } else {
            None
        };
        info!(cluster = %info.name, brokers = info.broker_count, target, scale_needed, "assessed");
        state.current_version = info.current_version.clone();
        state.assessment = Some(Assessment {
            state: info.state.to_string(),
            broker_count: info.broker_count,
            az_count: info.az_count,
            current_version: info.current_version,
            instance_type: info.instance_type,
            kafka_version: info.kafka_version,
            target_broker_count: target,
            scale_needed,
            fixes,
            assessed_at: now,
        });
        Ok(state)
    }
}
