//! The approval branch's DryRunPlan step (kafka-ops `dry_run`) over the real SSM adapter with mocked
//! SSM responses and an in-memory S3 holding what the SSM agent would upload (output recorded from
//! real Kafka, tests/fixtures/kafka): it only describes the cluster, plans onto the predicted
//! brokers, keeps out of `$.capture`/`$.plan`, and its estimate reaches the approval email — or,
//! when it fails, the email says why there is no estimate.

use autoheal_app::approval::{RequestConfig, RequestInput, render_email};
use autoheal_app::workflow::WorkflowState;
use autoheal_app::workflow::kafka_ops::{Invocation, KafkaOps, KafkaOpsConfig};
use autoheal_aws::ports::{BootstrapBrokers, ClusterScaling, ObjectStore};
use autoheal_aws::ssm::{RunCommand, output_key};
use autoheal_aws::{AwsError, ErrorKind, sdk};
use autoheal_domain::approval::{BaseUrl, SigningKey, TaskToken};
use autoheal_domain::cluster::{ClusterArn, ClusterVersion};
use autoheal_domain::kafka_cli::{BootstrapServers, InstanceId, KafkaBinDir, S3Bucket, S3Key, Throttle};
use autoheal_domain::time::Timestamp;
use aws_sdk_ssm::operation::get_command_invocation::GetCommandInvocationOutput;
use aws_sdk_ssm::operation::send_command::SendCommandOutput;
use aws_sdk_ssm::types::{Command, CommandInvocationStatus};
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";
const INSTANCE: &str = "i-0123456789abcdef0";
const BUCKET: &str = "plans-1";
const EXEC: &str = "5d41402a-demo-20261125T180000Z";
const THROTTLE: u64 = 10_485_760;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../tests/fixtures/kafka/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The state as Assess leaves it in approval mode: 2 brokers over 2 AZs, target 4.
fn assessed() -> WorkflowState {
    serde_json::from_value(json!({
        "cluster_arn": ARN, "cluster_name": "demo",
        "incident": {"type": "MSKClusterCapacityInsufficient", "severity": "High",
                     "signal": "UnderReplicatedPartitions > 0", "alarm_name": "demo-under-replicated",
                     "state_change_time": "2026-11-25T18:00:00Z", "source": "eventbridge"},
        "current_broker_count": 2, "target_broker_count": 4, "az_count": 2,
        "current_version": "K1", "mode": "approval",
        "assessment": {"state": "ACTIVE", "broker_count": 2, "az_count": 2, "current_version": "K1",
                       "instance_type": "kafka.m5.large", "kafka_version": "3.6.0", "target_broker_count": 4,
                       "scale_needed": true, "fixes": null, "assessed_at": "2026-11-25T18:00:07Z"}
    }))
    .unwrap()
}

/// S3 in memory.
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

impl Store {
    /// GetCommandInvocation's copies of command `id`'s streams (the first 24,000 / 8,000 characters).
    fn console(&self, id: &str) -> (String, String) {
        let objects = self.0.lock().unwrap();
        let read = |stream: &str, limit: usize| {
            let key = output_key(Some(&format!("autoheal/{EXEC}/ssm")), id, INSTANCE, stream);
            objects
                .get(&format!("{BUCKET}/{key}"))
                .map(|b| String::from_utf8_lossy(b).chars().take(limit).collect())
                .unwrap_or_default()
        };
        (read("stdout", 24_000), read("stderr", 8_000))
    }

    /// What the SSM agent uploads for command `id`.
    fn agent_output(&self, id: &str, stdout: &str) {
        let key = output_key(Some(&format!("autoheal/{EXEC}/ssm")), id, INSTANCE, "stdout");
        self.0.lock().unwrap().insert(format!("{BUCKET}/{key}"), stdout.as_bytes().to_vec());
    }

    fn has(&self, key: &str) -> bool {
        self.0.lock().unwrap().contains_key(&format!("{BUCKET}/{key}"))
    }
}

/// Bootstrap servers are configured, and kafka-ops never scales: MSK must not be asked.
struct NoMsk;

impl ClusterScaling for NoMsk {
    async fn update_broker_count(
        &self,
        _: &ClusterArn,
        _: &ClusterVersion,
        _: u32,
    ) -> autoheal_aws::error::Result<String> {
        panic!("the dry run called UpdateBrokerCount")
    }

    async fn bootstrap_brokers(&self, _: &ClusterArn) -> autoheal_aws::error::Result<BootstrapBrokers> {
        panic!("BOOTSTRAP_SERVERS is configured")
    }
}

fn ssm_error(code: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(400).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"x"}}"#)),
    )
}

/// SendCommand answering `id`, recording every script sent.
fn recording_send(id: &'static str) -> (Rule, Arc<Mutex<Vec<String>>>) {
    let scripts = Arc::new(Mutex::new(Vec::new()));
    let seen = scripts.clone();
    let rule = mock!(aws_sdk_ssm::Client::send_command)
        .match_requests(|r| r.document_name() == Some("AWS-RunShellScript") && r.instance_ids() == [INSTANCE])
        .then_compute_output(move |r| {
            let commands = r.parameters().and_then(|p| p.get("commands")).cloned().unwrap_or_default();
            seen.lock().unwrap().push(commands.join("\n"));
            SendCommandOutput::builder().command(Command::builder().command_id(id).build()).build()
        });
    (rule, scripts)
}

/// GetCommandInvocation of a finished `cmd-1`: its console copies of what the agent uploaded, cut
/// at SSM's limits (the agent uploads only non-empty streams).
fn finished(status: CommandInvocationStatus, code: i32, store: &Store) -> Rule {
    let store = store.clone();
    mock!(aws_sdk_ssm::Client::get_command_invocation).then_output(move || {
        let (stdout, stderr) = store.console("cmd-1");
        GetCommandInvocationOutput::builder()
            .status(status.clone())
            .response_code(code)
            .standard_output_content(stdout)
            .standard_error_content(stderr)
            .build()
    })
}

fn ops(rules: &[&Rule], store: &Store) -> KafkaOps<NoMsk, RunCommand, Store> {
    let retries =
        sdk::retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2));
    let client = mock_client!(aws_sdk_ssm, RuleMode::MatchAny, rules, |c| c.retry_config(retries.clone()));
    KafkaOps {
        clusters: NoMsk,
        runner: RunCommand::new(client),
        store: store.clone(),
        config: KafkaOpsConfig {
            instance_id: InstanceId::parse(INSTANCE).unwrap(),
            bin_dir: KafkaBinDir::default(),
            bootstrap_servers: Some(BootstrapServers::parse("b-1.demo:9092").unwrap()),
            command_config: None,
            throttle: Throttle::new(THROTTLE).unwrap(),
            bucket: S3Bucket::parse(BUCKET).unwrap(),
            prefix: S3Key::parse("autoheal").unwrap(),
            cancel_on_failure: true,
            max_moves_per_broker: Some(2),
            poll_interval: Duration::from_millis(1),
            command_timeout_seconds: 600,
        },
    }
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-25T18:00:12Z").unwrap()
}

fn inv() -> Invocation<'static> {
    Invocation::lasting(EXEC, now(), Duration::from_secs(30))
}

/// The brokers section of the recorded `kafka-broker-api-versions.sh` lines, for these brokers only.
fn broker_lines(ids: &[u32]) -> String {
    fixture("broker-api-versions-brokers-4.1.2.txt")
        .lines()
        .filter(|l| ids.iter().any(|id| l.contains(&format!("(id: {id} "))))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Capture output of the 2-broker cluster before scaling. (Without log dirs the replica sizes are
/// unknown; the sizes test below adds them.)
fn capture_before(with_log_dirs: bool) -> String {
    let log_dirs = if with_log_dirs {
        // The recorded log dirs were taken with 4 brokers; keep the lines of brokers 1 and 2 only.
        let text = fixture("log-dirs-describe-4.1.2.txt");
        let json_line = text.lines().find(|l| l.starts_with('{')).unwrap();
        let mut v: Value = serde_json::from_str(json_line).unwrap();
        v["brokers"].as_array_mut().unwrap().retain(|b| b["broker"].as_i64().unwrap() <= 2);
        format!(
            "#autoheal:section:log-dirs\nQuerying brokers for log directories information\nReceived log directory information from brokers 1,2\n{v}\n"
        )
    } else {
        String::new()
    };
    format!(
        "#autoheal:section:topics\n{}{log_dirs}#autoheal:section:brokers\n{}#autoheal:end\n",
        fixture("topics-describe-2-brokers-4.1.2.txt"),
        broker_lines(&[1, 2])
    )
}

fn capture_after() -> String {
    format!(
        "#autoheal:section:topics\n{}#autoheal:section:log-dirs\n{}#autoheal:section:brokers\n{}#autoheal:end\n",
        fixture("topics-describe-4-brokers-4.1.2.txt"),
        fixture("log-dirs-describe-4.1.2.txt"),
        broker_lines(&[1, 2, 3, 4])
    )
}

#[tokio::test]
async fn the_dry_run_describes_only_and_plans_onto_the_predicted_brokers() {
    let store = Store::default();
    store.agent_output("cmd-1", &capture_before(true));
    let (send, scripts) = recording_send("cmd-1");
    let throttled_then_ok = mock!(aws_sdk_ssm::Client::get_command_invocation)
        .sequence()
        .http_response(|| ssm_error("InvocationDoesNotExist"))
        .output(|| {
            GetCommandInvocationOutput::builder().status(CommandInvocationStatus::InProgress).response_code(-1).build()
        })
        .output(|| {
            GetCommandInvocationOutput::builder()
                .status(CommandInvocationStatus::Success)
                .response_code(0)
                .standard_output_content(capture_before(true))
                .build()
        })
        .build();
    let s = ops(&[&send, &throttled_then_ok], &store).dry_run(assessed(), inv()).await.unwrap();

    // One command, and it only describes: no --execute, no config change, no election, no cancel.
    let sent = scripts.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("kafka-topics.sh") && sent[0].contains("--describe"), "{}", sent[0]);
    for mutating in ["--execute", "--alter", "--cancel", "kafka-leader-election", "--delete-config"] {
        assert!(!sent[0].contains(mutating), "the dry run sent {mutating}:\n{}", sent[0]);
    }

    let d = s.dry_run.clone().expect("$.dry_run");
    assert!(d.estimate);
    assert_eq!(
        (d.brokers_now.clone(), d.new_brokers.clone(), d.brokers.clone()),
        (vec![1, 2], vec![3, 4], vec![1, 2, 3, 4])
    );
    let racks = d.racks.clone().unwrap();
    assert_eq!((racks[&3].as_str(), racks[&4].as_str()), ("use1-az1", "use1-az2"), "round-robin like MSK");
    assert!(d.moves > 0 && d.moves == d.lower_bound, "minimal: {d:?}");
    assert!(d.bytes_moved.unwrap() > 1_000_000, "sizes come from kafka-log-dirs: {d:?}");
    assert!(d.eta_seconds.unwrap() > 0.0 && d.throttle_bytes_per_sec == THROTTLE, "{d:?}");
    assert!(d.stage_count >= 2, "MAX_MOVES_PER_BROKER=2 stages the moves: {d:?}");
    assert_eq!((d.partitions, d.captured_at), (13, now()));
    assert!(d.assumptions.iter().any(|a| a.contains("ids 3, 4")), "{:?}", d.assumptions);
    // Its files live apart; the post-scale steps' state fields stay empty.
    assert!(store.has(&format!("autoheal/{EXEC}/dry-run/capture.txt")));
    assert!(store.has(&format!("autoheal/{EXEC}/dry-run/plan.json")));
    assert!(!store.has(&format!("autoheal/{EXEC}/plan.json")) && !store.has(&format!("autoheal/{EXEC}/capture.txt")));
    assert!(s.capture.is_none() && s.plan.is_none(), "the dry run never writes $.capture / $.plan");
    let plan: Value = serde_json::from_slice(&store.get_object(BUCKET, &d.plan_key).await.unwrap()).unwrap();
    assert_eq!(plan["partitions"].as_array().unwrap().len(), d.changed_partitions);

    // After approval and scaling: a fresh capture and the real plan, which the dry run predicted.
    store.agent_output("cmd-1", &capture_after());
    let ok = finished(CommandInvocationStatus::Success, 0, &store);
    let ops = ops(&[&send, &ok], &store);
    let s = ops.capture(s, inv()).await.unwrap();
    let s = ops.plan(s, EXEC).await.unwrap();
    let real = s.plan.clone().unwrap();
    assert_eq!(real.brokers, d.brokers, "the predicted broker ids are the ones that joined");
    assert_eq!(s.capture.as_ref().unwrap().racks.as_ref(), Some(&racks), "and in the predicted racks");
    assert_eq!(s.dry_run.as_ref().unwrap().moves, d.moves, "the estimate is kept as it was");
    assert_ne!(real.plan_key, d.plan_key);
}

/// The approval email for a state, as approval-request's `request` step renders it.
fn email_for(state: &WorkflowState) -> String {
    let input: RequestInput = serde_json::from_value(json!({
        "step": "request", "execution": {"name": EXEC}, "state": serde_json::to_value(state).unwrap(),
    }))
    .unwrap();
    let key = SigningKey::from_secret("test-signing-key-0123456789abcdef0123456789abcdef").unwrap();
    let config = RequestConfig {
        base_url: BaseUrl::parse("https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/").unwrap(),
        window_seconds: 3600,
        throttle: Throttle::new(THROTTLE).unwrap(),
    };
    let token = TaskToken::new("token").unwrap();
    let expires = Timestamp::parse("2026-11-25T19:00:12Z").unwrap();
    render_email(&key, &config, &input, &token, expires, now()).unwrap().body
}

#[tokio::test]
async fn the_estimate_reaches_the_approval_email_labelled_with_its_assumptions() {
    let store = Store::default();
    store.agent_output("cmd-1", &capture_before(true));
    let ((send, _), ok) = (recording_send("cmd-1"), finished(CommandInvocationStatus::Success, 0, &store));
    let s = ops(&[&send, &ok], &store).dry_run(assessed(), inv()).await.unwrap();
    let d = s.dry_run.clone().unwrap();
    let body = email_for(&s);
    for needle in [
        "Dry-run ESTIMATE, planned before the new brokers exist".to_owned(),
        format!("Replica moves: {} in {} of 13 partitions, in {} stages", d.moves, d.changed_partitions, d.stage_count),
        format!("({} bytes)", d.bytes_moved.unwrap()),
        "Throttle:      10.0 MiB/s per broker (10485760 bytes/s)".to_owned(),
        if d.eta_seconds.unwrap() < 0.5 { "ETA:           under 1 s" } else { "ETA:           about " }.to_owned(),
        "Assumed:       the new brokers get ids 3, 4: MSK numbers brokers 1..N".to_owned(),
        "Assumed:       racks of the new brokers: 3 in use1-az1, 4 in use1-az2".to_owned(),
        "captured at 2026-11-25T18:00:12Z".to_owned(),
    ] {
        assert!(body.contains(&needle), "missing {needle:?} in\n{body}");
    }
}

#[tokio::test]
async fn a_failed_dry_run_is_an_error_the_asl_catches_and_the_email_says_why() {
    // The capture script fails (e.g. the Kafka CLI is missing): CommandFailed, nothing stored.
    let store = Store::default();
    store.agent_output("cmd-1", "#autoheal:section:topics\n");
    let ((send, _), failed) = (recording_send("cmd-1"), finished(CommandInvocationStatus::Failed, 127, &store));
    let e = ops(&[&send, &failed], &store).dry_run(assessed(), inv()).await.unwrap_err();
    assert_eq!(e.error_type(), "CommandFailed", "{e}");
    assert!(!store.has(&format!("autoheal/{EXEC}/dry-run/plan.json")));

    // No racks on a 2-AZ cluster: the post-scale plan would refuse, so the dry run says so now.
    let store = Store::default();
    let no_racks = capture_before(false).replace(&broker_lines(&[1, 2]), "#autoheal:unavailable\n");
    store.agent_output("cmd-1", &no_racks);
    let ok = finished(CommandInvocationStatus::Success, 0, &store);
    let e = ops(&[&send, &ok], &store).dry_run(assessed(), inv()).await.unwrap_err();
    assert_eq!(e.error_type(), "CommandFailed");
    assert!(e.to_string().contains("racks are unknown"), "{e}");

    // The ASL's Catch stores {Error, Cause} at $.dry_run_error and goes on to the approval; the
    // email says why there is no estimate (Cause is the Lambda's error JSON, as Step Functions has it).
    let mut s = assessed();
    let cause = json!({"errorType": e.error_type(), "errorMessage": e.to_string()}).to_string();
    s.extra.insert("dry_run_error".into(), json!({"Error": "CommandFailed", "Cause": cause}));
    let body = email_for(&s);
    assert!(
        body.contains("Replica moves: not estimated (the dry run failed, CommandFailed: broker racks are unknown"),
        "{body}"
    );
    // A Lambda timeout has a plain-text cause.
    s.extra.insert("dry_run_error".into(), json!({"Error": "States.Timeout", "Cause": "Task timed out"}));
    assert!(email_for(&s).contains("not estimated (the dry run failed, States.Timeout: Task timed out)"));
}

#[tokio::test]
async fn at_target_already_the_estimate_plans_over_the_brokers_there_are() {
    let store = Store::default();
    store.agent_output("cmd-1", &capture_after());
    let ((send, _), ok) = (recording_send("cmd-1"), finished(CommandInvocationStatus::Success, 0, &store));
    let mut state = assessed();
    let a = state.assessment.as_mut().unwrap();
    a.broker_count = 4;
    a.scale_needed = false;
    let d = ops(&[&send, &ok], &store).dry_run(state, inv()).await.unwrap().dry_run.unwrap();
    assert!(d.new_brokers.is_empty() && d.brokers == vec![1, 2, 3, 4], "{d:?}");
    assert!(d.assumptions[0].starts_with("no broker to add"), "{:?}", d.assumptions);
}
