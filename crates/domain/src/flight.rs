//! Exactly one remediation per incident and per cluster: execution names that collide on redelivery,
//! single flight while one runs, and a cool-down after one ends.

use crate::cluster::ClusterName;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// Longest cluster-name part of an execution name (Step Functions allows 80 characters).
const NAME_PART_MAX: usize = 48;

/// The prefix every execution for one cluster shares: `<hash8>-<name cut to 48>-`. The hash of the
/// full name keeps clusters whose names share the first 48 characters apart.
pub fn execution_prefix(cluster: &ClusterName) -> String {
    let digest = Sha256::digest(cluster.as_str().as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let cut: String = cluster.as_str().chars().take(NAME_PART_MAX).collect();
    format!("{hash}-{cut}-")
}

/// `<prefix><yyyymmddThhmmssZ>`: the same alarm state change always gives the same name, so a
/// redelivered event cannot start a second execution.
pub fn execution_name(cluster: &ClusterName, state_change_time: Timestamp) -> String {
    format!("{}{}", execution_prefix(cluster), state_change_time.compact())
}

/// Step Functions execution status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    PendingRedrive,
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Failed => "FAILED",
            Self::TimedOut => "TIMED_OUT",
            Self::Aborted => "ABORTED",
            Self::PendingRedrive => "PENDING_REDRIVE",
        })
    }
}

/// One past or present execution of the remediation workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionSummary {
    pub name: String,
    pub arn: String,
    pub status: ExecutionStatus,
    pub start: Timestamp,
    pub stop: Option<Timestamp>,
}

/// Whether a new remediation for a cluster may start now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum FlightCheck {
    Clear,
    /// One is running for this cluster: single flight.
    Running {
        execution: String,
    },
    /// One ended less than the cool-down ago.
    CoolingDown {
        execution: String,
        ended: Timestamp,
        until: Timestamp,
    },
}

impl fmt::Display for FlightCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Clear => f.write_str("no remediation running or recently ended for this cluster"),
            Self::Running { execution } => write!(f, "remediation {execution} is already running for this cluster"),
            Self::CoolingDown { execution, ended, until } => {
                write!(f, "remediation {execution} ended at {ended}; cool-down lasts until {until}")
            }
        }
    }
}

/// Decides single flight and cool-down from the workflow's executions. Only executions whose name
/// carries this cluster's prefix count.
pub fn flight_check(
    cluster: &ClusterName,
    executions: &[ExecutionSummary],
    now: Timestamp,
    cooldown_minutes: u32,
) -> FlightCheck {
    let prefix = execution_prefix(cluster);
    let ours = executions.iter().filter(|e| e.name.starts_with(&prefix));
    let mut latest_end: Option<(&ExecutionSummary, Timestamp)> = None;
    for e in ours {
        // PENDING_REDRIVE can be redriven into RUNNING: treat it as still in flight.
        if matches!(e.status, ExecutionStatus::Running | ExecutionStatus::PendingRedrive) {
            return FlightCheck::Running { execution: e.name.clone() };
        }
        let ended = e.stop.unwrap_or(e.start);
        if latest_end.is_none_or(|(_, t)| ended > t) {
            latest_end = Some((e, ended));
        }
    }
    // A cool-down of 0 is none (even for an end stamped a moment after `now` by another clock).
    if let (Some((e, ended)), true) = (latest_end, cooldown_minutes > 0) {
        let until = ended.plus_minutes(i64::from(cooldown_minutes));
        if now < until {
            return FlightCheck::CoolingDown { execution: e.name.clone(), ended, until };
        }
    }
    FlightCheck::Clear
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn exec(cluster: &ClusterName, status: ExecutionStatus, start: &str, stop: Option<&str>) -> ExecutionSummary {
        let name = execution_name(cluster, ts(start));
        ExecutionSummary {
            arn: format!("arn:aws:states:us-east-1:123456789012:execution:sm:{name}"),
            name,
            status,
            start: ts(start),
            stop: stop.map(ts),
        }
    }

    #[test]
    fn names_are_stable_valid_and_bounded() {
        let c = ClusterName::parse("demo").unwrap();
        let n = execution_name(&c, ts("2026-11-25T18:00:00.500+0000"));
        assert_eq!(n, execution_name(&c, ts("2026-11-25T18:00:00.500Z")));
        assert!(n.ends_with("-demo-20261125T180000Z"), "{n}");
        let long = ClusterName::parse(&"x".repeat(64)).unwrap();
        let n = execution_name(&long, ts("2026-11-25T18:00:00Z"));
        assert!(n.len() <= 80, "{} chars", n.len());
        assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    }

    #[test]
    fn clusters_with_a_common_long_prefix_do_not_share_executions() {
        let a = ClusterName::parse(&format!("{}a", "x".repeat(60))).unwrap();
        let b = ClusterName::parse(&format!("{}b", "x".repeat(60))).unwrap();
        assert_ne!(execution_prefix(&a), execution_prefix(&b));
        let running_b = exec(&b, ExecutionStatus::Running, "2026-11-25T18:00:00Z", None);
        assert_eq!(flight_check(&a, &[running_b], ts("2026-11-25T18:01:00Z"), 60), FlightCheck::Clear);
    }

    #[test]
    fn running_blocks() {
        let c = ClusterName::parse("demo").unwrap();
        let r = exec(&c, ExecutionStatus::Running, "2026-11-25T18:00:00Z", None);
        assert!(matches!(flight_check(&c, &[r], ts("2026-11-25T20:00:00Z"), 0), FlightCheck::Running { .. }));
    }

    #[test]
    fn cooldown_counts_from_the_latest_end() {
        let c = ClusterName::parse("demo").unwrap();
        let old = exec(&c, ExecutionStatus::Succeeded, "2026-11-25T10:00:00Z", Some("2026-11-25T10:30:00Z"));
        let recent = exec(&c, ExecutionStatus::Failed, "2026-11-25T17:00:00Z", Some("2026-11-25T17:30:00Z"));
        let execs = [old, recent];
        match flight_check(&c, &execs, ts("2026-11-25T18:00:00Z"), 60) {
            FlightCheck::CoolingDown { until, .. } => assert_eq!(until, ts("2026-11-25T18:30:00Z")),
            other => panic!("{other:?}"),
        }
        assert_eq!(flight_check(&c, &execs, ts("2026-11-25T18:30:00Z"), 60), FlightCheck::Clear);
        assert_eq!(flight_check(&c, &execs, ts("2026-11-25T18:00:00Z"), 0), FlightCheck::Clear);
    }

    proptest! {
        #[test]
        fn names_always_valid(name in "[A-Za-z0-9-]{1,64}", secs in 0i64..4_000_000_000) {
            let c = ClusterName::parse(&name).unwrap();
            let t = Timestamp::from_unix_millis(secs * 1000).unwrap();
            let n = execution_name(&c, t);
            prop_assert!(n.len() <= 80);
            prop_assert!(n.starts_with(&execution_prefix(&c)));
            prop_assert!(n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        }
    }
}
