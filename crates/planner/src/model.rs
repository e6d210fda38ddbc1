//! The Kafka assignment model shared by the parsers, the planner and the writers: which brokers hold
//! each partition (preferred leader first) and, when a `kafka-topics --describe` capture was the
//! source, its live leader, ISR and any reassignment in flight.

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A Kafka broker id (`broker.id` / `node.id`), an `int` in Kafka.
pub type BrokerId = i32;

/// A topic partition, printed the way Kafka prints it: `topic-partition`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: u32) -> Self {
        Self { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// One partition as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionState {
    pub tp: TopicPartition,
    /// The brokers that hold the partition's data, preferred leader first. During a reassignment
    /// Kafka lists target and origin together; this keeps only the origin (Replicas − Adding), the
    /// brokers that hold complete data.
    pub replicas: Vec<BrokerId>,
    /// Live leader (`--describe` only; `None` for "Leader: none" or when unknown).
    pub leader: Option<BrokerId>,
    /// In-sync replicas (`--describe` only).
    pub isr: Option<Vec<BrokerId>>,
    /// Replicas being added / removed by a reassignment in flight (`--describe` only).
    pub adding: Vec<BrokerId>,
    pub removing: Vec<BrokerId>,
}

impl PartitionState {
    /// A partition known only by its replica list (reassignment JSON).
    pub fn new(tp: TopicPartition, replicas: Vec<BrokerId>) -> Self {
        Self { tp, replicas, leader: None, isr: None, adding: Vec::new(), removing: Vec::new() }
    }

    /// True while a reassignment of this partition is in flight.
    pub fn is_reassigning(&self) -> bool {
        !self.adding.is_empty() || !self.removing.is_empty()
    }

    /// Kafka's own definition (TopicCommand `isUnderReplicated`): the replication factor, not
    /// counting replicas being added, exceeds the ISR. Unknown (no ISR in the source) is `false`.
    pub fn is_under_replicated(&self) -> bool {
        match &self.isr {
            Some(isr) => self.replicas.len() > isr.len(),
            None => false,
        }
    }
}

/// Where an [`Assignment`] was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceFormat {
    /// `{"version":1,"partitions":[...]}` as `kafka-reassign-partitions.sh` prints and reads it.
    ReassignmentJson,
    /// `kafka-topics.sh --describe` text (Kafka 2.x/3.x layout, without ELR columns).
    DescribeV3,
    /// `kafka-topics.sh --describe` text (Kafka 3.7+/4.x layout, with `Elr:`/`LastKnownElr:`).
    DescribeV4,
}

/// The current replica assignment of some or all partitions of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub partitions: Vec<PartitionState>,
    pub source: SourceFormat,
}

impl Assignment {
    /// Total number of replicas (Σ replication factors).
    pub fn replica_count(&self) -> usize {
        self.partitions.iter().map(|p| p.replicas.len()).sum()
    }

    /// Partitions whose ISR is smaller than their replica set (only known from `--describe`).
    pub fn under_replicated(&self) -> impl Iterator<Item = &PartitionState> {
        self.partitions.iter().filter(|p| p.is_under_replicated())
    }

    /// True when the source carried ISR information for every partition and none is
    /// under-replicated: the "healed" condition the workflow's confirm step checks.
    pub fn is_fully_replicated(&self) -> bool {
        self.partitions.iter().all(|p| p.isr.is_some() && !p.is_under_replicated())
    }

    /// Partitions with a reassignment in flight.
    pub fn reassigning(&self) -> impl Iterator<Item = &PartitionState> {
        self.partitions.iter().filter(|p| p.is_reassigning())
    }

    /// Every broker id that holds a replica.
    pub fn brokers(&self) -> Vec<BrokerId> {
        let mut seen: Vec<BrokerId> = self
            .partitions
            .iter()
            .flat_map(|p| p.replicas.iter().copied())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        seen.sort_unstable();
        seen
    }
}
