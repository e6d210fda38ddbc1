//! Reading one ended execution back: DescribeExecution and the `StateEntered` events of
//! GetExecutionHistory. The safety net (`autoheal_app::workflow::safety_net`) needs them to find the
//! last workflow state of an execution that stopped outside its own failure path.

use crate::error::{AwsError, ErrorKind, Result};
use autoheal_domain::flight::ExecutionStatus;
use autoheal_domain::time::Timestamp;
use aws_sdk_sfn::types::ExecutionStatus as SdkStatus;
use std::future::Future;
use tracing::instrument;

/// DescribeExecution, reduced to what the safety net reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionDescription {
    pub arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub start: Timestamp,
    pub stop: Option<Timestamp>,
    /// The execution input (the detector's JSON).
    pub input: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// One `StateEntered` history event: which state, with which input (the workflow state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateEntered {
    pub id: i64,
    pub name: String,
    pub input: Option<String>,
}

/// The history of executions of the remediation state machine.
pub trait ExecutionHistory: Send + Sync {
    fn describe_execution(&self, execution_arn: &str) -> impl Future<Output = Result<ExecutionDescription>> + Send;

    /// Every state the execution entered, newest first, at most `limit` of them.
    fn states_entered(
        &self,
        execution_arn: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StateEntered>>> + Send;
}

/// The SDK adapter.
#[derive(Clone, Debug)]
pub struct SfnHistory {
    client: aws_sdk_sfn::Client,
}

impl SfnHistory {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

fn ts(operation: &'static str, t: &aws_smithy_types::DateTime) -> Result<Timestamp> {
    Timestamp::from_unix_millis(t.to_millis().unwrap_or(0))
        .ok_or_else(|| AwsError::new(operation, ErrorKind::Other, "execution time out of range"))
}

pub fn status_of(s: &SdkStatus) -> ExecutionStatus {
    match s {
        SdkStatus::Running => ExecutionStatus::Running,
        SdkStatus::Succeeded => ExecutionStatus::Succeeded,
        SdkStatus::Failed => ExecutionStatus::Failed,
        SdkStatus::TimedOut => ExecutionStatus::TimedOut,
        SdkStatus::Aborted => ExecutionStatus::Aborted,
        SdkStatus::PendingRedrive => ExecutionStatus::PendingRedrive,
        // An unknown future status: assume it may still act on the cluster.
        _ => ExecutionStatus::Running,
    }
}

impl ExecutionHistory for SfnHistory {
    #[instrument(skip(self))]
    async fn describe_execution(&self, execution_arn: &str) -> Result<ExecutionDescription> {
        let out = self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeExecution", e))?;
        Ok(ExecutionDescription {
            arn: out.execution_arn().to_owned(),
            state_machine_arn: out.state_machine_arn().to_owned(),
            name: out.name().unwrap_or_default().to_owned(),
            status: status_of(out.status()),
            start: ts("DescribeExecution", out.start_date())?,
            stop: out.stop_date().map(|t| ts("DescribeExecution", t)).transpose()?,
            input: out.input().map(str::to_owned),
            error: out.error().map(str::to_owned),
            cause: out.cause().map(str::to_owned),
        })
    }

    #[instrument(skip(self))]
    async fn states_entered(&self, execution_arn: &str, limit: usize) -> Result<Vec<StateEntered>> {
        let mut pages = self
            .client
            .get_execution_history()
            .execution_arn(execution_arn)
            .reverse_order(true)
            .include_execution_data(true)
            .max_results(1000)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        'pages: while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("GetExecutionHistory", e))?;
            for e in page.events() {
                // Only the `*StateEntered` events carry these details.
                if let Some(d) = e.state_entered_event_details() {
                    out.push(StateEntered {
                        id: e.id(),
                        name: d.name().to_owned(),
                        input: d.input().map(str::to_owned),
                    });
                    if out.len() >= limit {
                        break 'pages;
                    }
                }
            }
        }
        Ok(out)
    }
}
