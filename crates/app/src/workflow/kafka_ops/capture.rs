//! CaptureAssignment: every partition's replicas and ISR, every replica's size and each broker's
//! rack, from one script run on the client; the raw output is kept in S3 (`capture.txt`) and a
//! summary goes into `$.capture`. ConfirmHealed and DryRunPlan capture the same way.

use super::{Invocation, KafkaOps, KafkaScripts, RunId};
use crate::error::{AppError, Result};
use crate::workflow::state::{CaptureSummary, WorkflowState};
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::kafka_cli::{self, BrokerRack, Sections, section};
use autoheal_planner::formats::{parse_describe, parse_log_dirs};
use autoheal_planner::{Assignment, TopicPartition};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use tracing::info;

/// The parsed capture.
pub(crate) struct Capture {
    pub assignment: Assignment,
    pub brokers: Vec<i32>,
    pub racks: Option<BTreeMap<i32, String>>,
    pub sizes: Option<HashMap<TopicPartition, u64>>,
}

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// CaptureAssignment: describe + log dirs + racks, kept in S3.
    pub async fn capture(&self, mut state: WorkflowState, inv: Invocation<'_>) -> Result<WorkflowState> {
        let (raw, capture) = self.run_capture(&state, &self.scripts(inv), RunId::new("capture")).await?;
        let key = self.key(inv.execution, "capture.txt")?;
        self.store.put_object(self.config.bucket.as_str(), key.as_str(), raw.into_bytes(), "text/plain").await?;
        let a = &capture.assignment;
        info!(partitions = a.partitions.len(), brokers = ?capture.brokers, under_replicated = a.under_replicated().count(), "captured");
        state.capture = Some(CaptureSummary {
            s3_key: key.to_string(),
            partitions: a.partitions.len(),
            replicas: a.replica_count(),
            brokers: capture.brokers.clone(),
            racks: capture.racks.clone(),
            under_replicated: a.under_replicated().count(),
            reassigning: a.reassigning().count(),
            captured_at: inv.now,
        });
        Ok(state)
    }

    /// Runs the capture script as `run`; its raw stdout and what it says.
    pub(crate) async fn run_capture(
        &self,
        state: &WorkflowState,
        scripts: &KafkaScripts<'_, C, R, S>,
        run: RunId,
    ) -> Result<(String, Capture)> {
        let script = kafka_cli::capture_script(&self.client(state).await?);
        let out = scripts.run(&run, &script).await?;
        if !out.ok() {
            return Err(out.failure("capture (kafka-topics/kafka-log-dirs --describe)"));
        }
        let capture = parse_capture(&out.sections)?;
        Ok((out.stdout, capture))
    }
}

pub(crate) fn parse_capture(sections: &Sections) -> Result<Capture> {
    let bad = |what: &str, e: &dyn std::fmt::Display| AppError::CommandFailed(format!("unreadable {what} output: {e}"));
    let topics =
        sections.get(section::TOPICS).ok_or_else(|| AppError::CommandFailed("capture has no topics section".into()))?;
    let assignment = parse_describe(topics).map_err(|e| bad("kafka-topics.sh --describe", &e))?;
    let log_dirs = sections
        .get(section::LOG_DIRS)
        .map(|t| parse_log_dirs(t).map_err(|e| bad("kafka-log-dirs.sh --describe", &e)))
        .transpose()?;
    let racks_seen: Option<Vec<BrokerRack>> = sections.get(section::BROKERS).and_then(kafka_cli::parse_brokers);
    let mut brokers: BTreeSet<i32> = assignment.brokers().into_iter().collect();
    if let Some(ld) = &log_dirs {
        brokers.extend(ld.brokers.iter().map(|b| b.broker));
    }
    if let Some(r) = &racks_seen {
        brokers.extend(r.iter().map(|b| b.broker.get() as i32));
    }
    // Racks only when every broker has one (the planner wants all or none).
    let racks = racks_seen.and_then(|seen| {
        let map: BTreeMap<i32, String> =
            seen.into_iter().filter_map(|b| b.rack.map(|r| (b.broker.get() as i32, r))).collect();
        brokers.iter().all(|b| map.contains_key(b)).then_some(map)
    });
    let sizes =
        log_dirs.as_ref().map(|ld| ld.partition_sizes()).transpose().map_err(|e| bad("kafka-log-dirs.sh", &e))?;
    Ok(Capture { assignment, brokers: brokers.into_iter().collect(), racks, sizes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_of_recorded_output_gives_brokers_racks_and_sizes() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kafka/");
        let read = |f: &str| std::fs::read_to_string(format!("{dir}{f}")).unwrap();
        let stdout = format!(
            "#autoheal:section:topics\n{}#autoheal:section:log-dirs\n{}#autoheal:section:brokers\n{}#autoheal:end\n",
            read("topics-describe-4-brokers-4.1.2.txt"),
            read("log-dirs-describe-4.1.2.txt"),
            read("broker-api-versions-brokers-4.1.2.txt")
        );
        let c = parse_capture(&kafka_cli::split_sections(&stdout)).unwrap();
        assert_eq!(c.brokers, vec![1, 2, 3, 4], "new brokers hold nothing yet but are listed");
        assert_eq!(c.racks.unwrap().get(&3).map(String::as_str), Some("use1-az1"));
        assert_eq!(c.assignment.partitions.len(), 13);
        assert!(c.sizes.unwrap().values().any(|&s| s > 1_000_000));
    }
}
