//! ScaleBrokers and the WaitForActive poll. UpdateBrokerCount is idempotent here: a cluster at or
//! above the target is left alone, an operation already in progress is waited for, and a stale
//! CurrentVersion is re-read once before giving up with `VersionConflict`.

use super::state::{ScaleProgress, Settings, WorkflowState};
use crate::error::{AppError, Result};
use autoheal_aws::ErrorKind;
use autoheal_aws::ports::{ClusterControl, ClusterScaling};
use autoheal_domain::cluster::{ClusterInfo, ClusterState};
use autoheal_domain::time::Timestamp;
use tracing::{info, warn};

pub struct Scale<C> {
    pub clusters: C,
    /// Hard ceiling (MAX_BROKERS): checked again here, the step that changes the cluster.
    pub max_brokers: u32,
}

impl<C: ClusterControl + ClusterScaling> Scale<C> {
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
        };
        let mut attempt = 0;
        loop {
            if let Some(note) = self.no_call_needed(&info, target)? {
                info!(cluster = %info.name, note = %note, "UpdateBrokerCount not needed");
                progress.note = Some(note);
                break;
            }
            match self.clusters.update_broker_count(&state.cluster_arn, &info.current_version, target).await {
                Ok(op) => {
                    info!(cluster = %info.name, from = info.broker_count, target, operation = %op, "UpdateBrokerCount requested");
                    progress.requested = true;
                    progress.operation_arn = Some(op);
                    break;
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
        state.current_version = info.current_version.clone();
        state.scale = Some(progress);
        Ok(state)
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

    /// WaitForActive's check: done when ACTIVE with at least the target count; FAILED and the time
    /// limit fail the execution.
    pub async fn poll(&self, mut state: WorkflowState, now: Timestamp) -> Result<WorkflowState> {
        let settings = state.settings.unwrap_or_default();
        let mut progress = state
            .scale
            .clone()
            .ok_or_else(|| AppError::InvalidInput("WaitForActive without ScaleBrokers before it".into()))?;
        let info = self.clusters.describe_cluster(&state.cluster_arn).await?;
        progress.polls += 1;
        progress.state = info.state.to_string();
        progress.broker_count = info.broker_count;
        if info.state == ClusterState::Failed {
            return Err(AppError::ClusterFailed(format!(
                "cluster {} went FAILED while adding brokers ({} of {})",
                info.name, info.broker_count, progress.target
            )));
        }
        progress.active = info.state == ClusterState::Active && info.broker_count >= progress.target;
        let waited = now.seconds_since(progress.started_at).max(0) as u64;
        if !progress.active && waited >= timeout(&settings) {
            return Err(AppError::ClusterNotActive(format!(
                "cluster {} is {} with {} brokers after {} minutes; expected ACTIVE with {}",
                info.name,
                info.state,
                info.broker_count,
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
