//! The safety net's decision and actions over fakes: an execution history (DescribeExecution and
//! the states entered), kafka-ops' cleanup, SNS and S3 in memory.

use autoheal_app::AppError;
use autoheal_app::workflow::WorkflowState;
use autoheal_app::workflow::kafka_ops::Invocation;
use autoheal_app::workflow::notify::Notify;
use autoheal_app::workflow::safety_net::{CleanupStep, SafetyNet};
use autoheal_app::workflow::state::CleanupReport;
use autoheal_aws::lease::MemoryLease;
use autoheal_aws::ports::Lease;
use autoheal_aws::ports::{Notifier, ObjectStore};
use autoheal_aws::sfn_history::{ExecutionDescription, ExecutionHistory, StateEntered};
use autoheal_aws::{AwsError, ErrorKind};
use autoheal_domain::flight::ExecutionStatus;
use autoheal_domain::kafka_cli::{S3Bucket, S3Key};
use autoheal_domain::time::Timestamp;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:msk-autoheal-remediation";
const NAME: &str = "8f3a2b1c-demo-20261125T180000Z";
const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";

fn exec_arn() -> String {
    format!("arn:aws:states:us-east-1:123456789012:execution:msk-autoheal-remediation:{NAME}")
}

fn event(status: &str) -> Value {
    json!({
        "version": "0", "id": "315c1398-40ff-a850-213b-158f73e60175",
        "detail-type": "Step Functions Execution Status Change", "source": "aws.states",
        "account": "123456789012", "time": "2026-11-25T18:30:00Z", "region": "us-east-1",
        "resources": [exec_arn()],
        "detail": {"executionArn": exec_arn(), "stateMachineArn": SM, "name": NAME, "status": status,
                   "startDate": 1_795_629_600_000_i64, "stopDate": 1_795_631_400_000_i64,
                   "input": "{}", "inputDetails": {"included": true}, "output": null, "outputDetails": null,
                   "error": null, "cause": null}
    })
}

fn detector_input() -> Value {
    json!({
        "cluster_arn": ARN, "cluster_name": "demo",
        "incident": {"type": "MSKClusterCapacityInsufficient", "severity": "High"},
        "current_broker_count": 2, "target_broker_count": 4, "az_count": 2,
        "current_version": "K1", "mode": "auto"
    })
}

/// The state while stage 1 of 2 moves: a plan and a reassignment in progress.
fn mid_reassignment() -> Value {
    let mut s = detector_input();
    s["plan"] = json!({"s3_bucket": "plans-1", "s3_prefix": format!("autoheal/{NAME}"),
        "plan_key": format!("autoheal/{NAME}/plan.json"), "rollback_key": format!("autoheal/{NAME}/rollback.json"),
        "stage_keys": [format!("autoheal/{NAME}/stage-1.json"), format!("autoheal/{NAME}/stage-2.json")],
        "changed_partitions": 6, "moves": 6, "lower_bound": 6, "leader_changes": 2, "bytes_moved": 1000,
        "eta_seconds": 1.0, "replica_spread_before": 6, "replica_spread_after": 0,
        "throttle_bytes_per_sec": 1000, "topics": ["t"], "brokers": [1, 2, 3, 4]});
    s["reassignment"] = json!({"stage": 0, "stages": 2, "status": "in_progress",
        "started_at": "2026-11-25T18:20:00Z", "stage_started_at": "2026-11-25T18:20:00Z", "verifies": 3,
        "partitions_complete": 1, "partitions_in_progress": 2, "throttles_removed": false});
    s
}

fn entered(names_newest_first: &[(&str, Option<Value>)]) -> Vec<StateEntered> {
    let n = names_newest_first.len() as i64;
    names_newest_first
        .iter()
        .enumerate()
        .map(|(i, (name, input))| StateEntered {
            id: (n - i as i64) * 3,
            name: (*name).to_owned(),
            input: input.as_ref().map(Value::to_string),
        })
        .collect()
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(60)
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

#[derive(Clone)]
struct History {
    status: ExecutionStatus,
    error: Option<String>,
    entered: Vec<StateEntered>,
}

impl ExecutionHistory for History {
    async fn describe_execution(&self, arn: &str) -> autoheal_aws::error::Result<ExecutionDescription> {
        assert_eq!(arn, exec_arn());
        Ok(ExecutionDescription {
            arn: arn.to_owned(),
            state_machine_arn: SM.into(),
            name: NAME.into(),
            status: self.status,
            start: t("2026-11-25T18:00:00Z"),
            stop: Some(t("2026-11-25T18:30:00Z")),
            input: Some(detector_input().to_string()),
            error: self.error.clone(),
            cause: None,
        })
    }

    async fn states_entered(&self, _arn: &str, limit: usize) -> autoheal_aws::error::Result<Vec<StateEntered>> {
        Ok(self.entered.iter().take(limit).cloned().collect())
    }
}

/// Records the states kafka-ops' cleanup was given; answers like it (a report) or with `fail`.
#[derive(Clone, Default)]
struct Cleanup {
    calls: Arc<Mutex<Vec<WorkflowState>>>,
    fail: Option<ErrorKind>,
}

impl CleanupStep for Cleanup {
    async fn cleanup(&self, mut state: WorkflowState, inv: Invocation<'_>) -> autoheal_app::Result<WorkflowState> {
        assert_eq!(inv.execution, NAME);
        self.calls.lock().unwrap().push(state.clone());
        if let Some(kind) = self.fail {
            return Err(AwsError::new("SendCommand", kind, "boom").into());
        }
        state.cleanup = Some(CleanupReport {
            cancelled: vec!["t-0".into(), "t-1".into()],
            throttles_removed: vec!["broker 1: leader.replication.throttled.rate".into()],
            ..CleanupReport::default()
        });
        Ok(state)
    }
}

#[derive(Clone, Default)]
struct Sns(Arc<Mutex<Vec<(String, String)>>>);

impl Notifier for Sns {
    async fn publish(&self, subject: &str, message: &str) -> autoheal_aws::error::Result<String> {
        let mut v = self.0.lock().unwrap();
        v.push((subject.to_owned(), message.to_owned()));
        Ok(format!("msg-{}", v.len()))
    }
}

#[derive(Clone, Default)]
struct Store(Arc<Mutex<HashMap<String, Vec<u8>>>>);

impl ObjectStore for Store {
    async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> autoheal_aws::error::Result<()> {
        self.0.lock().unwrap().insert(format!("{bucket}/{key}"), body);
        Ok(())
    }

    async fn get_object(&self, bucket: &str, key: &str) -> autoheal_aws::error::Result<Vec<u8>> {
        self.0
            .lock()
            .unwrap()
            .get(&format!("{bucket}/{key}"))
            .cloned()
            .ok_or_else(|| AwsError::new("GetObject", ErrorKind::NotFound, format!("no {key}")))
    }
}

struct World {
    net: SafetyNet<History, Cleanup, Sns, Store, MemoryLease>,
    cleanup: Cleanup,
    sns: Sns,
    store: Store,
}

fn world(history: History, cleanup: Cleanup) -> World {
    let (sns, store) = (Sns::default(), Store::default());
    let net = SafetyNet {
        history,
        cleanup: cleanup.clone(),
        notify: Notify { notifier: sns.clone() },
        lease: MemoryLease::default(),
        store: store.clone(),
        bucket: S3Bucket::parse("plans-1").unwrap(),
        prefix: S3Key::parse("autoheal").unwrap(),
        state_machine_arn: SM.into(),
        cluster_arn: Some(autoheal_domain::cluster::ClusterArn::parse(ARN).unwrap()),
    };
    World { net, cleanup, sns, store }
}

#[tokio::test]
async fn a_failure_the_workflow_cleaned_up_and_notified_itself_is_left_alone() {
    let mut failed = mid_reassignment();
    failed["error"] = json!({"Error": "ReassignmentFailed", "Cause": "{}"});
    let w = world(
        History {
            status: ExecutionStatus::Failed,
            error: Some("ReassignmentFailed".into()),
            entered: entered(&[
                ("RemediationFailed", Some(failed.clone())),
                ("NotifyFailure", Some(failed.clone())),
                ("Cleanup", Some(failed)),
                ("VerifyReassignment", Some(mid_reassignment())),
            ]),
        },
        Cleanup::default(),
    );
    let report = w.net.run(&event("FAILED"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap();
    assert_eq!(report.action, "nothing");
    assert!(report.reason.unwrap().contains("RemediationFailed entered"));
    assert!(w.cleanup.calls.lock().unwrap().is_empty(), "no second cleanup");
    assert!(w.sns.0.lock().unwrap().is_empty(), "no second notification");
}

#[tokio::test]
async fn aborted_mid_reassignment_cleans_up_and_notifies_once() {
    let w = world(
        History {
            status: ExecutionStatus::Aborted,
            error: None,
            entered: entered(&[
                ("WaitForReassignment", Some(mid_reassignment())),
                ("ReassignmentDone", Some(mid_reassignment())),
                ("VerifyReassignment", Some(mid_reassignment())),
                ("Settings", Some(detector_input())),
            ]),
        },
        Cleanup::default(),
    );
    let cluster = autoheal_domain::cluster::ClusterArn::parse(ARN).unwrap();
    w.net.lease.acquire(&cluster, NAME, t("2026-11-25T18:00:00Z"), 3600, None).await.unwrap();
    let report = w.net.run(&event("ABORTED"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap();
    assert_eq!(report.action, "cleaned_up_and_notified");
    assert_eq!(report.last_state.as_deref(), Some("WaitForReassignment"));
    assert!(report.lease_released && w.net.lease.holder(&cluster).is_none(), "the cluster is free again");
    {
        let calls = w.cleanup.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        let given = &calls[0];
        assert_eq!(given.reassignment.as_ref().unwrap().stages, 2, "cleanup gets the last workflow state");
        assert_eq!(given.error.as_ref().unwrap()["Error"], "ExecutionAborted");
    }
    {
        let sent = w.sns.0.lock().unwrap();
        assert_eq!(sent.len(), 1);
        let (subject, body) = &sent[0];
        assert_eq!(subject, "msk-autoheal: remediation of demo FAILED (ExecutionAborted)");
        assert!(body.contains("The execution ended ABORTED at 2026-11-25T18:30:00"), "{body}");
        assert!(body.contains("in state WaitForReassignment"), "{body}");
        assert!(body.contains("outside the workflow's own Cleanup"), "{body}");
        assert!(body.contains("Cleanup: cancelled t-0; t-1"), "{body}");
        assert!(body.contains("Duration: 30m 05s"), "{body}");
    }
    assert!(w.store.0.lock().unwrap().contains_key(&format!("plans-1/autoheal/{NAME}/safety-net.json")));

    // EventBridge delivers at least once: the second delivery does nothing.
    let again = w.net.run(&event("ABORTED"), t("2026-11-25T18:31:00Z"), soon()).await.unwrap();
    assert_eq!(again.action, "already_done");
    assert_eq!(w.cleanup.calls.lock().unwrap().len(), 1);
    assert_eq!(w.sns.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn timed_out_during_cleanup_notifies_without_a_second_cleanup() {
    let mut failed = mid_reassignment();
    failed["error"] = json!({"Error": "CommandFailed", "Cause": "{\"errorMessage\":\"verify exited 1\"}"});
    let w = world(
        History {
            status: ExecutionStatus::TimedOut,
            error: None,
            entered: entered(&[("Cleanup", Some(failed)), ("VerifyReassignment", Some(mid_reassignment()))]),
        },
        Cleanup::default(),
    );
    let cluster = autoheal_domain::cluster::ClusterArn::parse(ARN).unwrap();
    w.net.lease.acquire(&cluster, "someone-else", t("2026-11-25T18:00:00Z"), 3600, None).await.unwrap();
    let report = w.net.run(&event("TIMED_OUT"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap();
    assert_eq!(report.action, "notified");
    assert!(!report.lease_released, "another execution's lease is not ours to release");
    assert_eq!(w.net.lease.holder(&cluster).as_deref(), Some("someone-else"));
    assert!(w.cleanup.calls.lock().unwrap().is_empty());
    let sent = w.sns.0.lock().unwrap();
    assert_eq!(sent[0].0, "msk-autoheal: remediation of demo FAILED (ExecutionTimedOut)");
    assert!(sent[0].1.contains("had failed before with CommandFailed"), "{}", sent[0].1);
}

#[tokio::test]
async fn a_state_too_big_to_record_falls_back_to_the_one_before() {
    // States.DataLimitExceeded: the last entered state has no usable input.
    let w = world(
        History {
            status: ExecutionStatus::Failed,
            error: Some("States.DataLimitExceeded".into()),
            entered: entered(&[("VerifyReassignment", None), ("WaitForReassignment", Some(mid_reassignment()))]),
        },
        Cleanup::default(),
    );
    let report = w.net.run(&event("FAILED"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap();
    assert_eq!(report.action, "cleaned_up_and_notified");
    assert!(w.cleanup.calls.lock().unwrap()[0].plan.is_some());
    assert_eq!(w.sns.0.lock().unwrap()[0].0, "msk-autoheal: remediation of demo FAILED (States.DataLimitExceeded)");
}

#[tokio::test]
async fn a_transient_cleanup_error_fails_the_invocation_for_a_retry_and_marks_nothing() {
    let w = world(
        History {
            status: ExecutionStatus::Aborted,
            error: None,
            entered: entered(&[("WaitForReassignment", Some(mid_reassignment()))]),
        },
        Cleanup { fail: Some(ErrorKind::Throttled), ..Cleanup::default() },
    );
    let e = w.net.run(&event("ABORTED"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap_err();
    assert_eq!(e.error_type(), "Retryable");
    assert!(w.sns.0.lock().unwrap().is_empty());
    assert!(w.store.0.lock().unwrap().is_empty(), "no marker: the retry does it all");
}

#[tokio::test]
async fn a_cleanup_that_cannot_run_is_still_notified() {
    let w = world(
        History {
            status: ExecutionStatus::Aborted,
            error: None,
            entered: entered(&[("WaitForReassignment", Some(mid_reassignment()))]),
        },
        Cleanup { fail: Some(ErrorKind::AccessDenied), ..Cleanup::default() },
    );
    let report = w.net.run(&event("ABORTED"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap();
    assert!(report.cleanup.unwrap().error.unwrap().contains("boom"));
    assert!(w.sns.0.lock().unwrap()[0].1.contains("Cleanup problem: "), "the notice says so");
}

#[tokio::test]
async fn still_running_or_succeeded_or_someone_else_s_is_not_touched() {
    for status in [ExecutionStatus::Running, ExecutionStatus::Succeeded] {
        let w = world(
            History { status, error: None, entered: entered(&[("WaitForReassignment", Some(mid_reassignment()))]) },
            Cleanup::default(),
        );
        assert_eq!(w.net.run(&event("ABORTED"), t("2026-11-25T18:30:05Z"), soon()).await.unwrap().action, "nothing");
        assert!(w.cleanup.calls.lock().unwrap().is_empty() && w.sns.0.lock().unwrap().is_empty());
        assert!(w.store.0.lock().unwrap().is_empty(), "not marked: its own end sends its own event");
    }
    let w = world(History { status: ExecutionStatus::Aborted, error: None, entered: vec![] }, Cleanup::default());
    let mut other = event("ABORTED");
    other["detail"]["stateMachineArn"] = json!("arn:aws:states:us-east-1:123456789012:stateMachine:other");
    let e = w.net.run(&other, t("2026-11-25T18:30:05Z"), soon()).await.unwrap_err();
    assert!(matches!(e, AppError::InvalidInput(_)), "{e}");
    assert!(w.cleanup.calls.lock().unwrap().is_empty());
}
