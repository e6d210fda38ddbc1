//! The workflow state stays far below Step Functions' 256 KB (`States.DataLimitExceeded`, which no
//! `States.ALL` Catch sees) however big the cluster: every list that grows with topics or
//! partitions is capped on its way out of a Lambda (`workflow::output`), with its full count kept.

use autoheal_app::workflow::state::LIST_CAP;
use autoheal_app::workflow::{WorkflowState, output};
use serde_json::{Value, json};

/// Step Functions' limit on a state's input or output.
const LIMIT: usize = 256 * 1024;

/// The state of a failed remediation of a cluster with `topics` topics of `partitions` partitions
/// each, long topic names, every partition in every list the workflow keeps.
fn big_state(topics: usize, partitions: usize) -> WorkflowState {
    let names: Vec<String> =
        (0..topics).map(|t| format!("orders.eu-west-1.payments-service.events-v2-{t:04}")).collect();
    let tps: Vec<String> = names.iter().flat_map(|n| (0..partitions).map(move |p| format!("{n}-{p}"))).collect();
    let reasons: Vec<String> = tps
        .iter()
        .map(|tp| format!("{tp}: Preferred replica 3 is not in the ISR, leader election not possible"))
        .collect();
    let throttles: Vec<String> = names
        .iter()
        .map(|n| format!("topic {n}: leader.replication.throttled.replicas,follower.replication.throttled.replicas"))
        .collect();
    serde_json::from_value(json!({
        "cluster_arn": "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
        "cluster_name": "demo", "incident": {"type": "MSKClusterCapacityInsufficient"},
        "current_broker_count": 6, "target_broker_count": 9, "az_count": 3, "current_version": "K1", "mode": "auto",
        "plan": {"s3_bucket": "plans-1", "s3_prefix": "autoheal/x", "plan_key": "autoheal/x/plan.json",
                 "rollback_key": "autoheal/x/rollback.json", "stage_keys": ["autoheal/x/stage-1.json"],
                 "changed_partitions": tps.len(), "moves": tps.len(), "lower_bound": tps.len(), "leader_changes": 0,
                 "bytes_moved": null, "eta_seconds": null, "replica_spread_before": 9, "replica_spread_after": 0,
                 "throttle_bytes_per_sec": 1, "topics": names, "brokers": [1, 2, 3, 4, 5, 6, 7, 8, 9]},
        "reassignment": {"stage": 0, "stages": 1, "status": "complete", "started_at": "2026-11-25T18:00:00Z",
                         "stage_started_at": "2026-11-25T18:00:00Z", "verifies": 9, "partitions_complete": tps.len(),
                         "partitions_in_progress": 0, "throttles_removed": true, "election_failures": reasons},
        "cleanup": {"skipped": null, "cancelled": tps, "throttles_removed": throttles.clone(),
                    "throttles_restored": throttles.clone(), "throttles_failed": throttles, "error": null}
    }))
    .unwrap()
}

fn size(v: &Value) -> usize {
    serde_json::to_vec(v).unwrap().len()
}

#[test]
fn a_capture_of_300_topics_keeps_the_state_far_below_256_kb() {
    let state = big_state(300, 12);
    let raw = serde_json::to_value(&state).unwrap();
    assert!(size(&raw) > LIMIT, "the uncapped state ({} B) would fail the execution: the test can fail", size(&raw));

    let out = output(&state).unwrap();
    eprintln!("state of 300 topics, 3600 partitions: {} B uncapped, {} B capped", size(&raw), size(&out));
    // The Task's input wraps the state ({step, execution, state}); keep a wide margin below 256 KB.
    assert!(size(&out) < LIMIT / 4, "capped state is {} B", size(&out));
    assert_eq!(out["plan"]["topics"].as_array().unwrap().len(), LIST_CAP);
    assert_eq!(out["capped"]["plan.topics"], json!({"total": 300, "full": "s3://plans-1/autoheal/x/plan.json"}));
    assert_eq!(out["capped"]["reassignment.election_failures"]["total"], 3600);
    assert_eq!(out["capped"]["cleanup.cancelled"]["total"], 3600);
    assert_eq!(out["cleanup"]["cancelled"].as_array().unwrap().len(), LIST_CAP);

    // The next step reads it back as a state and knows the topics are incomplete.
    let back: WorkflowState = serde_json::from_value(out.clone()).unwrap();
    assert!(back.is_capped("plan.topics"));
    assert!(!back.is_capped("cleanup.throttles_failed") || back.cleanup.unwrap().throttles_failed.len() == LIST_CAP);
    // Capping again changes nothing (every Lambda's output goes through it).
    let twice = output(&serde_json::from_value(out.clone()).unwrap()).unwrap();
    assert_eq!(twice, out);
}

#[test]
fn small_lists_pass_unchanged() {
    let state = big_state(3, 2);
    let out = output(&state).unwrap();
    assert_eq!(out, serde_json::to_value(&state).unwrap());
    assert!(out.get("capped").is_none());
}
