//! Step Functions adapter: `Executions` of one state machine over `aws_sdk_sfn::Client`.

use crate::error::{AwsError, ErrorKind, Result};
use crate::ports::{Executions, StartOutcome};
use autoheal_domain::flight::{ExecutionStatus, ExecutionSummary};
use autoheal_domain::time::Timestamp;
use aws_sdk_sfn::types::{ExecutionListItem, ExecutionStatus as SdkStatus};
use tracing::instrument;

/// Stops paging after this many executions: enough history for any cool-down, bounded cost.
const MAX_LISTED: usize = 5_000;

/// The executions of one state machine.
#[derive(Clone, Debug)]
pub struct StateMachine {
    client: aws_sdk_sfn::Client,
    arn: String,
}

impl StateMachine {
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: impl Into<String>) -> Self {
        Self { client, arn: state_machine_arn.into() }
    }

    pub fn arn(&self) -> &str {
        &self.arn
    }
}

impl Executions for StateMachine {
    #[instrument(skip(self), fields(state_machine = %self.arn))]
    async fn list_executions(
        &self,
        status: Option<ExecutionStatus>,
        since: Timestamp,
    ) -> Result<Vec<ExecutionSummary>> {
        let mut req = self.client.list_executions().state_machine_arn(&self.arn).max_results(1000);
        if let Some(s) = status {
            req = req.status_filter(SdkStatus::from(s.to_string().as_str()));
        }
        let mut pages = req.into_paginator().send();
        let mut out = Vec::new();
        'pages: while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListExecutions", e))?;
            for item in page.executions() {
                let summary = summary(item)?;
                // Newest first: everything after this one started earlier still.
                if summary.start < since || out.len() >= MAX_LISTED {
                    break 'pages;
                }
                out.push(summary);
            }
        }
        Ok(out)
    }

    #[instrument(skip(self, input), fields(state_machine = %self.arn))]
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome> {
        let res = self.client.start_execution().state_machine_arn(&self.arn).name(name).input(input).send().await;
        match res {
            Ok(out) => Ok(StartOutcome::Started { execution_arn: out.execution_arn().to_owned() }),
            Err(e) => {
                let err = AwsError::from_sdk("StartExecution", e);
                if err.code.as_deref() == Some("ExecutionAlreadyExists") {
                    Ok(StartOutcome::AlreadyExists)
                } else {
                    Err(err)
                }
            }
        }
    }
}

fn summary(item: &ExecutionListItem) -> Result<ExecutionSummary> {
    let ts = |t: &aws_smithy_types::DateTime| {
        Timestamp::from_unix_millis(t.to_millis().unwrap_or(0))
            .ok_or_else(|| AwsError::new("ListExecutions", ErrorKind::Other, "execution time out of range"))
    };
    let status = match item.status() {
        SdkStatus::Running => ExecutionStatus::Running,
        SdkStatus::Succeeded => ExecutionStatus::Succeeded,
        SdkStatus::Failed => ExecutionStatus::Failed,
        SdkStatus::TimedOut => ExecutionStatus::TimedOut,
        SdkStatus::Aborted => ExecutionStatus::Aborted,
        SdkStatus::PendingRedrive => ExecutionStatus::PendingRedrive,
        // An unknown future status: assume it may still act on the cluster.
        _ => ExecutionStatus::Running,
    };
    Ok(ExecutionSummary {
        name: item.name().to_owned(),
        arn: item.execution_arn().to_owned(),
        status,
        start: ts(item.start_date())?,
        stop: item.stop_date().map(ts).transpose()?,
    })
}
