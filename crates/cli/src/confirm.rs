//! `autoheal confirm --describe FILE`: ConfirmHealed's verdict on a recorded
//! `kafka-topics.sh --describe` (and optionally `kafka-log-dirs.sh --describe` and the broker lines
//! of `kafka-broker-api-versions.sh`), offline — healed, or not and why (partitions still
//! under-replicated, replicas spread wider than the plan promised). The kafka-ops use case itself
//! runs over [`Replay`], answered by the recordings; nothing is sent anywhere.

use crate::dry_run::{
    EXECUTION, REPLAY_BUDGET, Replay, count, kafka_ops, offline_state, read_text, report, script_output,
};
use crate::error::CliError;
use autoheal_app::AppError;
use autoheal_app::workflow::kafka_ops::Invocation;
use autoheal_domain::kafka_cli::{self, Throttle, section};
use autoheal_domain::time::Timestamp;
use autoheal_planner::formats::{parse_describe, parse_log_dirs};
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// What `kafka-topics.sh --describe` printed after the reassignment; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub describe: PathBuf,
    /// What `kafka-log-dirs.sh --describe` printed (lists brokers that hold nothing yet).
    #[arg(long, value_name = "FILE")]
    pub log_dirs: Option<PathBuf>,
    /// The `host:port (id: N rack: R ...)` lines of `kafka-broker-api-versions.sh`.
    #[arg(long, value_name = "FILE")]
    pub brokers: Option<PathBuf>,
    /// The replica spread the plan promised (its replica_spread_after; default 1).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub promised_spread: Option<String>,
}

pub async fn run(args: Args) -> Result<(), CliError> {
    let bad = |p: &PathBuf, e: &dyn std::fmt::Display| CliError::input(format!("{}: {e}", p.display()));
    let describe = read_text(&args.describe)?;
    parse_describe(&describe).map_err(|e| bad(&args.describe, &e))?;
    let mut sections = vec![(section::TOPICS, describe)];
    if let Some(p) = &args.log_dirs {
        let text = read_text(p)?;
        parse_log_dirs(&text).map_err(|e| bad(p, &e))?;
        sections.push((section::LOG_DIRS, text));
    }
    if let Some(p) = &args.brokers {
        let text = read_text(p)?;
        if kafka_cli::parse_brokers(&text).is_none_or(|b| b.is_empty()) {
            return Err(bad(p, &"no `host:port (id: N rack: R ...)` line of kafka-broker-api-versions.sh"));
        }
        sections.push((section::BROKERS, text));
    }
    let promised = args.promised_spread.as_deref().map(|s| count("--promised-spread", s)).transpose()?;

    let mut state = offline_state(2, 4, 2)?;
    if let Some(p) = promised {
        let plan = json!({"s3_bucket": "autoheal-dry-run", "s3_prefix": "autoheal/dry-run", "plan_key": "p",
            "rollback_key": "r", "stage_keys": [], "changed_partitions": 0, "moves": 0, "lower_bound": 0,
            "leader_changes": 0, "bytes_moved": null, "eta_seconds": null, "replica_spread_before": 0,
            "replica_spread_after": p, "throttle_bytes_per_sec": 1, "topics": [], "brokers": []});
        state.plan = Some(serde_json::from_value(plan).map_err(|e| CliError::failed(format!("dry-run plan: {e}")))?);
    }
    let recorded: Vec<(&str, &str)> = sections.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let replay = Replay::new([("confirm", script_output(&recorded))]);
    let ops = kafka_ops(&replay, Throttle::default(), None)?;
    let result =
        ops.confirm(state, Invocation::lasting(EXECUTION, Timestamp::now(), REPLAY_BUDGET)).await.and_then(|s| {
            let h = s.healed.ok_or_else(|| AppError::InvalidInput("confirm returned no health check".into()))?;
            let decision = json!({
                "healed": true,
                "under_replicated": h.under_replicated,
                "brokers": h.brokers,
                "replicas_per_broker": h.replicas_per_broker,
                "replica_spread": h.replica_spread,
                "promised_spread": promised.unwrap_or(1),
            });
            Ok((decision, "NotifySuccess"))
        });
    let healed = json!({"healed": result.is_ok()});
    report("ConfirmHealed", "kafka-ops", result, healed)
}
