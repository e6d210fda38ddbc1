//! VerifyReassignment: `--verify` the current stage (complete, in progress, or failed, with
//! [`STALL_CONFIRMATIONS`] verifies before a stall counts), and after a complete stage a preferred
//! leader election for its partitions. Both runs are named after the stage and the verify round,
//! so a retry re-attaches to them and one deadline covers both.

use super::{Invocation, KafkaOps, KafkaScripts, RunId};
use crate::error::{AppError, Result};
use crate::workflow::state::{ReassignmentStatus, STALL_CONFIRMATIONS, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::kafka_cli::{self, KafkaClient, PlanSource, VerifyOutcome, section};
use tracing::{info, warn};

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// VerifyReassignment: `--verify` the current stage; complete, in progress, or failed.
    pub async fn verify(&self, mut state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        let plan =
            state.plan.clone().ok_or_else(|| AppError::InvalidInput("VerifyReassignment needs a plan".into()))?;
        let mut progress = state
            .reassignment
            .clone()
            .ok_or_else(|| AppError::InvalidInput("VerifyReassignment before Execute".into()))?;
        let key = &plan.stage_keys[progress.stage.min(plan.stage_keys.len().saturating_sub(1))];
        let (_, source) = self.stage_source(key).await?;
        let client = self.client(&state).await?;
        let scripts = self.scripts(inv);
        let round = progress.verifies;
        let run = RunId::stage("verify", progress.stage).and(format!("n{round}"));
        let out = scripts.run(&run, &kafka_cli::verify_script(&client, &source)).await?;
        if !out.ok() {
            return Err(out.failure("kafka-reassign-partitions.sh --verify"));
        }
        let report = kafka_cli::parse_verify(out.sections.get(section::VERIFY).unwrap_or_default())
            .map_err(|e| AppError::CommandFailed(e.to_string()))?;
        if !report.errors.is_empty() {
            return Err(AppError::CommandFailed(format!("--verify: {}", report.errors.join("; "))));
        }
        progress.verifies += 1;
        progress.partitions_complete = report.count(|s| *s == kafka_cli::PartitionState::Complete);
        progress.partitions_in_progress = report.count(|s| *s == kafka_cli::PartitionState::InProgress);
        progress.throttles_removed = report.throttles_removed;
        let outcome = report.outcome();
        progress.stalled_verifies = if outcome == VerifyOutcome::Failed { progress.stalled_verifies + 1 } else { 0 };
        match outcome {
            VerifyOutcome::Failed if progress.stalled_verifies < STALL_CONFIRMATIONS => {
                // Possibly a broker's metadata not yet showing a reassignment the controller has
                // finished: verify again before calling it failed.
                warn!(
                    stalled_verifies = progress.stalled_verifies,
                    confirmations = STALL_CONFIRMATIONS,
                    "a partition reads as neither at its target nor reassigning; verifying again before failing"
                );
                progress.status = ReassignmentStatus::InProgress;
            }
            VerifyOutcome::Failed => {
                let failed: Vec<String> = report
                    .partitions
                    .iter()
                    .filter_map(|p| match &p.state {
                        kafka_cli::PartitionState::Failed { current, target } => {
                            Some(format!("{} (replicas {:?}, target {:?})", p.partition, current, target))
                        }
                        _ => None,
                    })
                    .take(10)
                    .collect();
                return Err(AppError::ReassignmentFailed(format!(
                    "stage {} of {}: partitions not at their target and no longer moving ({} verifies in a row): {}",
                    progress.stage + 1,
                    progress.stages,
                    progress.stalled_verifies,
                    failed.join(", ")
                )));
            }
            VerifyOutcome::InProgress => {
                let limit = state.settings.unwrap_or_default().reassign_timeout_seconds;
                let elapsed = inv.now.seconds_since(progress.stage_started_at).max(0) as u64;
                if elapsed > limit {
                    return Err(AppError::ReassignmentFailed(format!(
                        "stage {} still moving {} partitions after {} minutes (limit {})",
                        progress.stage + 1,
                        progress.partitions_in_progress,
                        elapsed / 60,
                        limit / 60
                    )));
                }
                progress.status = ReassignmentStatus::InProgress;
            }
            VerifyOutcome::Complete => {
                if !report.throttles_removed {
                    warn!(
                        "stage complete but Kafka kept the throttles (another reassignment runs?); removed at confirm"
                    );
                }
                // The stage's data is in place: hand leadership to the replicas the plan put
                // first, now, so the new brokers share the leaders' work before the next stage.
                let run = RunId::stage("elect", progress.stage).and(format!("n{round}"));
                let election = self.elect_preferred(&scripts, run, &client, &source).await?;
                progress.leaders_elected += election.elected;
                progress.election_failures = election.failed;
                if progress.stage + 1 < progress.stages {
                    progress.stage += 1;
                    progress.status = ReassignmentStatus::StageComplete;
                } else {
                    progress.status = ReassignmentStatus::Complete;
                }
                info!(stage = progress.stage + 1, status = ?progress.status, "reassignment stage complete");
            }
        }
        state.reassignment = Some(progress);
        Ok(state)
    }

    /// Preferred leader election for the partitions of `source`. Only a script that could not run
    /// at all fails it; partitions whose preferred replica cannot lead yet are reported.
    pub(crate) async fn elect_preferred(
        &self,
        scripts: &KafkaScripts<'_, C, R, S>,
        run: RunId,
        client: &KafkaClient,
        source: &PlanSource,
    ) -> Result<kafka_cli::ElectionReport> {
        let out = scripts.run(&run, &kafka_cli::elect_preferred_script(client, source)).await?;
        if !out.ok() {
            return Err(out.failure("kafka-leader-election.sh --election-type PREFERRED"));
        }
        let report = kafka_cli::parse_election(out.sections.get(section::ELECTION).unwrap_or_default());
        if report.failed.is_empty() {
            info!(elected = report.elected, already = report.already, "preferred leaders elected");
        } else {
            warn!(elected = report.elected, failed = report.failed.len(), first = %report.failed[0],
                  "some preferred leaders could not be elected yet");
        }
        Ok(report)
    }
}
