//! The detector's classification of every real-format alarm fixture in tests/fixtures/alarms.

use autoheal_app::AppError;
use autoheal_app::detect::{Action, decide_event};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/alarms/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn urp_alarms_entering_alarm_are_incidents_in_every_shape() {
    for (file, alarm) in [
        ("eventbridge-urp-broker.json", "msk-demo-urp-broker-1"),
        ("eventbridge-urp-cluster.json", "msk-demo-urp"),
        ("eventbridge-urp-metric-math.json", "msk-demo-urp-any-broker"),
        ("sns-urp-broker.json", "msk-demo-urp"),
        ("sns-urp-metric-math.json", "msk-demo-urp-any-broker"),
        ("alarm-action-urp.json", "msk-demo-urp"),
        ("alarm-action-urp-metric-math.json", "msk-demo-urp-any-broker"),
    ] {
        let (d, incident) = decide_event(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(d.action, Action::Remediate, "{file}: {}", d.reason);
        assert_eq!(d.incident_type, Some("MSKClusterCapacityInsufficient"), "{file}");
        assert_eq!(serde_json::to_value(d.severity).unwrap(), "High", "{file}");
        assert_eq!(d.cluster_name.as_deref(), Some("msk-demo"), "{file}");
        assert_eq!(d.alarm_name, alarm, "{file}");
        assert_eq!(d.state, "ALARM", "{file}");
        let incident = incident.unwrap();
        assert_eq!(incident.signal, "UnderReplicatedPartitions > 0");
        // Every shape carries the same state change time: the execution name depends on it.
        assert_eq!(incident.state_change_time.to_string(), "2026-11-25T18:00:00.412Z", "{file}");
    }
}

#[test]
fn everything_else_is_ignored_with_a_reason() {
    for (file, state, reason_has) in [
        ("eventbridge-urp-ok.json", "OK", "entered OK"),
        ("eventbridge-urp-insufficient-data.json", "INSUFFICIENT_DATA", "entered INSUFFICIENT_DATA"),
        ("sns-urp-ok.json", "OK", "entered OK"),
        ("alarm-action-urp-insufficient-data.json", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"),
        ("eventbridge-cpu-alarm.json", "ALARM", "AWS/Kafka/CpuUser"),
        ("eventbridge-ec2-cpu-alarm.json", "ALARM", "AWS/EC2/CPUUtilization"),
        ("eventbridge-composite.json", "ALARM", "composite"),
        ("eventbridge-urp-two-clusters.json", "ALARM", "several clusters"),
    ] {
        let (d, incident) = decide_event(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(d.action, Action::Ignore, "{file}");
        assert!(incident.is_none(), "{file}");
        assert_eq!(d.incident_type, None, "{file}");
        assert_eq!(d.state, state, "{file}");
        assert!(d.reason.contains(reason_has), "{file}: {}", d.reason);
    }
}

#[test]
fn bad_input_is_invalid_input_with_one_line() {
    for (file, says) in [
        ("eventbridge-urp-bad-cluster-name.json", "invalid cluster name"),
        ("sns-not-an-alarm.json", "SNS message"),
        ("s3-put-event.json", "SNS event"),
        ("eventbridge-ec2-state-change.json", "EC2 Instance State-change Notification"),
    ] {
        let err = decide_event(&fixture(file)).unwrap_err();
        assert!(matches!(err, AppError::InvalidInput(_)), "{file}: {err:?}");
        let msg = err.to_string();
        assert!(msg.contains(says), "{file}: {msg}");
        assert!(!msg.contains('\n'), "{file}: {msg}");
    }
    for v in [serde_json::json!([]), serde_json::json!({"hello": 1}), serde_json::json!("str")] {
        assert!(matches!(decide_event(&v), Err(AppError::InvalidInput(_))), "{v}");
    }
}
