//! Parsers for what the Kafka CLI prints in the workflow's scripts: the sections of a script's output,
//! `kafka-reassign-partitions.sh --verify`, `--list` and `--cancel`, the broker lines of
//! `kafka-broker-api-versions.sh`, and the cleanup's throttle markers.
//!
//! `--verify` wording differs between Kafka lines; all of these are recognised (recordings of 4.1.2
//! and 3.6.2 tools in tests/fixtures/kafka, see its README):
//! - 3.6+ and 4.x: `Reassignment of partition t-0 is completed.`; earlier Scala versions of the tool:
//!   `... is complete.`; ZooKeeper-era tools (≤ 2.4): `... completed successfully` / `... failed`.
//! - all: `... is still in progress.`, `There is no active reassignment of partition t-0, but replica
//!   set is 1,2 rather than 3,4.` (cancelled or moved elsewhere), `Clearing broker-level throttles on
//!   brokers 1,2,3` once nothing is left to move.

use super::scripts::{
    ELECTION_INCOMPLETE_MARKER, END_MARKER, SECTION_MARKER, THROTTLE_FAILED_MARKER, THROTTLE_REMOVED_MARKER,
    UNAVAILABLE_MARKER,
};
use super::values::{BrokerId, TopicName};
use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Output the parsers could not make sense of.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OutputError {
    #[error("not kafka-reassign-partitions --verify output (no status line and no partition line)")]
    NotVerifyOutput,
    /// `--verify` printed no partition line we recognise: nothing can be said about the moves, so it
    /// must never read as "every partition complete". The tool's `Error:` lines, if any, say why.
    #[error("kafka-reassign-partitions --verify reported no partition{}", tool_errors(.0))]
    NoPartitionLines(Vec<String>),
    #[error("unexpected line in kafka-reassign-partitions --list output: {0:?}")]
    ListLine(String),
    #[error("unparseable partition {0:?} in Kafka CLI output")]
    Partition(String),
}

/// At most `max` characters of tool output for a message, control characters (a stray `\r`) dropped,
/// so every error stays one line.
fn shown(s: &str, max: usize) -> String {
    s.chars().filter(|c| !c.is_control()).take(max).collect()
}

fn tool_errors(errors: &[String]) -> String {
    if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) }
}

/// A topic partition as the Kafka tools print it: `<topic>-<partition>` (the topic may hold `-`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TopicPartition {
    pub topic: TopicName,
    pub partition: u32,
}

impl TopicPartition {
    pub fn parse(s: &str) -> Result<Self, OutputError> {
        let err = || OutputError::Partition(shown(s, 80));
        let (topic, partition) = s.rsplit_once('-').ok_or_else(err)?;
        if partition.is_empty() || !partition.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        Ok(Self {
            topic: TopicName::parse(topic).map_err(|_| err())?,
            partition: partition.parse().map_err(|_| err())?,
        })
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// The output of one script, split at its section markers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sections {
    sections: Vec<(String, String)>,
    /// The script printed its end marker: nothing was cut off and no step died.
    pub complete: bool,
}

impl Sections {
    /// Text of a section (lines after its marker up to the next marker), if the script reached it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.sections.iter().find(|(n, _)| n == name).map(|(_, t)| t.as_str())
    }
}

/// Splits a script's stdout at `#autoheal:section:` lines. Text before the first marker is dropped
/// (nothing of ours prints there).
pub fn split_sections(stdout: &str) -> Sections {
    let mut out = Sections::default();
    for line in stdout.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(name) = line.strip_prefix(SECTION_MARKER) {
            out.sections.push((name.trim().to_owned(), String::new()));
        } else if line == END_MARKER {
            out.complete = true;
        } else if let Some((_, text)) = out.sections.last_mut() {
            text.push_str(line);
            text.push('\n');
        }
    }
    out
}

/// Where one partition's reassignment stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum PartitionState {
    Complete,
    InProgress,
    /// No reassignment is running for it but its replicas are not the target (cancelled, or moved
    /// by someone else), or an old tool said "failed".
    Failed {
        current: Vec<u32>,
        target: Vec<u32>,
    },
}

/// One partition line of `--verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionStatus {
    #[serde(flatten)]
    pub partition: TopicPartition,
    #[serde(flatten)]
    pub state: PartitionState,
}

/// The whole reassignment, summarised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyOutcome {
    /// Every partition is complete.
    Complete,
    /// None failed, some still moving.
    InProgress,
    /// At least one partition failed.
    Failed,
}

/// What `kafka-reassign-partitions.sh --verify` said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    pub partitions: Vec<PartitionStatus>,
    /// Kafka cleared the broker- and topic-level throttles (it does once no reassignment is left in
    /// the whole cluster, and only then).
    pub throttles_removed: bool,
    /// `Error: ...` lines (the tool failed part-way).
    pub errors: Vec<String>,
}

impl VerifyReport {
    /// A report without partitions ([`parse_verify`] never returns one) is never complete.
    pub fn outcome(&self) -> VerifyOutcome {
        if self.partitions.iter().any(|p| matches!(p.state, PartitionState::Failed { .. })) {
            VerifyOutcome::Failed
        } else if !self.partitions.is_empty() && self.partitions.iter().all(|p| p.state == PartitionState::Complete) {
            VerifyOutcome::Complete
        } else {
            VerifyOutcome::InProgress
        }
    }

    pub fn count(&self, state: fn(&PartitionState) -> bool) -> usize {
        self.partitions.iter().filter(|p| state(&p.state)).count()
    }
}

/// Parses `--verify` output (Kafka 2.x, 3.x and 4.x wordings). At least one partition line must be
/// recognised: a status header alone (the tool died after it) is [`OutputError::NoPartitionLines`].
pub fn parse_verify(text: &str) -> Result<VerifyReport, OutputError> {
    let mut report = VerifyReport { partitions: Vec::new(), throttles_removed: false, errors: Vec::new() };
    let (mut header, mut broker_cleared, mut topic_cleared) = (false, false, false);
    for line in text.lines().map(str::trim) {
        if line == "Status of partition reassignment:" {
            header = true;
        } else if let Some(rest) = line.strip_prefix("Reassignment of partition ") {
            let (tp, state) = if let Some(tp) = rest
                .strip_suffix(" is completed.")
                .or_else(|| rest.strip_suffix(" is complete."))
                .or_else(|| rest.strip_suffix(" completed successfully"))
            {
                (tp, PartitionState::Complete)
            } else if let Some(tp) =
                rest.strip_suffix(" is still in progress.").or_else(|| rest.strip_suffix(" is still in progress"))
            {
                (tp, PartitionState::InProgress)
            } else if let Some(tp) = rest.strip_suffix(" failed").or_else(|| rest.strip_suffix(" failed.")) {
                (tp, PartitionState::Failed { current: Vec::new(), target: Vec::new() })
            } else {
                return Err(OutputError::Partition(shown(rest, 80)));
            };
            report.partitions.push(PartitionStatus { partition: TopicPartition::parse(tp)?, state });
        } else if let Some(rest) = line.strip_prefix("There is no active reassignment of partition ") {
            let (tp, sets) =
                rest.split_once(", but replica set is ").ok_or_else(|| OutputError::Partition(shown(rest, 80)))?;
            let sets = sets.strip_suffix('.').unwrap_or(sets);
            let (current, target) =
                sets.split_once(" rather than ").ok_or_else(|| OutputError::Partition(shown(rest, 80)))?;
            report.partitions.push(PartitionStatus {
                partition: TopicPartition::parse(tp)?,
                state: PartitionState::Failed { current: id_list(current)?, target: id_list(target)? },
            });
        } else if line.contains("Clearing broker-level throttles on broker") {
            // `contains`: Kafka prints the line before without a newline after --cancel.
            broker_cleared = true;
            topic_cleared |= line.contains("Clearing topic-level throttles on topic");
        } else if line.contains("Clearing topic-level throttles on topic") {
            topic_cleared = true;
        } else if let Some(msg) = line.strip_prefix("Error: ") {
            report.errors.push(shown(msg, 300));
        }
        // Anything else (log-dir move lines, stack traces after an Error:, blank lines) is not ours
        // to judge: the partition lines decide.
    }
    if report.partitions.is_empty() {
        return Err(if header { OutputError::NoPartitionLines(report.errors) } else { OutputError::NotVerifyOutput });
    }
    report.throttles_removed = broker_cleared && topic_cleared;
    Ok(report)
}

fn id_list(s: &str) -> Result<Vec<u32>, OutputError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    s.split(',').map(|id| id.trim().parse::<u32>().map_err(|_| OutputError::Partition(shown(s, 80)))).collect()
}

/// Partitions with a reassignment in progress, from `--list`.
pub fn parse_list(text: &str) -> Result<Vec<TopicPartition>, OutputError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if line == "No partition reassignments found." || line == "Current partition reassignments:" {
            continue;
        }
        let (tp, _) = line.split_once(": replicas: ").ok_or_else(|| OutputError::ListLine(shown(line, 80)))?;
        out.push(TopicPartition::parse(tp)?);
    }
    Ok(out)
}

/// Partitions `--cancel` cancelled ("Successfully cancelled partition reassignment(s) for: t-0,t-1").
pub fn parse_cancel(text: &str) -> Result<Vec<TopicPartition>, OutputError> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        let rest = line
            .strip_prefix("Successfully cancelled partition reassignments for: ")
            .or_else(|| line.strip_prefix("Successfully cancelled partition reassignment for: "));
        if let Some(rest) = rest {
            for tp in rest.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                out.push(TopicPartition::parse(tp)?);
            }
        }
    }
    Ok(out)
}

/// A broker and its rack (`broker.rack`; the AZ id on MSK), from `kafka-broker-api-versions.sh`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerRack {
    pub broker: BrokerId,
    pub rack: Option<String>,
}

/// Brokers of the capture's `brokers` section: lines like `host:9092 (id: 1 rack: use1-az1) -> (` or,
/// from 4.x, `host:9092 (id: 1 rack: null isFenced: false) -> (`. `None` when the tool was
/// unavailable.
pub fn parse_brokers(text: &str) -> Option<Vec<BrokerRack>> {
    if text.lines().any(|l| l.trim() == UNAVAILABLE_MARKER) {
        return None;
    }
    let mut out: Vec<BrokerRack> = Vec::new();
    for line in text.lines() {
        let Some((_, rest)) = line.split_once(" (id: ") else { continue };
        let mut words = rest.split_whitespace();
        let Some(Ok(broker)) = words.next().map(BrokerId::parse) else { continue };
        let rack = match (words.next(), words.next()) {
            (Some("rack:"), Some(r)) => {
                let r = r.trim_end_matches(')');
                (r != "null" && !r.is_empty()).then(|| r.to_owned())
            }
            _ => None,
        };
        if !out.iter().any(|b| b.broker == broker) {
            out.push(BrokerRack { broker, rack });
        }
    }
    out.sort_by_key(|b| b.broker);
    Some(out)
}

/// What `kafka-leader-election.sh --election-type PREFERRED` did (Kafka 2.4+ wording, the same in
/// 4.1.2): `Successfully completed leader election (PREFERRED) for partitions t-1, t-0`, `Valid
/// replica already elected for partitions t-2`, and per failure `Error completing leader election
/// (PREFERRED) for partition: t-3: <exception>: <message>`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ElectionReport {
    /// Partitions whose preferred replica became the leader now.
    pub elected: usize,
    /// Partitions already led by their preferred replica.
    pub already: usize,
    /// `partition: reason` of each partition that could not be elected.
    pub failed: Vec<String>,
    /// The tool exited non-zero.
    pub incomplete: bool,
}

pub fn parse_election(text: &str) -> ElectionReport {
    let count = |rest: &str| rest.split(',').filter(|s| !s.trim().is_empty()).count();
    let mut out = ElectionReport::default();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Successfully completed leader election (PREFERRED) for partitions ") {
            out.elected += count(rest);
        } else if let Some(rest) = line.strip_prefix("Valid replica already elected for partitions ") {
            out.already += count(rest);
        } else if let Some(rest) = line.strip_prefix("Error completing leader election (PREFERRED) for partition: ") {
            // "t-3: org.apache...PreferredLeaderNotAvailableException: message": keep the partition
            // and the message, drop the exception class.
            let (tp, why) = rest.split_once(": ").unwrap_or((rest, ""));
            let why = why.rsplit_once("Exception: ").map_or(why, |(_, m)| m);
            out.failed.push(format!("{}: {}", shown(tp, 80), shown(why, 160)));
        } else if line == ELECTION_INCOMPLETE_MARKER {
            out.incomplete = true;
        }
    }
    out
}

/// A broker or topic whose throttle configs cleanup touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottledEntity {
    /// `broker` or `topic`.
    pub kind: String,
    pub name: String,
    pub configs: Vec<String>,
}

/// The cleanup script's throttle report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ThrottleCleanup {
    pub removed: Vec<ThrottledEntity>,
    pub failed: Vec<ThrottledEntity>,
}

pub fn parse_throttle_cleanup(text: &str) -> ThrottleCleanup {
    let entity = |rest: &str| {
        let mut w = rest.split_whitespace();
        match (w.next(), w.next(), w.next()) {
            (Some(kind), Some(name), Some(cfgs)) => Some(ThrottledEntity {
                kind: kind.to_owned(),
                name: name.to_owned(),
                configs: cfgs.split(',').map(str::to_owned).collect(),
            }),
            _ => None,
        }
    };
    let mut out = ThrottleCleanup::default();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix(THROTTLE_REMOVED_MARKER) {
            out.removed.extend(entity(rest));
        } else if let Some(rest) = line.strip_prefix(THROTTLE_FAILED_MARKER) {
            out.failed.extend(entity(rest));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn tp(s: &str) -> TopicPartition {
        TopicPartition::parse(s).unwrap()
    }

    #[test]
    fn election_output_of_the_real_4_1_2_tool() {
        // Lines printed by kafka-leader-election.sh 4.1.2 against the local cluster (two runs).
        let text = "Successfully completed leader election (PREFERRED) for partitions t-3, t-2, t-1, t-0\n\
                    Valid replica already elected for partitions t-0\n\
                    Error completing leader election (PREFERRED) for partition: nope-0: \
                    org.apache.kafka.common.errors.UnknownTopicOrPartitionException: No such topic as nope\n\
                    #autoheal:election-incomplete\n";
        let r = parse_election(text);
        assert_eq!((r.elected, r.already, r.incomplete), (4, 1, true));
        assert_eq!(r.failed, vec!["nope-0: No such topic as nope".to_owned()]);
        assert_eq!(parse_election(""), ElectionReport::default());
    }

    #[test]
    fn topic_partitions_split_at_the_last_dash() {
        assert_eq!(
            tp("stress-test-11"),
            TopicPartition { topic: TopicName::parse("stress-test").unwrap(), partition: 11 }
        );
        assert_eq!(tp("__consumer_offsets-0").to_string(), "__consumer_offsets-0");
        for bad in ["", "t", "t-", "-1", "t-x", "a b-1"] {
            assert!(TopicPartition::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn sections_and_end_marker() {
        let s = split_sections("noise\n#autoheal:section:a\nA1\nA2\n#autoheal:section:b\n#autoheal:end\n");
        assert_eq!(s.get("a"), Some("A1\nA2\n"));
        assert_eq!(s.get("b"), Some(""));
        assert_eq!(s.get("c"), None);
        assert!(s.complete);
        assert!(!split_sections("#autoheal:section:a\nA1\n").complete);
    }

    #[test]
    fn verify_without_status_or_partitions_is_refused() {
        assert_eq!(parse_verify("Error: boom\n"), Err(OutputError::NotVerifyOutput));
        assert_eq!(parse_verify(""), Err(OutputError::NotVerifyOutput));
    }

    #[test]
    fn verify_with_no_recognised_partition_line_is_unreadable_not_complete() {
        let header_only = "Status of partition reassignment:\n\nClearing broker-level throttles on brokers 1,2\n";
        assert_eq!(parse_verify(header_only), Err(OutputError::NoPartitionLines(vec![])));
        let died = "Status of partition reassignment:\nError: org.apache.kafka.common.errors.TimeoutException: x\n";
        let e = parse_verify(died).unwrap_err();
        assert!(e.to_string().contains("no partition: org.apache.kafka.common.errors.TimeoutException: x"), "{e}");
        // Unknown wording is not read as "nothing left to move" either.
        let reworded = "Status of partition reassignment:\nPartition t-0: done\n";
        assert!(matches!(parse_verify(reworded), Err(OutputError::NoPartitionLines(_))));
        // Nor is a hand-made empty report.
        let empty = VerifyReport { partitions: vec![], throttles_removed: true, errors: vec![] };
        assert_ne!(empty.outcome(), VerifyOutcome::Complete);
    }

    #[test]
    fn verify_states_and_outcome() {
        let r = parse_verify(
            "Status of partition reassignment:\n\
             Reassignment of partition t-0 is completed.\n\
             Reassignment of partition t-1 is complete.\n\
             Reassignment of partition t-2 is still in progress.\n\
             There is no active reassignment of partition t-3, but replica set is 1,2 rather than 3,4.\n\
             There is no active reassignment of partition gone-0, but replica set is  rather than 1,2.\n",
        )
        .unwrap();
        assert_eq!(r.partitions.len(), 5);
        assert_eq!(r.partitions[2].state, PartitionState::InProgress);
        assert_eq!(r.partitions[3].state, PartitionState::Failed { current: vec![1, 2], target: vec![3, 4] });
        assert_eq!(r.partitions[4].state, PartitionState::Failed { current: vec![], target: vec![1, 2] });
        assert_eq!(r.outcome(), VerifyOutcome::Failed);
        assert_eq!(r.count(|s| *s == PartitionState::Complete), 2);
        assert!(!r.throttles_removed);
    }

    #[test]
    fn legacy_zookeeper_wording() {
        let r = parse_verify(
            "Status of partition reassignment:\nReassignment of partition t-0 completed successfully\n\
             Reassignment of partition t-1 failed\n",
        )
        .unwrap();
        assert_eq!(r.outcome(), VerifyOutcome::Failed);
    }

    #[test]
    fn list_and_cancel() {
        assert_eq!(parse_list("No partition reassignments found.\n").unwrap(), vec![]);
        assert_eq!(
            parse_list(
                "Current partition reassignments:\nt-0: replicas: 1,2,3. adding: 3. removing: 1.\nu-1: replicas: 2,1.\n"
            )
            .unwrap(),
            vec![tp("t-0"), tp("u-1")]
        );
        assert!(parse_list("Error: boom").is_err());
        assert_eq!(
            parse_cancel("Successfully cancelled partition reassignments for: t-0,t-1\nNone of the specified partition moves are active.").unwrap(),
            vec![tp("t-0"), tp("t-1")]
        );
        assert_eq!(parse_cancel("None of the specified partition reassignments are active.\n").unwrap(), vec![]);
    }

    #[test]
    fn brokers_with_and_without_racks() {
        let text = "b-2.demo:9092 (id: 2 rack: use1-az2) -> (\n\
                    localhost:9094 (id: 1 rack: null isFenced: false) -> (\n\
                    \tProduce(0): 3 to 11 [usable: 11],\n\
                    b-3.demo:9092 (id: 3 rack: use1-az1 isFenced: false) -> (\n";
        assert_eq!(
            parse_brokers(text).unwrap(),
            vec![
                BrokerRack { broker: BrokerId::new(1).unwrap(), rack: None },
                BrokerRack { broker: BrokerId::new(2).unwrap(), rack: Some("use1-az2".into()) },
                BrokerRack { broker: BrokerId::new(3).unwrap(), rack: Some("use1-az1".into()) },
            ]
        );
        assert_eq!(parse_brokers("#autoheal:unavailable\n"), None);
    }

    #[test]
    fn throttle_markers() {
        let c = parse_throttle_cleanup(
            "#autoheal:throttle-removed broker 1 leader.replication.throttled.rate,follower.replication.throttled.rate\n\
             #autoheal:throttle-remove-failed topic t leader.replication.throttled.replicas\n",
        );
        assert_eq!(c.removed.len(), 1);
        assert_eq!(c.removed[0].configs.len(), 2);
        assert_eq!(c.failed[0].name, "t");
    }
}
