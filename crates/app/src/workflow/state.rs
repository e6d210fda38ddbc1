//! The remediation workflow's execution state: the detector's input plus what each step adds. Every
//! task Lambda receives `{step, execution, state}` and returns the whole new state (the ASL keeps it
//! with `OutputPath: $.Payload`), so one typed struct describes the state end to end. Fields added by
//! other steps (the approval branch) pass through untouched.

use autoheal_domain::cluster::{ClusterArn, ClusterName, ClusterVersion};
use autoheal_domain::fixes::RenderedFixes;
use autoheal_domain::remediation::Mode;
use autoheal_domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the state machine passes to a task Lambda.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskInput {
    /// Which step of a multi-step Lambda (`scale`/`poll`, `capture`/`plan`/…, `success`/`failure`).
    #[serde(default)]
    pub step: Option<String>,
    pub execution: ExecutionContext,
    pub state: WorkflowState,
}

/// From the ASL context object (`$$.Execution`).
#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionContext {
    pub name: String,
    #[serde(default)]
    pub start_time: Option<String>,
}

impl ExecutionContext {
    pub fn started(&self) -> Option<Timestamp> {
        self.start_time.as_deref().and_then(Timestamp::parse)
    }
}

/// The whole execution state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkflowState {
    // ---- the detector's input (docs/ARCHITECTURE.md) -------------------------------------------
    pub cluster_arn: ClusterArn,
    pub cluster_name: ClusterName,
    /// Passed through as the detector wrote it; only read for notifications.
    #[serde(default)]
    pub incident: Value,
    pub current_broker_count: u32,
    pub target_broker_count: u32,
    pub az_count: u32,
    pub current_version: ClusterVersion,
    pub mode: Mode,
    // ---- added by the workflow -------------------------------------------------------------------
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assessment: Option<Assessment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capture: Option<CaptureSummary>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanSummary>,
    /// The approval branch's dry-run plan, made before scaling for the approval email. Apart from
    /// `capture`/`plan`, which the post-scale steps make afresh against the brokers that joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<DryRunPlan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reassignment: Option<ReassignmentProgress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healed: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup: Option<CleanupReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<NotificationSent>,
    /// `{Error, Cause}` from the ASL's Catch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Lists cut to [`LIST_CAP`] entries by [`WorkflowState::cap_lists`]: `"plan.topics"` → how many
    /// there were and where every one of them is (Step Functions fails an execution whose state
    /// passes 256 KB, with `States.DataLimitExceeded`, which no `States.ALL` Catch sees).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub capped: BTreeMap<String, CappedList>,
    /// Anything else (e.g. the approval step's result), kept as it came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The most entries a list that grows with the cluster keeps in the state. 50 topic names of up to
/// 249 bytes, or 50 partition reasons, stay far below 256 KB together, whatever the cluster's size.
pub const LIST_CAP: usize = 50;

/// A list of the state cut to [`LIST_CAP`] entries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CappedList {
    /// How many entries there were.
    pub total: usize,
    /// Where every entry is, when something needs them all later (an `s3://` URL); None when the
    /// list is only reported (the first [`LIST_CAP`] and the count say enough).
    pub full: Option<String>,
}

impl WorkflowState {
    /// Cuts every list that grows with the cluster (topics, partitions) to [`LIST_CAP`] entries and
    /// records in [`WorkflowState::capped`] how many there were. Every task Lambda's output goes
    /// through it ([`super::output`]). A capped `plan.topics` is complete in the plan's S3 object
    /// (`plan_key`: every changed partition, so every topic): a step that needs every topic reads
    /// them there when `capped` names `plan.topics`. The broker lists stay whole: MSK has at most
    /// a few dozen brokers.
    pub fn cap_lists(&mut self) {
        let mut capped = std::mem::take(&mut self.capped);
        let mut cut = |path: &str, list: &mut Vec<String>, full: Option<String>| {
            if list.len() > LIST_CAP {
                capped.insert(path.to_owned(), CappedList { total: list.len(), full });
                list.truncate(LIST_CAP);
            }
        };
        if let Some(p) = self.plan.as_mut() {
            let full = Some(format!("s3://{}/{}", p.s3_bucket, p.plan_key));
            cut("plan.topics", &mut p.topics, full);
        }
        if let Some(r) = self.reassignment.as_mut() {
            cut("reassignment.election_failures", &mut r.election_failures, None);
        }
        if let Some(c) = self.cleanup.as_mut() {
            cut("cleanup.cancelled", &mut c.cancelled, None);
            cut("cleanup.throttles_removed", &mut c.throttles_removed, None);
            cut("cleanup.throttles_restored", &mut c.throttles_restored, None);
            cut("cleanup.throttles_failed", &mut c.throttles_failed, None);
        }
        if let Some(d) = self.dry_run.as_mut() {
            cut("dry_run.assumptions", &mut d.assumptions, None);
        }
        self.capped = capped;
    }

    /// Whether `path` (e.g. `"plan.topics"`) was cut by [`WorkflowState::cap_lists`].
    pub fn is_capped(&self, path: &str) -> bool {
        self.capped.contains_key(path)
    }
}

/// Intervals and time limits, set in the ASL's first state from its `${...}` substitutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub scale_poll_seconds: u64,
    pub scale_timeout_seconds: u64,
    pub verify_poll_seconds: u64,
    pub reassign_timeout_seconds: u64,
}

impl Default for Settings {
    /// MSK takes 15-60 minutes to add brokers; throttled moves can take hours.
    fn default() -> Self {
        Self {
            scale_poll_seconds: 60,
            scale_timeout_seconds: 90 * 60,
            verify_poll_seconds: 30,
            reassign_timeout_seconds: 12 * 60 * 60,
        }
    }
}

/// Assess: the cluster as it is now and the fix, rendered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assessment {
    pub state: String,
    pub broker_count: u32,
    pub az_count: u32,
    pub current_version: ClusterVersion,
    pub instance_type: Option<String>,
    pub kafka_version: Option<String>,
    pub target_broker_count: u32,
    /// False when the cluster already has the target count (someone scaled it meanwhile).
    pub scale_needed: bool,
    /// Every format of the fix; absent when no scaling is needed.
    pub fixes: Option<RenderedFixes>,
    pub assessed_at: Timestamp,
}

/// ScaleBrokers and WaitForActive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleProgress {
    /// UpdateBrokerCount was called by this execution.
    pub requested: bool,
    pub operation_arn: Option<String>,
    /// Why it was not called (already at target, operation in progress).
    pub note: Option<String>,
    pub from: u32,
    pub target: u32,
    pub started_at: Timestamp,
    /// The poll's last view.
    pub state: String,
    pub broker_count: u32,
    pub active: bool,
    pub polls: u32,
    pub version_retries: u32,
    /// Another operation (not ours) the cluster was UPDATING for when ScaleBrokers ran: the poll
    /// waits for the cluster to be ACTIVE, then sends our UpdateBrokerCount if still below target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The last DescribeClusterOperationV2 state of our operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<String>,
}

/// CaptureAssignment (and the capture ConfirmHealed makes).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaptureSummary {
    pub s3_key: String,
    pub partitions: usize,
    pub replicas: usize,
    pub brokers: Vec<i32>,
    /// broker id → rack; absent when kafka-broker-api-versions.sh was unavailable.
    pub racks: Option<BTreeMap<i32, String>>,
    pub under_replicated: usize,
    pub reassigning: usize,
    pub captured_at: Timestamp,
}

/// PlanReassignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanSummary {
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub plan_key: String,
    pub rollback_key: String,
    pub stage_keys: Vec<String>,
    pub changed_partitions: usize,
    pub moves: u64,
    pub lower_bound: u64,
    pub leader_changes: u64,
    pub bytes_moved: Option<u64>,
    pub eta_seconds: Option<f64>,
    pub replica_spread_before: u64,
    pub replica_spread_after: u64,
    pub throttle_bytes_per_sec: u64,
    /// Topics the plan touches (their throttles are removed on cleanup).
    pub topics: Vec<String>,
    pub brokers: Vec<i32>,
}

/// DryRunPlan (approval branch, before any broker is added): the current assignment planned onto
/// the brokers the scale-out is expected to add — an estimate, never executed. Field names match
/// the approval email's plan summary (`autoheal_domain::approval::PlanSummary`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DryRunPlan {
    /// Always true: planned against predicted brokers.
    pub estimate: bool,
    /// What was assumed about the new brokers (ids, racks), one sentence each.
    pub assumptions: Vec<String>,
    pub capture_key: String,
    /// The estimated reassignment (for a person to read; nothing executes it).
    pub plan_key: String,
    pub captured_at: Timestamp,
    pub partitions: usize,
    pub under_replicated: usize,
    /// The brokers Kafka listed at the capture.
    pub brokers_now: Vec<i32>,
    /// Predicted ids of the brokers to be added.
    pub new_brokers: Vec<i32>,
    /// Every broker the estimate plans over (now + predicted).
    pub brokers: Vec<i32>,
    /// broker id → rack, predicted ones included; absent when the brokers report no racks.
    pub racks: Option<BTreeMap<i32, String>>,
    pub changed_partitions: usize,
    pub moves: u64,
    pub lower_bound: u64,
    pub leader_changes: u64,
    pub bytes_moved: Option<u64>,
    pub eta_seconds: Option<f64>,
    pub replica_spread_before: u64,
    pub replica_spread_after: u64,
    pub throttle_bytes_per_sec: u64,
    pub stage_count: usize,
}

/// ExecuteReassignment / VerifyReassignment, stage by stage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReassignmentProgress {
    /// Index of the stage being executed or verified.
    pub stage: usize,
    pub stages: usize,
    pub status: ReassignmentStatus,
    pub started_at: Timestamp,
    pub stage_started_at: Timestamp,
    pub verifies: u32,
    pub partitions_complete: usize,
    pub partitions_in_progress: usize,
    pub throttles_removed: bool,
    /// Preferred leader elections after completed stages: partitions whose preferred (first)
    /// replica took the leadership, in total.
    #[serde(default)]
    pub leaders_elected: usize,
    /// Partitions the last election could not hand to their preferred replica (`tp: reason`);
    /// ConfirmHealed elects again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub election_failures: Vec<String>,
    /// Consecutive verifies that found a partition neither at its target nor reassigning. Kafka's
    /// `--verify` asks the controller what is reassigning but a broker's metadata cache for the
    /// replicas, so a partition that has just finished can read that way once; the stage fails
    /// only when [`STALL_CONFIRMATIONS`] verifies in a row say so.
    #[serde(default)]
    pub stalled_verifies: u32,
}

/// How many consecutive `--verify` runs must report a partition "not at its target and not
/// reassigning" before the stage is failed (see [`ReassignmentProgress::stalled_verifies`]).
pub const STALL_CONFIRMATIONS: u32 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReassignmentStatus {
    /// The stage runs: wait and verify again.
    InProgress,
    /// The stage finished and another one follows (`stage` already points at it): execute it.
    StageComplete,
    /// Every stage finished.
    Complete,
}

/// ConfirmHealed: the symptom itself, measured again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthCheck {
    pub under_replicated: usize,
    pub brokers: Vec<i32>,
    pub replicas_per_broker: BTreeMap<i32, usize>,
    pub replica_spread: usize,
    pub checked_at: Timestamp,
}

/// Cleanup on the failure path.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CleanupReport {
    /// Why nothing was done on the cluster (no plan, or no stage was about to be executed).
    pub skipped: Option<String>,
    /// The stage (from 1) whose reassignment was `--cancel`led, when one may have been running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_stage: Option<usize>,
    /// Partitions Kafka reverted.
    pub cancelled: Vec<String>,
    /// Throttle configs this execution had set, removed (`<kind> <name>: <configs>`).
    pub throttles_removed: Vec<String>,
    /// An operator's throttle configs that `--execute` had overwritten, put back.
    #[serde(default)]
    pub throttles_restored: Vec<String>,
    pub throttles_failed: Vec<String>,
    /// The cleanup command's own failure, if any (the failure notification still goes out).
    pub error: Option<String>,
}

/// Notify.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NotificationSent {
    pub outcome: String,
    pub subject: String,
    pub message_id: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input() -> Value {
        json!({
            "cluster_arn": "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
            "cluster_name": "demo",
            "incident": {"type": "MSKClusterCapacityInsufficient", "severity": "High"},
            "current_broker_count": 2,
            "target_broker_count": 4,
            "az_count": 2,
            "current_version": "K3AEGXETSR30VB",
            "mode": "auto"
        })
    }

    #[test]
    fn the_detector_input_is_a_state_and_unknown_fields_pass_through() {
        let mut v = input();
        v["approval"] = json!({"approved_by": "ops"});
        let s: WorkflowState = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(s.target_broker_count, 4);
        let back = serde_json::to_value(&s).unwrap();
        assert_eq!(back, v, "nothing added, nothing lost");
    }

    #[test]
    fn invalid_identities_are_refused() {
        let mut v = input();
        v["cluster_arn"] = json!("arn:aws:kafka:us-east-1:1:cluster/x;reboot/y");
        assert!(serde_json::from_value::<WorkflowState>(v).is_err());
    }
}
