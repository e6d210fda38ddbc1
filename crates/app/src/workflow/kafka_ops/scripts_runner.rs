//! "Run this Kafka script, give me its output": the one place that knows SSM Run Command, the S3
//! layout of its output and the console limits. The steps name a run ([`RunId`]) and a script;
//! [`KafkaScripts::run`] returns the finished script's output, or `StillRunning` when the
//! invocation's deadline comes first.
//!
//! **Re-attach.** A run's identity is derived from the execution, the step and the state the step
//! was given (`capture`, `execute-stage-2`, `verify-stage-2-n5`, ...), so a retry of the same Task
//! with the same input is the same run. Right after SendCommand a marker
//! `<prefix>/<execution>/ssm/<run id>.json` records the command id; every invocation reads the
//! marker first: a finished command's result is used, a running one is waited for, no marker
//! means send. Between SendCommand and the marker write a Lambda can die: the script itself holds
//! a lock on the instance named after the run ([`Script::with_lock`]), so a second copy exits
//! `EXIT_LOCKED` having done nothing, the step answers `StillRunning`, and a later invocation sends
//! again once the first copy has let go of the lock.
//!
//! **Output.** GetCommandInvocation's copy of a stream is the whole stream when it is shorter than
//! SSM's console limit (24,000 characters of stdout, 8,000 of stderr); only a copy at the limit
//! sends us to the S3 object the agent uploaded. The agent uploads only non-empty streams, and a
//! caller without s3:ListBucket reads a missing key as 403, so nothing here reads an object that
//! may not exist.

use super::KafkaOps;
use crate::error::{AppError, Result};
use autoheal_aws::ports::{CommandInvocation, CommandRequest, CommandRunner, CommandStatus, ObjectStore};
use autoheal_aws::ssm::{Stream, output_key};
use autoheal_domain::kafka_cli::{self, S3Key, Script, Sections};
use autoheal_domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tracing::{info, warn};

/// One Lambda invocation of a step: which execution, its clock, and when it must hand back.
#[derive(Debug, Clone, Copy)]
pub struct Invocation<'a> {
    pub execution: &'a str,
    pub now: Timestamp,
    /// Wait for commands only until this instant (the Lambda's deadline less a safety margin),
    /// then answer `StillRunning`.
    pub deadline: Instant,
}

impl<'a> Invocation<'a> {
    /// An invocation that may wait `budget` from now (the CLI, the safety net: no Lambda deadline
    /// passed down).
    pub fn lasting(execution: &'a str, now: Timestamp, budget: std::time::Duration) -> Self {
        Self { execution, now, deadline: Instant::now() + budget }
    }
}

/// A script run's identity within an execution: `[a-z0-9-]`, stable for a given step and input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunId {
    /// The kind of script (`capture`, `verify`, `elect`, ...): logs, the SSM comment, the CLI's replay.
    pub what: &'static str,
    id: String,
}

impl RunId {
    pub fn new(what: &'static str) -> Self {
        Self { what, id: what.to_owned() }
    }

    /// `<what>-stage-<n>` (n counted from 1).
    pub fn stage(what: &'static str, stage_index: usize) -> Self {
        Self { what, id: format!("{what}-stage-{}", stage_index + 1) }
    }

    /// Appends `-<part>`.
    pub fn and(mut self, part: impl std::fmt::Display) -> Self {
        self.id.push_str(&format!("-{part}"));
        self
    }

    pub fn as_str(&self) -> &str {
        &self.id
    }
}

/// A finished script.
#[derive(Debug)]
pub struct ScriptOutput {
    pub command_id: String,
    pub exit: i32,
    pub stdout: String,
    pub stderr: String,
    pub sections: Sections,
}

impl ScriptOutput {
    /// Failure message with the end of stderr (where the Kafka tools print their errors).
    pub fn failure(&self, what: &str) -> AppError {
        let tail: String = {
            let lines: Vec<&str> = self.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
            lines[lines.len().saturating_sub(3)..].join(" | ")
        };
        let how = if self.exit == 0 { "stopped before its end".to_owned() } else { format!("exited {}", self.exit) };
        AppError::CommandFailed(format!("{what} {how}: {}", if tail.is_empty() { "(no stderr)" } else { &tail }))
    }

    /// Exit 0 and the script's end marker printed.
    pub fn ok(&self) -> bool {
        self.exit == 0 && self.sections.complete
    }
}

/// What `<prefix>/<execution>/ssm/<run id>.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    command_id: String,
    sent_at: Timestamp,
    /// Set when a step has used the run's result and wants the next attempt to run it afresh
    /// (ConfirmHealed after NotHealed).
    #[serde(default)]
    spent: bool,
}

/// How a wait for a command ended.
enum Waited {
    Finished(CommandInvocation),
    Running,
}

/// Scripts of one step invocation over the kafka-ops adapters.
pub struct KafkaScripts<'a, C, R, S> {
    ops: &'a KafkaOps<C, R, S>,
    inv: Invocation<'a>,
    /// Markers of the runs this invocation used (to spend them).
    used: std::sync::Mutex<Vec<String>>,
}

impl<C, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    pub fn scripts<'a>(&'a self, inv: Invocation<'a>) -> KafkaScripts<'a, C, R, S> {
        KafkaScripts { ops: self, inv, used: std::sync::Mutex::new(Vec::new()) }
    }
}

impl<C, R: CommandRunner, S: ObjectStore> KafkaScripts<'_, C, R, S> {
    pub fn invocation(&self) -> Invocation<'_> {
        self.inv
    }

    /// Runs `script` as run `run`, or re-attaches to the copy already sent for it; waits until it
    /// finishes or the deadline comes (`StillRunning`).
    pub async fn run(&self, run: &RunId, script: &Script) -> Result<ScriptOutput> {
        let marker_key = self.ops.key(self.inv.execution, &format!("ssm/{}.json", run.as_str()))?;
        let mut attach = self.read_marker(&marker_key).await?.filter(|m| !m.spent).map(|m| m.command_id);
        loop {
            let (command_id, ours) = match attach.take() {
                Some(id) => {
                    info!(run = run.as_str(), command_id = %id, "re-attaching to the command already sent");
                    (id, false)
                }
                None => (self.send(run, script, &marker_key).await?, true),
            };
            let waiting = Instant::now();
            let inv = match self.wait(&command_id).await? {
                Waited::Running => {
                    return Err(AppError::StillRunning(format!(
                        "SSM command {command_id} ({}) is still running after {:.1} s, at this invocation's deadline; \
                         the next attempt re-attaches to it",
                        run.as_str(),
                        waiting.elapsed().as_secs_f64()
                    )));
                }
                Waited::Finished(inv) => inv,
            };
            if inv.status == CommandStatus::Failed && inv.response_code == kafka_cli::EXIT_LOCKED {
                if ours {
                    // Another copy of this run holds the lock: its sender died before writing the
                    // marker. Wait for it; a later attempt sends again.
                    warn!(run = run.as_str(), "another copy of this run is still running on the instance");
                    return Err(AppError::StillRunning(format!(
                        "another copy of {} is still running on the client; sending again once it ends",
                        run.as_str()
                    )));
                }
                continue; // the marker named a copy that found the lock taken: send afresh
            }
            self.used.lock().map(|mut u| u.push(marker_key.to_string())).ok();
            return self.output(run, &command_id, inv).await;
        }
    }

    /// Marks the runs this invocation used as spent, so the next attempt of the step runs them
    /// afresh instead of re-attaching to their results (a NotHealed retry must look again).
    pub async fn spend(&self) -> Result<()> {
        let keys = self.used.lock().map(|u| u.clone()).unwrap_or_default();
        for key in keys {
            if let Some(mut m) = self.read_marker_at(&key).await? {
                m.spent = true;
                self.write_marker(&key, &m).await?;
            }
        }
        Ok(())
    }

    async fn send(&self, run: &RunId, script: &Script, marker_key: &S3Key) -> Result<String> {
        let prefix = self.ops.key(self.inv.execution, "ssm")?;
        let comment = format!("msk-autoheal {} {}", run.as_str(), self.inv.execution);
        let lock = format!("{}.{}", self.inv.execution, run.as_str());
        let script = script.clone().with_lock(&lock);
        let config = &self.ops.config;
        let req = CommandRequest {
            instance_id: config.instance_id.as_str(),
            commands: script.commands(),
            comment: &comment,
            what: run.what,
            output_bucket: Some(config.bucket.as_str()),
            output_prefix: Some(prefix.as_str()),
            execution_timeout_seconds: config.command_timeout_seconds,
        };
        let command_id = self.ops.runner.send_command(&req).await?;
        info!(run = run.as_str(), command_id = %command_id, "SSM command sent");
        self.write_marker(
            marker_key.as_str(),
            &Marker { command_id: command_id.clone(), sent_at: self.inv.now, spent: false },
        )
        .await?;
        Ok(command_id)
    }

    async fn wait(&self, command_id: &str) -> Result<Waited> {
        let config = &self.ops.config;
        loop {
            if let Some(inv) = self.ops.runner.command_invocation(command_id, config.instance_id.as_str()).await?
                && inv.status.is_finished()
            {
                return Ok(Waited::Finished(inv));
            }
            if Instant::now() + config.poll_interval >= self.inv.deadline {
                return Ok(Waited::Running);
            }
            tokio::time::sleep(config.poll_interval).await;
        }
    }

    async fn output(&self, run: &RunId, command_id: &str, inv: CommandInvocation) -> Result<ScriptOutput> {
        let exit = match &inv.status {
            CommandStatus::Success => 0,
            CommandStatus::Failed => inv.response_code,
            other => {
                return Err(AppError::CommandFailed(format!(
                    "SSM command {command_id} ({}) ended {other:?}: {}",
                    run.as_str(),
                    inv.stderr.lines().last().unwrap_or_default()
                )));
            }
        };
        let stdout = self.full_stream(command_id, Stream::Stdout, &inv.stdout).await?;
        let stderr = self.full_stream(command_id, Stream::Stderr, &inv.stderr).await?;
        info!(command_id, run = run.as_str(), exit, stdout_bytes = stdout.len(), "SSM command finished");
        Ok(ScriptOutput {
            command_id: command_id.to_owned(),
            exit,
            sections: kafka_cli::split_sections(&stdout),
            stdout,
            stderr,
        })
    }

    /// One output stream, whole: the console copy when shorter than its limit, else the S3 object
    /// (which then must exist).
    async fn full_stream(&self, command_id: &str, stream: Stream, console: &str) -> Result<String> {
        if !stream.console_may_be_cut(console) {
            return Ok(console.to_owned());
        }
        let config = &self.ops.config;
        let prefix = self.ops.key(self.inv.execution, "ssm")?;
        let key = output_key(Some(prefix.as_str()), command_id, config.instance_id.as_str(), stream.object_name());
        match self.ops.store.get_object(config.bucket.as_str(), &key).await {
            Ok(body) => Ok(String::from_utf8_lossy(&body).into_owned()),
            Err(e) if e.is_retryable() => Err(e.into()),
            Err(e) => Err(AppError::CommandFailed(format!(
                "SSM command {command_id}: its {} reached the console limit but its S3 copy is unreadable: {e}",
                stream.object_name()
            ))),
        }
    }

    async fn read_marker(&self, key: &S3Key) -> Result<Option<Marker>> {
        self.read_marker_at(key.as_str()).await
    }

    /// The marker, or None when there is none (asked with ListObjectsV2: GetObject of a missing key
    /// would be 403 like a denied one).
    async fn read_marker_at(&self, key: &str) -> Result<Option<Marker>> {
        match self.ops.store.get_object_if_exists(self.ops.config.bucket.as_str(), key).await? {
            Some(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| AppError::CommandFailed(format!("unreadable run marker {key}: {e}"))),
            None => Ok(None),
        }
    }

    async fn write_marker(&self, key: &str, m: &Marker) -> Result<()> {
        let body = serde_json::to_vec(m).map_err(|e| AppError::InvalidInput(format!("marker: {e}")))?;
        self.ops.store.put_object(self.ops.config.bucket.as_str(), key, body, "application/json").await?;
        Ok(())
    }
}
