//! The throttles this execution set, recorded before it sets them (`<execution>/throttles.json`):
//! ExecuteReassignment reads what throttle configs the brokers and topics of a stage already have
//! and records those entities with their values *before* it sends `--execute`. Cleanup and
//! ConfirmHealed then remove exactly what we added on those entities and put back an operator's
//! own values (which `--execute` overwrote); nothing else is touched. The record's existence is
//! also the sign that an `--execute` may have been sent at all.

use super::{KafkaOps, KafkaScripts, RunId};
use crate::error::{AppError, Result};
use crate::workflow::state::WorkflowState;
use autoheal_aws::ports::{ClusterScaling, CommandRunner, ObjectStore};
use autoheal_domain::kafka_cli::{
    self, BrokerId, PlanSource, THROTTLE_CONFIG_MARKER, THROTTLE_RESTORED_MARKER, ThrottleRestore, ThrottleTarget,
    TopicName, section,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The record's name under the execution's directory.
pub const THROTTLES_FILE: &str = "throttles.json";

/// Every entity a stage of this execution throttled (or may have), with what it had before.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottleRecord {
    pub entities: Vec<ThrottledEntity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThrottledEntity {
    /// `broker` or `topic`.
    pub kind: String,
    pub name: String,
    /// Throttle configs it had before our first `--execute` touched it (config → value).
    pub before: BTreeMap<String, String>,
}

impl ThrottleRecord {
    /// Adds the entities not recorded yet, with their configs as `now` lists them (an entity an
    /// earlier stage recorded keeps what it had before that stage: what it has now may be ours).
    pub fn add(
        &mut self,
        entities: impl IntoIterator<Item = (String, String)>,
        now: &[(String, String, String, String)],
    ) {
        for (kind, name) in entities {
            if self.entities.iter().any(|e| e.kind == kind && e.name == name) {
                continue;
            }
            let before = now
                .iter()
                .filter(|(k, n, _, _)| *k == kind && *n == name)
                .map(|(_, _, c, v)| (c.clone(), v.clone()))
                .collect();
            self.entities.push(ThrottledEntity { kind, name, before });
        }
    }

    /// The entities as the restore script takes them; names and values are checked again (the
    /// record is read back from S3).
    pub fn restores(&self) -> Result<Vec<ThrottleRestore>> {
        let bad = |e: &dyn std::fmt::Display| AppError::InvalidInput(format!("{THROTTLES_FILE}: {e}"));
        self.entities
            .iter()
            .map(|e| {
                let target = match e.kind.as_str() {
                    "broker" => ThrottleTarget::Broker(BrokerId::parse(&e.name).map_err(|x| bad(&x))?),
                    "topic" => ThrottleTarget::Topic(TopicName::parse(&e.name).map_err(|x| bad(&x))?),
                    other => return Err(bad(&format!("unknown entity kind {other:?}"))),
                };
                if let Some((c, v)) = e.before.iter().find(|(_, v)| !kafka_cli::is_throttle_value(v)) {
                    return Err(bad(&format!("{} {}: value of {c} is not a throttle value: {v:?}", e.kind, e.name)));
                }
                Ok(ThrottleRestore { target, before: e.before.clone().into_iter().collect() })
            })
            .collect()
    }

    /// Whether an operator had a throttle set on any of the entities.
    pub fn has_operator_values(&self) -> bool {
        self.entities.iter().any(|e| !e.before.is_empty())
    }
}

/// `#autoheal:throttle-config <type> <name> <config> <value>` lines: (type, name, config, value).
pub fn parse_throttle_configs(text: &str) -> Vec<(String, String, String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix(THROTTLE_CONFIG_MARKER))
        .filter_map(|rest| {
            let w: Vec<&str> = rest.split_whitespace().collect();
            match w.as_slice() {
                [kind, name, config, value] if kafka_cli::is_throttle_value(value) => {
                    Some(((*kind).to_owned(), (*name).to_owned(), (*config).to_owned(), (*value).to_owned()))
                }
                _ => None,
            }
        })
        .collect()
}

/// What a restore run did.
#[derive(Debug, Default)]
pub struct Restored {
    pub cancelled: Vec<String>,
    pub removed: Vec<String>,
    pub restored: Vec<String>,
    pub failed: Vec<String>,
    /// The script's own failure, if any.
    pub error: Option<AppError>,
}

impl<C: ClusterScaling, R: CommandRunner, S: ObjectStore> KafkaOps<C, R, S> {
    /// The record, or None when no stage was ever about to be executed.
    pub(crate) async fn throttle_record(&self, execution: &str) -> Result<Option<ThrottleRecord>> {
        let key = self.key(execution, THROTTLES_FILE)?;
        match self.store.get_object_if_exists(self.config.bucket.as_str(), key.as_str()).await? {
            Some(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| AppError::CommandFailed(format!("unreadable {THROTTLES_FILE}: {e}"))),
            None => Ok(None),
        }
    }

    pub(crate) async fn write_throttle_record(&self, execution: &str, record: &ThrottleRecord) -> Result<()> {
        let key = self.key(execution, THROTTLES_FILE)?;
        let body = serde_json::to_vec_pretty(record).map_err(|e| AppError::InvalidInput(e.to_string()))?;
        self.store.put_object(self.config.bucket.as_str(), key.as_str(), body, "application/json").await?;
        Ok(())
    }

    /// `--cancel`s `cancel` (if any) and puts the record's entities back as they were.
    pub(crate) async fn restore_throttles(
        &self,
        scripts: &KafkaScripts<'_, C, R, S>,
        state: &WorkflowState,
        run: RunId,
        cancel: Option<&PlanSource>,
        record: &ThrottleRecord,
    ) -> Result<Restored> {
        let script = kafka_cli::restore_throttles_script(&self.client(state).await?, cancel, &record.restores()?);
        let out = scripts.run(&run, &script).await?;
        let mut r = Restored {
            cancelled: kafka_cli::parse_cancel(out.sections.get(section::CANCEL).unwrap_or_default())
                .map(|v| v.iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            ..Restored::default()
        };
        let throttles = out.sections.get(section::THROTTLES).unwrap_or_default();
        let parsed = kafka_cli::parse_throttle_cleanup(throttles);
        let name = |t: &kafka_cli::ThrottledEntity| format!("{} {}: {}", t.kind, t.name, t.configs.join(","));
        r.removed = parsed.removed.iter().map(name).collect();
        r.failed = parsed.failed.iter().map(name).collect();
        r.restored = throttles
            .lines()
            .filter_map(|l| l.strip_prefix(THROTTLE_RESTORED_MARKER))
            .map(|rest| {
                let w: Vec<&str> = rest.split_whitespace().collect();
                format!("{}: {}", w.get(..2).map(|k| k.join(" ")).unwrap_or_default(), w.get(2).unwrap_or(&""))
            })
            .collect();
        if !out.ok() {
            r.error = Some(out.failure("throttle restore"));
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entity_keeps_what_it_had_before_its_first_stage() {
        let now = vec![(
            "broker".to_owned(),
            "1".to_owned(),
            "leader.replication.throttled.rate".to_owned(),
            "500".to_owned(),
        )];
        let mut r = ThrottleRecord::default();
        r.add([("broker".to_owned(), "1".to_owned()), ("topic".to_owned(), "big".to_owned())], &now);
        assert_eq!(r.entities[0].before["leader.replication.throttled.rate"], "500");
        assert!(r.entities[1].before.is_empty());
        // Stage 2 sees our own stage-1 throttle on topic big: it is not recorded as the operator's.
        let ours = vec![(
            "topic".to_owned(),
            "big".to_owned(),
            "leader.replication.throttled.replicas".to_owned(),
            "0:1".to_owned(),
        )];
        r.add([("topic".to_owned(), "big".to_owned())], &ours);
        assert!(r.entities[1].before.is_empty());
        assert!(r.has_operator_values());
        assert_eq!(r.restores().unwrap().len(), 2);
    }

    #[test]
    fn config_lines_are_read_and_unsafe_values_dropped() {
        let text = "#autoheal:throttle-config broker 1 leader.replication.throttled.rate 1000\n\
                    #autoheal:throttle-config topic t leader.replication.throttled.replicas 0:1,0:2\n\
                    #autoheal:throttle-config topic t follower.replication.throttled.replicas $(reboot)\n";
        let c = parse_throttle_configs(text);
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].3, "0:1,0:2");
    }
}
