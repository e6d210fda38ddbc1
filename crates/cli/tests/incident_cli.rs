//! `autoheal incident` as operators run it: one JSON object on stdout, exit 2 and one line on bad input.

use serde_json::Value;
use std::process::{Command, Output};

fn fixture(name: &str) -> String {
    format!("{}/../../tests/fixtures/alarms/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn autoheal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoheal")).args(args).output().expect("autoheal runs")
}

fn decision(file: &str) -> Value {
    let out = autoheal(&["incident", "--event", &fixture(file)]);
    assert!(out.status.success(), "{file}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{file}: stdout is not one JSON object: {e}"))
}

#[test]
fn decides_on_all_three_shapes() {
    for file in ["eventbridge-urp-broker.json", "sns-urp-metric-math.json", "alarm-action-urp.json"] {
        let d = decision(file);
        assert_eq!(d["incident_type"], "MSKClusterCapacityInsufficient", "{file}");
        assert_eq!(d["severity"], "High", "{file}");
        assert_eq!(d["cluster_name"], "msk-demo", "{file}");
        assert_eq!(d["state"], "ALARM", "{file}");
        assert_eq!(d["action"], "remediate", "{file}");
        assert!(d["alarm_name"].as_str().unwrap().starts_with("msk-demo-urp"), "{file}");
        assert!(d["reason"].as_str().unwrap().contains("UnderReplicatedPartitions > 0"), "{file}");
    }
    let d = decision("eventbridge-urp-ok.json");
    assert_eq!(d["action"], "ignore");
    assert_eq!(d["incident_type"], Value::Null);
    assert_eq!(d["severity"], Value::Null);
    assert_eq!(d["cluster_name"], "msk-demo");
    assert!(d["reason"].as_str().unwrap().contains("entered OK"));
    assert_eq!(decision("eventbridge-composite.json")["action"], "ignore");
}

#[test]
fn bad_input_exits_2_with_one_line() {
    for (args, says) in [
        (vec!["incident", "--event", &fixture("malformed.json")], "malformed JSON at line 3 column"),
        (vec!["incident", "--event", &fixture("s3-put-event.json")], "malformed SNS event"),
        (vec!["incident", "--event", &fixture("eventbridge-urp-bad-cluster-name.json")], "invalid cluster name"),
        (vec!["incident", "--event", "/nonexistent/event.json"], "cannot read /nonexistent/event.json"),
        (vec!["incident"], "--event"),
        (vec!["incident", "--event"], "--event"),
    ] {
        let out = autoheal(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        if args.len() == 3 {
            assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        }
    }
}

#[test]
fn reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_autoheal"))
        .args(["incident", "--event", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let event = std::fs::read(fixture("alarm-action-urp.json")).unwrap();
    child.stdin.take().unwrap().write_all(&event).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(d["action"], "remediate");
}
