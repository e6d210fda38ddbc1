//! `autoheal verify --output FILE`: VerifyReassignment's verdict on a recorded
//! `kafka-reassign-partitions.sh --verify` output, offline — in progress (wait and verify again),
//! stage complete (execute the next one), complete (confirm), or failed (and why). The kafka-ops use
//! case itself runs over [`Replay`]: the recording answers its `--verify`; the preferred leader
//! election it starts after a finished stage is listed, not run.

use crate::dry_run::{
    EXECUTION, PREFIX, REPLAY_BUDGET, Replay, count, kafka_ops, offline_state, read_text, report, script_output,
};
use crate::error::CliError;
use autoheal_app::AppError;
use autoheal_app::workflow::kafka_ops::Invocation;
use autoheal_app::workflow::state::ReassignmentStatus;
use autoheal_domain::kafka_cli::{self, Throttle, section};
use autoheal_domain::time::Timestamp;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// What `kafka-reassign-partitions.sh --verify` printed (Kafka 2.x, 3.x or 4.x wording); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// The stage verified (1-based; plans with MAX_MOVES_PER_BROKER run in stages).
    #[arg(long, value_name = "K", default_value = "1", allow_hyphen_values = true)]
    pub stage: String,
    /// How many stages the plan has.
    #[arg(long, value_name = "N", default_value = "1", allow_hyphen_values = true)]
    pub stages: String,
    /// Minutes since the stage was started (checked against the time limit).
    #[arg(long, value_name = "MINUTES", default_value = "0", allow_hyphen_values = true)]
    pub running_for: String,
    /// The time limit of one stage (the stack's ReassignTimeoutSeconds / 60; default 720).
    #[arg(long, value_name = "MINUTES", default_value = "720", allow_hyphen_values = true)]
    pub timeout_minutes: String,
    /// Consecutive earlier verifies that already read a partition as neither at its target nor
    /// reassigning (the stage fails on the third in a row; once can be a broker's lagging metadata).
    #[arg(long, value_name = "N", default_value = "0", allow_hyphen_values = true)]
    pub stalled_verifies: String,
}

pub async fn run(args: Args) -> Result<(), CliError> {
    let text = read_text(&args.output)?;
    // Bad recordings are the operator's input: refuse them before the use case sees them.
    kafka_cli::parse_verify(&text).map_err(|e| CliError::input(format!("{}: {e}", args.output.display())))?;
    let (stage, stages) = (count("--stage", &args.stage)?, count("--stages", &args.stages)?);
    if stage == 0 || stage > stages {
        return Err(CliError::input(format!("--stage {stage} of --stages {stages}: expected 1 to {stages}")));
    }
    let running_for = count("--running-for", &args.running_for)?;
    let timeout = count("--timeout-minutes", &args.timeout_minutes)?;
    let stalled = count("--stalled-verifies", &args.stalled_verifies)?;

    let now = Timestamp::now();
    let started = now.plus_minutes(-i64::from(running_for));
    let dir = format!("{PREFIX}/{EXECUTION}");
    let stage_keys: Vec<String> = (1..=stages).map(|n| format!("{dir}/stage-{n}.json")).collect();
    let mut state = offline_state(2, 4, 2)?;
    let extra = json!({
        "settings": {"scale_poll_seconds": 60, "scale_timeout_seconds": 5400, "verify_poll_seconds": 30,
                     "reassign_timeout_seconds": u64::from(timeout) * 60},
        "plan": {"s3_bucket": "autoheal-dry-run", "s3_prefix": dir, "plan_key": format!("{dir}/plan.json"),
                 "rollback_key": format!("{dir}/rollback.json"), "stage_keys": stage_keys, "changed_partitions": 0,
                 "moves": 0, "lower_bound": 0, "leader_changes": 0, "bytes_moved": null, "eta_seconds": null,
                 "replica_spread_before": 0, "replica_spread_after": 0, "throttle_bytes_per_sec": 1,
                 "topics": [], "brokers": []},
        "reassignment": {"stage": stage - 1, "stages": stages, "status": "in_progress", "started_at": started,
                         "stage_started_at": started, "verifies": 0, "partitions_complete": 0,
                         "partitions_in_progress": 0, "throttles_removed": false,
                         "stalled_verifies": stalled},
    });
    let mut v = serde_json::to_value(&state).map_err(|e| CliError::failed(e.to_string()))?;
    for (k, val) in extra.as_object().into_iter().flatten() {
        v[k.as_str()] = val.clone();
    }
    state = serde_json::from_value(v).map_err(|e| CliError::failed(format!("dry-run state: {e}")))?;

    let mut replay = Replay::new([("verify", script_output(&[(section::VERIFY, &text)]))]);
    let empty_stage = br#"{"version":1,"partitions":[]}"#;
    for k in &stage_keys {
        replay = replay.with_object(k, empty_stage);
    }
    let ops = kafka_ops(&replay, Throttle::default(), None)?;
    let result = ops.verify(state, Invocation::lasting(EXECUTION, now, REPLAY_BUDGET)).await.and_then(|s| {
        let r = s.reassignment.ok_or_else(|| AppError::InvalidInput("verify returned no progress".into()))?;
        let next = match r.status {
            ReassignmentStatus::InProgress => "WaitForReassignment, then VerifyReassignment again",
            ReassignmentStatus::StageComplete => "ExecuteReassignment (the next stage)",
            ReassignmentStatus::Complete => "ConfirmHealed",
        };
        let decision = json!({
            "status": r.status,
            "stage": stage,
            "stages": stages,
            // `stage` already points at the next stage (0-based) once one is complete.
            "next_stage": (r.status == ReassignmentStatus::StageComplete).then_some(r.stage + 1),
            "partitions_complete": r.partitions_complete,
            "partitions_in_progress": r.partitions_in_progress,
            "throttles_removed": r.throttles_removed,
            "stalled_verifies": r.stalled_verifies,
        });
        Ok((decision, next))
    });
    report("VerifyReassignment", "kafka-ops", result, json!({"scripts": replay.scripts()}))
}
