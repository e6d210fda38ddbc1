//! Ports: the narrow slices of AWS the use cases need, as traits over domain types. Adapters for
//! the SDK clients live beside them (`kafka`, `sfn`, `sns`); tests implement them in memory.

use crate::error::Result;
use autoheal_domain::cluster::{ClusterArn, ClusterInfo, ClusterName};
use autoheal_domain::flight::{ExecutionStatus, ExecutionSummary};
use autoheal_domain::time::Timestamp;
use std::future::Future;

/// Reading (and, for the workflow, changing) MSK clusters.
pub trait ClusterControl: Send + Sync {
    /// The ARN of the provisioned or serverless cluster with exactly this name, if any.
    fn find_cluster(&self, name: &ClusterName) -> impl Future<Output = Result<Option<ClusterArn>>> + Send;

    /// DescribeClusterV2, reduced to what the decisions need.
    fn describe_cluster(&self, arn: &ClusterArn) -> impl Future<Output = Result<ClusterInfo>> + Send;
}

/// The result of asking for a new execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    Started {
        execution_arn: String,
    },
    /// An execution with this name exists already: the event was a redelivery.
    AlreadyExists,
}

/// The remediation state machine's executions.
pub trait Executions: Send + Sync {
    /// Executions started at or after `since` (all of them when `status` is None), newest first.
    fn list_executions(
        &self,
        status: Option<ExecutionStatus>,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<ExecutionSummary>>> + Send;

    fn start_execution(&self, name: &str, input: &str) -> impl Future<Output = Result<StartOutcome>> + Send;
}

/// What taking a cluster's lease gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    Acquired,
    /// Another execution holds it: since `acquired_at`, until `expires_at` (when known).
    HeldBy {
        holder: String,
        acquired_at: Option<Timestamp>,
        expires_at: Option<Timestamp>,
    },
}

/// One remediation per cluster at a time, decided by one conditional write (not by a list that may
/// lag). The holder is the execution name.
pub trait Lease: Send + Sync {
    /// Takes `cluster`'s lease for `holder` for `ttl_seconds` when nobody holds it, its holder's
    /// time is up, `holder` holds it already (a redelivered event), or `replacing` holds it (an
    /// execution known to have ended without releasing it).
    fn acquire(
        &self,
        cluster: &ClusterArn,
        holder: &str,
        now: Timestamp,
        ttl_seconds: u64,
        replacing: Option<&str>,
    ) -> impl Future<Output = Result<LeaseOutcome>> + Send;

    /// Gives the lease up if `holder` holds it; `false` (and nothing changed) otherwise.
    fn release(&self, cluster: &ClusterArn, holder: &str) -> impl Future<Output = Result<bool>> + Send;
}

/// Notifications to operators.
pub trait Notifier: Send + Sync {
    /// Publishes a message; returns its id.
    fn publish(&self, subject: &str, message: &str) -> impl Future<Output = Result<String>> + Send;
}

/// What the workflow changes on MSK: the broker count, and where clients connect.
pub trait ClusterScaling: Send + Sync {
    /// UpdateBrokerCount; returns the cluster operation's ARN. A stale `current_version` is
    /// `ErrorKind::Conflict` (MSK answers BadRequest or Conflict for it; see the adapter).
    fn update_broker_count(
        &self,
        arn: &ClusterArn,
        current_version: &autoheal_domain::cluster::ClusterVersion,
        target: u32,
    ) -> impl Future<Output = Result<String>> + Send;

    /// GetBootstrapBrokers: every listener's connection string the cluster offers.
    fn bootstrap_brokers(&self, arn: &ClusterArn) -> impl Future<Output = Result<BootstrapBrokers>> + Send;
}

/// MSK's cluster operations: what the scale step polls instead of waiting blind.
pub trait ClusterOperations: Send + Sync {
    /// DescribeClusterOperationV2: where one operation (ours, from UpdateBrokerCount) stands.
    fn describe_operation(&self, operation_arn: &str) -> impl Future<Output = Result<ClusterOperation>> + Send;

    /// ListClusterOperationsV2 (first page, newest first): the operations that have not ended yet.
    fn operations_in_progress(&self, arn: &ClusterArn) -> impl Future<Output = Result<Vec<ClusterOperation>>> + Send;
}

/// One MSK cluster operation, as DescribeClusterOperationV2 / ListClusterOperationsV2 report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterOperation {
    pub arn: String,
    /// e.g. `UPDATE_BROKER_COUNT`, `UPDATE_CLUSTER_CONFIGURATION`.
    pub operation_type: String,
    pub state: OperationState,
    /// `errorInfo` of a failed operation: (errorCode, errorString). Only the describe call carries it.
    pub error: Option<(String, String)>,
}

/// MSK's `operationState`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperationState {
    Pending,
    InProgress,
    Complete,
    Failed,
    Other(String),
}

impl OperationState {
    pub fn parse(s: &str) -> Self {
        match s {
            "PENDING" => Self::Pending,
            "UPDATE_IN_PROGRESS" => Self::InProgress,
            "UPDATE_COMPLETE" => Self::Complete,
            "UPDATE_FAILED" => Self::Failed,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "PENDING",
            Self::InProgress => "UPDATE_IN_PROGRESS",
            Self::Complete => "UPDATE_COMPLETE",
            Self::Failed => "UPDATE_FAILED",
            Self::Other(s) => s,
        }
    }

    /// Not ended yet (an unknown state counts as running: waiting is the safe reading).
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Pending | Self::InProgress | Self::Other(_))
    }
}

/// GetBootstrapBrokers, one string per listener (absent when the listener is off).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapBrokers {
    pub plaintext: Option<String>,
    pub tls: Option<String>,
    pub sasl_scram: Option<String>,
    pub sasl_iam: Option<String>,
}

/// A shell script for SSM Run Command (AWS-RunShellScript) on one instance.
#[derive(Debug, Clone)]
pub struct CommandRequest<'a> {
    pub instance_id: &'a str,
    pub commands: &'a [String],
    /// Shown in the SSM console (≤ 100 characters).
    pub comment: &'a str,
    /// The caller's name for the kind of script (`capture`, `verify`, ...): for logs and for
    /// stand-ins that answer by kind (the CLI's replay), never parsed out of `comment`.
    pub what: &'a str,
    /// Full stdout/stderr go to `s3://bucket/prefix/...` (GetCommandInvocation keeps only 24,000
    /// characters of stdout).
    pub output_bucket: Option<&'a str>,
    pub output_prefix: Option<&'a str>,
    /// The agent kills the script after this long.
    pub execution_timeout_seconds: u32,
}

/// SSM's status of one command invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandStatus {
    Pending,
    InProgress,
    Success,
    Failed,
    TimedOut,
    Cancelled,
    Other(String),
}

impl CommandStatus {
    pub fn parse(s: &str) -> Self {
        match s {
            "Pending" | "Delayed" => Self::Pending,
            "InProgress" | "Cancelling" => Self::InProgress,
            "Success" => Self::Success,
            "Failed" => Self::Failed,
            "TimedOut" => Self::TimedOut,
            "Cancelled" => Self::Cancelled,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn is_finished(&self) -> bool {
        !matches!(self, Self::Pending | Self::InProgress)
    }
}

/// One invocation as GetCommandInvocation reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandInvocation {
    pub status: CommandStatus,
    /// The script's exit code (-1 while it runs).
    pub response_code: i32,
    /// At most 24,000 characters; the full text is in S3 when an output bucket was given.
    pub stdout: String,
    pub stderr: String,
}

/// Running scripts on the Kafka client instance.
pub trait CommandRunner: Send + Sync {
    /// SendCommand; returns the command id.
    fn send_command(&self, req: &CommandRequest<'_>) -> impl Future<Output = Result<String>> + Send;

    /// GetCommandInvocation; `None` while SSM does not know the invocation yet (right after sending).
    fn command_invocation(
        &self,
        command_id: &str,
        instance_id: &str,
    ) -> impl Future<Output = Result<Option<CommandInvocation>>> + Send;
}

/// Objects in S3: captures, plans, SSM output.
pub trait ObjectStore: Send + Sync {
    fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    fn get_object(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Vec<u8>>> + Send;

    /// The object, or None when there is no such key. S3 answers GetObject of a missing key with
    /// 403 (not 404) to a caller without s3:ListBucket, so the S3 adapter asks ListObjectsV2 first;
    /// this default (for stores that answer NotFound) only maps NotFound to None.
    fn get_object_if_exists(&self, bucket: &str, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>>> + Send {
        async move {
            match self.get_object(bucket, key).await {
                Ok(body) => Ok(Some(body)),
                Err(e) if e.kind == crate::error::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            }
        }
    }
}
