//! The workflow dry runs as operators run them: `autoheal dry-run-plan`, `verify` and `confirm` on
//! Kafka CLI output recorded from real Kafka (tests/fixtures/kafka), and bad input for every dry run
//! (exit 2, one line, before anything is read from AWS). `assess` and `scale --dry-run` against
//! emulated AWS are in tests/integration/test_approval.py; their no-mutation proof over mocked MSK
//! is in the modules' unit tests.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURES: &str = "tests/fixtures/kafka";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn autoheal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoheal"))
        .args(args)
        .current_dir(root())
        // Never reach a real AWS account from a test, whatever the environment has.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("autoheal runs")
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", text(&o.stdout)))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fixture(name: &str) -> String {
    format!("{FIXTURES}/{name}")
}

/// A file under the test's own temporary directory.
fn temp_file(test: &str, name: &str, content: &str) -> String {
    let dir = std::env::temp_dir().join(format!("autoheal-dry-run-cli-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p.display().to_string()
}

/// The broker lines of brokers 1 and 2, and their log dirs: the 2-broker cluster before scaling.
fn before_scaling(test: &str) -> (String, String) {
    let brokers: String = std::fs::read_to_string(root().join(fixture("broker-api-versions-brokers-4.1.2.txt")))
        .unwrap()
        .lines()
        .filter(|l| l.contains("(id: 1 ") || l.contains("(id: 2 "))
        .map(|l| format!("{l}\n"))
        .collect();
    let log_dirs = std::fs::read_to_string(root().join(fixture("log-dirs-describe-4.1.2.txt"))).unwrap();
    let line = log_dirs.lines().find(|l| l.starts_with('{')).unwrap();
    let mut v: Value = serde_json::from_str(line).unwrap();
    v["brokers"].as_array_mut().unwrap().retain(|b| b["broker"].as_i64().unwrap() <= 2);
    (temp_file(test, "brokers.txt", &brokers), temp_file(test, "log-dirs.txt", &format!("{v}\n")))
}

fn assert_one_line_error(o: &Output, code: i32, needle: &str) {
    assert_eq!(o.status.code(), Some(code), "stdout: {}\nstderr: {}", text(&o.stdout), text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.starts_with("autoheal: ") && err.ends_with('\n') && err.lines().count() == 1, "{err:?}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn dry_run_plan_estimates_onto_the_predicted_brokers_as_the_lambda_does() {
    let (brokers, log_dirs) = before_scaling("plan");
    let describe = fixture("topics-describe-2-brokers-4.1.2.txt");
    let o = autoheal(&[
        "dry-run-plan",
        "--describe",
        &describe,
        "--brokers",
        &brokers,
        "--log-dirs",
        &log_dirs,
        "--target",
        "4",
        "--throttle",
        "10485760",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!(
        (v["step"].as_str(), v["dry_run"].as_bool(), v["outcome"].as_str()),
        (Some("DryRunPlan"), Some(true), Some("ok"))
    );
    assert_eq!(v["next"], "PrepareApproval");
    assert_eq!(v["az_count"], 2, "two racks reported: two AZs");
    let e = &v["estimate"];
    assert_eq!(e["new_brokers"], serde_json::json!([3, 4]));
    assert_eq!((e["racks"]["3"].as_str(), e["racks"]["4"].as_str()), (Some("use1-az1"), Some("use1-az2")));
    assert!(e["moves"].as_u64().unwrap() > 0 && e["moves"] == e["lower_bound"], "{e}");
    assert!(e["bytes_moved"].as_u64().unwrap() > 0 && e["eta_seconds"].as_f64().unwrap() > 0.0, "{e}");
    assert_eq!(e["throttle_bytes_per_sec"], 10485760);
    // The proposed reassignment is Kafka's JSON, moving replicas onto the new brokers only.
    let parts = v["proposed_reassignment"]["partitions"].as_array().unwrap();
    assert_eq!(parts.len() as u64, e["changed_partitions"].as_u64().unwrap());
    assert!(parts.iter().all(|p| p["replicas"].as_array().unwrap().iter().any(|b| b == 3 || b == 4)), "{parts:?}");
}

#[test]
fn dry_run_plan_refusals_say_what_the_email_would_say() {
    // No racks on a cluster of 2 AZs: the post-scale plan would refuse; the dry run says so.
    let o = autoheal(&[
        "dry-run-plan",
        "--describe",
        &fixture("topics-describe-2-brokers-4.1.2.txt"),
        "--target",
        "4",
        "--az-count",
        "2",
    ]);
    assert_one_line_error(&o, 1, "DryRunPlan would fail: broker racks are unknown");
    let v = json(&o);
    assert_eq!((v["outcome"].as_str(), v["error_type"].as_str()), (Some("fails"), Some("CommandFailed")));
    assert!(v["next"].as_str().unwrap().starts_with("PrepareApproval"), "a failed dry run never blocks the approval");
}

#[test]
fn verify_gives_the_lambda_s_verdict_on_recorded_output() {
    let o = autoheal(&["verify", "--output", &fixture("reassign-verify-in-progress-4.1.2.txt")]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!((v["status"].as_str(), v["partitions_in_progress"].as_u64()), (Some("in_progress"), Some(4)));
    assert!(v["next"].as_str().unwrap().starts_with("WaitForReassignment"));

    // Stage 1 of 2 complete: the next stage is executed; the leader election is listed, not run.
    let o = autoheal(&[
        "verify",
        "--output",
        &fixture("reassign-verify-complete-3.6.2.txt"),
        "--stage",
        "1",
        "--stages",
        "2",
    ]);
    let v = json(&o);
    assert_eq!(
        (v["status"].as_str(), v["next_stage"].as_u64(), v["throttles_removed"].as_bool()),
        (Some("stage_complete"), Some(2), Some(true))
    );
    let scripts = v["scripts"].as_array().unwrap();
    assert_eq!(scripts[0]["what"], "verify");
    assert!(
        scripts.iter().skip(1).all(|s| s["answered_from"] == "not run (dry run)"),
        "whatever follows --verify changes the cluster and is not run: {scripts:?}"
    );
    let o = autoheal(&[
        "verify",
        "--output",
        &fixture("reassign-verify-complete-4.1.2.txt"),
        "--stage",
        "2",
        "--stages",
        "2",
    ]);
    assert_eq!((json(&o)["status"].as_str(), json(&o)["next"].as_str()), (Some("complete"), Some("ConfirmHealed")));

    // Cancelled partitions: read that way once, verify again (a broker's metadata may lag the
    // controller); the third time in a row, and a stage past its time limit: ReassignmentFailed, exit 1.
    let o = autoheal(&["verify", "--output", &fixture("reassign-verify-cancelled-4.1.2.txt")]);
    assert_eq!((json(&o)["status"].as_str(), json(&o)["stalled_verifies"].as_u64()), (Some("in_progress"), Some(1)));
    let o =
        autoheal(&["verify", "--output", &fixture("reassign-verify-cancelled-4.1.2.txt"), "--stalled-verifies", "2"]);
    assert_one_line_error(&o, 1, "(ReassignmentFailed)");
    assert_eq!(json(&o)["next"], "Cleanup");
    let o = autoheal(&[
        "verify",
        "--output",
        &fixture("reassign-verify-in-progress-4.1.2.txt"),
        "--running-for",
        "90",
        "--timeout-minutes",
        "60",
    ]);
    assert_one_line_error(&o, 1, "still moving 4 partitions after 90 minutes (limit 60)");
}

#[test]
fn confirm_says_healed_or_not_and_why() {
    let after = fixture("topics-describe-after-4.1.2.txt");
    // The recorded plan moved only part of the data: 9/9/4/4 replicas, spread 5.
    let o = autoheal(&["confirm", "--describe", &after]);
    assert_one_line_error(&o, 1, "spread by 5, the plan promised at most 1");
    let v = json(&o);
    assert_eq!((v["healed"].as_bool(), v["error_type"].as_str()), (Some(false), Some("NotHealed")));
    assert!(v["next"].as_str().unwrap().starts_with("ConfirmHealed (retried"), "{v}");

    let o = autoheal(&["confirm", "--describe", &after, "--promised-spread", "5"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let v = json(&o);
    assert_eq!(
        (v["healed"].as_bool(), v["under_replicated"].as_u64(), v["replica_spread"].as_u64()),
        (Some(true), Some(0), Some(5))
    );
    assert_eq!(v["replicas_per_broker"]["3"], 4);
    assert_eq!(v["next"], "NotifySuccess");

    // Brokers 3 and 4 listed by log dirs but holding nothing: not healed.
    let o = autoheal(&[
        "confirm",
        "--describe",
        &fixture("topics-describe-2-brokers-4.1.2.txt"),
        "--log-dirs",
        &fixture("log-dirs-describe-4.1.2.txt"),
    ]);
    assert_one_line_error(&o, 1, "NotHealed");
    assert_eq!(json(&o)["brokers"], Value::Null, "no health check on failure");
}

#[test]
fn bad_input_exits_2_with_one_line_and_never_reaches_aws() {
    let arn = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";
    let not_verify = fixture("topics-describe-2-brokers-4.1.2.txt");
    let garbage = temp_file("bad", "garbage.txt", "hello\n");
    for (args, needle) in [
        (vec!["scale", "--cluster-arn", arn, "--target", "4"], "add --dry-run"),
        (vec!["scale", "--cluster-arn", "arn:aws:kafka:x;reboot", "--target", "4", "--dry-run"], "--cluster-arn"),
        (vec!["scale", "--cluster-arn", arn, "--target", "-1", "--dry-run"], "--target \"-1\""),
        (vec!["scale", "--cluster-arn", arn, "--target", "0", "--dry-run"], "--target must be at least 1"),
        (vec!["assess", "--cluster-arn", "demo"], "--cluster-arn"),
        (vec!["assess", "--cluster-arn", arn, "--target", "2.5"], "--target"),
        (vec!["assess", "--cluster-arn", arn, "--step-per-az", "0"], "--step-per-az must be at least 1"),
        (vec!["assess", "--cluster-arn", arn, "--format", "yaml"], "unknown --format"),
        (vec!["assess", "--cluster-arn", arn, "--kafka-bin", "/opt/$(id)"], "--kafka-bin"),
        (vec!["verify", "--output", &not_verify], "not kafka-reassign-partitions --verify output"),
        (vec!["verify", "--output", "no/such/file"], "cannot read no/such/file"),
        (
            vec!["verify", "--output", &fixture("reassign-verify-complete-4.1.2.txt"), "--stage", "3", "--stages", "2"],
            "--stage 3",
        ),
        (vec!["confirm", "--describe", &garbage], "garbage.txt"),
        (vec!["confirm", "--describe", &not_verify, "--brokers", &garbage], "no `host:port (id: N rack: R ...)` line"),
        (vec!["dry-run-plan", "--describe", &not_verify, "--target", "four"], "--target \"four\""),
        (vec!["dry-run-plan", "--describe", &not_verify, "--target", "4", "--throttle", "0"], "--throttle"),
        (vec!["dry-run-plan", "--describe", &not_verify, "--target", "4", "--max-moves-per-broker", "0"], "at least 1"),
    ] {
        let o = autoheal(&args);
        assert_one_line_error(&o, 2, needle);
        assert!(o.stdout.is_empty(), "{args:?} printed {}", text(&o.stdout));
    }
}
