//! The reassignment JSON of `kafka-reassign-partitions.sh`:
//! `{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}]}`.
//! `--generate` prints it twice (current, then proposed), `--execute` prints the current one as a
//! rollback, and `--execute`/`--verify` read it back.

use serde::{Deserialize, Serialize};

use super::{FormatError, validate};
use crate::model::{Assignment, BrokerId, PartitionState, SourceFormat, TopicPartition};

const CURRENT_HEADER: &str = "Current partition replica assignment";

#[derive(Deserialize)]
struct ReassignmentDoc {
    #[allow(dead_code)]
    #[serde(default)]
    version: Option<u32>,
    partitions: Vec<ReassignmentEntry>,
}

#[derive(Deserialize)]
struct ReassignmentEntry {
    topic: String,
    partition: u32,
    replicas: Vec<BrokerId>,
    // log_dirs is read by Kafka for intra-broker moves; the planner only ever writes "any".
}

#[derive(Serialize)]
struct OutEntry<'a> {
    topic: &'a str,
    partition: u32,
    replicas: &'a [BrokerId],
    log_dirs: Vec<&'static str>,
}

#[derive(Serialize)]
struct OutDoc<'a> {
    version: u32,
    partitions: Vec<OutEntry<'a>>,
}

/// Reads reassignment JSON, bare or inside the text `--generate`/`--execute` print (then the
/// "Current partition replica assignment" block is the one read).
pub fn parse_reassignment_json(text: &str) -> Result<Assignment, FormatError> {
    // Start at the current-assignment banner when present, so a pasted `--generate` output reads
    // the current block and never the proposed one that follows it.
    let search_from = text.find(CURRENT_HEADER).map(|i| i + CURRENT_HEADER.len()).unwrap_or(0);
    let start = match text[search_from..].find('{') {
        Some(i) => search_from + i,
        None => {
            return Err(FormatError::Unrecognised("no JSON object found".into()));
        }
    };
    let (line0, col0) = line_col(text, start);
    let mut de = serde_json::Deserializer::from_str(&text[start..]);
    let doc = ReassignmentDoc::deserialize(&mut de).map_err(|e| json_error(&e, line0, col0))?;
    // Anything after the object must be the rest of a tool's output, never more JSON syntax.
    let partitions: Vec<PartitionState> = doc
        .partitions
        .into_iter()
        .map(|e| PartitionState::new(TopicPartition::new(e.topic, e.partition), e.replicas))
        .collect();
    validate(&partitions)?;
    Ok(Assignment { partitions, source: SourceFormat::ReassignmentJson })
}

/// Renders partitions as the JSON `kafka-reassign-partitions.sh --execute` accepts, in
/// topic/partition order (as Kafka prints it), one `"any"` log dir per replica.
pub fn write_reassignment_json<'a, I>(partitions: I) -> String
where
    I: IntoIterator<Item = (&'a TopicPartition, &'a [BrokerId])>,
{
    let mut entries: Vec<OutEntry<'a>> = partitions
        .into_iter()
        .map(|(tp, replicas)| OutEntry {
            topic: &tp.topic,
            partition: tp.partition,
            replicas,
            log_dirs: vec!["any"; replicas.len()],
        })
        .collect();
    entries.sort_by(|a, b| a.topic.cmp(b.topic).then(a.partition.cmp(&b.partition)));
    serde_json::to_string(&OutDoc { version: 1, partitions: entries }).expect("plain data always serialises")
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

/// Maps a serde_json position (relative to the JSON start at `line0`/`col0`) to the whole input.
pub(super) fn json_error(e: &serde_json::Error, line0: usize, col0: usize) -> FormatError {
    let (line, column) =
        if e.line() <= 1 { (line0, col0 + e.column().saturating_sub(1)) } else { (line0 + e.line() - 1, e.column()) };
    // serde_json appends " at line L column C" to its message; ours says it once, in whole-input terms.
    let mut message = e.to_string();
    if let Some(i) = message.rfind(" at line ") {
        message.truncate(i);
    }
    FormatError::Json { line, column, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bare_json_and_writes_it_back() {
        let text = r#"{"version":1,"partitions":[{"topic":"b","partition":1,"replicas":[2,1],"log_dirs":["any","any"]},{"topic":"a","partition":0,"replicas":[1,2]}]}"#;
        let a = parse_reassignment_json(text).unwrap();
        assert_eq!(a.partitions.len(), 2);
        assert_eq!(a.partitions[0].replicas, vec![2, 1]);
        let out = write_reassignment_json(a.partitions.iter().map(|p| (&p.tp, p.replicas.as_slice())));
        assert_eq!(
            out,
            r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"b","partition":1,"replicas":[2,1],"log_dirs":["any","any"]}]}"#
        );
    }

    #[test]
    fn malformed_json_names_the_line_and_column_of_the_whole_input() {
        let text = "Current partition replica assignment\n{\"version\":1,\n\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[1,]}]}";
        let err = parse_reassignment_json(text).unwrap_err();
        match err {
            FormatError::Json { line, column, .. } => {
                assert_eq!(line, 3);
                assert!(column > 40, "column {column}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let first_line = parse_reassignment_json("junk {\"version\": x}").unwrap_err();
        assert!(matches!(first_line, FormatError::Json { line: 1, column: 18, .. }), "{first_line:?}");
    }

    #[test]
    fn rejects_wrong_shapes_and_duplicates() {
        assert!(matches!(parse_reassignment_json(r#"{"version":1}"#), Err(FormatError::Json { .. })));
        assert!(matches!(
            parse_reassignment_json(r#"{"partitions":[{"topic":"a","partition":-1,"replicas":[1]}]}"#),
            Err(FormatError::Json { .. })
        ));
        assert!(matches!(
            parse_reassignment_json(
                r#"{"partitions":[{"topic":"a","partition":0,"replicas":[1]},{"topic":"a","partition":0,"replicas":[2]}]}"#
            ),
            Err(FormatError::DuplicatePartition(_))
        ));
        assert!(matches!(
            parse_reassignment_json(r#"{"partitions":[{"topic":"a","partition":0,"replicas":[1,1]}]}"#),
            Err(FormatError::DuplicateReplica { broker: 1, .. })
        ));
        assert!(matches!(parse_reassignment_json(r#"{"partitions":[]}"#), Err(FormatError::Empty)));
    }
}
