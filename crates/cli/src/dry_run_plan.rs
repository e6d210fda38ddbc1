//! `autoheal dry-run-plan --describe FILE --brokers FILE --target N`: the approval branch's
//! DryRunPlan, offline — the current assignment planned onto the brokers the scale-out is expected
//! to add (ids and racks predicted as MSK assigns them), with the moves, bytes and ETA the approval
//! email shows, and the assumptions it states. The kafka-ops use case itself runs over [`Replay`],
//! answered by the recordings; its output is exactly what the Lambda puts in `$.dry_run`.

use crate::dry_run::{
    EXECUTION, REPLAY_BUDGET, Replay, count, kafka_ops, offline_state, read_text, report, script_output,
};
use crate::error::CliError;
use autoheal_app::AppError;
use autoheal_app::workflow::kafka_ops::Invocation;
use autoheal_domain::kafka_cli::{self, Throttle, section};
use autoheal_domain::time::Timestamp;
use autoheal_planner::formats::{parse_describe, parse_log_dirs};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// What `kafka-topics.sh --describe` prints now; `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub describe: PathBuf,
    /// The `host:port (id: N rack: R ...)` lines of `kafka-broker-api-versions.sh` (the racks).
    #[arg(long, value_name = "FILE")]
    pub brokers: Option<PathBuf>,
    /// What `kafka-log-dirs.sh --describe` prints (replica sizes: bytes and ETA).
    #[arg(long, value_name = "FILE")]
    pub log_dirs: Option<PathBuf>,
    /// The broker count the workflow would scale to.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub target: String,
    /// MSK's broker count now (default: the brokers Kafka lists).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub cluster_brokers: Option<String>,
    /// The cluster's AZ count (default: the number of racks the brokers report, or 1).
    #[arg(long, value_name = "K", allow_hyphen_values = true)]
    pub az_count: Option<String>,
    /// Replication throttle of the moves, bytes per second (the stack's ThrottleBytesPerSec).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub throttle: Option<String>,
    /// At most this many moves per broker per stage (MAX_MOVES_PER_BROKER).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_moves_per_broker: Option<String>,
}

pub async fn run(args: Args) -> Result<(), CliError> {
    let bad = |p: &PathBuf, e: &dyn std::fmt::Display| CliError::input(format!("{}: {e}", p.display()));
    let describe = read_text(&args.describe)?;
    let assignment = parse_describe(&describe).map_err(|e| bad(&args.describe, &e))?;
    let mut listed: BTreeSet<i32> = assignment.brokers().into_iter().collect();
    let mut sections = vec![(section::TOPICS, describe)];
    let mut racks = 0;
    if let Some(p) = &args.log_dirs {
        let text = read_text(p)?;
        let ld = parse_log_dirs(&text).map_err(|e| bad(p, &e))?;
        listed.extend(ld.brokers.iter().map(|b| b.broker));
        sections.push((section::LOG_DIRS, text));
    }
    if let Some(p) = &args.brokers {
        let text = read_text(p)?;
        let seen = kafka_cli::parse_brokers(&text)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| bad(p, &"no `host:port (id: N rack: R ...)` line of kafka-broker-api-versions.sh"))?;
        listed.extend(seen.iter().map(|b| b.broker.get() as i32));
        racks = seen.iter().filter_map(|b| b.rack.clone()).collect::<BTreeSet<_>>().len();
        sections.push((section::BROKERS, text));
    }
    let target = count("--target", &args.target)?;
    let cluster_brokers = match &args.cluster_brokers {
        Some(s) => count("--cluster-brokers", s)?,
        None => listed.len() as u32,
    };
    let az_count = match &args.az_count {
        Some(s) => count("--az-count", s)?,
        None => racks.max(1) as u32,
    };
    if az_count == 0 {
        return Err(CliError::input("--az-count must be at least 1"));
    }
    let throttle = args
        .throttle
        .as_deref()
        .map(Throttle::parse)
        .transpose()
        .map_err(|e| CliError::input(format!("--throttle: {e}")))?
        .unwrap_or_default();
    let max_moves = args.max_moves_per_broker.as_deref().map(|s| count("--max-moves-per-broker", s)).transpose()?;
    if max_moves == Some(0) {
        return Err(CliError::input("--max-moves-per-broker must be at least 1"));
    }

    let state = offline_state(cluster_brokers, target, az_count)?;
    let recorded: Vec<(&str, &str)> = sections.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let replay = Replay::new([("dry-run", script_output(&recorded))]);
    let ops = kafka_ops(&replay, throttle, max_moves)?;
    let result =
        ops.dry_run(state, Invocation::lasting(EXECUTION, Timestamp::now(), REPLAY_BUDGET)).await.and_then(|s| {
            let d = s.dry_run.ok_or_else(|| AppError::InvalidInput("the dry run returned no estimate".into()))?;
            let proposed = replay
                .object(&d.plan_key)
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null);
            let estimate = serde_json::to_value(&d).map_err(|e| AppError::InvalidInput(e.to_string()))?;
            Ok((json!({"estimate": estimate, "proposed_reassignment": proposed}), "PrepareApproval"))
        });
    report("DryRunPlan", "kafka-ops", result, json!({"az_count": az_count, "cluster_brokers": cluster_brokers}))
}
