//! `kafka-topics.sh --describe` text. One header line per topic
//! (`Topic: t\tTopicId: …\tPartitionCount: 3\tReplicationFactor: 2\tConfigs: …`), then one line per
//! partition: `\tTopic: t\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2`, followed, while a
//! reassignment runs, by `Adding Replicas:`/`Removing Replicas:`, and from Kafka 3.7/4.x by
//! `Elr:`/`LastKnownElr:` (values may be empty or `N/A`). `--under-replicated-partitions` prints the
//! partition lines alone. Tool log lines and blank lines are skipped.

use super::{FormatError, validate};
use crate::model::{Assignment, BrokerId, PartitionState, SourceFormat, TopicPartition};

/// Reads `kafka-topics.sh --describe` output (any Kafka from 2.x to 4.x).
pub fn parse_describe(text: &str) -> Result<Assignment, FormatError> {
    let mut partitions = Vec::new();
    let mut saw_elr = false;
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields = match fields(raw) {
            Some(f) => f,
            None => continue,
        };
        let get = |key: &str| fields.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
        let Some(partition) = get("Partition") else {
            // A topic header line; PartitionCount etc. are not needed to plan.
            continue;
        };
        let err = |message: String| FormatError::Line { line: line_no, message };
        let topic =
            get("Topic").filter(|t| !t.is_empty()).ok_or_else(|| err("partition line without a topic".into()))?;
        let partition: u32 = partition
            .parse()
            .map_err(|_| err(format!("partition number {partition:?} is not a non-negative integer")))?;
        let replicas_all = broker_list(get("Replicas").ok_or_else(|| err("no Replicas field".into()))?)
            .map_err(|b| err(format!("bad broker id {b:?} in Replicas")))?;
        let isr = broker_list(get("Isr").unwrap_or("")).map_err(|b| err(format!("bad broker id {b:?} in Isr")))?;
        let adding = broker_list(get("Adding Replicas").unwrap_or(""))
            .map_err(|b| err(format!("bad broker id {b:?} in Adding Replicas")))?;
        let removing = broker_list(get("Removing Replicas").unwrap_or(""))
            .map_err(|b| err(format!("bad broker id {b:?} in Removing Replicas")))?;
        let leader = match get("Leader") {
            None | Some("none") | Some("-1") | Some("") => None,
            Some(l) => Some(l.parse::<BrokerId>().map_err(|_| err(format!("bad leader {l:?}")))?),
        };
        saw_elr |= get("Elr").is_some() || get("LastKnownElr").is_some();
        // During a reassignment Replicas = target ∪ origin; the data is complete on the origin.
        let replicas: Vec<BrokerId> = replicas_all.iter().copied().filter(|b| !adding.contains(b)).collect();
        partitions.push(PartitionState {
            tp: TopicPartition::new(topic, partition),
            replicas,
            leader,
            isr: Some(isr),
            adding,
            removing,
        });
    }
    validate(&partitions)?;
    let source = if saw_elr { SourceFormat::DescribeV4 } else { SourceFormat::DescribeV3 };
    Ok(Assignment { partitions, source })
}

/// Splits a describe line into `(key, value)` fields, or `None` when it is not a Topic line.
/// Works on the tab-separated original and on copies whose tabs became spaces: keys end in `:`,
/// the only two-word keys are `Adding Replicas` and `Removing Replicas`, and no value has spaces.
fn fields(line: &str) -> Option<Vec<(&'static str, String)>> {
    const KEYS: [&str; 14] = [
        "Topic",
        "TopicId",
        "PartitionCount",
        "ReplicationFactor",
        "Configs",
        "Partition",
        "Leader",
        "Replicas",
        "Isr",
        "Adding Replicas",
        "Removing Replicas",
        "Elr",
        "LastKnownElr",
        "MarkedForDeletion",
    ];
    let trimmed = line.trim_start();
    if !trimmed.starts_with("Topic:") {
        return None;
    }
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let mut tokens = trimmed.split_whitespace().peekable();
    let mut current: Option<usize> = None;
    while let Some(tok) = tokens.next() {
        let (key, inline_value) = if (tok == "Adding" || tok == "Removing") && tokens.peek() == Some(&"Replicas:") {
            tokens.next();
            (Some(if tok == "Adding" { "Adding Replicas" } else { "Removing Replicas" }), None)
        } else if let Some((k, v)) = tok.split_once(':') {
            match KEYS.iter().find(|known| **known == k) {
                // Kafka 2.x wrote header keys without a space: `PartitionCount:3`.
                Some(known) => (Some(*known), if v.is_empty() { None } else { Some(v) }),
                None => (None, Some(tok)),
            }
        } else {
            (None, Some(tok))
        };
        if let Some(k) = key {
            out.push((k, String::new()));
            current = Some(out.len() - 1);
        }
        if let (Some(v), Some(idx)) = (inline_value, current) {
            // Config values may hold ':' (e.g. `cleanup.policy=compact`); keep them verbatim.
            let slot = &mut out[idx].1;
            if !slot.is_empty() {
                slot.push(' ');
            }
            slot.push_str(v);
        }
    }
    Some(out)
}

/// `1,2,3` → ids; empty and `N/A` → none. Err carries the offending token.
fn broker_list(s: &str) -> Result<Vec<BrokerId>, String> {
    let s = s.trim();
    if s.is_empty() || s == "N/A" {
        return Ok(Vec::new());
    }
    s.split(',').map(|t| t.trim().parse::<BrokerId>().map_err(|_| t.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_layouts_and_flags_under_replication() {
        let v3 = "Topic: a\tTopicId: x\tPartitionCount: 2\tReplicationFactor: 2\tConfigs: min.insync.replicas=1\n\
                  \tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n\
                  \tTopic: a\tPartition: 1\tLeader: 2\tReplicas: 2,1\tIsr: 2\n";
        let a = parse_describe(v3).unwrap();
        assert_eq!(a.source, SourceFormat::DescribeV3);
        assert_eq!(a.partitions.len(), 2);
        assert_eq!(a.under_replicated().map(|p| p.tp.partition).collect::<Vec<_>>(), vec![1]);
        assert!(!a.is_fully_replicated());

        let v4 = "Topic: a\tTopicId: x\tPartitionCount: 1\tReplicationFactor: 3\tConfigs: \n\
                  \tTopic: a\tPartition: 0\tLeader: none\tReplicas: 3,1,2\tIsr: 3,1,2\tElr: N/A\tLastKnownElr: N/A\n";
        let a = parse_describe(v4).unwrap();
        assert_eq!(a.source, SourceFormat::DescribeV4);
        assert_eq!(a.partitions[0].leader, None);
        assert_eq!(a.partitions[0].replicas, vec![3, 1, 2]);
        assert!(a.is_fully_replicated());
    }

    #[test]
    fn a_reassignment_in_flight_keeps_the_origin_replicas() {
        let text = "\tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 3,1,2\tIsr: 1,2\tAdding Replicas: 3\tRemoving Replicas: 2\tElr: \tLastKnownElr: \n";
        let a = parse_describe(text).unwrap();
        let p = &a.partitions[0];
        assert_eq!(p.replicas, vec![1, 2]);
        assert!(p.is_reassigning());
        // RF 2 (3 is being added), ISR 2: not under-replicated, as Kafka counts it.
        assert!(!p.is_under_replicated());
    }

    #[test]
    fn tabs_turned_to_spaces_still_read() {
        let text = "    Topic: a    Partition: 7    Leader: 2    Replicas: 2,1    Isr: 2,1\n";
        let a = parse_describe(text).unwrap();
        assert_eq!(a.partitions[0].tp, TopicPartition::new("a", 7));
    }

    #[test]
    fn bad_lines_are_named() {
        let text = "\tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 1,2\tIsr: 1,2\n\tTopic: a\tPartition: 1\tLeader: 1\tReplicas: 1,x\tIsr: 1\n";
        assert_eq!(
            parse_describe(text).unwrap_err(),
            FormatError::Line { line: 2, message: "bad broker id \"x\" in Replicas".into() }
        );
        let dup = "\tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n\tTopic: a\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n";
        assert!(matches!(parse_describe(dup), Err(FormatError::DuplicatePartition(_))));
    }
}
