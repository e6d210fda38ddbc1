//! ScaleBrokers and the WaitForActive poll. UpdateBrokerCount is idempotent here: a cluster at or
//! above the target is left alone, someone else's operation in progress is waited for (and our
//! update sent once it ends), and a stale CurrentVersion is re-read once before giving up with
//! `VersionConflict`. The poll reads our operation (DescribeClusterOperationV2): UPDATE_FAILED fails
//! at once with MSK's error info (`ScaleFailed`), not after the time limit.

use super::state::{ScaleProgress, Settings, WorkflowState};
use crate::error::{AppError, Result};
use autoheal_aws::ErrorKind;
use autoheal_aws::ports::{ClusterControl, ClusterOperations, ClusterScaling, OperationState};
use autoheal_domain::cluster::{ClusterInfo, ClusterState};
use autoheal_domain::time::Timestamp;
use tracing::{info, warn};

pub struct Scale<C> {
    pub clusters: C,
    /// Hard ceiling (MAX_BROKERS): checked again here, the step that changes the cluster.
    pub max_brokers: u32,
}

impl<C: ClusterControl + ClusterScaling + ClusterOperations> Scale<C> {
    /// ScaleBrokers: ask for the target count unless the cluster has it or is already changing.
    pub async fn scale(&self, mut state: WorkflowState, now: Timestamp) -> Result<WorkflowState> {
        let target = state.target_broker_count;
        if target > self.max_brokers {
            return Err(AppError::AtCeiling(format!(
                "target {target} brokers exceeds MAX_BROKERS={}; UpdateBrokerCount not called",
                self.max_brokers
            )));
        }
        let mut info = self.clusters.describe_cluster(&state.cluster_arn).await?;
        let mut progress = ScaleProgress {
            requested: false,
            operation_arn: None,
            note: None,
            from: info.broker_count,
            target,
            started_at: now,
            state: info.state.to_string(),
            broker_count: info.broker_count,
            active: false,
            polls: 0,
            version_retries: 0,
            waiting_for: None,
            operation_state: None,
        };
        if let Some(note) = self.no_call_needed(&info, target)? {
            info!(cluster = %info.name, note = %note, "UpdateBrokerCount not needed");
            if info.state == ClusterState::Updating && info.broker_count < target {
                // Someone else's operation: remember which, so the poll knows the update is not ours.
                let running = self.clusters.operations_in_progress(&state.cluster_arn).await?;
                progress.waiting_for = Some(
                    running
                        .first()
                        .map(|o| format!("{} ({})", o.arn, o.operation_type))
                        .unwrap_or_else(|| "an operation MSK does not list".to_owned()),
                );
            }
            progress.note = Some(note);
        } else {
            info = self.request(&state, info, &mut progress).await?;
        }
        state.current_version = info.current_version.clone();
        state.scale = Some(progress);
        Ok(state)
    }

    /// UpdateBrokerCount from `info`, reading the cluster again once on a stale CurrentVersion.
    /// Returns the cluster as last read.
    async fn request(
        &self,
        state: &WorkflowState,
        mut info: ClusterInfo,
        progress: &mut ScaleProgress,
    ) -> Result<ClusterInfo> {
        let target = progress.target;
        let mut attempt = 0;
        loop {
            if let Some(note) = self.no_call_needed(&info, target)? {
                info!(cluster = %info.name, note = %note, "UpdateBrokerCount not needed");
                progress.note = Some(note);
                return Ok(info);
            }
            match self.clusters.update_broker_count(&state.cluster_arn, &info.current_version, target).await {
                Ok(op) => {
                    info!(cluster = %info.name, from = info.broker_count, target, operation = %op, "UpdateBrokerCount requested");
                    progress.requested = true;
                    progress.operation_arn = Some(op);
                    return Ok(info);
                }
                Err(e) if e.kind == ErrorKind::Conflict && attempt == 0 => {
                    // Somebody changed the cluster since we read it: read again, decide again.
                    warn!(cluster = %info.name, error = %e, "stale CurrentVersion; reading the cluster again");
                    attempt += 1;
                    progress.version_retries += 1;
                    info = self.clusters.describe_cluster(&state.cluster_arn).await?;
                }
                Err(e) if e.kind == ErrorKind::Conflict => {
                    return Err(AppError::VersionConflict(format!(
                        "UpdateBrokerCount refused the CurrentVersion twice (the cluster keeps changing): {e}"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `Some(reason)` when UpdateBrokerCount must not be called.
    fn no_call_needed(&self, info: &ClusterInfo, target: u32) -> Result<Option<String>> {
        if info.broker_count >= target {
            return Ok(Some(format!("the cluster already has {} brokers (target {target})", info.broker_count)));
        }
        match &info.state {
            ClusterState::Active => Ok(None),
            ClusterState::Updating => Ok(Some("an update is already in progress; waiting for it".to_owned())),
            ClusterState::Failed => Err(AppError::ClusterFailed(format!("cluster {} is FAILED", info.name))),
            other => Err(AppError::ClusterNotActive(format!("cluster {} is {other}, not ACTIVE", info.name))),
        }
    }

    /// WaitForActive's check: done when ACTIVE with at least the target count. Our operation
    /// UPDATE_FAILED, a FAILED cluster and the time limit fail the execution. When the cluster was
    /// busy with someone else's operation, our UpdateBrokerCount is sent as soon as it is ACTIVE.
    pub async fn poll(&self, mut state: WorkflowState, now: Timestamp) -> Result<WorkflowState> {
        let settings = state.settings.unwrap_or_default();
        let mut progress = state
            .scale
            .clone()
            .ok_or_else(|| AppError::InvalidInput("WaitForActive without ScaleBrokers before it".into()))?;
        progress.polls += 1;
        if let Some(op_arn) = progress.operation_arn.clone().filter(|a| !a.is_empty()) {
            let op = self.clusters.describe_operation(&op_arn).await?;
            progress.operation_state = Some(op.state.as_str().to_owned());
            if op.state == OperationState::Failed {
                let (code, text) = op.error.unwrap_or_else(|| ("unknown".into(), "MSK gave no error info".into()));
                return Err(AppError::ScaleFailed(format!(
                    "UpdateBrokerCount to {} brokers failed: operation {op_arn} is UPDATE_FAILED ({code}: {text})",
                    progress.target
                )));
            }
        }
        let info = self.clusters.describe_cluster(&state.cluster_arn).await?;
        progress.state = info.state.to_string();
        progress.broker_count = info.broker_count;
        if info.state == ClusterState::Failed {
            return Err(AppError::ClusterFailed(format!(
                "cluster {} went FAILED while adding brokers ({} of {})",
                info.name, info.broker_count, progress.target
            )));
        }
        progress.active = info.state == ClusterState::Active && info.broker_count >= progress.target;
        if !progress.active && !progress.requested && info.state == ClusterState::Active {
            // The operation we waited for has ended and the cluster is still below target: our turn.
            info!(cluster = %info.name, brokers = info.broker_count, target = progress.target,
                  waited_for = progress.waiting_for.as_deref().unwrap_or("-"), "cluster ACTIVE again; sending our UpdateBrokerCount");
            let after = self.request(&state, info.clone(), &mut progress).await?;
            progress.state = after.state.to_string();
            progress.broker_count = after.broker_count;
            state.current_version = after.current_version;
        }
        let waited = now.seconds_since(progress.started_at).max(0) as u64;
        if !progress.active && waited >= timeout(&settings) {
            return Err(AppError::ClusterNotActive(format!(
                "cluster {} is {} with {} brokers after {} minutes; expected ACTIVE with {}",
                state.cluster_name,
                progress.state,
                progress.broker_count,
                waited / 60,
                progress.target
            )));
        }
        if progress.active {
            info!(cluster = %info.name, brokers = info.broker_count, waited_s = waited, "cluster ACTIVE at target");
            state.current_version = info.current_version;
        }
        state.scale = Some(progress);
        Ok(state)
    }
}

fn timeout(s: &Settings) -> u64 {
    s.scale_timeout_seconds
}
