//! ConfirmHealed: put back the throttles this execution changed (Kafka keeps some when another
//! reassignment runs, and its `--verify` clears an operator's broker rates too), elect the
//! preferred leaders an earlier election could not, and capture again: no under-replicated
//! partition and replicas spread as the plan promised, else `NotHealed`, which the ASL retries
//! while followers catch up. A NotHealed attempt spends its runs, so the next one looks afresh.

use super::{Invocation, KafkaOps, KafkaScripts, RunId};
use crate::error::{AppError, Result};
use crate::workflow::state::{HealthCheck, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use std::collections::BTreeMap;
use tracing::info;

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// ConfirmHealed.
    pub async fn confirm(&self, mut state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        let scripts = self.scripts(inv);
        let result = self.confirm_in(&mut state, &scripts).await;
        if let Err(AppError::NotHealed(_)) = &result {
            scripts.spend().await?;
        }
        result.map(|()| state)
    }

    async fn confirm_in(&self, state: &mut WorkflowState, scripts: &KafkaScripts<'_, C, R, S>) -> Result<()> {
        let execution = scripts.invocation().execution;
        if let Some(r) = state.reassignment.clone()
            && let Some(record) = self.throttle_record(execution).await?
            && (!r.throttles_removed || record.has_operator_values())
        {
            let done = self.restore_throttles(scripts, state, RunId::new("throttles-confirm"), None, &record).await?;
            if let Some(e) = done.error {
                return Err(e);
            }
            info!(removed = ?done.removed, restored = ?done.restored, "throttles put back as they were");
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
            let client = self.client(state).await?;
            let election = self.elect_preferred(scripts, RunId::new("elect-confirm"), &client, &source).await?;
            if let Some(p) = state.reassignment.as_mut() {
                p.leaders_elected += election.elected;
                p.election_failures = election.failed;
            }
        }
        let (raw, capture) = self.run_capture(state, scripts, RunId::new("confirm")).await?;
        let key = self.key(scripts.invocation().execution, "confirm.txt")?;
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
            checked_at: scripts.invocation().now,
        });
        Ok(())
    }
}
