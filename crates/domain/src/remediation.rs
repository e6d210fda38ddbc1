//! The detector's decision once the cluster is known: start a remediation (and with which input),
//! skip it (single flight, cool-down, cluster busy), or refuse it (ceiling).

use crate::alarm::Incident;
use crate::capacity::{CapacityPolicy, CapacityRefusal, target_brokers};
use crate::cluster::{ClusterArn, ClusterInfo, ClusterName, ClusterState, ClusterVersion};
use crate::flight::{ExecutionSummary, FlightCheck, execution_name, flight_check};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Whether the workflow scales on its own or waits for an operator's approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    Auto,
    Approval,
}

impl FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "approval" => Ok(Self::Approval),
            other => Err(format!("invalid mode {other:?}: expected auto or approval")),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::Approval => "approval",
        })
    }
}

/// The input the remediation state machine starts with (documented in docs/ARCHITECTURE.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationInput {
    pub cluster_arn: ClusterArn,
    pub cluster_name: ClusterName,
    pub incident: Incident,
    pub current_broker_count: u32,
    pub target_broker_count: u32,
    pub az_count: u32,
    pub current_version: ClusterVersion,
    pub mode: Mode,
}

/// The detector's settings, read once from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetectorPolicy {
    pub capacity: CapacityPolicy,
    pub mode: Mode,
    /// Clusters that always need approval, whatever the default mode.
    pub approval_clusters: Vec<ClusterName>,
    pub cooldown_minutes: u32,
}

impl Default for DetectorPolicy {
    fn default() -> Self {
        Self {
            capacity: CapacityPolicy::default(),
            mode: Mode::Auto,
            approval_clusters: Vec::new(),
            cooldown_minutes: 60,
        }
    }
}

impl DetectorPolicy {
    pub fn mode_for(&self, cluster: &ClusterName) -> Mode {
        if self.approval_clusters.contains(cluster) { Mode::Approval } else { self.mode }
    }
}

/// Why a recognised incident does not start a remediation now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    /// MSK Serverless has no brokers to add.
    NotProvisioned,
    /// The cluster is changing already (e.g. UPDATING from an earlier scale-out): acting now would conflict.
    ClusterBusy {
        state: ClusterState,
    },
    Flight(FlightCheck),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotProvisioned => f.write_str("serverless cluster: there are no brokers to add"),
            Self::ClusterBusy { state } => write!(f, "cluster is {state}, not ACTIVE; a change is already under way"),
            Self::Flight(c) => c.fmt(f),
        }
    }
}

/// What the detector does about an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Start { name: String, input: Box<RemediationInput> },
    Skip(SkipReason),
    Refuse(CapacityRefusal),
}

/// Decides, from the cluster's description and the workflow's executions, whether and how to start.
pub fn decide(
    incident: &Incident,
    cluster: &ClusterInfo,
    executions: &[ExecutionSummary],
    now: Timestamp,
    policy: &DetectorPolicy,
) -> Verdict {
    if !cluster.provisioned {
        return Verdict::Skip(SkipReason::NotProvisioned);
    }
    let flight = flight_check(&cluster.name, executions, now, policy.cooldown_minutes);
    if flight != FlightCheck::Clear {
        return Verdict::Skip(SkipReason::Flight(flight));
    }
    if cluster.state != ClusterState::Active {
        return Verdict::Skip(SkipReason::ClusterBusy { state: cluster.state.clone() });
    }
    let target = match target_brokers(cluster.broker_count, cluster.az_count, policy.capacity) {
        Ok(t) => t,
        Err(refusal) => return Verdict::Refuse(refusal),
    };
    Verdict::Start {
        name: execution_name(&cluster.name, incident.state_change_time),
        input: Box::new(RemediationInput {
            cluster_arn: cluster.arn.clone(),
            cluster_name: cluster.name.clone(),
            incident: incident.clone(),
            current_broker_count: cluster.broker_count,
            target_broker_count: target,
            az_count: cluster.az_count,
            current_version: cluster.current_version.clone(),
            mode: policy.mode_for(&cluster.name),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarm::{AlarmSource, IncidentType, Severity};
    use crate::flight::ExecutionStatus;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    fn incident() -> Incident {
        Incident {
            incident_type: IncidentType::MskClusterCapacityInsufficient,
            severity: Severity::High,
            signal: "UnderReplicatedPartitions > 0".into(),
            cluster_name: ClusterName::parse("demo").unwrap(),
            alarm_name: "demo-urp".into(),
            alarm_arn: None,
            state_change_time: ts("2026-11-25T18:00:00Z"),
            source: AlarmSource::Eventbridge,
        }
    }

    fn cluster(state: ClusterState, brokers: u32) -> ClusterInfo {
        ClusterInfo {
            arn: ClusterArn::parse("arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc-1").unwrap(),
            name: ClusterName::parse("demo").unwrap(),
            state,
            provisioned: true,
            broker_count: brokers,
            az_count: 2,
            current_version: ClusterVersion::parse("K3AEGXETSR30VB").unwrap(),
            instance_type: Some("kafka.t3.small".into()),
            kafka_version: Some("3.6.0".into()),
        }
    }

    #[test]
    fn starts_with_the_documented_input() {
        let now = ts("2026-11-25T18:00:05Z");
        let Verdict::Start { name, input } =
            decide(&incident(), &cluster(ClusterState::Active, 2), &[], now, &DetectorPolicy::default())
        else {
            panic!("not started")
        };
        assert!(name.ends_with("-demo-20261125T180000Z"));
        assert_eq!(input.target_broker_count, 4);
        let json = serde_json::to_value(&*input).unwrap();
        assert_eq!(json["cluster_arn"], "arn:aws:kafka:us-east-1:123456789012:cluster/demo/abc-1");
        assert_eq!(json["incident"]["type"], "MSKClusterCapacityInsufficient");
        assert_eq!(json["incident"]["severity"], "High");
        assert_eq!(json["incident"]["signal"], "UnderReplicatedPartitions > 0");
        assert_eq!(json["incident"]["state_change_time"], "2026-11-25T18:00:00Z");
        assert_eq!(json["incident"]["source"], "eventbridge");
        assert_eq!(json["current_broker_count"], 2);
        assert_eq!(json["az_count"], 2);
        assert_eq!(json["current_version"], "K3AEGXETSR30VB");
        assert_eq!(json["mode"], "auto");
        let back: RemediationInput = serde_json::from_value(json).unwrap();
        assert_eq!(back, *input);
    }

    #[test]
    fn approval_per_cluster() {
        let policy =
            DetectorPolicy { approval_clusters: vec![ClusterName::parse("demo").unwrap()], ..Default::default() };
        let Verdict::Start { input, .. } =
            decide(&incident(), &cluster(ClusterState::Active, 2), &[], ts("2026-11-25T18:00:05Z"), &policy)
        else {
            panic!()
        };
        assert_eq!(input.mode, Mode::Approval);
    }

    #[test]
    fn skips_and_refusals() {
        let now = ts("2026-11-25T18:00:05Z");
        let p = DetectorPolicy::default();
        assert!(matches!(
            decide(&incident(), &cluster(ClusterState::Updating, 2), &[], now, &p),
            Verdict::Skip(SkipReason::ClusterBusy { .. })
        ));
        let mut serverless = cluster(ClusterState::Active, 0);
        serverless.provisioned = false;
        assert_eq!(decide(&incident(), &serverless, &[], now, &p), Verdict::Skip(SkipReason::NotProvisioned));
        assert!(matches!(decide(&incident(), &cluster(ClusterState::Active, 12), &[], now, &p), Verdict::Refuse(_)));
        let c = cluster(ClusterState::Active, 2);
        let running = ExecutionSummary {
            name: execution_name(&c.name, ts("2026-11-25T17:00:00Z")),
            arn: "arn".into(),
            status: ExecutionStatus::Running,
            start: ts("2026-11-25T17:00:00Z"),
            stop: None,
        };
        // Single flight wins over the busy cluster: the running execution is the better explanation.
        assert!(matches!(
            decide(&incident(), &cluster(ClusterState::Updating, 2), std::slice::from_ref(&running), now, &p),
            Verdict::Skip(SkipReason::Flight(FlightCheck::Running { .. }))
        ));
    }
}
