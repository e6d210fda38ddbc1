//! What the workflow dry runs (`assess`, `scale`, `verify`, `confirm`, `dry-run-plan`) share: the
//! adapters that let the Lambdas' own use cases run without changing anything, the report every one
//! of them prints, and the checks of their flags.
//!
//! - [`ReadOnlyMsk`] wraps the real MSK adapter: reads go to AWS, UpdateBrokerCount is recorded
//!   and never sent.
//! - [`Replay`] stands in for SSM and S3: a command's output is a recording of the Kafka CLI the
//!   operator gives; scripts that would change something are recorded and answered "done" without
//!   running anywhere. Nothing leaves the process.

use crate::error::CliError;
use autoheal_app::AppError;
use autoheal_app::workflow::WorkflowState;
use autoheal_app::workflow::kafka_ops::{KafkaOps, KafkaOpsConfig};
use autoheal_aws::error::Result as AwsResult;
use autoheal_aws::ports::{
    BootstrapBrokers, ClusterControl, ClusterOperation, ClusterOperations, ClusterScaling, CommandInvocation,
    CommandRequest, CommandRunner, CommandStatus, ObjectStore, OperationState,
};
use autoheal_aws::{AwsError, ErrorKind};
use autoheal_domain::cluster::{ClusterArn, ClusterInfo, ClusterName, ClusterVersion};
use autoheal_domain::kafka_cli::{BootstrapServers, InstanceId, KafkaBinDir, S3Bucket, S3Key, Throttle};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// The operation ARN the dry-run Scale sees instead of a real one.
pub const NOT_SENT: &str = "dry-run: UpdateBrokerCount not sent";

/// An UpdateBrokerCount the use case asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpdateCall {
    pub operation: &'static str,
    pub cluster_arn: String,
    pub current_version: String,
    pub target_number_of_broker_nodes: u32,
}

/// MSK for dry runs: DescribeClusterV2, ListClustersV2 and GetBootstrapBrokers are passed to AWS;
/// UpdateBrokerCount is recorded, answered with [`NOT_SENT`], and never reaches AWS.
pub struct ReadOnlyMsk<C> {
    inner: C,
    calls: Mutex<Vec<UpdateCall>>,
}

impl<C> ReadOnlyMsk<C> {
    pub fn new(inner: C) -> Self {
        Self { inner, calls: Mutex::new(Vec::new()) }
    }

    /// What the use case would have sent.
    pub fn update_calls(&self) -> Vec<UpdateCall> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

impl<C: ClusterControl> ClusterControl for ReadOnlyMsk<C> {
    async fn find_cluster(&self, name: &ClusterName) -> AwsResult<Option<ClusterArn>> {
        self.inner.find_cluster(name).await
    }

    async fn describe_cluster(&self, arn: &ClusterArn) -> AwsResult<ClusterInfo> {
        self.inner.describe_cluster(arn).await
    }
}

impl<C: ClusterScaling> ClusterScaling for ReadOnlyMsk<C> {
    async fn update_broker_count(
        &self,
        arn: &ClusterArn,
        current_version: &ClusterVersion,
        target: u32,
    ) -> AwsResult<String> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(UpdateCall {
                operation: "UpdateBrokerCount",
                cluster_arn: arn.to_string(),
                current_version: current_version.to_string(),
                target_number_of_broker_nodes: target,
            });
        }
        Ok(NOT_SENT.to_owned())
    }

    async fn bootstrap_brokers(&self, arn: &ClusterArn) -> AwsResult<BootstrapBrokers> {
        self.inner.bootstrap_brokers(arn).await
    }
}

/// Reads go to AWS; the operation that was never sent is PENDING (it would have just started).
impl<C: ClusterOperations> ClusterOperations for ReadOnlyMsk<C> {
    async fn describe_operation(&self, operation_arn: &str) -> AwsResult<ClusterOperation> {
        if operation_arn == NOT_SENT {
            return Ok(ClusterOperation {
                arn: NOT_SENT.to_owned(),
                operation_type: "UPDATE_BROKER_COUNT".to_owned(),
                state: OperationState::Pending,
                error: None,
            });
        }
        self.inner.describe_operation(operation_arn).await
    }

    async fn operations_in_progress(&self, arn: &ClusterArn) -> AwsResult<Vec<ClusterOperation>> {
        self.inner.operations_in_progress(arn).await
    }
}

/// A script the use case sent, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptSeen {
    /// The use case's name for it (`capture`, `verify`, `elect`, `throttles`, ...).
    pub what: String,
    /// Answered from the operator's recording, or only recorded (it would change something).
    pub answered_from: &'static str,
}

/// SSM and S3 for offline dry runs. Scripts named in `recorded` get that recording as their stdout
/// (exit 0); every other script is one that changes the cluster (execute, elect, throttle removal,
/// cleanup): it is not run, only listed, and answered with an empty, complete output.
pub struct Replay {
    recorded: BTreeMap<&'static str, String>,
    pending: Mutex<VecDeque<String>>,
    seen: Mutex<Vec<ScriptSeen>>,
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl Replay {
    pub fn new(recorded: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        Self {
            recorded: recorded.into_iter().collect(),
            pending: Mutex::new(VecDeque::new()),
            seen: Mutex::new(Vec::new()),
            objects: Mutex::new(BTreeMap::new()),
        }
    }

    /// An object the use case will read (e.g. the stage JSON `--verify` is run with).
    pub fn with_object(self, key: &str, body: &[u8]) -> Self {
        if let Ok(mut o) = self.objects.lock() {
            o.insert(key.to_owned(), body.to_vec());
        }
        self
    }

    pub fn scripts(&self) -> Vec<ScriptSeen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Keys the use case wrote (they would be S3 objects).
    pub fn written(&self) -> Vec<String> {
        self.objects.lock().map(|o| o.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().ok()?.get(key).cloned()
    }
}

fn offline(operation: &'static str) -> AwsError {
    AwsError::new(operation, ErrorKind::Invalid, "an offline dry run does not call AWS")
}

impl CommandRunner for &Replay {
    async fn send_command(&self, req: &CommandRequest<'_>) -> AwsResult<String> {
        // The use cases name the kind of every script they run.
        let what = req.what.to_owned();
        let (stdout, answered_from) = match self.recorded.get(what.as_str()) {
            Some(text) => (text.clone(), "recording"),
            None => ("#autoheal:end\n".to_owned(), "not run (dry run)"),
        };
        self.seen.lock().map_err(|_| offline("SendCommand"))?.push(ScriptSeen { what, answered_from });
        self.pending.lock().map_err(|_| offline("SendCommand"))?.push_back(stdout);
        Ok("dry-run".to_owned())
    }

    async fn command_invocation(&self, _: &str, _: &str) -> AwsResult<Option<CommandInvocation>> {
        let stdout = self.pending.lock().map_err(|_| offline("GetCommandInvocation"))?.pop_front().unwrap_or_default();
        Ok(Some(CommandInvocation { status: CommandStatus::Success, response_code: 0, stdout, stderr: String::new() }))
    }
}

impl ObjectStore for &Replay {
    async fn put_object(&self, _bucket: &str, key: &str, body: Vec<u8>, _ct: &str) -> AwsResult<()> {
        self.objects.lock().map_err(|_| offline("PutObject"))?.insert(key.to_owned(), body);
        Ok(())
    }

    async fn get_object(&self, _bucket: &str, key: &str) -> AwsResult<Vec<u8>> {
        // SSM output objects are absent: the use case then takes the invocation's stdout.
        self.objects
            .lock()
            .map_err(|_| offline("GetObject"))?
            .get(key)
            .cloned()
            .ok_or_else(|| AwsError::new("GetObject", ErrorKind::NotFound, format!("no {key} in the dry run")))
    }
}

impl ClusterScaling for &Replay {
    async fn update_broker_count(&self, _: &ClusterArn, _: &ClusterVersion, _: u32) -> AwsResult<String> {
        Err(offline("UpdateBrokerCount"))
    }

    async fn bootstrap_brokers(&self, _: &ClusterArn) -> AwsResult<BootstrapBrokers> {
        Err(offline("GetBootstrapBrokers"))
    }
}

/// How long a replayed step may wait for its (answered at once) scripts.
pub const REPLAY_BUDGET: Duration = Duration::from_secs(60);

/// Execution name of offline dry runs (S3 keys are made from it; nothing is written).
pub const EXECUTION: &str = "dry-run";
/// Bucket and key prefix of offline dry runs: placeholders, never contacted.
pub const PREFIX: &str = "autoheal";

/// kafka-ops over a [`Replay`]: the Lambda's use case with placeholders for where it would run.
pub fn kafka_ops(
    replay: &Replay,
    throttle: Throttle,
    max_moves_per_broker: Option<u32>,
) -> Result<KafkaOps<&Replay, &Replay, &Replay>, CliError> {
    let bad = |e: autoheal_domain::kafka_cli::ValueError| CliError::failed(format!("dry-run placeholder: {e}"));
    Ok(KafkaOps {
        clusters: replay,
        runner: replay,
        store: replay,
        config: KafkaOpsConfig {
            instance_id: InstanceId::parse("i-00000000000000000").map_err(bad)?,
            bin_dir: KafkaBinDir::default(),
            bootstrap_servers: Some(BootstrapServers::parse("dry-run.invalid:9092").map_err(bad)?),
            command_config: None,
            throttle,
            bucket: S3Bucket::parse("autoheal-dry-run").map_err(bad)?,
            prefix: S3Key::parse(PREFIX).map_err(bad)?,
            cancel_on_failure: true,
            max_moves_per_broker,
            poll_interval: Duration::ZERO,
            command_timeout_seconds: 60,
        },
    })
}

/// The state a workflow step starts from when the CLI, not the detector, makes it.
pub fn state(info: &ClusterInfo, target: u32) -> Result<WorkflowState, CliError> {
    serde_json::from_value(json!({
        "cluster_arn": info.arn.to_string(),
        "cluster_name": info.name.to_string(),
        "incident": {"type": "manual", "source": "autoheal CLI dry run"},
        "current_broker_count": info.broker_count,
        "target_broker_count": target,
        "az_count": info.az_count,
        "current_version": info.current_version.to_string(),
        "mode": "auto",
    }))
    .map_err(|e| CliError::failed(format!("cannot build the workflow state: {e}")))
}

/// A state for offline steps, from flags only.
pub fn offline_state(brokers: u32, target: u32, az_count: u32) -> Result<WorkflowState, CliError> {
    serde_json::from_value(json!({
        "cluster_arn": "arn:aws:kafka:us-east-1:000000000000:cluster/dry-run/00000000-0000-0000-0000-000000000000-1",
        "cluster_name": "dry-run",
        "current_broker_count": brokers,
        "target_broker_count": target,
        "az_count": az_count,
        "current_version": "DRYRUN",
        "mode": "approval",
    }))
    .map_err(|e| CliError::failed(format!("cannot build the workflow state: {e}")))
}

/// What a step dry run prints: the step, what the Lambda would decide, and where the ASL goes next.
/// `details` are the step's own fields, flattened in.
pub fn report(
    step: &str,
    lambda: &str,
    result: Result<(Value, &str), AppError>,
    details: Value,
) -> Result<(), CliError> {
    let mut out = json!({"step": step, "lambda": lambda, "dry_run": true});
    let failure = match &result {
        Ok((decision, next)) => {
            out["outcome"] = json!("ok");
            out["next"] = json!(next);
            if let Value::Object(d) = decision {
                for (k, v) in d {
                    out[k.as_str()] = v.clone();
                }
            }
            None
        }
        Err(e) => {
            out["outcome"] = json!("fails");
            out["error_type"] = json!(e.error_type());
            out["reason"] = json!(e.to_string());
            out["next"] = json!(next_after_failure(step, e));
            Some(format!("{step} would fail: {} ({})", e, e.error_type()))
        }
    };
    if let Value::Object(d) = details {
        for (k, v) in d {
            out[k.as_str()] = v;
        }
    }
    let text = serde_json::to_string_pretty(&out).map_err(|e| CliError::failed(e.to_string()))?;
    println!("{text}");
    match failure {
        Some(msg) => Err(CliError::failed(msg)),
        None => Ok(()),
    }
}

/// Where the ASL goes when the step fails with `e` (statemachine/remediation.asl.json).
fn next_after_failure(step: &str, e: &AppError) -> &'static str {
    match (step, e.error_type()) {
        ("Assess", "ClusterNotActive") => "Assess (retried 3 times, 60 s apart), then Cleanup",
        ("ConfirmHealed", "NotHealed") => "ConfirmHealed (retried 8 times, 15 s x 1.5^n), then Cleanup",
        ("DryRunPlan", _) => "PrepareApproval (the approval goes on without an estimate)",
        (_, "Retryable") => "the same step, retried with backoff",
        _ => "Cleanup",
    }
}

/// A broker count or similar small number: digits only, so `-1` or `2.5` get a clear message.
pub fn count(flag: &str, s: &str) -> Result<u32, CliError> {
    if !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map_err(|_| CliError::input(format!("{flag} {s:?}: expected a whole number")))
    } else {
        Err(CliError::input(format!("{flag} {:?}: expected a whole number", s.chars().take(20).collect::<String>())))
    }
}

/// A cluster ARN, checked as the Lambdas check it.
pub fn cluster_arn(s: &str) -> Result<ClusterArn, CliError> {
    ClusterArn::parse(s).map_err(|e| CliError::input(format!("--cluster-arn: {e}")))
}

/// Reads a recorded output file (or standard input for `-`), naming it in the error.
pub fn read_text(path: &std::path::Path) -> Result<String, CliError> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::input(format!("cannot read standard input: {e}")))?;
        Ok(s)
    } else {
        crate::error::read_input_file(path)
    }
}

/// Script stdout as the SSM agent would upload it: each recording in its section, then the end marker.
pub fn script_output(sections: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (name, text) in sections {
        out.push_str(autoheal_domain::kafka_cli::SECTION_MARKER);
        out.push_str(name);
        out.push('\n');
        out.push_str(text);
        if !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out.push_str(autoheal_domain::kafka_cli::END_MARKER);
    out.push('\n');
    out
}

#[cfg(test)]
pub mod tests_support {
    //! Mocked MSK for the live dry runs' tests: an UpdateBrokerCount rule that fails the test if
    //! the SDK is ever asked to send one.

    use autoheal_aws::{kafka::MskClusters, sdk};
    use aws_sdk_kafka::operation::update_broker_count::UpdateBrokerCountOutput;
    use aws_sdk_kafka::types::{BrokerNodeGroupInfo, Cluster, ClusterState, ClusterType, Provisioned};
    use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
    use std::time::Duration;

    pub const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";

    pub fn cluster(state: ClusterState, brokers: i32, version: &str) -> Cluster {
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
                            .instance_type("kafka.m5.large")
                            .build(),
                    )
                    .build(),
            )
            .build()
    }

    /// UpdateBrokerCount must never reach the SDK in a dry run: this rule panics if it does (and
    /// its `num_calls()` stays 0 otherwise).
    pub fn no_update_broker_count() -> Rule {
        mock!(aws_sdk_kafka::Client::update_broker_count).then_compute_output(|r| {
            panic!("a dry run sent UpdateBrokerCount to {:?}", r.cluster_arn());
            #[allow(unreachable_code)]
            UpdateBrokerCountOutput::builder().build()
        })
    }

    pub fn msk(rules: &[&Rule]) -> MskClusters {
        let retries = sdk::retry_config()
            .with_initial_backoff(Duration::from_millis(1))
            .with_max_backoff(Duration::from_millis(2));
        MskClusters::new(mock_client!(aws_sdk_kafka, RuleMode::MatchAny, rules, |c| c.retry_config(retries.clone())))
    }
}
