//! DryRunPlan, the approval branch's kafka-ops step (`dry_run`): before any broker is added, capture
//! the assignment and plan it onto the brokers the scale-out is expected to add — their ids and
//! racks predicted by [`autoheal_domain::new_brokers`] — so the approval email can state the replica
//! moves, bytes and ETA at the configured throttle.
//!
//! It writes only `<execution>/dry-run/…` in S3 and `$.dry_run` in the state: `$.capture` and
//! `$.plan` stay for the post-scale steps, which capture and plan again against the brokers that
//! actually joined. Nothing here changes the Kafka cluster (the capture only describes).

use super::{Capture, Invocation, KafkaOps, RunId};
use crate::error::{AppError, Result};
use crate::workflow::state::{DryRunPlan, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::new_brokers::{Forecast, forecast};
use autoheal_planner::formats::write_reassignment_json;
use autoheal_planner::{Plan, PlanRequest};
use tracing::info;

/// The S3 "directory" of the dry run, under the execution's.
pub const DRY_RUN_DIR: &str = "dry-run";

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// DryRunPlan: capture now, plan onto the predicted brokers, keep both under `dry-run/`.
    pub async fn dry_run(&self, mut state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        let (raw, capture) = self.run_capture(&state, &self.scripts(inv), RunId::new("dry-run")).await?;
        let bucket = self.config.bucket.as_str();
        let capture_key = self.key(inv.execution, &format!("{DRY_RUN_DIR}/capture.txt"))?;
        self.store.put_object(bucket, capture_key.as_str(), raw.into_bytes(), "text/plain").await?;

        // MSK's own view of the cluster (Assess) is the better count: Kafka does not list a broker
        // that is down, but MSK still numbers it.
        let (cluster_brokers, az_count) = match &state.assessment {
            Some(a) => (a.broker_count, a.az_count),
            None => (state.current_broker_count, state.az_count),
        };
        let target = state.target_broker_count;
        let (fc, plan) = estimate(
            &capture,
            cluster_brokers,
            target,
            az_count,
            self.config.throttle.bytes_per_sec(),
            self.config.max_moves_per_broker,
        )?;
        let a = &capture.assignment;
        let proposed =
            write_reassignment_json(plan.changed.iter().map(|&i| (&a.partitions[i].tp, plan.proposed[i].as_slice())));
        let plan_key = self.key(inv.execution, &format!("{DRY_RUN_DIR}/plan.json"))?;
        self.store.put_object(bucket, plan_key.as_str(), proposed.into_bytes(), "application/json").await?;

        let r = &plan.report;
        info!(moves = r.moves, bytes = ?r.bytes_moved, eta_s = ?r.eta_seconds, new_brokers = ?fc.added,
              "dry-run plan ready (estimate)");
        state.dry_run = Some(DryRunPlan {
            estimate: true,
            assumptions: fc.assumptions,
            capture_key: capture_key.to_string(),
            plan_key: plan_key.to_string(),
            captured_at: inv.now,
            partitions: a.partitions.len(),
            under_replicated: a.under_replicated().count(),
            brokers_now: capture.brokers.clone(),
            new_brokers: fc.added,
            brokers: fc.brokers,
            racks: fc.racks,
            changed_partitions: plan.changed.len(),
            moves: r.moves,
            lower_bound: r.lower_bound,
            leader_changes: r.leader_changes,
            bytes_moved: r.bytes_moved,
            eta_seconds: r.eta_seconds,
            replica_spread_before: r.replica_spread_before,
            replica_spread_after: r.replica_spread_after,
            throttle_bytes_per_sec: self.config.throttle.bytes_per_sec(),
            stage_count: plan.stages.iter().filter(|s| !s.is_empty()).count(),
        });
        Ok(state)
    }
}

/// The pure part: predict the brokers, then plan exactly as PlanReassignment will (same planner,
/// throttle and staging), with the same refusals.
fn estimate(
    capture: &Capture,
    cluster_brokers: u32,
    target: u32,
    az_count: u32,
    throttle: u64,
    max_moves_per_broker: Option<u32>,
) -> Result<(Forecast, Plan)> {
    let fc = forecast(&capture.brokers, capture.racks.as_ref(), cluster_brokers, target, az_count)
        .map_err(|e| AppError::CommandFailed(format!("cannot predict the new brokers: {e}")))?;
    if fc.racks.is_none() && az_count > 1 {
        // PlanReassignment refuses this too: say it now, before anyone approves.
        return Err(AppError::CommandFailed(
            "broker racks are unknown (kafka-broker-api-versions.sh gave none for every broker) on a multi-AZ \
             cluster; the plan after scaling would refuse to place replicas blind to AZs"
                .into(),
        ));
    }
    let req = PlanRequest {
        brokers: fc.brokers.clone(),
        racks: fc.racks.clone(),
        sizes: capture.sizes.clone(),
        throttle: Some(throttle),
        max_moves_per_broker,
        ..PlanRequest::default()
    };
    let plan = autoheal_planner::plan(&capture.assignment, &req)
        .map_err(|e| AppError::CommandFailed(format!("planner: {e}")))?;
    Ok((fc, plan))
}

#[cfg(test)]
mod tests {
    use super::super::capture::parse_capture;
    use super::*;
    use autoheal_domain::kafka_cli;

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{}/../../tests/fixtures/kafka/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// A 2-broker capture (brokers 3 and 4 not there yet), with the recorded replica sizes.
    fn two_broker_capture() -> Capture {
        let brokers: String = fixture("broker-api-versions-brokers-4.1.2.txt")
            .lines()
            .filter(|l| l.contains("(id: 1 ") || l.contains("(id: 2 "))
            .map(|l| format!("{l}\n"))
            .collect();
        let stdout = format!(
            "#autoheal:section:topics\n{}#autoheal:section:brokers\n{brokers}#autoheal:end\n",
            fixture("topics-describe-2-brokers-4.1.2.txt"),
        );
        let mut c = parse_capture(&kafka_cli::split_sections(&stdout)).unwrap();
        let log_dirs = autoheal_planner::formats::parse_log_dirs(&fixture("log-dirs-describe-4.1.2.txt")).unwrap();
        c.sizes = Some(log_dirs.partition_sizes().unwrap());
        c
    }

    #[test]
    fn the_estimate_plans_onto_the_predicted_brokers_with_sizes_and_eta() {
        let c = two_broker_capture();
        assert_eq!(c.brokers, vec![1, 2]);
        let (fc, plan) = estimate(&c, 2, 4, 2, 10 * 1024 * 1024, None).unwrap();
        assert_eq!(fc.brokers, vec![1, 2, 3, 4]);
        let r = &plan.report;
        assert!(r.moves > 0 && r.moves == r.lower_bound, "{r:?}");
        assert!(r.bytes_moved.unwrap() > 0 && r.eta_seconds.unwrap() > 0.0, "{r:?}");
        assert!(r.replica_spread_after <= 1, "26 replicas over 4 brokers: 6 or 7 each, {r:?}");
        let racks = fc.racks.unwrap();
        assert_eq!((racks[&3].as_str(), racks[&4].as_str()), ("use1-az1", "use1-az2"));
        for &i in &plan.changed {
            let rs: std::collections::BTreeSet<&str> = plan.proposed[i].iter().map(|b| racks[b].as_str()).collect();
            assert_eq!(rs.len(), 2, "replicas of a partition stay in both AZs");
        }
    }
}
