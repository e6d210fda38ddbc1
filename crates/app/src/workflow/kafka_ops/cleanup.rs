//! Cleanup (failure path), decided by what may have happened, not by what succeeded: once a plan
//! exists and ExecuteReassignment has recorded the throttles it was about to set (so an
//! `--execute` may have been sent, even if its step then failed or its Lambda timed out), the
//! current stage is `--cancel`led (when configured; Kafka reverts what is still moving and ignores
//! the rest) and exactly the throttles this execution set are removed, an operator's own values
//! put back. Nothing else on the cluster is touched.

use super::{Invocation, KafkaOps, RunId, ThrottleRecord};
use crate::error::{AppError, Result};
use crate::workflow::state::{CleanupReport, PlanSummary, ReassignmentStatus, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use tracing::{info, warn};

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// Cleanup. Only throttling, transient AWS errors or a command still running fail it (for the
    /// ASL to retry, re-attaching); anything else is recorded so the failure notification still goes
    /// out with it.
    pub async fn cleanup(&self, mut state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        let mut report = CleanupReport::default();
        let result = match state.plan.clone() {
            None => {
                report.skipped = Some("no plan was made: nothing was changed on the Kafka cluster".into());
                Ok(())
            }
            Some(plan) => match self.throttle_record(inv.execution).await {
                Ok(None) => {
                    report.skipped = Some(
                        "a plan was made but no stage was about to be executed: nothing was changed on the Kafka cluster"
                            .into(),
                    );
                    Ok(())
                }
                Ok(Some(record)) => self.cleanup_in(&state, inv, &plan, &record, &mut report).await,
                Err(e) => Err(e),
            },
        };
        match result {
            Ok(()) => {}
            Err(AppError::Aws(e)) if e.is_retryable() => return Err(AppError::Aws(e)),
            Err(e @ AppError::StillRunning(_)) => return Err(e),
            Err(e) => {
                warn!(error = %e, "cleanup incomplete");
                report.error = Some(e.to_string());
            }
        }
        state.cleanup = Some(report);
        Ok(state)
    }

    async fn cleanup_in(
        &self,
        state: &WorkflowState,
        inv: Invocation<'_>,
        plan: &PlanSummary,
        record: &ThrottleRecord,
        report: &mut CleanupReport,
    ) -> Result<()> {
        let progress = state.reassignment.as_ref();
        let complete = progress.is_some_and(|p| p.status == ReassignmentStatus::Complete);
        // The stage that may be moving: the one verified last, or the one Execute was given (a
        // completed stage points at the next).
        let stage = progress.map(|p| p.stage).unwrap_or(0);
        let cancel = match plan.stage_keys.get(stage) {
            Some(key) if self.config.cancel_on_failure && !complete => {
                report.cancelled_stage = Some(stage + 1);
                Some(self.stage_source(key).await?.1)
            }
            _ => None,
        };
        let scripts = self.scripts(inv);
        let done = self.restore_throttles(&scripts, state, RunId::new("cleanup"), cancel.as_ref(), record).await?;
        report.cancelled = done.cancelled;
        report.throttles_removed = done.removed;
        report.throttles_restored = done.restored;
        report.throttles_failed = done.failed;
        info!(
            cancelled = report.cancelled.len(),
            throttles_removed = report.throttles_removed.len(),
            throttles_restored = report.throttles_restored.len(),
            "cleanup ran"
        );
        match done.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
