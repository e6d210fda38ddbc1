//! The snapshot the diagnosis decides from: what DescribeClusterV2, ListClusterOperationsV2 and one
//! GetMetricData call over the last 15 minutes said at one moment (format in docs/ARCHITECTURE.md,
//! "Diagnosis"). Parsed and validated whole: a snapshot that MSK or CloudWatch could not have
//! produced is a [`SnapshotError`] with a one-line message, never a panic and never a verdict.

use crate::cluster::{ClusterArn, ClusterName, ClusterState};
use crate::instance_types::MAX_STORAGE_GIB;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use thiserror::Error;

/// Metrics MSK publishes per cluster (dimension `Cluster Name` only): `broker` must be null.
pub const CLUSTER_METRICS: &[&str] = &["OfflinePartitionsCount", "ActiveControllerCount", "GlobalPartitionCount"];

/// Metrics MSK publishes per broker (dimensions `Cluster Name`, `Broker ID`): `broker` must be set.
pub const BROKER_METRICS: &[&str] = &[
    "CpuUser",
    "CpuSystem",
    "BytesInPerSec",
    "BytesOutPerSec",
    "ReplicationBytesInPerSec",
    "KafkaDataLogsDiskUsed",
    "UnderReplicatedPartitions",
    "UnderMinIsrPartitionCount",
    "PartitionCount",
    "LeaderCount",
];

/// The snapshot's window: one GetMetricData call from `now` − 15 minutes to `now`.
pub const WINDOW_MINUTES: i64 = 15;

/// The period of every series the Diagnose step asks for (1-minute points, `Average` statistic).
pub const PERIOD_SECONDS: u32 = 60;

/// The series the Diagnose step queries: every per-broker metric for every broker ListNodes lists
/// (a dead broker included: its empty series is how it shows up as silent), then every cluster
/// metric. `(metric name, Broker ID dimension)`.
pub fn queries(broker_ids: &[u32]) -> Vec<(&'static str, Option<u32>)> {
    let ids: BTreeSet<u32> = broker_ids.iter().copied().collect();
    let per_broker = ids.iter().flat_map(|&b| BROKER_METRICS.iter().map(move |&m| (m, Some(b))));
    per_broker.chain(CLUSTER_METRICS.iter().map(|&m| (m, None))).collect()
}

/// Largest metric value accepted: far above any real count, percent or byte rate (10 Gbit/s is
/// 1.25e9 bytes/s), and small enough that no sum or mean over a snapshot can overflow.
const MAX_VALUE: f64 = 1e15;

/// Why a snapshot was refused. Every message is one line.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SnapshotError {
    #[error("malformed snapshot JSON at line {line} column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    #[error("cluster.az_count is 0: an MSK cluster spans at least one availability zone")]
    NoZones,
    #[error(
        "cluster.broker_count {brokers} is not a positive multiple of az_count {azs}: MSK keeps the same number of brokers in every AZ"
    )]
    UnevenBrokers { brokers: u32, azs: u32 },
    #[error("cluster.storage_gib {0} is outside MSK's 1..=16384 GiB per broker")]
    Storage(u32),
    #[error("cluster.instance_type is empty")]
    NoInstanceType,
    #[error("operation {index}: creation_time {time} is after the snapshot's now {now}")]
    OperationInFuture { index: usize, time: Timestamp, now: Timestamp },
    #[error("metric {index} ({name}): {problem}")]
    Metric { index: usize, name: String, problem: String },
    #[error("metric {name} for broker {broker} appears twice; GetMetricData returns one series per query")]
    DuplicateSeries { name: String, broker: String },
}

/// The whole snapshot, as stored in S3 and read by `autoheal diagnose --snapshot`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When the snapshot was taken; every window ("the last 5 minutes") ends here.
    pub now: Timestamp,
    pub cluster: SnapshotCluster,
    /// Recent operations on the cluster (ListClusterOperationsV2), any order.
    #[serde(default)]
    pub operations: Vec<Operation>,
    /// One series per (metric, broker) queried; a series CloudWatch had no data for has no points.
    #[serde(default)]
    pub metrics: Vec<Series>,
}

/// DescribeClusterV2, reduced to what the diagnosis reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotCluster {
    pub name: ClusterName,
    pub arn: ClusterArn,
    pub state: ClusterState,
    pub broker_count: u32,
    pub az_count: u32,
    pub instance_type: String,
    /// EBS volume size per broker.
    pub storage_gib: u32,
}

/// One cluster operation (ListClusterOperationsV2 `ClusterOperationInfo`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Operation {
    /// e.g. `UPDATE_BROKER_COUNT`, `UPDATE_BROKER_STORAGE`, `UPDATE_BROKER_TYPE`.
    pub operation_type: String,
    /// `PENDING`, `UPDATE_IN_PROGRESS`, `UPDATE_COMPLETE`, `UPDATE_FAILED`, …
    pub operation_state: String,
    pub creation_time: Timestamp,
}

impl Operation {
    /// Still running: MSK will not take another update until it ends.
    pub fn in_progress(&self) -> bool {
        matches!(self.operation_state.as_str(), "PENDING" | "UPDATE_IN_PROGRESS")
    }
}

/// One GetMetricData result: a metric of one broker (or of the cluster), points in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    /// The `Broker ID` dimension; `None` for cluster-level metrics.
    #[serde(with = "broker_dimension")]
    pub broker: Option<u32>,
    pub period_seconds: u32,
    /// `[time, value]`, strictly increasing in time; a minute with no data is simply absent.
    pub points: Vec<(Timestamp, f64)>,
}

impl Snapshot {
    /// Parses and validates snapshot JSON.
    pub fn parse(text: &str) -> Result<Self, SnapshotError> {
        let snapshot: Snapshot = serde_json::from_str(text).map_err(|e| SnapshotError::Json {
            line: e.line(),
            column: e.column(),
            message: one_line(&e.to_string()),
        })?;
        snapshot.validate()?;
        Ok(snapshot)
    }

    /// What MSK and CloudWatch guarantee of a real snapshot; also run on snapshots built in code.
    pub fn validate(&self) -> Result<(), SnapshotError> {
        let c = &self.cluster;
        if c.az_count == 0 {
            return Err(SnapshotError::NoZones);
        }
        if c.broker_count == 0 || !c.broker_count.is_multiple_of(c.az_count) {
            return Err(SnapshotError::UnevenBrokers { brokers: c.broker_count, azs: c.az_count });
        }
        if !(1..=MAX_STORAGE_GIB).contains(&c.storage_gib) {
            return Err(SnapshotError::Storage(c.storage_gib));
        }
        if c.instance_type.trim().is_empty() {
            return Err(SnapshotError::NoInstanceType);
        }
        for (index, op) in self.operations.iter().enumerate() {
            if op.creation_time > self.now {
                return Err(SnapshotError::OperationInFuture { index, time: op.creation_time, now: self.now });
            }
        }
        let mut seen = BTreeSet::new();
        for (index, s) in self.metrics.iter().enumerate() {
            let bad = |problem: String| SnapshotError::Metric { index, name: truncate(&s.name), problem };
            if s.name.is_empty() || !s.name.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad("a metric name is letters and digits, as MSK publishes it".into()));
            }
            if CLUSTER_METRICS.contains(&s.name.as_str()) && s.broker.is_some() {
                return Err(bad("a cluster-level metric has broker null".into()));
            }
            if BROKER_METRICS.contains(&s.name.as_str()) && s.broker.is_none() {
                return Err(bad("a per-broker metric needs its broker id".into()));
            }
            if s.period_seconds == 0 {
                return Err(bad("period_seconds is 0".into()));
            }
            let mut last: Option<Timestamp> = None;
            for (time, value) in &s.points {
                if !value.is_finite() {
                    return Err(bad(format!("value at {time} is not a finite number")));
                }
                if !(0.0..=MAX_VALUE).contains(value) {
                    return Err(bad(format!(
                        "value {value} at {time} is outside 0..=1e15 (AWS/Kafka metrics are counts, percents and byte rates)"
                    )));
                }
                if last.is_some_and(|l| *time <= l) {
                    return Err(bad(format!("points are not in increasing time order at {time}")));
                }
                if *time > self.now {
                    return Err(bad(format!("point at {time} is after the snapshot's now {}", self.now)));
                }
                last = Some(*time);
            }
            if !seen.insert((s.name.clone(), s.broker)) {
                let broker = s.broker.map_or_else(|| "null".to_owned(), |b| b.to_string());
                return Err(SnapshotError::DuplicateSeries { name: truncate(&s.name), broker });
            }
        }
        Ok(())
    }
}

/// `"1"` ↔ `Some(1)`, `null` ↔ `None`: the Broker ID dimension is a decimal string in CloudWatch.
mod broker_dimension {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(broker: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match broker {
            Some(b) => s.collect_str(b),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        let Some(text) = Option::<String>::deserialize(d)? else { return Ok(None) };
        let digits = !text.is_empty() && text.len() <= 9 && text.bytes().all(|b| b.is_ascii_digit());
        match digits.then(|| text.parse::<u32>().ok()).flatten() {
            Some(id) => Ok(Some(id)),
            None => Err(serde::de::Error::custom(format!(
                "broker {:?} is not a Broker ID (a decimal number, as the CloudWatch dimension)",
                super::truncate(&text)
            ))),
        }
    }
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Bounded and free of control characters, whatever the input was.
fn truncate(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(60).collect();
    if s.chars().count() > 60 {
        out.push('…');
    }
    out
}
