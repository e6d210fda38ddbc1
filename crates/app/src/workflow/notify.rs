//! Notify: the outcome for people, by SNS. Success says what changed (brokers, moves, bytes,
//! duration) and the fix to keep in their infrastructure code; failure says where and why it
//! stopped, what the cleanup did, and what is left to do by hand.

use super::state::{NotificationSent, ReassignmentStatus, WorkflowState};
use crate::error::Result;
use autoheal_aws::ports::Notifier;
use autoheal_domain::time::Timestamp;
use serde_json::Value;
use std::fmt::Write as _;
use tracing::info;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    pub fn parse(step: Option<&str>) -> Option<Self> {
        match step {
            Some("success") => Some(Self::Success),
            Some("failure") => Some(Self::Failure),
            _ => None,
        }
    }
}

pub struct Notify<N> {
    pub notifier: N,
}

impl<N: Notifier> Notify<N> {
    pub async fn run(
        &self,
        mut state: WorkflowState,
        outcome: Outcome,
        execution: &str,
        started: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<WorkflowState> {
        let (subject, message) = render(&state, outcome, execution, started, now);
        let message_id = self.notifier.publish(&subject, &message).await?;
        info!(outcome = ?outcome, message_id = %message_id, "notification sent");
        state.notification = Some(NotificationSent {
            outcome: match outcome {
                Outcome::Success => "success".into(),
                Outcome::Failure => "failure".into(),
            },
            subject,
            message_id,
        });
        Ok(state)
    }
}

/// Subject and plain-text body.
pub fn render(
    state: &WorkflowState,
    outcome: Outcome,
    execution: &str,
    started: Option<Timestamp>,
    now: Timestamp,
) -> (String, String) {
    let name = &state.cluster_name;
    let from = state.scale.as_ref().map(|s| s.from).unwrap_or(state.current_broker_count);
    let to = state.scale.as_ref().map(|s| s.broker_count.max(s.from)).unwrap_or(state.current_broker_count);
    let mut b = String::new();
    let subject = match outcome {
        Outcome::Success => {
            let moves = state.plan.as_ref().map(|p| p.moves).unwrap_or(0);
            format!("msk-autoheal: {name} healed ({from} -> {to} brokers, {moves} replicas moved)")
        }
        Outcome::Failure => {
            format!("msk-autoheal: remediation of {name} FAILED ({})", error_type(state).unwrap_or("unknown error"))
        }
    };
    let _ = writeln!(b, "Cluster: {}", state.cluster_arn);
    let _ = writeln!(b, "Incident: {}", incident_line(&state.incident));
    let _ = writeln!(b, "Execution: {execution}");
    if let Some(s) = started {
        let secs = now.seconds_since(s).max(0);
        let _ = writeln!(b, "Duration: {}m {:02}s", secs / 60, secs % 60);
    }
    let _ = writeln!(b);
    match outcome {
        Outcome::Success => {
            let _ = writeln!(b, "Outcome: healed. UnderReplicatedPartitions is 0 again.");
        }
        Outcome::Failure => {
            let _ = writeln!(b, "Outcome: FAILED: {}", error_type(state).unwrap_or("unknown error"));
            let _ = writeln!(b, "Why: {}", error_message(state).unwrap_or_else(|| "(no cause recorded)".into()));
        }
    }
    let _ = writeln!(b);
    match &state.scale {
        Some(s) if s.requested => {
            let _ = writeln!(
                b,
                "Brokers: {} -> {} requested (UpdateBrokerCount {}); last seen {} with {} brokers",
                s.from,
                s.target,
                s.operation_arn.as_deref().unwrap_or("-"),
                s.state,
                s.broker_count
            );
        }
        Some(s) => {
            let _ =
                writeln!(b, "Brokers: {} (target {}); {}", s.broker_count, s.target, s.note.as_deref().unwrap_or(""));
        }
        None => {
            let _ = writeln!(
                b,
                "Brokers: {} (not changed; target was {})",
                state.current_broker_count, state.target_broker_count
            );
        }
    }
    if let Some(p) = &state.plan {
        let _ = writeln!(
            b,
            "Reassignment: {} replicas moved (the minimum possible: {}), {} partitions, {} leader changes, {} stage(s), throttle {}",
            p.moves,
            p.lower_bound,
            p.changed_partitions,
            p.leader_changes,
            p.stage_keys.len(),
            bytes(p.throttle_bytes_per_sec) + "/s"
        );
        if let Some(bytes_moved) = p.bytes_moved {
            let _ = writeln!(b, "Data moved: {}", bytes(bytes_moved));
        }
        let _ = writeln!(
            b,
            "Plan: s3://{}/{} (rollback: s3://{}/{})",
            p.s3_bucket, p.plan_key, p.s3_bucket, p.rollback_key
        );
    }
    if let Some(r) = &state.reassignment {
        let status = match r.status {
            ReassignmentStatus::Complete => "complete".to_owned(),
            _ => format!("stage {} of {} in progress", r.stage + 1, r.stages),
        };
        let _ = writeln!(b, "Reassignment status: {status}; throttles removed by Kafka: {}", r.throttles_removed);
    }
    if let Some(h) = &state.healed {
        let _ = writeln!(
            b,
            "Check: {} under-replicated partitions; replicas per broker {:?} (spread {})",
            h.under_replicated, h.replicas_per_broker, h.replica_spread
        );
    }
    if let Some(c) = &state.cleanup {
        let _ = writeln!(b);
        match &c.skipped {
            Some(why) => {
                let _ = writeln!(b, "Cleanup: {why}");
            }
            None => {
                let stage = c.cancelled_stage.map(|n| format!(" (stage {n})")).unwrap_or_default();
                let _ = writeln!(
                    b,
                    "Cleanup: cancelled{stage} {}; throttles removed: {}; an operator's throttles put back: {}; not removed: {}",
                    list(&c.cancelled),
                    list(&c.throttles_removed),
                    list(&c.throttles_restored),
                    list(&c.throttles_failed)
                );
                if let Some(e) = &c.error {
                    let _ = writeln!(b, "Cleanup problem: {e}");
                }
            }
        }
    }
    if let Some(fixes) = state.assessment.as_ref().and_then(|a| a.fixes.as_ref()) {
        let _ = writeln!(b);
        match outcome {
            Outcome::Success => {
                let _ =
                    writeln!(b, "Keep your infrastructure code in line (or its next apply takes the brokers away):");
            }
            Outcome::Failure => {
                let _ = writeln!(b, "To finish by hand:");
            }
        }
        let _ = writeln!(b, "\n--- Terraform ---\n{}", fixes.terraform);
        let _ = writeln!(b, "--- AWS CLI ---\n{}", fixes.aws_cli);
        if outcome == Outcome::Failure {
            let _ = writeln!(b, "--- Kafka CLI (rebalance after the brokers are added) ---\n{}", fixes.kafka_cli);
        }
    }
    (subject, b)
}

fn incident_line(incident: &Value) -> String {
    let s = |k: &str| incident.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
    format!(
        "{} ({}), {}, alarm {} at {}",
        s("type"),
        s("severity"),
        s("signal"),
        s("alarm_name"),
        s("state_change_time")
    )
}

/// `Error` of the ASL's Catch.
fn error_type(state: &WorkflowState) -> Option<&str> {
    state.error.as_ref()?.get("Error")?.as_str()
}

/// The Lambda's errorMessage when the Cause is its error JSON, else the Cause itself.
fn error_message(state: &WorkflowState) -> Option<String> {
    let cause = state.error.as_ref()?.get("Cause")?.as_str()?;
    let msg = serde_json::from_str::<Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned());
    Some(msg.chars().take(2000).collect())
}

fn list(v: &[String]) -> String {
    if v.is_empty() { "none".into() } else { v.join("; ") }
}

fn bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n as f64 >= MIB { format!("{:.1} MiB", n as f64 / MIB) } else { format!("{n} B") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(extra: Value) -> WorkflowState {
        let mut v = json!({
            "cluster_arn": "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
            "cluster_name": "demo",
            "incident": {"type": "MSKClusterCapacityInsufficient", "severity": "High",
                         "signal": "UnderReplicatedPartitions > 0", "alarm_name": "demo-urp",
                         "state_change_time": "2026-11-25T18:00:00Z"},
            "current_broker_count": 2, "target_broker_count": 4, "az_count": 2,
            "current_version": "K1", "mode": "auto"
        });
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        serde_json::from_value(v).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[test]
    fn success_says_what_changed() {
        let s = state(json!({
            "scale": {"requested": true, "operation_arn": "arn:op", "note": null, "from": 2, "target": 4,
                      "started_at": "2026-11-25T18:00:10Z", "state": "ACTIVE", "broker_count": 4, "active": true,
                      "polls": 3, "version_retries": 0},
            "plan": {"s3_bucket": "b", "s3_prefix": "p", "plan_key": "p/plan.json", "rollback_key": "p/rollback.json",
                     "stage_keys": ["p/stage-1.json"], "changed_partitions": 12, "moves": 12, "lower_bound": 12,
                     "leader_changes": 3, "bytes_moved": 52428800, "eta_seconds": 5.0, "replica_spread_before": 12,
                     "replica_spread_after": 0, "throttle_bytes_per_sec": 10485760, "topics": ["t"], "brokers": [1,2,3,4]}
        }));
        let (subject, body) =
            render(&s, Outcome::Success, "exec-1", Some(t("2026-11-25T18:00:00Z")), t("2026-11-25T18:12:30Z"));
        assert_eq!(subject, "msk-autoheal: demo healed (2 -> 4 brokers, 12 replicas moved)");
        assert!(body.contains("Duration: 12m 30s"), "{body}");
        assert!(body.contains("12 replicas moved (the minimum possible: 12)"), "{body}");
        assert!(body.contains("Data moved: 50.0 MiB"), "{body}");
        assert!(body.contains("MSKClusterCapacityInsufficient (High)"), "{body}");
        assert!(subject.len() <= 100 && !subject.contains('\n'));
    }

    #[test]
    fn failure_says_why_and_what_cleanup_did() {
        let s = state(json!({
            "error": {"Error": "CommandFailed",
                      "Cause": "{\"errorType\":\"CommandFailed\",\"errorMessage\":\"kafka-reassign-partitions.sh --verify exited 1: Error: boom\"}"},
            "cleanup": {"skipped": null, "cancelled_stage": 2, "cancelled": ["t-0"],
                        "throttles_removed": ["broker 1: leader.replication.throttled.rate"],
                        "throttles_restored": ["broker 2: follower.replication.throttled.rate"],
                        "throttles_failed": [], "error": null}
        }));
        let (subject, body) = render(&s, Outcome::Failure, "exec-2", None, t("2026-11-25T18:12:30Z"));
        assert_eq!(subject, "msk-autoheal: remediation of demo FAILED (CommandFailed)");
        assert!(body.contains("Why: kafka-reassign-partitions.sh --verify exited 1: Error: boom"), "{body}");
        assert!(body.contains("Cleanup: cancelled (stage 2) t-0; throttles removed: broker 1"), "{body}");
        assert!(body.contains("an operator's throttles put back: broker 2: follower"), "{body}");
        assert!(body.contains("Brokers: 2 (not changed; target was 4)"), "{body}");
    }
}
