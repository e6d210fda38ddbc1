//! Readers and writers for the Kafka CLI formats the planner and the workflow exchange with a
//! cluster: reassignment JSON (`kafka-reassign-partitions.sh`), `kafka-topics.sh --describe` text
//! (Kafka 3.x and 4.x layouts) and `kafka-log-dirs.sh --describe` output.
//!
//! Every parser takes the whole captured text (banner lines and all) and fails with a
//! [`FormatError`] that names the line (and column, for JSON) of the first problem.

mod describe;
mod log_dirs;
mod reassign_json;

pub use describe::parse_describe;
pub use log_dirs::{LogDir, LogDirs, ReplicaLogInfo, parse_log_dirs};
pub use reassign_json::{parse_reassignment_json, write_reassignment_json};

use std::collections::HashSet;

use crate::model::{Assignment, PartitionState, TopicPartition};

/// Why a capture could not be read. Every message fits on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The JSON is not well formed (or has the wrong shape); positions are in the whole input.
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json { line: usize, column: usize, message: String },
    /// A `--describe` line that could not be read.
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    /// Neither JSON nor `--describe` text.
    #[error("unrecognised input: {0}")]
    Unrecognised(String),
    /// The same partition appears twice.
    #[error("partition {0} is listed twice")]
    DuplicatePartition(TopicPartition),
    /// A replica list names one broker twice.
    #[error("partition {tp} lists broker {broker} twice in its replicas")]
    DuplicateReplica { tp: TopicPartition, broker: i32 },
    /// A partition without replicas cannot be planned.
    #[error("partition {0} has no replicas")]
    NoReplicas(TopicPartition),
    /// The input parsed but holds no partition at all.
    #[error("no partitions found in the input")]
    Empty,
}

/// Reads a current assignment from either format, detected from the text itself:
/// `kafka-topics.sh --describe` output (lines with `Topic:` and `Partition:` fields), or the
/// reassignment JSON — bare, or inside `kafka-reassign-partitions.sh --generate`/`--execute`
/// output, in which case the "Current partition replica assignment" block is used.
pub fn parse_assignment(text: &str) -> Result<Assignment, FormatError> {
    if looks_like_describe(text) {
        parse_describe(text)
    } else if text.contains('{') {
        parse_reassignment_json(text)
    } else if text.trim().is_empty() {
        Err(FormatError::Empty)
    } else {
        Err(FormatError::Unrecognised(
            "expected kafka-reassign-partitions JSON or kafka-topics --describe output".into(),
        ))
    }
}

/// The under-replicated partitions in a `kafka-topics.sh --describe` capture — with or without
/// `--under-replicated-partitions`, whose output is empty when nothing is under-replicated (the
/// healed state), which this reads as "none" rather than as an error.
pub fn under_replicated_partitions(text: &str) -> Result<Vec<TopicPartition>, FormatError> {
    if !looks_like_describe(text) {
        if text.lines().any(|l| l.trim_start().starts_with("Topic:")) {
            // Topic header lines only (a filtered describe): nothing under-replicated.
            return Ok(Vec::new());
        }
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        return Err(FormatError::Unrecognised("expected kafka-topics --describe output".into()));
    }
    Ok(parse_describe(text)?.under_replicated().map(|p| p.tp.clone()).collect())
}

fn looks_like_describe(text: &str) -> bool {
    text.lines().any(|l| {
        let t = l.trim_start();
        t.starts_with("Topic:") && t.contains("Partition:")
    })
}

/// Checks what every source must satisfy: partitions unique, replica lists non-empty and without
/// repeats. Kafka itself rejects such assignments, so a capture holding one is corrupt.
pub(crate) fn validate(partitions: &[PartitionState]) -> Result<(), FormatError> {
    if partitions.is_empty() {
        return Err(FormatError::Empty);
    }
    let mut seen = HashSet::with_capacity(partitions.len());
    for p in partitions {
        if !seen.insert(&p.tp) {
            return Err(FormatError::DuplicatePartition(p.tp.clone()));
        }
        if p.replicas.is_empty() {
            return Err(FormatError::NoReplicas(p.tp.clone()));
        }
        for (i, b) in p.replicas.iter().enumerate() {
            if p.replicas[..i].contains(b) {
                return Err(FormatError::DuplicateReplica { tp: p.tp.clone(), broker: *b });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn under_replicated_reads_the_healed_empty_output_as_none() {
        assert_eq!(under_replicated_partitions("").unwrap(), vec![]);
        assert_eq!(under_replicated_partitions("\n").unwrap(), vec![]);
        let urp = "\tTopic: a\tPartition: 3\tLeader: 1\tReplicas: 1,2\tIsr: 1\tElr: \tLastKnownElr: \n";
        assert_eq!(under_replicated_partitions(urp).unwrap(), vec![TopicPartition::new("a", 3)]);
        assert!(under_replicated_partitions("Error while executing topic command").is_err());
    }
}
