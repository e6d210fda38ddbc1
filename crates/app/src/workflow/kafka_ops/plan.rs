//! PlanReassignment: the minimal plan over every broker Kafka reports, its rollback and its stages
//! (no broker in more than `max_moves_per_broker` moves at once), written to S3; `$.plan` holds
//! the summary and the keys. Refuses a rack-blind plan on a multi-AZ cluster. Nothing runs on the
//! client: the capture is read back from S3.

use super::KafkaOps;
use super::capture::parse_capture;
use crate::error::{AppError, Result};
use crate::workflow::state::{PlanSummary, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::kafka_cli;
use autoheal_planner::PlanRequest;
use autoheal_planner::formats::write_reassignment_json;
use std::collections::BTreeSet;
use tracing::info;

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// PlanReassignment: the minimal plan over every broker, its rollback and stages, in S3.
    pub async fn plan(&self, mut state: WorkflowState, execution: &str) -> Result<WorkflowState> {
        let summary =
            state.capture.clone().ok_or_else(|| AppError::InvalidInput("PlanReassignment needs a capture".into()))?;
        let raw = self.store.get_object(self.config.bucket.as_str(), &summary.s3_key).await?;
        let capture = parse_capture(&kafka_cli::split_sections(&String::from_utf8_lossy(&raw)))?;
        if capture.brokers.len() < state.target_broker_count as usize {
            return Err(AppError::CommandFailed(format!(
                "Kafka reports brokers {:?}, fewer than the {} the cluster should have now",
                capture.brokers, state.target_broker_count
            )));
        }
        if capture.racks.is_none() && state.az_count > 1 {
            // A rack-unaware plan may put both replicas of a partition in one AZ: worse than now.
            return Err(AppError::CommandFailed(
                "broker racks are unknown (kafka-broker-api-versions.sh gave none) on a multi-AZ cluster; \
                 refusing a plan that could put all replicas of a partition in one AZ"
                    .into(),
            ));
        }
        let req = PlanRequest {
            brokers: capture.brokers.clone(),
            racks: capture.racks.clone(),
            sizes: capture.sizes.clone(),
            throttle: Some(self.config.throttle.bytes_per_sec()),
            max_moves_per_broker: self.config.max_moves_per_broker,
            ..PlanRequest::default()
        };
        let a = &capture.assignment;
        let plan = autoheal_planner::plan(a, &req).map_err(|e| AppError::CommandFailed(format!("planner: {e}")))?;
        let json_of = |idx: &[usize]| {
            write_reassignment_json(idx.iter().map(|&i| (&a.partitions[i].tp, plan.proposed[i].as_slice())))
        };
        let plan_key = self.key(execution, "plan.json")?;
        let rollback_key = self.key(execution, "rollback.json")?;
        let bucket = self.config.bucket.as_str();
        self.store
            .put_object(bucket, plan_key.as_str(), json_of(&plan.changed).into_bytes(), "application/json")
            .await?;
        let rollback = write_reassignment_json(
            plan.changed.iter().map(|&i| (&a.partitions[i].tp, a.partitions[i].replicas.as_slice())),
        );
        self.store.put_object(bucket, rollback_key.as_str(), rollback.into_bytes(), "application/json").await?;
        let mut stage_keys = Vec::new();
        for (n, stage) in plan.stages.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            let key = self.key(execution, &format!("stage-{}.json", n + 1))?;
            self.store.put_object(bucket, key.as_str(), json_of(stage).into_bytes(), "application/json").await?;
            stage_keys.push(key.to_string());
        }
        let topics: BTreeSet<String> = plan.changed.iter().map(|&i| a.partitions[i].tp.topic.clone()).collect();
        let r = &plan.report;
        info!(moves = r.moves, lower_bound = r.lower_bound, bytes = ?r.bytes_moved, stages = stage_keys.len(), "plan ready");
        state.plan = Some(PlanSummary {
            s3_bucket: bucket.to_owned(),
            s3_prefix: self.key(execution, "")?.to_string(),
            plan_key: plan_key.to_string(),
            rollback_key: rollback_key.to_string(),
            stage_keys,
            changed_partitions: plan.changed.len(),
            moves: r.moves,
            lower_bound: r.lower_bound,
            leader_changes: r.leader_changes,
            bytes_moved: r.bytes_moved,
            eta_seconds: r.eta_seconds,
            replica_spread_before: r.replica_spread_before,
            replica_spread_after: r.replica_spread_after,
            throttle_bytes_per_sec: self.config.throttle.bytes_per_sec(),
            topics: topics.into_iter().collect(),
            brokers: capture.brokers,
        });
        Ok(state)
    }
}
