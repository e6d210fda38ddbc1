//! The Kafka side of the workflow, run over SSM on the client instance: capture the assignment, plan
//! the minimal reassignment, execute it stage by stage with a throttle, verify it, confirm that the
//! symptom is gone, and clean up after a failure. Scripts come from `autoheal_domain::kafka_cli`
//! (validated values only); their full output travels through S3.

mod dry_run;
pub use dry_run::DRY_RUN_DIR;

use super::state::{
    CaptureSummary, CleanupReport, HealthCheck, PlanSummary, ReassignmentProgress, ReassignmentStatus,
    STALL_CONFIRMATIONS, WorkflowState,
};
use crate::error::{AppError, Result};
use autoheal_aws::ports::{
    ClusterScaling, CommandInvocation, CommandRequest, CommandRunner, CommandStatus, ObjectStore,
};
use autoheal_aws::ssm::{Stream, output_key};
use autoheal_aws::{AwsError, ErrorKind};
use autoheal_domain::kafka_cli::{
    self, BootstrapServers, BrokerRack, CommandConfigPath, InstanceId, KafkaBinDir, KafkaClient, PlanSource, S3Bucket,
    S3Key, S3Location, Script, Sections, Throttle, TopicName, VerifyOutcome, section,
};
use autoheal_domain::time::Timestamp;
use autoheal_planner::formats::{parse_describe, parse_log_dirs, parse_reassignment_json, write_reassignment_json};
use autoheal_planner::{Assignment, PlanRequest};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How kafka-ops reaches the Kafka client and where it keeps its files.
#[derive(Debug, Clone)]
pub struct KafkaOpsConfig {
    pub instance_id: InstanceId,
    pub bin_dir: KafkaBinDir,
    /// Given: used as is. Absent: GetBootstrapBrokers, the listener matching `command_config`.
    pub bootstrap_servers: Option<BootstrapServers>,
    pub command_config: Option<CommandConfigPath>,
    pub throttle: Throttle,
    pub bucket: S3Bucket,
    /// Key prefix of everything this workflow writes (`<prefix>/<execution name>/...`).
    pub prefix: S3Key,
    /// On failure, `--cancel` a reassignment still in progress (Kafka puts the partitions back).
    pub cancel_on_failure: bool,
    /// Stages: no broker takes part in more than this many moves at once.
    pub max_moves_per_broker: Option<u32>,
    /// How long one invocation waits for its SSM command (stay well inside the Lambda timeout).
    pub command_wait: Duration,
    /// Between GetCommandInvocation calls.
    pub poll_interval: Duration,
    /// The agent kills a script running longer than this.
    pub command_timeout_seconds: u32,
}

pub struct KafkaOps<C, R, S> {
    pub clusters: C,
    pub runner: R,
    pub store: S,
    pub config: KafkaOpsConfig,
}

/// A finished script.
#[derive(Debug)]
struct ScriptOutput {
    exit: i32,
    stdout: String,
    stderr: String,
    sections: Sections,
}

impl ScriptOutput {
    /// Failure message with the end of stderr (where the Kafka tools print their errors).
    fn failure(&self, what: &str) -> AppError {
        let tail: String = {
            let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(3)..].join(" | ")
        };
        let how = if self.exit == 0 { "stopped before its end".to_owned() } else { format!("exited {}", self.exit) };
        AppError::CommandFailed(format!("{what} {how}: {}", if tail.is_empty() { "(no stderr)" } else { &tail }))
    }
}

/// The parsed capture.
struct Capture {
    assignment: Assignment,
    brokers: Vec<i32>,
    racks: Option<BTreeMap<i32, String>>,
    sizes: Option<std::collections::HashMap<autoheal_planner::TopicPartition, u64>>,
}

fn retryable(operation: &'static str, msg: String) -> AppError {
    AppError::Aws(AwsError::new(operation, ErrorKind::Transient, msg))
}

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    // ---- steps ---------------------------------------------------------------------------------

    /// CaptureAssignment: describe + log dirs + racks, kept in S3.
    pub async fn capture(&self, mut state: WorkflowState, execution: &str, now: Timestamp) -> Result<WorkflowState> {
        let (raw, capture) = self.run_capture(&state, execution, "capture").await?;
        let key = self.key(execution, "capture.txt")?;
        self.store.put_object(self.config.bucket.as_str(), key.as_str(), raw.into_bytes(), "text/plain").await?;
        let a = &capture.assignment;
        info!(partitions = a.partitions.len(), brokers = ?capture.brokers, under_replicated = a.under_replicated().count(), "captured");
        state.capture = Some(CaptureSummary {
            s3_key: key.to_string(),
            partitions: a.partitions.len(),
            replicas: a.replica_count(),
            brokers: capture.brokers.clone(),
            racks: capture.racks.clone(),
            under_replicated: a.under_replicated().count(),
            reassigning: a.reassigning().count(),
            captured_at: now,
        });
        Ok(state)
    }

    /// PlanReassignment: the minimal plan over every broker, its rollback and stages, in S3.
    pub async fn plan(&self, mut state: WorkflowState, execution: &str) -> Result<WorkflowState> {
        let summary =
            state.capture.clone().ok_or_else(|| AppError::InvalidInput("PlanReassignment needs a capture".into()))?;
        let raw = self.store.get_object(self.config.bucket.as_str(), &summary.s3_key).await?;
        let capture = parse_capture(&kafka_cli::split_sections(&String::from_utf8_lossy(&raw)))?;
        if capture.brokers.len() < state.target_broker_count as usize {
            return Err(AppError::CommandFailed(format!(
                "Kafka reports brokers {:?}, fewer than the {} the cluster should have now",
                capture.brokers, state.target_broker_count
            )));
        }
        if capture.racks.is_none() && state.az_count > 1 {
            // A rack-unaware plan may put both replicas of a partition in one AZ: worse than now.
            return Err(AppError::CommandFailed(
                "broker racks are unknown (kafka-broker-api-versions.sh gave none) on a multi-AZ cluster; \
                 refusing a plan that could put all replicas of a partition in one AZ"
                    .into(),
            ));
        }
        let req = PlanRequest {
            brokers: capture.brokers.clone(),
            racks: capture.racks.clone(),
            sizes: capture.sizes.clone(),
            throttle: Some(self.config.throttle.bytes_per_sec()),
            max_moves_per_broker: self.config.max_moves_per_broker,
            ..PlanRequest::default()
        };
        let a = &capture.assignment;
        let plan = autoheal_planner::plan(a, &req).map_err(|e| AppError::CommandFailed(format!("planner: {e}")))?;
        let json_of = |idx: &[usize]| {
            write_reassignment_json(idx.iter().map(|&i| (&a.partitions[i].tp, plan.proposed[i].as_slice())))
        };
        let plan_key = self.key(execution, "plan.json")?;
        let rollback_key = self.key(execution, "rollback.json")?;
        let bucket = self.config.bucket.as_str();
        self.store
            .put_object(bucket, plan_key.as_str(), json_of(&plan.changed).into_bytes(), "application/json")
            .await?;
        let rollback = write_reassignment_json(
            plan.changed.iter().map(|&i| (&a.partitions[i].tp, a.partitions[i].replicas.as_slice())),
        );
        self.store.put_object(bucket, rollback_key.as_str(), rollback.into_bytes(), "application/json").await?;
        let mut stage_keys = Vec::new();
        for (n, stage) in plan.stages.iter().enumerate().filter(|(_, s)| !s.is_empty()) {
            let key = self.key(execution, &format!("stage-{}.json", n + 1))?;
            self.store.put_object(bucket, key.as_str(), json_of(stage).into_bytes(), "application/json").await?;
            stage_keys.push(key.to_string());
        }
        let topics: BTreeSet<String> = plan.changed.iter().map(|&i| a.partitions[i].tp.topic.clone()).collect();
        let r = &plan.report;
        info!(moves = r.moves, lower_bound = r.lower_bound, bytes = ?r.bytes_moved, stages = stage_keys.len(), "plan ready");
        state.plan = Some(PlanSummary {
            s3_bucket: bucket.to_owned(),
            s3_prefix: self.key(execution, "")?.to_string(),
            plan_key: plan_key.to_string(),
            rollback_key: rollback_key.to_string(),
            stage_keys,
            changed_partitions: plan.changed.len(),
            moves: r.moves,
            lower_bound: r.lower_bound,
            leader_changes: r.leader_changes,
            bytes_moved: r.bytes_moved,
            eta_seconds: r.eta_seconds,
            replica_spread_before: r.replica_spread_before,
            replica_spread_after: r.replica_spread_after,
            throttle_bytes_per_sec: self.config.throttle.bytes_per_sec(),
            topics: topics.into_iter().collect(),
            brokers: capture.brokers,
        });
        Ok(state)
    }

    /// ExecuteReassignment: start the current stage, throttled. Sending it twice is harmless: the
    /// second run finds its own partitions in progress and reports the stage as started.
    pub async fn execute(&self, mut state: WorkflowState, execution: &str, now: Timestamp) -> Result<WorkflowState> {
        let plan =
            state.plan.clone().ok_or_else(|| AppError::InvalidInput("ExecuteReassignment needs a plan".into()))?;
        let stage = state.reassignment.as_ref().map(|r| r.stage).unwrap_or(0);
        let key =
            plan.stage_keys.get(stage).ok_or_else(|| AppError::InvalidInput(format!("no stage {}", stage + 1)))?;
        let (json, source) = self.stage_source(key).await?;
        let out = self
            .run(
                execution,
                &kafka_cli::execute_script(&self.client(&state).await?, &source, self.config.throttle),
                "execute",
            )
            .await?;
        if out.exit == kafka_cli::EXIT_REASSIGNMENT_IN_PROGRESS {
            let running = kafka_cli::parse_list(out.sections.get(section::LIST).unwrap_or_default())
                .map_err(|e| AppError::CommandFailed(e.to_string()))?;
            let ours = stage_partitions(&json)?;
            let foreign: Vec<String> =
                running.iter().map(ToString::to_string).filter(|tp| !ours.contains(tp)).collect();
            if running.is_empty() || !foreign.is_empty() {
                return Err(AppError::CommandFailed(format!(
                    "another partition reassignment is in progress ({}); not adding ours to it",
                    foreign.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            info!(stage = stage + 1, "stage already started by an earlier attempt");
        } else if out.exit != 0 || !out.sections.complete {
            return Err(out.failure("kafka-reassign-partitions.sh --execute"));
        }
        info!(
            stage = stage + 1,
            stages = plan.stage_keys.len(),
            throttle = self.config.throttle.bytes_per_sec(),
            "reassignment stage started"
        );
        let started_at = state.reassignment.as_ref().map(|r| r.started_at).unwrap_or(now);
        state.reassignment = Some(ReassignmentProgress {
            stage,
            stages: plan.stage_keys.len(),
            status: ReassignmentStatus::InProgress,
            started_at,
            stage_started_at: now,
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

    /// VerifyReassignment: `--verify` the current stage; complete, in progress, or failed.
    pub async fn verify(&self, mut state: WorkflowState, execution: &str, now: Timestamp) -> Result<WorkflowState> {
        let plan =
            state.plan.clone().ok_or_else(|| AppError::InvalidInput("VerifyReassignment needs a plan".into()))?;
        let mut progress = state
            .reassignment
            .clone()
            .ok_or_else(|| AppError::InvalidInput("VerifyReassignment before Execute".into()))?;
        let key = &plan.stage_keys[progress.stage.min(plan.stage_keys.len().saturating_sub(1))];
        let (_, source) = self.stage_source(key).await?;
        let client = self.client(&state).await?;
        let out = self.run(execution, &kafka_cli::verify_script(&client, &source), "verify").await?;
        if out.exit != 0 || !out.sections.complete {
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
                let elapsed = now.seconds_since(progress.stage_started_at).max(0) as u64;
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
                let election = self.elect_preferred(execution, &client, &source).await?;
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

    /// ConfirmHealed: capture again; no under-replicated partition and replicas spread as the plan
    /// promised, else `NotHealed` (the ASL retries it while followers catch up).
    pub async fn confirm(&self, mut state: WorkflowState, execution: &str, now: Timestamp) -> Result<WorkflowState> {
        if let (Some(r), Some(plan)) = (&state.reassignment, &state.plan)
            && !r.throttles_removed
        {
            let topics = topic_names(&plan.topics)?;
            let out = self
                .run(execution, &kafka_cli::cleanup_script(&self.client(&state).await?, None, &topics), "throttles")
                .await?;
            if out.exit != 0 {
                return Err(out.failure("throttle removal"));
            }
            if let Some(p) = state.reassignment.as_mut() {
                p.throttles_removed = true;
            }
        }
        // Partitions whose preferred replica was not in the ISR at their stage's end get their
        // election now (each NotHealed retry of this step tries again).
        if let (Some(r), Some(plan)) = (&state.reassignment, &state.plan)
            && !r.election_failures.is_empty()
        {
            let (_, source) = self.stage_source(&plan.plan_key).await?;
            let election = self.elect_preferred(execution, &self.client(&state).await?, &source).await?;
            if let Some(p) = state.reassignment.as_mut() {
                p.leaders_elected += election.elected;
                p.election_failures = election.failed;
            }
        }
        let (raw, capture) = self.run_capture(&state, execution, "confirm").await?;
        let key = self.key(execution, "confirm.txt")?;
        self.store.put_object(self.config.bucket.as_str(), key.as_str(), raw.into_bytes(), "text/plain").await?;
        let a = &capture.assignment;
        let mut per_broker: BTreeMap<i32, usize> = capture.brokers.iter().map(|&b| (b, 0)).collect();
        for p in &a.partitions {
            for &b in &p.replicas {
                *per_broker.entry(b).or_insert(0) += 1;
            }
        }
        let spread = per_broker.values().max().unwrap_or(&0) - per_broker.values().min().unwrap_or(&0);
        let under: Vec<String> = a.under_replicated().map(|p| p.tp.to_string()).collect();
        if !under.is_empty() {
            return Err(AppError::NotHealed(format!(
                "{} partitions still under-replicated: {}",
                under.len(),
                under.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        let promised = state.plan.as_ref().map(|p| p.replica_spread_after as usize).unwrap_or(1).max(1);
        if spread > promised {
            return Err(AppError::NotHealed(format!(
                "replicas per broker {per_broker:?} spread by {spread}, the plan promised at most {promised}"
            )));
        }
        info!(brokers = ?capture.brokers, spread, "healed: no under-replicated partition");
        state.healed = Some(HealthCheck {
            under_replicated: 0,
            brokers: capture.brokers,
            replicas_per_broker: per_broker,
            replica_spread: spread,
            checked_at: now,
        });
        Ok(state)
    }

    /// Cleanup (failure path): cancel what still moves (when configured) and remove every throttle.
    /// Only throttling or transient AWS errors fail it (for the ASL to retry); anything else is
    /// recorded so the failure notification still goes out with it.
    pub async fn cleanup(&self, mut state: WorkflowState, execution: &str) -> Result<WorkflowState> {
        let mut report = CleanupReport::default();
        let (Some(progress), Some(plan)) = (state.reassignment.clone(), state.plan.clone()) else {
            report.skipped = Some("no reassignment was started: nothing to undo on the Kafka cluster".into());
            state.cleanup = Some(report);
            return Ok(state);
        };
        match self.cleanup_inner(&state, execution, &progress, &plan, &mut report).await {
            Ok(()) => {}
            Err(AppError::Aws(e)) if e.is_retryable() => return Err(AppError::Aws(e)),
            Err(e) => {
                warn!(error = %e, "cleanup incomplete");
                report.error = Some(e.to_string());
            }
        }
        state.cleanup = Some(report);
        Ok(state)
    }

    async fn cleanup_inner(
        &self,
        state: &WorkflowState,
        execution: &str,
        progress: &ReassignmentProgress,
        plan: &PlanSummary,
        report: &mut CleanupReport,
    ) -> Result<()> {
        let cancel = if self.config.cancel_on_failure && progress.status != ReassignmentStatus::Complete {
            let key = &plan.stage_keys[progress.stage.min(plan.stage_keys.len().saturating_sub(1))];
            Some(self.stage_source(key).await?.1)
        } else {
            None
        };
        let topics = topic_names(&plan.topics)?;
        let out = self
            .run(execution, &kafka_cli::cleanup_script(&self.client(state).await?, cancel.as_ref(), &topics), "cleanup")
            .await?;
        report.cancelled = kafka_cli::parse_cancel(out.sections.get(section::CANCEL).unwrap_or_default())
            .map(|v| v.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        let throttles = kafka_cli::parse_throttle_cleanup(out.sections.get(section::THROTTLES).unwrap_or_default());
        let name = |t: &kafka_cli::ThrottledEntity| format!("{} {}: {}", t.kind, t.name, t.configs.join(","));
        report.throttles_removed = throttles.removed.iter().map(name).collect();
        report.throttles_failed = throttles.failed.iter().map(name).collect();
        info!(cancelled = report.cancelled.len(), throttles_removed = report.throttles_removed.len(), "cleanup ran");
        if out.exit != 0 || !out.sections.complete {
            return Err(out.failure("cleanup"));
        }
        Ok(())
    }

    // ---- helpers -------------------------------------------------------------------------------

    /// Preferred leader election for the partitions of `source`. Only a script that could not run
    /// at all fails it; partitions whose preferred replica cannot lead yet are reported.
    async fn elect_preferred(
        &self,
        execution: &str,
        client: &KafkaClient,
        source: &PlanSource,
    ) -> Result<kafka_cli::ElectionReport> {
        let out = self.run(execution, &kafka_cli::elect_preferred_script(client, source), "elect").await?;
        if out.exit != 0 || !out.sections.complete {
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

    async fn run_capture(&self, state: &WorkflowState, execution: &str, what: &str) -> Result<(String, Capture)> {
        let out = self.run(execution, &kafka_cli::capture_script(&self.client(state).await?), what).await?;
        if out.exit != 0 || !out.sections.complete {
            return Err(out.failure("capture (kafka-topics/kafka-log-dirs --describe)"));
        }
        let capture = parse_capture(&out.sections)?;
        Ok((out.stdout, capture))
    }

    /// The stage's JSON and how the script gets it: inline when small, else from its S3 copy.
    async fn stage_source(&self, key: &str) -> Result<(Vec<u8>, PlanSource)> {
        let json = self.store.get_object(self.config.bucket.as_str(), key).await?;
        let loc = S3Location {
            bucket: self.config.bucket.clone(),
            key: S3Key::parse(key).map_err(|e| AppError::InvalidInput(e.to_string()))?,
        };
        let source = PlanSource::choose(&json, loc);
        Ok((json, source))
    }

    fn key(&self, execution: &str, name: &str) -> Result<S3Key> {
        let dir = self.config.prefix.join(execution).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        if name.is_empty() { Ok(dir) } else { dir.join(name).map_err(|e| AppError::InvalidInput(e.to_string())) }
    }

    async fn client(&self, state: &WorkflowState) -> Result<KafkaClient> {
        let bootstrap_servers = match &self.config.bootstrap_servers {
            Some(b) => b.clone(),
            None => {
                let all = self.clusters.bootstrap_brokers(&state.cluster_arn).await?;
                let pick = if self.config.command_config.is_some() {
                    all.sasl_iam.or(all.sasl_scram).or(all.tls)
                } else {
                    all.plaintext
                };
                let s = pick.ok_or_else(|| {
                    AppError::InvalidInput(if self.config.command_config.is_some() {
                        "the cluster offers no TLS or SASL listener for the command-config file".into()
                    } else {
                        "the cluster has no plaintext listener: set COMMAND_CONFIG to a client properties file for TLS/SASL".into()
                    })
                })?;
                BootstrapServers::parse(&s)
                    .map_err(|e| AppError::CommandFailed(format!("GetBootstrapBrokers returned {e}")))?
            }
        };
        Ok(KafkaClient {
            bin_dir: self.config.bin_dir.clone(),
            bootstrap_servers,
            command_config: self.config.command_config.clone(),
        })
    }

    /// Sends a script, waits for it (bounded), and reads its full output from S3.
    async fn run(&self, execution: &str, script: &Script, what: &str) -> Result<ScriptOutput> {
        let prefix = self.key(execution, "ssm")?;
        let comment = format!("msk-autoheal {what} {execution}");
        let req = CommandRequest {
            instance_id: self.config.instance_id.as_str(),
            commands: script.commands(),
            comment: &comment,
            output_bucket: Some(self.config.bucket.as_str()),
            output_prefix: Some(prefix.as_str()),
            execution_timeout_seconds: self.config.command_timeout_seconds,
        };
        let command_id = self.runner.send_command(&req).await?;
        let deadline = Instant::now() + self.config.command_wait;
        let inv: CommandInvocation = loop {
            tokio::time::sleep(self.config.poll_interval).await;
            match self.runner.command_invocation(&command_id, self.config.instance_id.as_str()).await? {
                Some(inv) if inv.status.is_finished() => break inv,
                _ if Instant::now() >= deadline => {
                    return Err(retryable(
                        "GetCommandInvocation",
                        format!("SSM command {command_id} ({what}) still running after {:?}", self.config.command_wait),
                    ));
                }
                _ => {}
            }
        };
        let exit = match &inv.status {
            CommandStatus::Success => 0,
            CommandStatus::Failed => inv.response_code,
            other => {
                return Err(AppError::CommandFailed(format!(
                    "SSM command {command_id} ({what}) ended {other:?}: {}",
                    inv.stderr.lines().last().unwrap_or_default()
                )));
            }
        };
        let stdout = self.full_stream(&prefix, &command_id, Stream::Stdout, &inv.stdout).await?;
        let stderr = self.full_stream(&prefix, &command_id, Stream::Stderr, &inv.stderr).await?;
        info!(command_id = %command_id, what, exit, stdout_bytes = stdout.len(), "SSM command finished");
        Ok(ScriptOutput { exit, sections: kafka_cli::split_sections(&stdout), stdout, stderr })
    }
}

impl<C, R, S: ObjectStore> KafkaOps<C, R, S> {
    /// One output stream, whole. GetCommandInvocation's copy is the whole stream when it is shorter
    /// than its limit, so S3 is read only when the copy reaches the limit; then the agent has
    /// uploaded the object and its absence is an error. (A stream the script left empty has no
    /// object at all, and a caller without s3:ListBucket would read that absence as AccessDenied.)
    async fn full_stream(&self, prefix: &S3Key, command_id: &str, stream: Stream, console: &str) -> Result<String> {
        if !stream.console_may_be_cut(console) {
            return Ok(console.to_owned());
        }
        let key = output_key(Some(prefix.as_str()), command_id, self.config.instance_id.as_str(), stream.object_name());
        let body = match self.store.get_object(self.config.bucket.as_str(), &key).await {
            Ok(body) => body,
            Err(e) if e.is_retryable() => return Err(e.into()),
            Err(e) => {
                return Err(AppError::CommandFailed(format!(
                    "SSM command {command_id}: its {} reached the console limit but its S3 copy is unreadable: {e}",
                    stream.object_name()
                )));
            }
        };
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

fn parse_capture(sections: &Sections) -> Result<Capture> {
    let bad = |what: &str, e: &dyn std::fmt::Display| AppError::CommandFailed(format!("unreadable {what} output: {e}"));
    let topics =
        sections.get(section::TOPICS).ok_or_else(|| AppError::CommandFailed("capture has no topics section".into()))?;
    let assignment = parse_describe(topics).map_err(|e| bad("kafka-topics.sh --describe", &e))?;
    let log_dirs = sections
        .get(section::LOG_DIRS)
        .map(|t| parse_log_dirs(t).map_err(|e| bad("kafka-log-dirs.sh --describe", &e)))
        .transpose()?;
    let racks_seen: Option<Vec<BrokerRack>> = sections.get(section::BROKERS).and_then(kafka_cli::parse_brokers);
    let mut brokers: BTreeSet<i32> = assignment.brokers().into_iter().collect();
    if let Some(ld) = &log_dirs {
        brokers.extend(ld.brokers.iter().map(|b| b.broker));
    }
    if let Some(r) = &racks_seen {
        brokers.extend(r.iter().map(|b| b.broker.get() as i32));
    }
    // Racks only when every broker has one (the planner wants all or none).
    let racks = racks_seen.and_then(|seen| {
        let map: BTreeMap<i32, String> =
            seen.into_iter().filter_map(|b| b.rack.map(|r| (b.broker.get() as i32, r))).collect();
        brokers.iter().all(|b| map.contains_key(b)).then_some(map)
    });
    let sizes =
        log_dirs.as_ref().map(|ld| ld.partition_sizes()).transpose().map_err(|e| bad("kafka-log-dirs.sh", &e))?;
    Ok(Capture { assignment, brokers: brokers.into_iter().collect(), racks, sizes })
}

/// `topic-partition` names of a stage's reassignment JSON.
fn stage_partitions(json: &[u8]) -> Result<BTreeSet<String>> {
    let a = parse_reassignment_json(&String::from_utf8_lossy(json))
        .map_err(|e| AppError::CommandFailed(format!("stage JSON: {e}")))?;
    Ok(a.partitions.iter().map(|p| p.tp.to_string()).collect())
}

fn topic_names(topics: &[String]) -> Result<Vec<TopicName>> {
    topics.iter().map(|t| TopicName::parse(t).map_err(|e| AppError::InvalidInput(e.to_string()))).collect()
}

/// Reads the state's execution name as a key segment (Step Functions names are `[A-Za-z0-9_-]`).
pub fn validate_execution_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 80
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(AppError::InvalidInput(format!("execution name {name:?} is not a safe S3 key segment")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_of_recorded_output_gives_brokers_racks_and_sizes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kafka/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        let stdout = format!(
            "#autoheal:section:topics\n{}#autoheal:section:log-dirs\n{}#autoheal:section:brokers\n{}#autoheal:end\n",
            read("topics-describe-4-brokers-4.1.2.txt"),
            read("log-dirs-describe-4.1.2.txt"),
            read("broker-api-versions-brokers-4.1.2.txt")
        );
        let c = parse_capture(&kafka_cli::split_sections(&stdout)).unwrap();
        assert_eq!(c.brokers, vec![1, 2, 3, 4], "new brokers hold nothing yet but are listed");
        assert_eq!(c.racks.unwrap().get(&3).map(String::as_str), Some("use1-az1"));
        assert_eq!(c.assignment.partitions.len(), 13);
        assert!(c.sizes.unwrap().values().any(|&s| s > 1_000_000));
    }

    #[test]
    fn execution_names() {
        assert!(validate_execution_name("8f3a2b1c-demo-20261125T180000Z").is_ok());
        for bad in ["", "a/b", "a b", "../x", &"x".repeat(81)] {
            assert!(validate_execution_name(bad).is_err(), "{bad:?}");
        }
    }
}
