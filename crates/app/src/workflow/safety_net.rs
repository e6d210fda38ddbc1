//! The safety net outside the workflow. The ASL's `Catch` (`States.ALL`) sends every Task failure
//! through Cleanup and NotifyFailure, but some endings never reach them: the execution's own
//! timeout, an operator's StopExecution, `States.DataLimitExceeded` and `States.Runtime` (which
//! `States.ALL` does not catch). EventBridge delivers the "Step Functions Execution Status Change"
//! event of every FAILED, TIMED_OUT or ABORTED execution here; the history says whether the
//! workflow's own failure path ran, and if not, the same cleanup and failure notice run from the
//! last workflow state the execution had, and the cluster's lease is released (the workflow's
//! notify step would have). At least once: a marker in S3 makes a redelivery a no-op.

use super::kafka_ops::{Invocation, KafkaOps, validate_execution_name};
use super::notify::{Notify, Outcome};
use super::state::{CleanupReport, NotificationSent, WorkflowState};
use crate::error::{AppError, Result};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, Lease, Notifier, ObjectStore};
use autoheal_aws::sfn_history::{ExecutionDescription, ExecutionHistory, StateEntered};
use autoheal_domain::cluster::ClusterArn;
use autoheal_domain::flight::ExecutionStatus;
use autoheal_domain::kafka_cli::{S3Bucket, S3Key};
use autoheal_domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::future::Future;
use std::time::Instant;
use tracing::{info, warn};

/// States of the ASL on its own failure and success paths (statemachine/remediation.asl.json).
pub const CLEANUP_STATE: &str = "Cleanup";
/// Once one of these was entered the workflow sent (or is sending) its own notification.
pub const NOTIFIED_STATES: [&str; 4] = ["NotifyFailure", "RemediationFailed", "NotifySuccess", "Healed"];
/// How many `StateEntered` events, newest first, are read: the decision needs the last few only.
const STATES_READ: usize = 50;
/// The marker of a finished run, under `<prefix>/<execution name>/`.
pub const MARKER: &str = "safety-net.json";

/// The `detail` of EventBridge's "Step Functions Execution Status Change" event (the fields read).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: String,
}

/// Reads the event as EventBridge delivers it; anything else is `InvalidInput`, one line.
pub fn parse_event(event: &Value) -> Result<StatusChange> {
    let bad = |why: &str| AppError::InvalidInput(format!("not a Step Functions execution status change: {why}"));
    match (event.get("source").and_then(Value::as_str), event.get("detail-type").and_then(Value::as_str)) {
        (Some("aws.states"), Some("Step Functions Execution Status Change")) => {}
        (source, kind) => return Err(bad(&format!("source {source:?}, detail-type {kind:?}"))),
    }
    let detail = event.get("detail").ok_or_else(|| bad("no detail"))?;
    serde_json::from_value(detail.clone()).map_err(|e| bad(&e.to_string()))
}

/// What the history says is left to do.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Nothing: the execution succeeded, still runs, or its own failure notice ran.
    Nothing { reason: String },
    /// Cleanup was entered (its Lambda runs to its end even when the execution stops) but the
    /// failure notice never ran: notify only.
    NotifyOnly { state: Box<WorkflowState>, last_state: String },
    /// Neither Cleanup nor a notification: both, from the state the last entered state had.
    CleanupAndNotify { state: Box<WorkflowState>, last_state: String },
}

/// The decision, from DescribeExecution and the states entered (newest first). Pure.
pub fn decide(execution: &ExecutionDescription, entered: &[StateEntered]) -> Result<Decision> {
    match execution.status {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => {}
        other => return Ok(Decision::Nothing { reason: format!("the execution is {other}") }),
    }
    if let Some(s) = entered.iter().find(|s| NOTIFIED_STATES.contains(&s.name.as_str())) {
        return Ok(Decision::Nothing { reason: format!("the workflow's own path ran ({} entered)", s.name) });
    }
    let last_state = entered.first().map(|s| s.name.clone()).unwrap_or_else(|| "(none)".into());
    // The newest input that is a workflow state; a state too big for Step Functions may have
    // none, then an earlier one, at worst the execution input (the detector's).
    let state = entered
        .iter()
        .filter_map(|s| s.input.as_deref())
        .chain(execution.input.as_deref())
        .find_map(|input| serde_json::from_str::<WorkflowState>(input).ok())
        .ok_or_else(|| {
            AppError::InvalidInput(format!("no workflow state in the history or input of {}", execution.arn))
        })?;
    let state = Box::new(state);
    if entered.iter().any(|s| s.name == CLEANUP_STATE) {
        Ok(Decision::NotifyOnly { state, last_state })
    } else {
        Ok(Decision::CleanupAndNotify { state, last_state })
    }
}

/// `$.error` for the failure notice: what ended the execution, and that it was outside the workflow.
pub fn ending_error(execution: &ExecutionDescription, last_state: &str, earlier: Option<&Value>) -> Value {
    let status = execution.status;
    let error = match status {
        ExecutionStatus::Aborted => "ExecutionAborted".to_owned(),
        ExecutionStatus::TimedOut => "ExecutionTimedOut".to_owned(),
        _ => execution.error.clone().filter(|e| !e.is_empty()).unwrap_or_else(|| "ExecutionFailed".into()),
    };
    let how = match status {
        ExecutionStatus::Aborted => "stopped (StopExecution)",
        ExecutionStatus::TimedOut => "past the state machine's TimeoutSeconds",
        _ => "by an error no Catch handles",
    };
    let when = execution.stop.map(|t| format!(" at {t}")).unwrap_or_default();
    let mut cause = format!(
        "The execution ended {status}{when} in state {last_state}, {how}, outside the workflow's own \
         Cleanup and failure notice; the safety net ran them."
    );
    if let Some(c) = execution.cause.as_deref().filter(|c| !c.is_empty()) {
        cause.push_str(&format!(" Cause: {}", c.chars().take(1000).collect::<String>()));
    }
    if let Some(e) = earlier {
        let what = e.get("Error").and_then(Value::as_str).unwrap_or("an error");
        cause.push_str(&format!(" The workflow had failed before with {what} and started its Cleanup."));
    }
    json!({"Error": error, "Cause": cause})
}

/// The step the safety net shares with the workflow's Cleanup state: kafka-ops' cleanup use case.
pub trait CleanupStep: Send + Sync {
    /// Cleans up after `inv.execution`, waiting for its command no later than `inv.deadline`.
    fn cleanup(&self, state: WorkflowState, inv: Invocation<'_>) -> impl Future<Output = Result<WorkflowState>> + Send;
}

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> CleanupStep for KafkaOps<C, R, S> {
    async fn cleanup(&self, state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        KafkaOps::cleanup(self, state, inv).await
    }
}

/// What one run did (the Lambda's response, and the marker's content).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SafetyNetReport {
    pub execution_arn: String,
    pub status: String,
    /// `nothing`, `notified`, `cleaned_up_and_notified`, or `already_done` (a redelivery).
    pub action: String,
    /// Whether this execution's hold on the cluster's lease was released here.
    #[serde(default)]
    pub lease_released: bool,
    pub reason: Option<String>,
    pub last_state: Option<String>,
    pub cleanup: Option<CleanupReport>,
    pub notification: Option<NotificationSent>,
}

pub struct SafetyNet<H, K, N, S, L> {
    pub history: H,
    pub cleanup: K,
    pub notify: Notify<N>,
    /// The per-cluster lease the detector took for the execution: released once the notice is out.
    pub lease: L,
    /// Where the marker goes (the plan bucket).
    pub store: S,
    pub bucket: S3Bucket,
    pub prefix: S3Key,
    /// The remediation state machine: events of any other are refused.
    pub state_machine_arn: String,
    /// The one cluster this deployment may touch.
    pub cluster_arn: Option<ClusterArn>,
}

impl<H: ExecutionHistory, K: CleanupStep, N: Notifier, S: ObjectStore, L: Lease> SafetyNet<H, K, N, S, L> {
    /// Handles one status-change event; commands are waited for until `deadline` (the Lambda's,
    /// less a margin), then the invocation fails `StillRunning` and its retry re-attaches.
    pub async fn run(&self, event: &Value, now: Timestamp, deadline: Instant) -> Result<SafetyNetReport> {
        let change = parse_event(event)?;
        if change.state_machine_arn != self.state_machine_arn {
            return Err(AppError::InvalidInput(format!(
                "execution {} belongs to {}, not to {}",
                change.execution_arn, change.state_machine_arn, self.state_machine_arn
            )));
        }
        validate_execution_name(&change.name)?;
        let marker = self
            .prefix
            .join(&change.name)
            .and_then(|d| d.join(MARKER))
            .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        // A missing key reads as 403 without s3:ListBucket: ask for it only if it exists.
        if let Some(done) = self.store.get_object_if_exists(self.bucket.as_str(), marker.as_str()).await? {
            info!(execution = %change.name, "the safety net already ran for this execution");
            let mut report: SafetyNetReport = serde_json::from_slice(&done).map_err(|e| {
                AppError::InvalidInput(format!("s3://{}/{marker} is not a report: {e}", self.bucket.as_str()))
            })?;
            report.action = "already_done".into();
            return Ok(report);
        }
        // The event says what happened; DescribeExecution is the truth (an event can be late).
        let execution = self.history.describe_execution(&change.execution_arn).await?;
        let entered = self.history.states_entered(&change.execution_arn, STATES_READ).await?;
        let mut report = SafetyNetReport {
            execution_arn: execution.arn.clone(),
            status: execution.status.to_string(),
            action: "nothing".into(),
            lease_released: false,
            reason: None,
            last_state: None,
            cleanup: None,
            notification: None,
        };
        let (mut state, last_state, clean) = match decide(&execution, &entered)? {
            Decision::Nothing { reason } => {
                info!(execution = %execution.name, status = %execution.status, reason, "nothing for the safety net");
                report.reason = Some(reason);
                // Not marked: an execution still running gets its own event when it ends.
                return Ok(report);
            }
            Decision::NotifyOnly { state, last_state } => (*state, last_state, false),
            Decision::CleanupAndNotify { state, last_state } => (*state, last_state, true),
        };
        if let Some(arn) = &self.cluster_arn
            && arn != &state.cluster_arn
        {
            return Err(AppError::InvalidInput(format!("this deployment heals {arn}, not {}", state.cluster_arn)));
        }
        warn!(execution = %execution.name, status = %execution.status, last_state, cleanup = clean,
              "execution ended outside the workflow's failure path: the safety net takes over");
        let earlier = state.error.take();
        state.error = Some(ending_error(&execution, &last_state, earlier.as_ref()));
        if clean {
            let inv = Invocation { execution: &execution.name, now, deadline };
            state = match self.cleanup.cleanup(state.clone(), inv).await {
                Ok(s) => s,
                // Throttling, a transient error, a command still running: fail, so the invocation
                // is retried (Lambda retries an asynchronous invocation twice) and re-attaches.
                Err(AppError::Aws(e)) if e.is_retryable() => return Err(AppError::Aws(e)),
                Err(e @ AppError::StillRunning(_)) => return Err(e),
                Err(e) => {
                    warn!(error = %e, "safety-net cleanup failed");
                    state.cleanup = Some(CleanupReport { error: Some(e.to_string()), ..CleanupReport::default() });
                    state
                }
            };
        }
        // After the cleanup (no new remediation may start while it runs), before the notice, as
        // notify does: a release that fails is retried without a second notice, and a repeated
        // release (after a failed publish) changes nothing.
        report.lease_released = crate::lease::release(&self.lease, &state.cluster_arn, &execution.name).await?;
        let state = self.notify.run(state, Outcome::Failure, &execution.name, Some(execution.start), now).await?;
        report.action = if clean { "cleaned_up_and_notified" } else { "notified" }.into();
        report.last_state = Some(last_state);
        report.cleanup = state.cleanup;
        report.notification = state.notification;
        let body = serde_json::to_vec(&report).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        self.store.put_object(self.bucket.as_str(), marker.as_str(), body, "application/json").await?;
        info!(execution = %execution.name, action = %report.action, "safety net done");
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_names_are_the_asl_s() {
        let asl: Value = serde_json::from_str(include_str!("../../../../statemachine/remediation.asl.json")).unwrap();
        let states = asl["States"].as_object().unwrap();
        for name in NOTIFIED_STATES.iter().chain([&CLEANUP_STATE]) {
            assert!(states.contains_key(*name), "{name} is not a state of the ASL");
        }
    }

    #[test]
    fn events_that_are_not_status_changes_are_refused_in_one_line() {
        for bad in [
            json!({}),
            json!({"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change"}),
            json!({"source": "aws.states", "detail-type": "Step Functions Execution Status Change", "detail": {}}),
        ] {
            let e = parse_event(&bad).unwrap_err().to_string();
            assert!(e.starts_with("not a Step Functions execution status change") && !e.contains('\n'), "{e}");
        }
    }
}
