//! The detector use case over the real SDK adapters with mocked SDK responses: duplicates, single
//! flight, cool-down, throttling, missing clusters, the ceiling; and the cluster's lease (in memory,
//! with DynamoDB's conditions) holding when ListExecutions lags behind StartExecution.

use autoheal_app::detect::{Detector, Outcome};
use autoheal_aws::lease::MemoryLease;
use autoheal_aws::{kafka::MskClusters, sdk, sfn::StateMachine, sns::Topic};
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::remediation::DetectorPolicy;
use autoheal_domain::time::Timestamp;
use aws_sdk_kafka::operation::describe_cluster_v2::DescribeClusterV2Output;
use aws_sdk_kafka::operation::list_clusters_v2::ListClustersV2Output;
use aws_sdk_kafka::types::{BrokerNodeGroupInfo, Cluster, ClusterState, ClusterType, Provisioned};
use aws_sdk_sfn::operation::list_executions::ListExecutionsOutput;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/msk-demo/6f3c1e2a-0000-4000-8000-000000000000-2";
const SM: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:msk-autoheal-remediation";

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/alarms/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-25T18:00:05Z").unwrap()
}

fn cluster(state: ClusterState, brokers: i32) -> Cluster {
    Cluster::builder()
        .cluster_arn(ARN)
        .cluster_name("msk-demo")
        .cluster_type(ClusterType::Provisioned)
        .state(state)
        .current_version("K3AEGXETSR30VB")
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

fn list_clusters(clusters: Vec<Cluster>) -> Rule {
    mock!(aws_sdk_kafka::Client::list_clusters_v2)
        .then_output(move || ListClustersV2Output::builder().set_cluster_info_list(Some(clusters.clone())).build())
}

fn describe(state: ClusterState, brokers: i32) -> Rule {
    mock!(aws_sdk_kafka::Client::describe_cluster_v2)
        .match_requests(|r| r.cluster_arn() == Some(ARN))
        .then_output(move || DescribeClusterV2Output::builder().cluster_info(cluster(state.clone(), brokers)).build())
}

fn kafka(rules: &[&Rule]) -> aws_sdk_kafka::Client {
    mock_client!(aws_sdk_kafka, RuleMode::MatchAny, rules, |c| c.retry_config(fast_retries()))
}

fn sfn(rules: &[&Rule]) -> aws_sdk_sfn::Client {
    mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c.retry_config(fast_retries()))
}

fn sns(rules: &[&Rule]) -> aws_sdk_sns::Client {
    mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules)
}

/// Production's retry policy, minus the waiting.
fn fast_retries() -> aws_sdk_sfn::config::retry::RetryConfig {
    sdk::retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2))
}

/// An in-memory Step Functions: StartExecution records the execution (RUNNING) and answers
/// ExecutionAlreadyExists for a known name, as the service does for a different input.
#[derive(Clone, Default)]
struct FakeSfn {
    executions: Arc<Mutex<Vec<ExecutionListItem>>>,
    started: Arc<Mutex<Vec<(String, String)>>>,
    /// ListExecutions is eventually consistent: when set, it does not show executions started since.
    lagging: Arc<Mutex<Option<usize>>>,
}

impl FakeSfn {
    fn with(items: Vec<ExecutionListItem>) -> Self {
        let f = Self::default();
        *f.executions.lock().unwrap() = items;
        f
    }

    /// From now on ListExecutions shows only the executions that exist now.
    fn lag(&self) {
        *self.lagging.lock().unwrap() = Some(self.executions.lock().unwrap().len());
    }

    fn rules(&self) -> (Rule, Rule) {
        let execs = self.executions.clone();
        let lagging = self.lagging.clone();
        let list = mock!(aws_sdk_sfn::Client::list_executions).then_compute_output(move |req| {
            let all = execs.lock().unwrap();
            // New executions are inserted first: skip the ones the lagging list does not show yet.
            let hidden = lagging.lock().unwrap().map_or(0, |seen| all.len() - seen);
            let items: Vec<ExecutionListItem> = all
                .iter()
                .skip(hidden)
                .filter(|e| req.status_filter().is_none_or(|s| s == e.status()))
                .cloned()
                .collect();
            ListExecutionsOutput::builder().set_executions(Some(items)).build().unwrap()
        });
        let execs = self.executions.clone();
        let started = self.started.clone();
        let start = mock!(aws_sdk_sfn::Client::start_execution).then_compute_response(move |req| {
            let name = req.name().unwrap_or_default().to_owned();
            let mut execs = execs.lock().unwrap();
            if execs.iter().any(|e| e.name() == name) {
                return aws_smithy_mocks::MockResponse::Http(sfn_error(
                    400,
                    "ExecutionAlreadyExists",
                    "Execution Already Exists",
                ));
            }
            let arn = format!("arn:aws:states:us-east-1:123456789012:execution:msk-autoheal-remediation:{name}");
            execs.insert(0, execution(&name, ExecutionStatus::Running, "2026-11-25T18:00:05Z", None));
            started.lock().unwrap().push((name, req.input().unwrap_or_default().to_owned()));
            aws_smithy_mocks::MockResponse::Output(
                StartExecutionOutput::builder()
                    .execution_arn(arn)
                    .start_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .unwrap(),
            )
        });
        (list, start)
    }
}

fn sfn_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    )
}

fn execution(name: &str, status: ExecutionStatus, start: &str, stop: Option<&str>) -> ExecutionListItem {
    let t = |s: &str| aws_smithy_types::DateTime::from_millis(Timestamp::parse(s).unwrap().unix_millis());
    ExecutionListItem::builder()
        .execution_arn(format!("arn:aws:states:us-east-1:123456789012:execution:msk-autoheal-remediation:{name}"))
        .state_machine_arn(SM)
        .name(name)
        .status(status)
        .start_date(t(start))
        .set_stop_date(stop.map(t))
        .build()
        .unwrap()
}

fn detector(
    kafka_rules: &[&Rule],
    sfn_rules: &[&Rule],
    sns_rules: &[&Rule],
    policy: DetectorPolicy,
) -> Detector<MskClusters, StateMachine, Topic, MemoryLease> {
    Detector {
        clusters: MskClusters::new(kafka(kafka_rules)),
        executions: StateMachine::new(sfn(sfn_rules), SM),
        notifier: Some(Topic::new(sns(sns_rules), "arn:aws:sns:us-east-1:123456789012:msk-autoheal")),
        lease: MemoryLease::default(),
        policy,
    }
}

fn no_publish() -> Rule {
    mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().message_id("m").build())
}

#[tokio::test]
async fn starts_one_execution_with_the_documented_input() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());

    let out = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Started);
    let started = fake.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    let (name, input) = &started[0];
    assert!(name.ends_with("-msk-demo-20261125T180000Z"), "{name}");
    assert_eq!(out.execution_name.as_deref(), Some(name.as_str()));
    let input: Value = serde_json::from_str(input).unwrap();
    assert_eq!(input["cluster_arn"], ARN);
    assert_eq!(input["current_broker_count"], 2);
    assert_eq!(input["target_broker_count"], 4);
    assert_eq!(input["az_count"], 2);
    assert_eq!(input["current_version"], "K3AEGXETSR30VB");
    assert_eq!(input["mode"], "auto");
    assert_eq!(input["incident"]["type"], "MSKClusterCapacityInsufficient");
    assert_eq!(publish.num_calls(), 0);
}

#[tokio::test]
async fn a_redelivered_event_starts_nothing_new() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    // Cool-down 0 and the first execution already finished: only the name can stop the duplicate.
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let policy = DetectorPolicy { cooldown_minutes: 0, ..Default::default() };
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], policy);
    let event = fixture("sns-urp-broker.json");

    assert_eq!(d.handle(&event, now(), false).await.unwrap().outcome, Outcome::Started);
    for e in fake.executions.lock().unwrap().iter_mut() {
        *e = execution(e.name(), ExecutionStatus::Succeeded, "2026-11-25T18:00:05Z", Some("2026-11-25T18:00:06Z"));
    }
    let again = d.handle(&event, now(), false).await.unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyStarted);
    assert_eq!(fake.started.lock().unwrap().len(), 1);
    assert_eq!(start.num_calls(), 2);
}

#[tokio::test]
async fn a_running_remediation_for_the_cluster_means_skip() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());

    assert_eq!(
        d.handle(&fixture("eventbridge-urp-cluster.json"), now(), false).await.unwrap().outcome,
        Outcome::Started
    );
    // A different alarm (other state-change time) for the same cluster while the first runs.
    let mut other = fixture("eventbridge-urp-metric-math.json");
    other["detail"]["state"]["timestamp"] = "2026-11-25T18:03:00.000+0000".into();
    let out = d.handle(&other, now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Skipped);
    assert!(out.outcome_reason.unwrap().contains("already running"));
    assert_eq!(start.num_calls(), 1);
}

#[tokio::test]
async fn a_recent_end_means_cool_down() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 4)]), describe(ClusterState::Active, 4));
    let name = autoheal_domain::flight::execution_name(
        &autoheal_domain::cluster::ClusterName::parse("msk-demo").unwrap(),
        Timestamp::parse("2026-11-25T16:00:00Z").unwrap(),
    );
    let fake = FakeSfn::with(vec![execution(
        &name,
        ExecutionStatus::Succeeded,
        "2026-11-25T16:00:00Z",
        Some("2026-11-25T17:30:00Z"),
    )]);
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());
    let out = d.handle(&fixture("alarm-action-urp.json"), now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Skipped);
    assert!(out.outcome_reason.unwrap().contains("cool-down lasts until 2026-11-25T18:30:00Z"));
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn throttling_from_step_functions_is_retried() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let list = mock!(aws_sdk_sfn::Client::list_executions)
        .sequence()
        .http_response(|| sfn_error(400, "ThrottlingException", "Rate exceeded"))
        .output(|| ListExecutionsOutput::builder().set_executions(Some(vec![])).build().unwrap())
        .repeatedly()
        .build();
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .sequence()
        .http_response(|| sfn_error(400, "ThrottlingException", "Rate exceeded"))
        .times(2)
        .output(|| {
            StartExecutionOutput::builder()
                .execution_arn("arn:aws:states:us-east-1:123456789012:execution:sm:x")
                .start_date(aws_smithy_types::DateTime::from_secs(0))
                .build()
                .unwrap()
        })
        .build();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());
    let out = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Started);
    assert_eq!(start.num_calls(), 3);
}

#[tokio::test]
async fn persistent_throttling_fails_as_retryable() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let list = mock!(aws_sdk_sfn::Client::list_executions)
        .then_http_response(|| sfn_error(400, "ThrottlingException", "Rate exceeded"));
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list], &[&publish], DetectorPolicy::default());
    let err = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap_err();
    assert_eq!(err.error_type(), "Retryable", "{err}");
    assert_eq!(list.num_calls(), sdk::MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn an_unknown_cluster_is_a_clear_failure() {
    let lc = list_clusters(vec![]);
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc], &[&list, &start], &[&publish], DetectorPolicy::default());
    let err = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap_err();
    assert_eq!(err.error_type(), "ClusterNotFound");
    assert_eq!(err.to_string(), "no MSK cluster named \"msk-demo\" in this account and region");
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_prefix_match_is_not_the_cluster() {
    // ListClustersV2's filter is a prefix: "msk-demo-2" must not be taken for "msk-demo".
    let mut other = cluster(ClusterState::Active, 2);
    other.cluster_name = Some("msk-demo-2".into());
    let lc = list_clusters(vec![other]);
    let publish = no_publish();
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let d = detector(&[&lc], &[&list, &start], &[&publish], DetectorPolicy::default());
    assert_eq!(
        d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap_err().error_type(),
        "ClusterNotFound"
    );
}

#[tokio::test]
async fn at_the_ceiling_it_refuses_and_says_so() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 4)]), describe(ClusterState::Active, 4));
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| r.message().is_some_and(|m| m.contains("MAX_BROKERS=4")))
        .then_output(|| PublishOutput::builder().message_id("m-1").build());
    let policy = DetectorPolicy { capacity: CapacityPolicy { step_per_az: 1, max_brokers: 4 }, ..Default::default() };
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], policy);
    let out = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Refused);
    assert_eq!(publish.num_calls(), 1);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn a_cluster_already_updating_is_left_alone() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Updating, 2)]), describe(ClusterState::Updating, 2));
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());
    let out = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Skipped);
    assert!(out.outcome_reason.unwrap().contains("UPDATING"));
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn ignored_alarms_call_nothing_and_dry_runs_start_nothing() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());
    let out = d.handle(&fixture("eventbridge-urp-ok.json"), now(), false).await.unwrap();
    assert_eq!(out.outcome, Outcome::Ignored);
    assert_eq!(lc.num_calls() + dc.num_calls() + list.num_calls(), 0);

    let out = d.handle(&fixture("eventbridge-urp-broker.json"), now(), true).await.unwrap();
    assert_eq!(out.outcome, Outcome::WouldStart);
    assert_eq!(out.input.unwrap().target_broker_count, 4);
    assert_eq!(start.num_calls(), 0);
}

#[tokio::test]
async fn two_alarms_at_once_start_one_execution_even_when_list_executions_lags() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let fake = FakeSfn::default();
    fake.lag();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());
    // Two band alarms (brokers 1-10 and the cluster-wide one) within a second.
    let a = fixture("eventbridge-urp-broker.json");
    let mut b = fixture("eventbridge-urp-cluster.json");
    b["detail"]["state"]["timestamp"] = "2026-11-25T18:00:01.000+0000".into();
    let (x, y) = tokio::join!(d.handle(&a, now(), false), d.handle(&b, now(), false));
    let mut outcomes = [x.unwrap(), y.unwrap()];
    outcomes.sort_by_key(|o| o.outcome != Outcome::Started);
    assert_eq!(fake.started.lock().unwrap().len(), 1, "exactly one StartExecution");
    assert_eq!(outcomes[0].outcome, Outcome::Started);
    assert_eq!(outcomes[1].outcome, Outcome::Skipped);
    let reason = outcomes[1].outcome_reason.clone().unwrap();
    assert!(reason.contains("already running") && reason.contains("lease"), "{reason}");
    let holder = d.lease.holder(&autoheal_domain::cluster::ClusterArn::parse(ARN).unwrap());
    assert_eq!(holder, outcomes[0].execution_name);
}

#[tokio::test]
async fn a_lease_left_by_an_ended_execution_is_taken_over() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let fake = FakeSfn::default();
    let (list, start) = fake.rules();
    let publish = no_publish();
    let policy = DetectorPolicy { cooldown_minutes: 0, ..Default::default() };
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], policy);
    let arn = autoheal_domain::cluster::ClusterArn::parse(ARN).unwrap();

    let first = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap();
    assert_eq!(first.outcome, Outcome::Started);
    // It is aborted by an operator: nothing released the lease.
    for e in fake.executions.lock().unwrap().iter_mut() {
        *e = execution(e.name(), ExecutionStatus::Aborted, "2026-11-25T18:00:05Z", Some("2026-11-25T18:00:30Z"));
    }
    assert_eq!(d.lease.holder(&arn), first.execution_name);
    let mut later = fixture("eventbridge-urp-cluster.json");
    later["detail"]["state"]["timestamp"] = "2026-11-25T18:10:00.000+0000".into();
    let second = d.handle(&later, now(), false).await.unwrap();
    assert_eq!(second.outcome, Outcome::Started, "{:?}", second.outcome_reason);
    assert_eq!(d.lease.holder(&arn), second.execution_name);
}

#[tokio::test]
async fn a_failed_start_gives_the_lease_back() {
    let (lc, dc) = (list_clusters(vec![cluster(ClusterState::Active, 2)]), describe(ClusterState::Active, 2));
    let list = mock!(aws_sdk_sfn::Client::list_executions)
        .then_output(|| ListExecutionsOutput::builder().set_executions(Some(vec![])).build().unwrap());
    let start = mock!(aws_sdk_sfn::Client::start_execution)
        .then_http_response(|| sfn_error(400, "StateMachineDoesNotExist", "no such state machine"));
    let publish = no_publish();
    let d = detector(&[&lc, &dc], &[&list, &start], &[&publish], DetectorPolicy::default());
    let err = d.handle(&fixture("eventbridge-urp-broker.json"), now(), false).await.unwrap_err();
    assert_eq!(err.error_type(), "AwsNotFound", "{err}");
    assert_eq!(d.lease.holder(&autoheal_domain::cluster::ClusterArn::parse(ARN).unwrap()), None);
}
