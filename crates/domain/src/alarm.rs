//! CloudWatch alarm state changes, whatever way they arrived, and the one decision that matters:
//! is this an MSK cluster that has too few brokers for its load?

use crate::cluster::{ClusterName, IdentityError};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use thiserror::Error;

pub const KAFKA_NAMESPACE: &str = "AWS/Kafka";
pub const URP_METRIC: &str = "UnderReplicatedPartitions";
pub const CLUSTER_DIMENSION: &str = "Cluster Name";
pub const BROKER_DIMENSION: &str = "Broker ID";

/// How the alarm reached us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlarmSource {
    /// EventBridge "CloudWatch Alarm State Change".
    Eventbridge,
    /// An SNS notification whose Message is the alarm JSON.
    Sns,
    /// The alarm's own Lambda action.
    AlarmAction,
}

/// CloudWatch alarm states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

impl AlarmState {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "OK" => Some(Self::Ok),
            "ALARM" => Some(Self::Alarm),
            "INSUFFICIENT_DATA" => Some(Self::InsufficientData),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Alarm => "ALARM",
            Self::InsufficientData => "INSUFFICIENT_DATA",
        }
    }
}

impl fmt::Display for AlarmState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One metric an alarm watches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricRef {
    pub namespace: Option<String>,
    pub name: String,
    pub dimensions: BTreeMap<String, String>,
}

/// What kind of alarm changed state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AlarmKind {
    /// A metric alarm: one metric, or metric math over several (`expressions` holds the math).
    Metric { metrics: Vec<MetricRef>, expressions: Vec<String> },
    /// A composite alarm over other alarms.
    Composite { rule: String },
}

/// An alarm state change, independent of how it was delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmChange {
    pub source: AlarmSource,
    pub alarm_name: String,
    pub alarm_arn: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub state: AlarmState,
    pub previous_state: Option<AlarmState>,
    pub state_change_time: Timestamp,
    pub kind: AlarmKind,
}

/// Incident types this system knows how to heal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IncidentType {
    #[serde(rename = "MSKClusterCapacityInsufficient")]
    MskClusterCapacityInsufficient,
}

impl IncidentType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MskClusterCapacityInsufficient => "MSKClusterCapacityInsufficient",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Severity {
    High,
}

/// A recognised incident: an MSK cluster whose followers cannot keep up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Incident {
    #[serde(rename = "type")]
    pub incident_type: IncidentType,
    pub severity: Severity,
    pub signal: String,
    pub cluster_name: ClusterName,
    pub alarm_name: String,
    pub alarm_arn: Option<String>,
    pub state_change_time: Timestamp,
    pub source: AlarmSource,
}

/// Why an alarm change is not ours to act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IgnoreReason {
    NotAlarmState { state: AlarmState },
    Composite,
    NoMetrics,
    OtherMetric { namespace: Option<String>, name: String },
    NoClusterDimension,
    SeveralClusters { clusters: Vec<String> },
}

impl fmt::Display for IgnoreReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAlarmState { state } => {
                write!(f, "alarm entered {state}; only a transition into ALARM starts a remediation")
            }
            Self::Composite => f.write_str("composite alarms are not classified; point the rule at the UnderReplicatedPartitions metric alarm itself"),
            Self::NoMetrics => f.write_str("alarm carries no metric definition"),
            Self::OtherMetric { namespace, name } => write!(
                f,
                "alarm watches {}/{name}, not {KAFKA_NAMESPACE}/{URP_METRIC}",
                namespace.as_deref().unwrap_or("<no namespace>")
            ),
            Self::NoClusterDimension => write!(f, "{KAFKA_NAMESPACE}/{URP_METRIC} alarm without a '{CLUSTER_DIMENSION}' dimension"),
            Self::SeveralClusters { clusters } => {
                write!(f, "alarm spans several clusters ({}); remediation acts on one cluster at a time", clusters.join(", "))
            }
        }
    }
}

/// The detector's classification of one alarm change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    Remediate(Incident),
    Ignore(IgnoreReason),
}

/// An event that names a cluster we must never pass on.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClassifyError {
    #[error("alarm {alarm}: {source}")]
    InvalidCluster { alarm: String, source: IdentityError },
}

/// Classifies an alarm change: an `AWS/Kafka` `UnderReplicatedPartitions` alarm (single metric with the
/// `Cluster Name` dimension, with or without `Broker ID`, or metric math over several brokers of one
/// cluster) entering ALARM is an `MSKClusterCapacityInsufficient` incident; anything else is ignored
/// with the reason.
pub fn classify(change: &AlarmChange) -> Result<Classification, ClassifyError> {
    let ignore = |r| Ok(Classification::Ignore(r));
    let metrics = match &change.kind {
        AlarmKind::Composite { .. } => return ignore(IgnoreReason::Composite),
        AlarmKind::Metric { metrics, .. } => metrics,
    };
    if metrics.is_empty() {
        return ignore(IgnoreReason::NoMetrics);
    }
    // A metric-math alarm that mixes in any other metric no longer means "followers are behind".
    if let Some(other) =
        metrics.iter().find(|m| m.namespace.as_deref() != Some(KAFKA_NAMESPACE) || m.name != URP_METRIC)
    {
        return ignore(IgnoreReason::OtherMetric { namespace: other.namespace.clone(), name: other.name.clone() });
    }
    let mut clusters: Vec<&str> = Vec::new();
    for m in metrics {
        let Some(c) = m.dimensions.get(CLUSTER_DIMENSION) else {
            return ignore(IgnoreReason::NoClusterDimension);
        };
        if !clusters.contains(&c.as_str()) {
            clusters.push(c);
        }
    }
    if clusters.len() > 1 {
        let mut clusters: Vec<String> = clusters.into_iter().map(str::to_owned).collect();
        clusters.sort();
        return ignore(IgnoreReason::SeveralClusters { clusters });
    }
    // Checked before the state: an event naming an invalid cluster is bad input whatever its state.
    let cluster_name = ClusterName::parse(clusters[0])
        .map_err(|source| ClassifyError::InvalidCluster { alarm: change.alarm_name.clone(), source })?;
    if change.state != AlarmState::Alarm {
        return ignore(IgnoreReason::NotAlarmState { state: change.state });
    }
    Ok(Classification::Remediate(Incident {
        incident_type: IncidentType::MskClusterCapacityInsufficient,
        severity: Severity::High,
        signal: format!("{URP_METRIC} > 0"),
        cluster_name,
        alarm_name: change.alarm_name.clone(),
        alarm_arn: change.alarm_arn.clone(),
        state_change_time: change.state_change_time,
        source: change.source,
    }))
}

/// The cluster an alarm is about, when it is one of ours (used to report ignored alarms usefully).
pub fn cluster_of(change: &AlarmChange) -> Option<&str> {
    match &change.kind {
        AlarmKind::Metric { metrics, .. } => metrics
            .iter()
            .find(|m| m.namespace.as_deref() == Some(KAFKA_NAMESPACE))
            .and_then(|m| m.dimensions.get(CLUSTER_DIMENSION))
            .map(String::as_str),
        AlarmKind::Composite { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urp(cluster: &str, broker: Option<&str>) -> MetricRef {
        let mut dimensions = BTreeMap::from([(CLUSTER_DIMENSION.to_owned(), cluster.to_owned())]);
        if let Some(b) = broker {
            dimensions.insert(BROKER_DIMENSION.to_owned(), b.to_owned());
        }
        MetricRef { namespace: Some(KAFKA_NAMESPACE.into()), name: URP_METRIC.into(), dimensions }
    }

    fn change(state: AlarmState, metrics: Vec<MetricRef>) -> AlarmChange {
        AlarmChange {
            source: AlarmSource::Eventbridge,
            alarm_name: "urp".into(),
            alarm_arn: None,
            account: None,
            region: None,
            state,
            previous_state: Some(AlarmState::Ok),
            state_change_time: Timestamp::parse("2026-11-25T18:00:00Z").unwrap(),
            kind: AlarmKind::Metric { metrics, expressions: vec![] },
        }
    }

    fn incident(c: &AlarmChange) -> Incident {
        match classify(c).unwrap() {
            Classification::Remediate(i) => i,
            Classification::Ignore(r) => panic!("ignored: {r}"),
        }
    }

    fn ignored(c: &AlarmChange) -> IgnoreReason {
        match classify(c).unwrap() {
            Classification::Ignore(r) => r,
            Classification::Remediate(i) => panic!("remediated: {i:?}"),
        }
    }

    #[test]
    fn urp_alarm_is_an_incident() {
        let i = incident(&change(AlarmState::Alarm, vec![urp("demo", None)]));
        assert_eq!(i.incident_type.as_str(), "MSKClusterCapacityInsufficient");
        assert_eq!(i.severity, Severity::High);
        assert_eq!(i.signal, "UnderReplicatedPartitions > 0");
        assert_eq!(i.cluster_name.as_str(), "demo");
        incident(&change(AlarmState::Alarm, vec![urp("demo", Some("1"))]));
        incident(&change(AlarmState::Alarm, vec![urp("demo", Some("1")), urp("demo", Some("2"))]));
    }

    #[test]
    fn other_states_are_ignored() {
        for s in [AlarmState::Ok, AlarmState::InsufficientData] {
            assert_eq!(ignored(&change(s, vec![urp("demo", None)])), IgnoreReason::NotAlarmState { state: s });
        }
    }

    #[test]
    fn other_metrics_and_mixtures_are_ignored() {
        let mut cpu = urp("demo", None);
        cpu.name = "CpuUser".into();
        assert!(matches!(ignored(&change(AlarmState::Alarm, vec![cpu.clone()])), IgnoreReason::OtherMetric { .. }));
        assert!(matches!(
            ignored(&change(AlarmState::Alarm, vec![urp("demo", None), cpu])),
            IgnoreReason::OtherMetric { .. }
        ));
        let mut ec2 = urp("demo", None);
        ec2.namespace = Some("AWS/EC2".into());
        assert!(matches!(ignored(&change(AlarmState::Alarm, vec![ec2])), IgnoreReason::OtherMetric { .. }));
        let mut no_ns = urp("demo", None);
        no_ns.namespace = None;
        assert!(matches!(ignored(&change(AlarmState::Alarm, vec![no_ns])), IgnoreReason::OtherMetric { .. }));
    }

    #[test]
    fn composite_and_empty_and_multi_cluster_are_ignored() {
        let mut c = change(AlarmState::Alarm, vec![]);
        assert_eq!(ignored(&c), IgnoreReason::NoMetrics);
        c.kind = AlarmKind::Composite { rule: "ALARM(a)".into() };
        assert_eq!(ignored(&c), IgnoreReason::Composite);
        let two = change(AlarmState::Alarm, vec![urp("b", Some("1")), urp("a", Some("1"))]);
        assert_eq!(ignored(&two), IgnoreReason::SeveralClusters { clusters: vec!["a".into(), "b".into()] });
        let mut nodim = urp("demo", None);
        nodim.dimensions.clear();
        assert_eq!(ignored(&change(AlarmState::Alarm, vec![nodim])), IgnoreReason::NoClusterDimension);
    }

    #[test]
    fn invalid_cluster_names_are_errors_not_passed_on() {
        let e = classify(&change(AlarmState::Alarm, vec![urp("demo; rm -rf /", None)])).unwrap_err();
        assert!(e.to_string().contains("invalid cluster name"), "{e}");
        // Even when the state would be ignored, the event is bad input.
        assert!(classify(&change(AlarmState::Ok, vec![urp("", None)])).is_err());
    }
}
