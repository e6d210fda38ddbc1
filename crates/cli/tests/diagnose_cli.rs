//! `autoheal diagnose` as operators run it: one JSON object on stdout and exit 0 for every verdict,
//! exit 2 and one line on stderr for a snapshot MSK or CloudWatch could not have produced.

use serde_json::{Value, json};
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    format!("{}/../../tests/fixtures/snapshots/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn autoheal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoheal")).args(args).output().expect("autoheal runs")
}

fn diagnosis(file: &str, extra: &[&str]) -> Value {
    let path = fixture(file);
    let mut args = vec!["diagnose", "--snapshot", &path];
    args.extend_from_slice(extra);
    let out = autoheal(&args);
    assert_eq!(out.status.code(), Some(0), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{file}: stdout is not one JSON object: {e}"))
}

#[test]
fn every_verdict() {
    for (file, verdict, remedy) in [
        ("busy-update-in-progress.json", "busy", json!({"action": "none"})),
        ("broker-unavailable-silent.json", "broker_unavailable", json!({"action": "none"})),
        ("transient.json", "transient", json!({"action": "none"})),
        ("storage.json", "storage", json!({"action": "expand_storage", "target_storage_gib": 1470})),
        ("skew.json", "skew", json!({"action": "rebalance"})),
        ("capacity-cpu.json", "capacity", json!({"action": "add_brokers", "target_broker_count": 6})),
        ("capacity-95-on-6.json", "capacity", json!({"action": "add_brokers", "target_broker_count": 12})),
        ("capacity-local-demo.json", "capacity", json!({"action": "add_brokers", "target_broker_count": 4})),
        ("capacity-at-ceiling.json", "capacity", json!({"action": "none"})),
        ("unexplained.json", "unexplained", json!({"action": "none"})),
    ] {
        let d = diagnosis(file, &[]);
        assert_eq!(d["verdict"], verdict, "{file}");
        assert_eq!(d["remedy"], remedy, "{file}");
        assert!(["low", "medium", "high", "critical"].contains(&d["severity"].as_str().unwrap()), "{file}");
        assert!(!d["evidence"].as_array().unwrap().is_empty(), "{file}");
    }
    let d = diagnosis("broker-unavailable-silent.json", &[]);
    assert_eq!(d["unavailable_brokers"], json!([2]));
    let d = diagnosis("capacity-cpu.json", &[]);
    assert_eq!(d["severity"], "high");
    assert_eq!(d["evidence"][0], "mean CPU 84% over the last 5 min on 3 of 3 brokers (threshold 60%, target 50%)");
    assert_eq!(d["sizing"]["projected_load_percent"], 42.0);
}

#[test]
fn flags_change_the_sizing() {
    let d = diagnosis("capacity-95-on-6.json", &["--max-brokers", "10"]);
    assert_eq!(d["remedy"], json!({"action": "add_brokers", "target_broker_count": 9}));
    let d = diagnosis("capacity-95-on-6.json", &["--max-brokers", "30", "--target-cpu-percent", "40"]);
    assert_eq!(d["remedy"]["target_broker_count"], 15);
    let d = diagnosis("capacity-cpu.json", &["--max-brokers", "30", "--step-per-az", "2"]);
    assert_eq!(d["remedy"]["target_broker_count"], 9);
    let d = diagnosis("unexplained.json", &["--unexplained-adds-brokers"]);
    assert_eq!(d["remedy"], json!({"action": "add_brokers", "target_broker_count": 6}));
    let d = diagnosis("capacity-at-ceiling.json", &[]);
    assert_eq!(d["refusal"]["kind"], "at_ceiling");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let (syntax, time, broker, uneven, order) = (
        fixture("malformed-syntax.json"),
        fixture("malformed-time.json"),
        fixture("malformed-broker-id.json"),
        fixture("malformed-uneven-brokers.json"),
        fixture("malformed-out-of-order.json"),
    );
    let good = fixture("capacity-cpu.json");
    for (args, says) in [
        (vec!["diagnose", "--snapshot", &syntax], "malformed snapshot JSON at line 3"),
        (vec!["diagnose", "--snapshot", &time], "invalid timestamp"),
        (vec!["diagnose", "--snapshot", &broker], "is not a Broker ID"),
        (vec!["diagnose", "--snapshot", &uneven], "not a positive multiple of az_count 3"),
        (vec!["diagnose", "--snapshot", &order], "not in increasing time order"),
        (vec!["diagnose", "--snapshot", "/nonexistent/snapshot.json"], "cannot read /nonexistent/snapshot.json"),
        (vec!["diagnose", "--snapshot", &good, "--target-cpu-percent", "0"], "--target-cpu-percent"),
        (vec!["diagnose", "--snapshot", &good, "--step-per-az", "0"], "--step-per-az"),
        (vec!["diagnose"], "--snapshot"),
    ] {
        let out = autoheal(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.starts_with("autoheal: "), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_autoheal"))
        .args(["diagnose", "--snapshot", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let snapshot = std::fs::read(fixture("skew.json")).unwrap();
    child.stdin.take().unwrap().write_all(&snapshot).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["verdict"], "skew");
}

#[test]
fn damaged_snapshots_exit_0_or_2_never_a_panic() {
    let good = std::fs::read(fixture("broker-unavailable-silent.json")).unwrap();
    let dir = std::env::temp_dir().join(format!("autoheal-diagnose-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("damaged.json");
    let path = path.to_str().unwrap();
    // Cuts and byte changes spread over the whole file: syntax, names, times, numbers, ids.
    for i in 1..=24usize {
        let at = good.len() * i / 25;
        let mut damaged = good.clone();
        match i % 3 {
            0 => damaged.truncate(at),
            1 => damaged[at] = b'9',
            _ => damaged[at] = b'"',
        }
        std::fs::write(path, &damaged).unwrap();
        let out = autoheal(&["diagnose", "--snapshot", path]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                serde_json::from_slice::<Value>(&out.stdout).unwrap_or_else(|e| panic!("cut {i}: {e}"));
            }
            Some(2) => assert_eq!(stderr.trim_end().lines().count(), 1, "cut {i}: {stderr}"),
            other => panic!("cut {i}: exit {other:?}: {stderr}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
