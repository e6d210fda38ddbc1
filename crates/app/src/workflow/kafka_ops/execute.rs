//! ExecuteReassignment: start the current stage with `--execute --throttle`. Before sending it,
//! the throttle configs the stage's brokers and topics already have are read and recorded
//! ([`super::throttles`]), so Cleanup knows what may have been set and what to put back.
//! Sending the stage twice is harmless: the second run finds its own partitions in progress and
//! reports the stage as started; somebody else's reassignment is never piled onto.

use super::throttles::parse_throttle_configs;
use super::{Invocation, KafkaOps, RunId, reassignment};
use crate::error::{AppError, Result};
use crate::workflow::state::{ReassignmentProgress, ReassignmentStatus, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::kafka_cli::{self, section};
use std::collections::BTreeSet;
use tracing::info;

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// ExecuteReassignment: record the throttles about to be set, then start the current stage.
    pub async fn execute(&self, mut state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        let plan =
            state.plan.clone().ok_or_else(|| AppError::InvalidInput("ExecuteReassignment needs a plan".into()))?;
        let stage = state.reassignment.as_ref().map(|r| r.stage).unwrap_or(0);
        let key =
            plan.stage_keys.get(stage).ok_or_else(|| AppError::InvalidInput(format!("no stage {}", stage + 1)))?;
        let (json, source) = self.stage_source(key).await?;
        let moves = reassignment(&json)?;
        let client = self.client(&state).await?;
        let scripts = self.scripts(inv);

        // Record before setting: the brokers taking part (every broker of the plan, a superset of
        // those --execute throttles) and the stage's topics, with what they have now.
        let topics: BTreeSet<String> = moves.partitions.iter().map(|p| p.tp.topic.clone()).collect();
        let brokers: BTreeSet<i32> = plan
            .brokers
            .iter()
            .copied()
            .chain(moves.partitions.iter().flat_map(|p| p.replicas.iter().copied()))
            .collect();
        let describe = scripts
            .run(
                &RunId::stage("throttles-before", stage),
                &kafka_cli::throttle_configs_script(&client, !topics.is_empty()),
            )
            .await?;
        if !describe.ok() {
            return Err(describe.failure("kafka-configs.sh --describe (throttles before --execute)"));
        }
        let now = parse_throttle_configs(describe.sections.get(section::THROTTLES).unwrap_or_default());
        let mut record = self.throttle_record(inv.execution).await?.unwrap_or_default();
        record.add(
            brokers
                .iter()
                .map(|b| ("broker".to_owned(), b.to_string()))
                .chain(topics.iter().map(|t| ("topic".to_owned(), t.clone()))),
            &now,
        );
        self.write_throttle_record(inv.execution, &record).await?;

        let out = scripts
            .run(&RunId::stage("execute", stage), &kafka_cli::execute_script(&client, &source, self.config.throttle))
            .await?;
        if out.exit == kafka_cli::EXIT_REASSIGNMENT_IN_PROGRESS {
            let running = kafka_cli::parse_list(out.sections.get(section::LIST).unwrap_or_default())
                .map_err(|e| AppError::CommandFailed(e.to_string()))?;
            let ours: BTreeSet<String> = moves.partitions.iter().map(|p| p.tp.to_string()).collect();
            let foreign: Vec<String> =
                running.iter().map(ToString::to_string).filter(|tp| !ours.contains(tp)).collect();
            if running.is_empty() || !foreign.is_empty() {
                return Err(AppError::CommandFailed(format!(
                    "another partition reassignment is in progress ({}); not adding ours to it",
                    foreign.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            info!(stage = stage + 1, "stage already started by an earlier attempt");
        } else if !out.ok() {
            return Err(out.failure("kafka-reassign-partitions.sh --execute"));
        }
        info!(
            stage = stage + 1,
            stages = plan.stage_keys.len(),
            throttle = self.config.throttle.bytes_per_sec(),
            "reassignment stage started"
        );
        let started_at = state.reassignment.as_ref().map(|r| r.started_at).unwrap_or(inv.now);
        state.reassignment = Some(ReassignmentProgress {
            stage,
            stages: plan.stage_keys.len(),
            status: ReassignmentStatus::InProgress,
            started_at,
            stage_started_at: inv.now,
            verifies: 0,
            partitions_complete: 0,
            partitions_in_progress: 0,
            throttles_removed: false,
            leaders_elected: state.reassignment.as_ref().map(|r| r.leaders_elected).unwrap_or(0),
            election_failures: Vec::new(),
            stalled_verifies: 0,
        });
        Ok(state)
    }
}
