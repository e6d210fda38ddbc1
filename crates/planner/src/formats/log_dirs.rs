//! `kafka-log-dirs.sh --describe` output: two banner lines ("Querying brokers for log directories
//! information", "Received log directory information from brokers 1,2") and one JSON line
//! `{"version":1,"brokers":[{"broker":1,"logDirs":[{"logDir":"/var/kafka","error":null,
//! "partitions":[{"partition":"t-0","size":123,"offsetLag":0,"isFuture":false}]}]}]}`
//! (key order varies: Kafka writes Java HashMaps).

use std::collections::HashMap;

use serde::Deserialize;

use super::FormatError;
use super::reassign_json::json_error;
use crate::model::{BrokerId, TopicPartition};

/// The parsed log-dirs report.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogDirs {
    pub brokers: Vec<BrokerLogDirs>,
}

/// One broker's log directories.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BrokerLogDirs {
    pub broker: BrokerId,
    #[serde(rename = "logDirs")]
    pub log_dirs: Vec<LogDir>,
}

/// One log directory; `error` is the Java exception class name when the directory is offline.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LogDir {
    #[serde(rename = "logDir")]
    pub log_dir: String,
    pub error: Option<String>,
    pub partitions: Vec<RawReplica>,
}

/// One replica as Kafka prints it (`partition` is `topic-N`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RawReplica {
    pub partition: String,
    pub size: u64,
    #[serde(rename = "offsetLag", default)]
    pub offset_lag: i64,
    #[serde(rename = "isFuture", default)]
    pub is_future: bool,
}

/// One replica, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaLogInfo {
    pub tp: TopicPartition,
    pub broker: BrokerId,
    pub log_dir: String,
    pub size: u64,
    pub offset_lag: i64,
    /// A future replica: the copy being made by an intra-broker log-dir move.
    pub is_future: bool,
}

impl LogDirs {
    /// Every replica in the report (future replicas included, flagged).
    pub fn replicas(&self) -> Result<Vec<ReplicaLogInfo>, FormatError> {
        let mut out = Vec::new();
        for b in &self.brokers {
            for d in &b.log_dirs {
                for r in &d.partitions {
                    out.push(ReplicaLogInfo {
                        tp: split_topic_partition(&r.partition)?,
                        broker: b.broker,
                        log_dir: d.log_dir.clone(),
                        size: r.size,
                        offset_lag: r.offset_lag,
                        is_future: r.is_future,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Bytes a new replica of each partition would copy: the largest current (non-future) replica.
    pub fn partition_sizes(&self) -> Result<HashMap<TopicPartition, u64>, FormatError> {
        let mut sizes: HashMap<TopicPartition, u64> = HashMap::new();
        for r in self.replicas()? {
            if r.is_future {
                continue;
            }
            let e = sizes.entry(r.tp).or_insert(0);
            *e = (*e).max(r.size);
        }
        Ok(sizes)
    }

    /// Log directories that reported an error (offline disks), as `(broker, dir, error)`.
    pub fn offline_dirs(&self) -> Vec<(BrokerId, &str, &str)> {
        self.brokers
            .iter()
            .flat_map(|b| {
                b.log_dirs.iter().filter_map(move |d| d.error.as_deref().map(|e| (b.broker, d.log_dir.as_str(), e)))
            })
            .collect()
    }
}

/// Reads the output of `kafka-log-dirs.sh --describe` (banner lines allowed).
pub fn parse_log_dirs(text: &str) -> Result<LogDirs, FormatError> {
    // The JSON is the first line that opens an object; the banners never do.
    let mut offset = 0;
    let mut start = None;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if line.trim_start().starts_with('{') {
            start = Some((i + 1, offset + (line.len() - line.trim_start().len())));
            break;
        }
        offset += line.len();
    }
    let Some((line0, at)) = start else {
        return Err(FormatError::Unrecognised("no JSON line found in kafka-log-dirs output".into()));
    };
    let col0 = at - text[..at].rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    let mut de = serde_json::Deserializer::from_str(&text[at..]);
    let dirs = LogDirs::deserialize(&mut de).map_err(|e| json_error(&e, line0, col0))?;
    dirs.replicas()?; // every partition name must resolve
    Ok(dirs)
}

/// `my-topic-12` → (`my-topic`, 12): topics may contain '-', the partition is after the last one.
fn split_topic_partition(s: &str) -> Result<TopicPartition, FormatError> {
    s.rsplit_once('-')
        .filter(|(t, _)| !t.is_empty())
        .and_then(|(t, p)| p.parse::<u32>().ok().map(|p| TopicPartition::new(t, p)))
        .ok_or_else(|| FormatError::Unrecognised(format!("log-dirs partition {s:?} is not <topic>-<partition>")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_sizes_skipping_banners_and_future_replicas() {
        let text = "Querying brokers for log directories information\n\
            Received log directory information from brokers 1,2\n\
            {\"brokers\":[{\"broker\":1,\"logDirs\":[{\"partitions\":[{\"partition\":\"my-topic-0\",\"size\":100,\"offsetLag\":0,\"isFuture\":false},{\"partition\":\"my-topic-0\",\"size\":999,\"offsetLag\":0,\"isFuture\":true}],\"error\":null,\"logDir\":\"/a\"}]},\
            {\"broker\":2,\"logDirs\":[{\"logDir\":\"/b\",\"error\":\"org.apache.kafka.common.errors.KafkaStorageException\",\"partitions\":[{\"partition\":\"my-topic-0\",\"size\":120,\"offsetLag\":5,\"isFuture\":false}]}]}],\"version\":1}\n";
        let d = parse_log_dirs(text).unwrap();
        let sizes = d.partition_sizes().unwrap();
        assert_eq!(sizes[&TopicPartition::new("my-topic", 0)], 120);
        assert_eq!(d.offline_dirs(), vec![(2, "/b", "org.apache.kafka.common.errors.KafkaStorageException")]);
    }

    #[test]
    fn malformed_json_line_is_reported_in_input_terms() {
        let text = "Querying brokers for log directories information\n{\"brokers\":[{\"broker\":1,\"logDirs\":[}]}\n";
        assert!(matches!(parse_log_dirs(text), Err(FormatError::Json { line: 2, .. })), "{:?}", parse_log_dirs(text));
        let bad_name = "{\"brokers\":[{\"broker\":1,\"logDirs\":[{\"logDir\":\"/a\",\"error\":null,\"partitions\":[{\"partition\":\"nodash\",\"size\":1}]}]}]}";
        assert!(matches!(parse_log_dirs(bad_name), Err(FormatError::Unrecognised(_))));
    }
}
