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

/// Notifications to operators.
pub trait Notifier: Send + Sync {
    /// Publishes a message; returns its id.
    fn publish(&self, subject: &str, message: &str) -> impl Future<Output = Result<String>> + Send;
}
