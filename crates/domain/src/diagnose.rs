//! Diagnose before acting (issue 13): why partitions are under-replicated, and the one remedy that
//! fixes that cause. Only a cluster that is really too small gets more brokers, and then as many as
//! its measured load needs, not one per AZ. A pure function over a [`Snapshot`]; the workflow step
//! that builds the snapshot and acts on the verdict lives in the app crate.
//!
//! Verdicts, checked in this order (the first that holds wins):
//! 1. `busy` — the cluster is not ACTIVE, or an operation is PENDING / UPDATE_IN_PROGRESS.
//! 2. `broker_unavailable` — a broker that reports (has a series in the snapshot) has reported
//!    nothing for the last 5 minutes while others have, or OfflinePartitionsCount > 0.
//! 3. `transient` — no broker reported an under-replicated partition in the last 3 minutes (and at
//!    least one URP point exists in that window: missing data never counts as healed).
//! 4. `storage` — a broker's KafkaDataLogsDiskUsed ≥ 85%: `expand_storage` to bring the fullest
//!    broker to ≤ 60%, rounded up to 10 GiB (MSK's own auto-expansion step), at most 16384 GiB.
//! 5. `skew` — the hottest broker's CPU ≥ 60%, the cluster's mean < 60%, the coolest ≤ half the
//!    hottest: `rebalance` with the current brokers.
//! 6. `capacity` — mean CPU (CpuUser + CpuSystem) ≥ 60%, or write throughput ≥ 80% of what the
//!    instance type sustains ([`crate::instance_types`]): `add_brokers`, sized from the load.
//! 7. `unexplained` — none of the above: no scaling unless [`Policy::unexplained_adds_brokers`].
//!
//! Loads (CPU, throughput) are means over the last [`Thresholds::load_window_minutes`] (5): the
//! alarm fires within minutes of an overload, and a 15-minute mean would dilute it with the calm
//! before. When the cap leaves no room to add brokers, the verdict stays `capacity` with remedy
//! `none`, the typed [`CapacityRefusal`] in `refusal` and its message in the evidence (as Assess
//! refuses today).

pub mod snapshot;
#[cfg(test)]
mod tests;

pub use snapshot::{Operation, Series, Snapshot, SnapshotCluster, SnapshotError};

use crate::capacity::{CapacityPolicy, CapacityRefusal, target_brokers};
use crate::cluster::ClusterState;
use crate::instance_types::{Counted, InstanceType, MAX_STORAGE_GIB};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use thiserror::Error;

/// The limits the verdicts compare against; defaults are AWS's guidance (see the module header).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// CPU (user + system) at or above which a broker or the cluster is busy: AWS keeps it under 60%.
    pub cpu_high_percent: f64,
    /// Write throughput, as a percent of the type's sustained limit, that counts as capacity-bound.
    pub throughput_high_percent: f64,
    /// KafkaDataLogsDiskUsed at or above which the disk, not the brokers, is the problem.
    pub disk_high_percent: f64,
    /// Disk use an expansion aims for (MSK's storage auto-scaling recommends 50-60%).
    pub disk_target_percent: f64,
    /// Skew: the coolest broker at most this fraction of the hottest.
    pub skew_ratio: f64,
    /// A broker silent this long while others report is unavailable.
    pub silent_minutes: i64,
    /// No URP for this long: the under-replication has cleared.
    pub cleared_minutes: i64,
    /// Loads are means over this many trailing minutes.
    pub load_window_minutes: i64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            cpu_high_percent: 60.0,
            throughput_high_percent: 80.0,
            disk_high_percent: 85.0,
            disk_target_percent: 60.0,
            skew_ratio: 0.5,
            silent_minutes: 5,
            cleared_minutes: 3,
            load_window_minutes: 5,
        }
    }
}

/// The operator's policy for the diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Step per AZ and the broker ceiling, as for today's scale-out.
    pub capacity: CapacityPolicy,
    /// The load per broker a scale-out aims for, percent of capacity (CPU or throughput).
    pub target_cpu_percent: f64,
    /// Restores the old "+step per AZ" for an `unexplained` verdict (off by default).
    pub unexplained_adds_brokers: bool,
    pub thresholds: Thresholds,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            capacity: CapacityPolicy::default(),
            target_cpu_percent: 50.0,
            unexplained_adds_brokers: false,
            thresholds: Thresholds::default(),
        }
    }
}

/// A policy no diagnosis can use.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PolicyError {
    #[error("target load {0}% is outside 1..=100")]
    Target(f64),
    #[error("step_per_az is 0; it must be at least 1")]
    Step,
    #[error("threshold {name} = {value} is out of range")]
    Threshold { name: &'static str, value: f64 },
}

impl Policy {
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(1.0..=100.0).contains(&self.target_cpu_percent) {
            return Err(PolicyError::Target(self.target_cpu_percent));
        }
        if self.capacity.step_per_az == 0 {
            return Err(PolicyError::Step);
        }
        let t = &self.thresholds;
        for (name, value, lo, hi) in [
            ("cpu_high_percent", t.cpu_high_percent, 1.0, 100.0),
            ("throughput_high_percent", t.throughput_high_percent, 1.0, 100.0),
            ("disk_high_percent", t.disk_high_percent, 1.0, 100.0),
            ("disk_target_percent", t.disk_target_percent, 1.0, t.disk_high_percent),
            ("skew_ratio", t.skew_ratio, 0.0, 1.0),
            ("silent_minutes", t.silent_minutes as f64, 1.0, 15.0),
            ("cleared_minutes", t.cleared_minutes as f64, 1.0, 15.0),
            ("load_window_minutes", t.load_window_minutes as f64, 1.0, 15.0),
        ] {
            if !(lo..=hi).contains(&value) {
                return Err(PolicyError::Threshold { name, value });
            }
        }
        Ok(())
    }
}

/// Why no diagnosis was made.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DiagnoseError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error("invalid policy: {0}")]
    Policy(#[from] PolicyError),
}

/// The cause, as the workflow branches on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Busy,
    BrokerUnavailable,
    Transient,
    Storage,
    Skew,
    Capacity,
    Unexplained,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Busy => "busy",
            Self::BrokerUnavailable => "broker_unavailable",
            Self::Transient => "transient",
            Self::Storage => "storage",
            Self::Skew => "skew",
            Self::Capacity => "capacity",
            Self::Unexplained => "unexplained",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad the under-replication is, whatever its cause:
/// - `critical`: partitions offline (OfflinePartitionsCount > 0) or under min ISR
///   (UnderMinIsrPartitionCount > 0): acks=all writes are already failing or data is unreachable;
/// - `high`: URP on more than a third of the reporting brokers, or on ≥ 10% of the cluster's
///   partitions (URP ÷ LeaderCount), or continuously for ≥ 10 minutes;
/// - `medium`: URP now (in the last 3 minutes), none of the above;
/// - `low`: no URP in the last 3 minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

/// The fix for the cause. Verdicts that must not change the cluster carry `none`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Remedy {
    None,
    Rebalance,
    AddBrokers { target_broker_count: u32 },
    ExpandStorage { target_storage_gib: u32 },
}

/// The arithmetic behind an `add_brokers` target, for the approval email and ConfirmHealed (which
/// checks the load per broker fell to `projected_load_percent`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sizing {
    pub current_brokers: u32,
    pub az_count: u32,
    /// The binding load, percent of capacity: the higher of mean CPU and write throughput.
    pub load_percent: f64,
    /// `cpu` or `throughput`: which of the two `load_percent` is.
    pub load_source: String,
    pub target_percent: f64,
    /// `current × load ÷ target`, before rounding.
    pub brokers_for_target: f64,
    pub step_per_az: u32,
    pub max_brokers: u32,
    /// `None` when refused.
    pub target_broker_count: Option<u32>,
    /// The load per broker expected after the change: `load × current ÷ target_broker_count`.
    pub projected_load_percent: Option<f64>,
}

/// The diagnosis: one JSON object (`autoheal diagnose` prints it as is).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    pub severity: Severity,
    pub remedy: Remedy,
    /// Plain sentences, most telling first; the last one explains the severity.
    pub evidence: Vec<String>,
    /// Brokers found unavailable (`broker_unavailable`), ascending.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unavailable_brokers: Vec<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sizing: Option<Sizing>,
    /// Why a `capacity` verdict adds nothing (remedy `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<CapacityRefusal>,
}

/// Diagnoses a snapshot under a policy. Validates both first: an impossible snapshot is an error,
/// never a verdict.
pub fn diagnose(snapshot: &Snapshot, policy: &Policy) -> Result<Diagnosis, DiagnoseError> {
    snapshot.validate()?;
    policy.validate()?;
    let ctx = Ctx::new(snapshot, policy);
    let (severity, severity_line) = ctx.severity();
    let mut d = ctx
        .busy()
        .or_else(|| ctx.unavailable())
        .or_else(|| ctx.transient())
        .or_else(|| ctx.storage())
        .or_else(|| ctx.skew_or_capacity())
        .unwrap_or_else(|| ctx.unexplained());
    d.severity = severity;
    d.evidence.push(severity_line);
    Ok(d)
}

fn verdict(verdict: Verdict, remedy: Remedy, evidence: Vec<String>) -> Diagnosis {
    Diagnosis {
        verdict,
        severity: Severity::Low,
        remedy,
        evidence,
        unavailable_brokers: Vec::new(),
        sizing: None,
        refusal: None,
    }
}

/// Per-broker loads over the load window.
#[derive(Debug, Clone, Default)]
struct BrokerLoad {
    cpu: Option<f64>,
    /// Bytes/s counted against the type's write limit.
    write: Option<f64>,
}

struct Ctx<'a> {
    s: &'a Snapshot,
    p: &'a Policy,
    series: BTreeMap<(&'a str, Option<u32>), &'a Series>,
    /// Every broker with a series in the snapshot: the brokers that should report.
    brokers: BTreeSet<u32>,
}

impl<'a> Ctx<'a> {
    fn new(s: &'a Snapshot, p: &'a Policy) -> Self {
        let series = s.metrics.iter().map(|m| ((m.name.as_str(), m.broker), m)).collect();
        let brokers = s.metrics.iter().filter_map(|m| m.broker).collect();
        Self { s, p, series, brokers }
    }

    fn t(&self) -> &Thresholds {
        &self.p.thresholds
    }

    fn since(&self, minutes: i64) -> Timestamp {
        self.s.now.plus_minutes(-minutes)
    }

    /// Points of one series at or after `start`.
    fn points(
        &self,
        name: &'static str,
        broker: Option<u32>,
        start: Timestamp,
    ) -> impl Iterator<Item = (Timestamp, f64)> {
        self.series
            .get(&(name, broker))
            .into_iter()
            .flat_map(|s| s.points.iter().copied())
            .filter(move |(t, _)| *t >= start)
    }

    fn latest(&self, name: &'static str, broker: Option<u32>, start: Timestamp) -> Option<(Timestamp, f64)> {
        self.points(name, broker, start).last()
    }

    /// Mean of `a + b` over the minutes both have, from `start`.
    fn mean_sum(&self, a: &'static str, b: &'static str, broker: u32, start: Timestamp) -> Option<f64> {
        let first: BTreeMap<Timestamp, f64> = self.points(a, Some(broker), start).collect();
        let sums: Vec<f64> =
            self.points(b, Some(broker), start).filter_map(|(t, v)| first.get(&t).map(|u| u + v)).collect();
        mean(&sums)
    }

    fn mean_of(&self, name: &'static str, broker: u32, start: Timestamp) -> Option<f64> {
        mean(&self.points(name, Some(broker), start).map(|(_, v)| v).collect::<Vec<_>>())
    }

    fn loads(&self, kind: Option<&InstanceType>) -> BTreeMap<u32, BrokerLoad> {
        let start = self.since(self.t().load_window_minutes);
        self.brokers
            .iter()
            .map(|&b| {
                let cpu = self.mean_sum("CpuUser", "CpuSystem", b, start);
                let write = kind.and_then(|k| match k.counted {
                    Counted::BytesInPlusReplication => {
                        self.mean_sum("BytesInPerSec", "ReplicationBytesInPerSec", b, start)
                    }
                    Counted::ReplicationOnly => self.mean_of("ReplicationBytesInPerSec", b, start),
                });
                (b, BrokerLoad { cpu, write })
            })
            .collect()
    }

    fn busy(&self) -> Option<Diagnosis> {
        let mut evidence = Vec::new();
        let state = &self.s.cluster.state;
        if *state != ClusterState::Active {
            evidence.push(format!("cluster state is {state}, not ACTIVE: MSK takes no update until it is"));
        }
        for op in self.s.operations.iter().filter(|o| o.in_progress()) {
            evidence.push(format!(
                "operation {} is {} (created {})",
                clean(&op.operation_type),
                clean(&op.operation_state),
                op.creation_time
            ));
        }
        (!evidence.is_empty()).then(|| verdict(Verdict::Busy, Remedy::None, evidence))
    }

    fn unavailable(&self) -> Option<Diagnosis> {
        let start = self.since(self.t().silent_minutes);
        let reported = |b: u32| {
            self.s.metrics.iter().filter(|m| m.broker == Some(b)).any(|m| m.points.iter().any(|(t, _)| *t >= start))
        };
        let (talking, silent): (Vec<u32>, Vec<u32>) = self.brokers.iter().copied().partition(|&b| reported(b));
        let offline = self.latest("OfflinePartitionsCount", None, start).filter(|(_, v)| *v > 0.0);
        let mut evidence = Vec::new();
        let mut named = Vec::new();
        if !silent.is_empty() && !talking.is_empty() {
            for &b in &silent {
                let last = self
                    .s
                    .metrics
                    .iter()
                    .filter(|m| m.broker == Some(b))
                    .filter_map(|m| m.points.last().map(|p| p.0))
                    .max();
                evidence.push(match last {
                    Some(t) => format!(
                        "broker {b} has reported no metric for {} min (last point {t}) while brokers {} report",
                        self.s.now.seconds_since(t) / 60,
                        join(&talking)
                    ),
                    None => format!(
                        "broker {b} has reported no metric in the snapshot's window while brokers {} report",
                        join(&talking)
                    ),
                });
            }
            named = silent;
        }
        if let Some((t, v)) = offline {
            evidence.push(format!("{} partitions offline at {t} (OfflinePartitionsCount)", num(v)));
        }
        if evidence.is_empty() {
            return None;
        }
        evidence.push("adding brokers fixes none of this: notify, do not scale".into());
        let mut d = verdict(Verdict::BrokerUnavailable, Remedy::None, evidence);
        d.unavailable_brokers = named;
        Some(d)
    }

    fn transient(&self) -> Option<Diagnosis> {
        let minutes = self.t().cleared_minutes;
        let start = self.since(minutes);
        let recent: Vec<f64> = self
            .brokers
            .iter()
            .flat_map(|&b| self.points("UnderReplicatedPartitions", Some(b), start))
            .map(|p| p.1)
            .collect();
        if recent.is_empty() || recent.iter().any(|v| *v > 0.0) {
            return None;
        }
        let mut evidence = vec![format!(
            "no under-replicated partition on any of {} brokers in the last {minutes} min ({} data points)",
            self.brokers.len(),
            recent.len()
        )];
        let last = self
            .brokers
            .iter()
            .filter_map(|&b| {
                self.points("UnderReplicatedPartitions", Some(b), Timestamp::MIN)
                    .filter(|(_, v)| *v > 0.0)
                    .last()
                    .map(|(t, v)| (t, v, b))
            })
            .max_by_key(|(t, _, _)| *t);
        if let Some((t, v, b)) = last {
            evidence.push(format!("last under-replication: {} partitions on broker {b} at {t}", num(v)));
        }
        Some(verdict(Verdict::Transient, Remedy::None, evidence))
    }

    fn storage(&self) -> Option<Diagnosis> {
        let t = self.t();
        let (broker, (at, used)) = self
            .brokers
            .iter()
            .filter_map(|&b| self.latest("KafkaDataLogsDiskUsed", Some(b), Timestamp::MIN).map(|p| (b, p)))
            .max_by(|a, b| a.1.1.total_cmp(&b.1.1))?;
        if used < t.disk_high_percent {
            return None;
        }
        let current = self.s.cluster.storage_gib;
        let mut evidence = vec![format!(
            "broker {broker} data log disk {}% used at {at} (threshold {}%) of {current} GiB",
            num(used),
            num(t.disk_high_percent)
        )];
        // used% × current ÷ target% GiB brings the fullest broker to the target; 10 GiB steps.
        let needed = used * f64::from(current) / t.disk_target_percent;
        let rounded = ((needed / 10.0).ceil() * 10.0).min(f64::from(MAX_STORAGE_GIB)) as u32;
        if let Some(op) = self.recent_storage_update() {
            evidence.push(format!(
                "MSK allows one storage update per broker every 6 hours; the last ({}) was created {}",
                clean(&op.operation_state),
                op.creation_time
            ));
            return Some(verdict(Verdict::Storage, Remedy::None, evidence));
        }
        if rounded <= current {
            evidence.push(format!("the volume is already MSK's largest, {MAX_STORAGE_GIB} GiB per broker"));
            return Some(verdict(Verdict::Storage, Remedy::None, evidence));
        }
        let projected = used * f64::from(current) / f64::from(rounded);
        evidence.push(format!(
            "{}% × {current} GiB ÷ {}% = {} GiB → {rounded} GiB (10 GiB steps{}): fullest broker at {}%",
            num(used),
            num(t.disk_target_percent),
            num(needed),
            if rounded == MAX_STORAGE_GIB { ", MSK's maximum" } else { "" },
            num(projected)
        ));
        Some(verdict(Verdict::Storage, Remedy::ExpandStorage { target_storage_gib: rounded }, evidence))
    }

    fn recent_storage_update(&self) -> Option<&Operation> {
        let six_hours_ago = self.since(6 * 60);
        self.s.operations.iter().find(|o| {
            o.operation_type == "UPDATE_BROKER_STORAGE"
                && o.creation_time > six_hours_ago
                && o.operation_state != "UPDATE_FAILED"
        })
    }

    fn skew_or_capacity(&self) -> Option<Diagnosis> {
        let t = *self.t();
        let kind = InstanceType::lookup(&self.s.cluster.instance_type);
        let loads = self.loads(kind);
        let window = t.load_window_minutes;
        let cpus: Vec<(u32, f64)> = loads.iter().filter_map(|(b, l)| l.cpu.map(|c| (*b, c))).collect();
        let mean_cpu = mean(&cpus.iter().map(|c| c.1).collect::<Vec<_>>());
        let total = self.s.cluster.broker_count;
        let mut evidence = Vec::new();
        if let Some(mean_cpu) = mean_cpu {
            evidence.push(format!(
                "mean CPU {}% over the last {window} min on {} of {total} brokers (threshold {}%, target {}%)",
                num(mean_cpu),
                cpus.len(),
                num(t.cpu_high_percent),
                num(self.p.target_cpu_percent)
            ));
            let hottest = cpus.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1));
            let coolest = cpus.iter().copied().min_by(|a, b| a.1.total_cmp(&b.1));
            if let (Some(hot), Some(cool)) = (hottest, coolest)
                && cpus.len() >= 2
                && hot.1 >= t.cpu_high_percent
                && mean_cpu < t.cpu_high_percent
                && cool.1 <= hot.1 * t.skew_ratio
            {
                let hot_brokers: Vec<u32> = cpus.iter().filter(|c| c.1 >= t.cpu_high_percent).map(|c| c.0).collect();
                evidence.insert(
                    0,
                    format!(
                        "broker {} at {}% CPU while broker {} is at {}% (at most {}× the hottest) and the mean is under {}%: hot {}",
                        hot.0,
                        num(hot.1),
                        cool.0,
                        num(cool.1),
                        num(t.skew_ratio),
                        num(t.cpu_high_percent),
                        if hot_brokers.len() == 1 { format!("broker {}", hot_brokers[0]) } else { format!("brokers {}", join(&hot_brokers)) }
                    ),
                );
                evidence.push("moving replicas and leaders off the hot brokers fixes this without new brokers".into());
                return Some(verdict(Verdict::Skew, Remedy::Rebalance, evidence));
            }
        }
        let mut throughput_pct = None;
        match kind {
            Some(k) => {
                let writes: Vec<f64> = loads.values().filter_map(|l| l.write).collect();
                if let Some(w) = mean(&writes) {
                    let limit = k.sustained_write_bytes_per_sec() as f64;
                    let pct = w / limit * 100.0;
                    let what = match k.counted {
                        Counted::BytesInPlusReplication => "write throughput (BytesIn + ReplicationBytesIn)",
                        Counted::ReplicationOnly => "replication throughput (ReplicationBytesIn)",
                    };
                    evidence.push(format!(
                        "{what} {} MB/s per broker over the last {window} min on {} of {total} brokers = {}% of {}'s sustained {} MB/s (threshold {}%)",
                        num(w / 1e6),
                        writes.len(),
                        num(pct),
                        k.name,
                        num(limit / 1e6),
                        num(t.throughput_high_percent)
                    ));
                    throughput_pct = Some(pct);
                }
            }
            None => evidence.push(format!(
                "instance type {} is not in the capacity table: throughput not judged, CPU only",
                clean(&self.s.cluster.instance_type)
            )),
        }
        let cpu_bound = mean_cpu.filter(|c| *c >= t.cpu_high_percent);
        let io_bound = throughput_pct.filter(|p| *p >= t.throughput_high_percent);
        if cpu_bound.is_none() && io_bound.is_none() {
            return None;
        }
        // The binding load: the higher of the two, each as a percent of what a broker sustains.
        let (load, source) = match (mean_cpu, throughput_pct) {
            (Some(c), Some(w)) if w > c => (w, "throughput"),
            (Some(c), _) => (c, "cpu"),
            (None, Some(w)) => (w, "throughput"),
            (None, None) => return None,
        };
        Some(self.size(load, source, evidence))
    }

    /// `add_brokers` to the smallest multiple of the AZ count that is at least `current + step × AZs`
    /// and at least `current × load ÷ target`, within the ceiling.
    fn size(&self, load: f64, source: &str, mut evidence: Vec<String>) -> Diagnosis {
        let c = &self.s.cluster;
        let (current, azs) = (c.broker_count, c.az_count);
        let cap = self.p.capacity;
        let target_pct = self.p.target_cpu_percent;
        let exact = f64::from(current) * load / target_pct;
        // Smallest multiple of the AZ count ≥ exact (a hair of tolerance for 5.0000000001).
        let by_load = ((exact - 1e-9).ceil().max(0.0) / f64::from(azs)).ceil() * f64::from(azs);
        let by_load = if by_load >= f64::from(u32::MAX) { u32::MAX } else { by_load as u32 };
        let by_step = current.saturating_add(cap.step_per_az.saturating_mul(azs));
        let ceiling = cap.max_brokers / azs * azs;
        let mut sizing = Sizing {
            current_brokers: current,
            az_count: azs,
            load_percent: load,
            load_source: source.to_owned(),
            target_percent: target_pct,
            brokers_for_target: exact,
            step_per_az: cap.step_per_az,
            max_brokers: cap.max_brokers,
            target_broker_count: None,
            projected_load_percent: None,
        };
        let arithmetic =
            format!("load {}% ÷ target {}% × {current} brokers = {}", num(load), num(target_pct), num(exact));
        match target_brokers(current, azs, cap) {
            Err(refusal) => {
                evidence.push(format!("{arithmetic} → {by_load} (multiple of {azs} AZs), but {refusal}"));
                let mut d = verdict(Verdict::Capacity, Remedy::None, evidence);
                d.sizing = Some(sizing);
                d.refusal = Some(refusal);
                d
            }
            Ok(_) => {
                let wanted = by_load.max(by_step);
                let target = wanted.min(ceiling);
                let projected = load * f64::from(current) / f64::from(target);
                let mut line = if by_load >= by_step {
                    format!("{arithmetic} → {by_load} (multiple of {azs} AZs)")
                } else {
                    format!(
                        "{arithmetic} → {by_load}; at least {current} + {} per AZ × {azs} AZs = {by_step}",
                        cap.step_per_az
                    )
                };
                if target < wanted {
                    line.push_str(&format!(
                        ", capped at {target} (MAX_BROKERS {}, a multiple of {azs} AZs)",
                        cap.max_brokers
                    ));
                }
                line.push_str(&format!(": projected load {}% per broker", num(projected)));
                evidence.push(line);
                sizing.target_broker_count = Some(target);
                sizing.projected_load_percent = Some(projected);
                let mut d = verdict(Verdict::Capacity, Remedy::AddBrokers { target_broker_count: target }, evidence);
                d.sizing = Some(sizing);
                d
            }
        }
    }

    fn unexplained(&self) -> Diagnosis {
        let mut evidence = vec![
            "under-replicated partitions with no cause found: brokers all report, none is full, hot or at capacity"
                .to_owned(),
        ];
        // What the load looked like, so whoever reads the notification sees why nothing fit.
        let kind = InstanceType::lookup(&self.s.cluster.instance_type);
        let loads = self.loads(kind);
        let cpus: Vec<f64> = loads.values().filter_map(|l| l.cpu).collect();
        if let Some(m) = mean(&cpus) {
            evidence.push(format!(
                "mean CPU {}% over the last {} min (threshold {}%)",
                num(m),
                self.t().load_window_minutes,
                num(self.t().cpu_high_percent)
            ));
        }
        let c = &self.s.cluster;
        if self.p.unexplained_adds_brokers {
            match target_brokers(c.broker_count, c.az_count, self.p.capacity) {
                Ok(target) => {
                    evidence.push(format!(
                        "policy unexplained_adds_brokers: {} + {} per AZ × {} AZs → {target}",
                        c.broker_count, self.p.capacity.step_per_az, c.az_count
                    ));
                    return verdict(Verdict::Unexplained, Remedy::AddBrokers { target_broker_count: target }, evidence);
                }
                Err(refusal) => {
                    evidence.push(format!("policy unexplained_adds_brokers, but {refusal}"));
                    let mut d = verdict(Verdict::Unexplained, Remedy::None, evidence);
                    d.refusal = Some(refusal);
                    return d;
                }
            }
        }
        evidence.push("not scaling: more brokers would not be shown to help; notify with this evidence".into());
        verdict(Verdict::Unexplained, Remedy::None, evidence)
    }

    fn severity(&self) -> (Severity, String) {
        let t = self.t();
        let recent = self.since(t.cleared_minutes);
        let offline = self.latest("OfflinePartitionsCount", None, self.since(t.silent_minutes)).map_or(0.0, |p| p.1);
        let under_min_isr: f64 = self
            .brokers
            .iter()
            .filter_map(|&b| self.latest("UnderMinIsrPartitionCount", Some(b), recent))
            .map(|p| p.1)
            .sum();
        let urp: Vec<(u32, f64)> = self
            .brokers
            .iter()
            .filter_map(|&b| self.latest("UnderReplicatedPartitions", Some(b), recent).map(|p| (b, p.1)))
            .collect();
        let urp_now: f64 = urp.iter().map(|p| p.1).sum();
        let urp_brokers = urp.iter().filter(|p| p.1 > 0.0).count();
        let reporting = self.brokers.len().max(1);
        let leaders: f64 =
            self.brokers.iter().filter_map(|&b| self.latest("LeaderCount", Some(b), Timestamp::MIN)).map(|p| p.1).sum();
        let minutes = self.urp_minutes();
        let what = format!(
            "{} under-replicated partitions on {urp_brokers} of {reporting} brokers for {minutes} min",
            num(urp_now)
        );
        if offline > 0.0 || under_min_isr > 0.0 {
            let line = format!(
                "severity critical: {} partitions offline, {} under min ISR; {what}",
                num(offline),
                num(under_min_isr)
            );
            return (Severity::Critical, line);
        }
        if urp_now <= 0.0 {
            return (
                Severity::Low,
                format!("severity low: no under-replicated partition in the last {} min", t.cleared_minutes),
            );
        }
        let share = (leaders > 0.0).then(|| urp_now / leaders);
        let high = urp_brokers * 3 > reporting || share.is_some_and(|s| s >= 0.1) || minutes >= 10;
        let share_text =
            share.map(|s| format!(" ({}% of {} partitions)", num(s * 100.0), num(leaders))).unwrap_or_default();
        if high {
            (Severity::High, format!("severity high: {what}{share_text}"))
        } else {
            (Severity::Medium, format!("severity medium: {what}{share_text}"))
        }
    }

    /// How long URP has been above zero without a break, in whole minutes up to now (the cluster's
    /// per-minute sum over brokers).
    fn urp_minutes(&self) -> i64 {
        let mut per_minute: BTreeMap<Timestamp, f64> = BTreeMap::new();
        for &b in &self.brokers {
            for (t, v) in self.points("UnderReplicatedPartitions", Some(b), Timestamp::MIN) {
                *per_minute.entry(t).or_default() += v;
            }
        }
        let mut start = None;
        for (t, v) in per_minute.iter().rev() {
            if *v > 0.0 {
                start = Some(*t);
            } else {
                break;
            }
        }
        start.map_or(0, |s| self.s.now.seconds_since(s).max(0) / 60)
    }
}

fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// A number for a sentence: at most two decimals, no trailing zeros (84, 5.04, 11.4).
fn num(x: f64) -> String {
    let s = format!("{x:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".to_owned() } else { s.to_owned() }
}

fn join(brokers: &[u32]) -> String {
    brokers.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

/// Text from the snapshot, bounded and on one line.
fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(60).collect()
}
