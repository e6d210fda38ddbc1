//! Assess, ScaleBrokers and WaitForActive over the real MSK adapter with mocked SDK responses:
//! throttling and 5xx retried, a stale CurrentVersion re-read once, UPDATING → UPDATING → ACTIVE,
//! already-at-target and FAILED clusters, the ceiling; our operation UPDATE_FAILED failing fast with
//! MSK's error info, someone else's operation waited for and our update sent after it, and never a
//! second UpdateBrokerCount while ours runs.

use autoheal_app::workflow::WorkflowState;
use autoheal_app::workflow::assess::{Assess, AssessConfig};
use autoheal_app::workflow::scale::Scale;
use autoheal_app::workflow::state::Settings;
use autoheal_aws::{kafka::MskClusters, sdk};
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::time::Timestamp;
use aws_sdk_kafka::operation::describe_cluster_operation_v2::DescribeClusterOperationV2Output;
use aws_sdk_kafka::operation::describe_cluster_v2::DescribeClusterV2Output;
use aws_sdk_kafka::operation::list_cluster_operations_v2::ListClusterOperationsV2Output;
use aws_sdk_kafka::operation::update_broker_count::UpdateBrokerCountOutput;
use aws_sdk_kafka::types::{
    BrokerNodeGroupInfo, Cluster, ClusterOperationV2, ClusterOperationV2Summary, ClusterState, ClusterType, ErrorInfo,
    Provisioned,
};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::json;
use std::time::Duration;

const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";

fn state() -> WorkflowState {
    serde_json::from_value(json!({
        "cluster_arn": ARN, "cluster_name": "demo",
        "incident": {"type": "MSKClusterCapacityInsufficient"},
        "current_broker_count": 2, "target_broker_count": 4, "az_count": 2,
        "current_version": "K1", "mode": "auto"
    }))
    .unwrap()
}

fn cluster(state: ClusterState, brokers: i32, version: &str) -> Cluster {
    Cluster::builder()
        .cluster_arn(ARN)
        .cluster_name("demo")
        .cluster_type(ClusterType::Provisioned)
        .state(state)
        .current_version(version)
        .provisioned(
            Provisioned::builder()
                .number_of_broker_nodes(brokers)
                .broker_node_group_info(
                    BrokerNodeGroupInfo::builder()
                        .client_subnets("subnet-a")
                        .client_subnets("subnet-b")
                        .instance_type("kafka.t3.small")
                        .build(),
                )
                .build(),
        )
        .build()
}

fn describe_output(state: ClusterState, brokers: i32, version: &str) -> DescribeClusterV2Output {
    DescribeClusterV2Output::builder().cluster_info(cluster(state, brokers, version)).build()
}

/// DescribeClusterOperationV2 of `arn` in `state`, with MSK's errorInfo when given.
fn operation(arn: &str, state: &str, error: Option<(&str, &str)>) -> DescribeClusterOperationV2Output {
    let mut op = ClusterOperationV2::builder()
        .cluster_arn(ARN)
        .operation_arn(arn)
        .operation_type("UPDATE_BROKER_COUNT")
        .operation_state(state);
    if let Some((code, text)) = error {
        op = op.error_info(ErrorInfo::builder().error_code(code).error_string(text).build());
    }
    DescribeClusterOperationV2Output::builder().cluster_operation_info(op.build()).build()
}

/// Our operation, UPDATE_IN_PROGRESS for as long as it is asked.
fn in_progress(arn: &'static str) -> Rule {
    mock!(aws_sdk_kafka::Client::describe_cluster_operation_v2)
        .match_requests(move |r| r.cluster_operation_arn() == Some(arn))
        .then_output(move || operation(arn, "UPDATE_IN_PROGRESS", None))
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    )
}

fn msk(rules: &[&Rule]) -> MskClusters {
    let retries =
        sdk::retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2));
    MskClusters::new(mock_client!(aws_sdk_kafka, RuleMode::MatchAny, rules, |c| c.retry_config(retries.clone())))
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn scale(rules: &[&Rule]) -> Scale<MskClusters> {
    Scale { clusters: msk(rules), max_brokers: 6 }
}

#[tokio::test]
async fn scales_with_the_fresh_version_after_throttling_and_a_5xx() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .http_response(|| error(429, "TooManyRequestsException", "Rate exceeded"))
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .build();
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .match_requests(|r| r.current_version() == Some("K2") && r.target_number_of_broker_nodes() == Some(4))
        .sequence()
        .http_response(|| error(503, "ServiceUnavailableException", "try again"))
        .output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/1").build())
        .build();
    let s = scale(&[&describe, &update]).scale(state(), t("2026-11-25T18:01:00Z")).await.unwrap();
    let p = s.scale.unwrap();
    assert!(p.requested);
    assert_eq!(p.operation_arn.as_deref(), Some("arn:op/1"));
    assert_eq!((p.from, p.target), (2, 4));
    assert_eq!(s.current_version.as_str(), "K2");
    assert_eq!(update.num_calls(), 2, "the 503 was retried");
}

#[tokio::test]
async fn a_stale_version_is_re_read_once() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .output(|| describe_output(ClusterState::Active, 2, "K3"))
        .build();
    let stale = mock!(aws_sdk_kafka::Client::update_broker_count)
        .match_requests(|r| r.current_version() == Some("K2"))
        .then_http_response(|| {
            error(400, "BadRequestException", "The provided cluster version K2 does not match the current version K3")
        });
    let fresh = mock!(aws_sdk_kafka::Client::update_broker_count)
        .match_requests(|r| r.current_version() == Some("K3"))
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/2").build());
    let s = scale(&[&describe, &stale, &fresh]).scale(state(), t("2026-11-25T18:01:00Z")).await.unwrap();
    let p = s.scale.unwrap();
    assert_eq!(p.version_retries, 1);
    assert_eq!(p.operation_arn.as_deref(), Some("arn:op/2"));
    assert_eq!((stale.num_calls(), fresh.num_calls()), (1, 1));
}

#[tokio::test]
async fn a_version_that_keeps_changing_is_a_version_conflict() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .then_output(|| describe_output(ClusterState::Active, 2, "K2"));
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .then_http_response(|| error(409, "ConflictException", "cluster version mismatch"));
    let e = scale(&[&describe, &update]).scale(state(), t("2026-11-25T18:01:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "VersionConflict", "{e}");
    assert_eq!(update.num_calls(), 2);
}

#[tokio::test]
async fn no_call_at_target_or_while_updating() {
    let at_target = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .then_output(|| describe_output(ClusterState::Active, 4, "K2"));
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/x").build());
    let s = scale(&[&at_target, &update]).scale(state(), t("2026-11-25T18:01:00Z")).await.unwrap();
    assert!(!s.scale.as_ref().unwrap().requested);
    assert!(s.scale.unwrap().note.unwrap().contains("already has 4"));

    let updating = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .then_output(|| describe_output(ClusterState::Updating, 2, "K2"));
    let s =
        scale(&[&updating, &update, &foreign_operations()]).scale(state(), t("2026-11-25T18:01:00Z")).await.unwrap();
    let p = s.scale.unwrap();
    assert!(p.note.unwrap().contains("in progress"));
    assert_eq!(p.waiting_for.as_deref(), Some("arn:op/theirs (UPDATE_CLUSTER_CONFIGURATION)"));
    assert_eq!(update.num_calls(), 0, "UpdateBrokerCount must not be called");
}

#[tokio::test]
async fn refusals() {
    let failed = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .then_output(|| describe_output(ClusterState::Failed, 2, "K2"));
    let e = scale(&[&failed]).scale(state(), t("2026-11-25T18:01:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "ClusterFailed");

    let mut over = state();
    over.target_broker_count = 8;
    let e = scale(&[&failed]).scale(over, t("2026-11-25T18:01:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "AtCeiling");
    assert_eq!(failed.num_calls(), 1, "the ceiling is checked before any call");
}

#[tokio::test]
async fn waits_through_updating_until_active_at_target() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .output(|| describe_output(ClusterState::Updating, 2, "K2"))
        .output(|| describe_output(ClusterState::Updating, 2, "K2"))
        .output(|| describe_output(ClusterState::Active, 4, "K9"))
        .build();
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/1").build());
    let op = in_progress("arn:op/1");
    let s = scale(&[&describe, &update, &op]);
    let mut st = s.scale(state(), t("2026-11-25T18:00:00Z")).await.unwrap();
    let mut seen = Vec::new();
    for minute in 1..=3 {
        st = s.poll(st, t(&format!("2026-11-25T18:0{minute}:00Z"))).await.unwrap();
        let p = st.scale.as_ref().unwrap();
        seen.push((p.state.clone(), p.active));
    }
    assert_eq!(seen, [("UPDATING".into(), false), ("UPDATING".into(), false), ("ACTIVE".into(), true)]);
    assert_eq!(st.current_version.as_str(), "K9", "later steps use the new version");
}

#[tokio::test]
async fn the_wait_ends_on_failed_or_after_the_time_limit() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .output(|| describe_output(ClusterState::Updating, 2, "K2"))
        .output(|| describe_output(ClusterState::Failed, 2, "K2"))
        .build();
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/1").build());
    let op = in_progress("arn:op/1");
    let s = scale(&[&describe, &update, &op]);
    let mut st = s.scale(state(), t("2026-11-25T18:00:00Z")).await.unwrap();
    st.settings = Some(Settings { scale_timeout_seconds: 600, ..Settings::default() });
    let e = s.poll(st.clone(), t("2026-11-25T18:11:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "ClusterNotActive", "{e}");
    assert!(e.to_string().contains("after 11 minutes"), "{e}");
    let e = s.poll(st, t("2026-11-25T18:02:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "ClusterFailed");
}

#[tokio::test]
async fn assess_renders_every_fix_and_refuses_busy_clusters() {
    let active = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .then_output(|| describe_output(ClusterState::Active, 2, "K7"));
    let assess = Assess {
        clusters: msk(&[&active]),
        config: AssessConfig { capacity: CapacityPolicy { step_per_az: 1, max_brokers: 6 }, ..AssessConfig::default() },
    };
    let s = assess.run(state(), t("2026-11-25T18:00:00Z")).await.unwrap();
    let a = s.assessment.unwrap();
    assert!(a.scale_needed);
    let fixes = a.fixes.unwrap();
    assert!(
        fixes.aws_cli.contains("--current-version 'K7'") && fixes.aws_cli.contains("--target-number-of-broker-nodes 4")
    );
    assert!(fixes.terraform.contains("+  number_of_broker_nodes = 4"));
    assert!(fixes.kafka_cli.contains("--broker-list '1,2,3,4'"));

    let maintenance = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .then_output(|| describe_output(ClusterState::Maintenance, 2, "K7"));
    let assess = Assess { clusters: msk(&[&maintenance]), config: AssessConfig::default() };
    let e = assess.run(state(), t("2026-11-25T18:00:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "ClusterNotActive");

    let mut odd = state();
    odd.target_broker_count = 5;
    let e = Assess { clusters: msk(&[&active]), config: AssessConfig::default() }
        .run(odd, t("2026-11-25T18:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput", "{e}");
}

/// ListClusterOperationsV2: someone else's configuration update running, an old one of ours ended.
fn foreign_operations() -> Rule {
    mock!(aws_sdk_kafka::Client::list_cluster_operations_v2).then_output(|| {
        ListClusterOperationsV2Output::builder()
            .cluster_operation_info_list(
                ClusterOperationV2Summary::builder()
                    .operation_arn("arn:op/theirs")
                    .operation_type("UPDATE_CLUSTER_CONFIGURATION")
                    .operation_state("UPDATE_IN_PROGRESS")
                    .build(),
            )
            .cluster_operation_info_list(
                ClusterOperationV2Summary::builder()
                    .operation_arn("arn:op/old")
                    .operation_type("UPDATE_BROKER_COUNT")
                    .operation_state("UPDATE_COMPLETE")
                    .build(),
            )
            .build()
    })
}

#[tokio::test]
async fn our_operation_update_failed_fails_fast_with_msks_reason() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .output(|| describe_output(ClusterState::Updating, 2, "K2"))
        .output(|| describe_output(ClusterState::Active, 2, "K3"))
        .build();
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/1").build());
    let op = mock!(aws_sdk_kafka::Client::describe_cluster_operation_v2)
        .match_requests(|r| r.cluster_operation_arn() == Some("arn:op/1"))
        .sequence()
        .output(|| operation("arn:op/1", "UPDATE_IN_PROGRESS", None))
        .output(|| {
            operation(
                "arn:op/1",
                "UPDATE_FAILED",
                Some(("InsufficientCapacity", "There is not enough kafka.t3.small capacity in use1-az4")),
            )
        })
        .build();
    let s = scale(&[&describe, &update, &op]);
    let st = s.scale(state(), t("2026-11-25T18:00:00Z")).await.unwrap();
    let st = s.poll(st, t("2026-11-25T18:01:00Z")).await.unwrap();
    let p = st.scale.as_ref().unwrap();
    assert_eq!((p.active, p.operation_state.as_deref()), (false, Some("UPDATE_IN_PROGRESS")));
    // Two minutes in, far from the 90-minute limit: the failure is MSK's, said at once.
    let e = s.poll(st, t("2026-11-25T18:02:00Z")).await.unwrap_err();
    assert_eq!(e.error_type(), "ScaleFailed", "{e}");
    let msg = e.to_string();
    assert!(msg.contains("InsufficientCapacity") && msg.contains("not enough kafka.t3.small capacity"), "{msg}");
    assert!(msg.contains("arn:op/1") && msg.contains("UPDATE_FAILED"), "{msg}");
    assert_eq!(update.num_calls(), 1, "a failed operation is not retried by the poll");
}

#[tokio::test]
async fn after_someone_elses_operation_our_update_is_sent_with_the_new_version() {
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .output(|| describe_output(ClusterState::Updating, 2, "K2")) // ScaleBrokers
        .output(|| describe_output(ClusterState::Updating, 2, "K2")) // poll 1: theirs still running
        .output(|| describe_output(ClusterState::Active, 2, "K5")) // poll 2: theirs ended
        .output(|| describe_output(ClusterState::Updating, 2, "K5")) // poll 3: ours running
        .output(|| describe_output(ClusterState::Active, 4, "K6")) // poll 4: done
        .build();
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .match_requests(|r| r.current_version() == Some("K5") && r.target_number_of_broker_nodes() == Some(4))
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/ours").build());
    let ours = in_progress("arn:op/ours");
    let s = scale(&[&describe, &update, &ours, &foreign_operations()]);
    let mut st = s.scale(state(), t("2026-11-25T18:00:00Z")).await.unwrap();
    assert!(!st.scale.as_ref().unwrap().requested);
    assert!(st.scale.as_ref().unwrap().waiting_for.as_deref().unwrap().starts_with("arn:op/theirs"));
    st = s.poll(st, t("2026-11-25T18:01:00Z")).await.unwrap();
    assert_eq!(update.num_calls(), 0, "not while their operation runs");
    st = s.poll(st, t("2026-11-25T18:02:00Z")).await.unwrap();
    let p = st.scale.as_ref().unwrap();
    assert_eq!(update.num_calls(), 1, "sent as soon as the cluster was ACTIVE again");
    assert!(p.requested && !p.active);
    assert_eq!(p.operation_arn.as_deref(), Some("arn:op/ours"));
    st = s.poll(st, t("2026-11-25T18:03:00Z")).await.unwrap();
    assert_eq!(st.scale.as_ref().unwrap().operation_state.as_deref(), Some("UPDATE_IN_PROGRESS"));
    st = s.poll(st, t("2026-11-25T18:04:00Z")).await.unwrap();
    assert!(st.scale.as_ref().unwrap().active);
    assert_eq!(st.current_version.as_str(), "K6");
    assert_eq!(update.num_calls(), 1);
    assert_eq!(ours.num_calls(), 2, "our operation is read on every poll after it was sent");
}

#[tokio::test]
async fn no_second_update_while_ours_runs() {
    // MSK can show ACTIVE for a moment after accepting the update: the poll must not send another.
    let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .sequence()
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .output(|| describe_output(ClusterState::Active, 2, "K2"))
        .output(|| describe_output(ClusterState::Updating, 2, "K2"))
        .build();
    let update = mock!(aws_sdk_kafka::Client::update_broker_count)
        .then_output(|| UpdateBrokerCountOutput::builder().cluster_operation_arn("arn:op/1").build());
    let op = in_progress("arn:op/1");
    let s = scale(&[&describe, &update, &op]);
    let mut st = s.scale(state(), t("2026-11-25T18:00:00Z")).await.unwrap();
    for minute in 1..=2 {
        st = s.poll(st, t(&format!("2026-11-25T18:0{minute}:00Z"))).await.unwrap();
        assert!(!st.scale.as_ref().unwrap().active);
    }
    assert_eq!(update.num_calls(), 1);
}
