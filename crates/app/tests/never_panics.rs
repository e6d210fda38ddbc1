//! Never a panic on input (issue 12.8): a Lambda that panics loses its event. The detector's reading
//! of alarm events (EventBridge, SNS, the alarm's Lambda action) and the approval-request's reading
//! of its payload meet arbitrary text and damaged copies of the recorded fixtures — damaged as text,
//! and node by node as JSON (the SNS message inside its envelope too) — and answer a decision or
//! `InvalidInput` with one line.

#[path = "../../domain/tests/support/mutate.rs"]
mod mutate;

use autoheal_app::approval::{ApprovalRequester, RequestConfig};
use autoheal_app::detect::{Action, decide_event};
use autoheal_app::error::AppError;
use autoheal_aws::sns::Topic;
use autoheal_domain::approval::{BaseUrl, SigningKey};
use autoheal_domain::flight::execution_name;
use autoheal_domain::kafka_cli::Throttle;
use autoheal_domain::time::Timestamp;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use mutate::{fixtures, mutated, mutated_json, named_fixtures};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::LazyLock;

/// Every recorded alarm event that is JSON (malformed.json is not, on purpose).
static ALARM_TEXTS: LazyLock<Vec<String>> = LazyLock::new(|| fixtures("alarms", &[".json"]));
static ALARMS: LazyLock<Vec<Value>> =
    LazyLock::new(|| ALARM_TEXTS.iter().filter_map(|t| serde_json::from_str(t).ok()).collect());
/// The alarm JSON inside each recorded SNS notification.
static SNS_MESSAGES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    ALARMS
        .iter()
        .filter_map(|e| e.pointer("/Records/0/Sns/Message")?.as_str())
        .filter_map(|m| serde_json::from_str(m).ok())
        .collect()
});
static REQUESTS: LazyLock<Vec<Value>> = LazyLock::new(|| {
    named_fixtures("approval", &[".json"])
        .into_iter()
        .filter(|(name, _)| name.starts_with("request-"))
        .map(|(_, t)| serde_json::from_str(&t).expect("request fixtures are JSON"))
        .collect()
});

fn one_line(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.contains('\n') && !message.contains('\r'), "multi-line error: {:?}", message);
    Ok(())
}

/// The detector's whole reading of an event: a decision (whose execution name can be made) or a
/// one-line `InvalidInput`.
fn check_event(event: &Value) -> Result<(), TestCaseError> {
    match decide_event(event) {
        Ok((decision, incident)) => {
            prop_assert_eq!(decision.action == Action::Remediate, incident.is_some());
            // The reason quotes the alarm's own metric names; it travels JSON-escaped (the CLI's
            // output, the logs), so only errors are held to one line.
            if let Some(i) = incident {
                let name = execution_name(&i.cluster_name, i.state_change_time);
                prop_assert!(name.len() <= 80, "execution name {:?}", name);
                let _ = serde_json::to_string(&i).expect("an incident serialises");
            }
        }
        Err(AppError::InvalidInput(m)) => one_line(&m)?,
        Err(other) => prop_assert!(false, "not InvalidInput: {other:?}"),
    }
    Ok(())
}

/// An SNS notification around `message` (the recorded envelope).
fn in_sns(message: &Value) -> Value {
    let mut envelope = ALARMS.iter().find(|e| e.pointer("/Records/0/Sns/Message").is_some()).unwrap().clone();
    let text = match message {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    *envelope.pointer_mut("/Records/0/Sns/Message").unwrap() = Value::String(text);
    envelope
}

fn requester() -> ApprovalRequester<Topic> {
    let publish = mock!(aws_sdk_sns::Client::publish).then_output(|| PublishOutput::builder().message_id("m").build());
    ApprovalRequester {
        notifier: Topic::new(mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&publish]), "arn:aws:sns:us-east-1:1:t"),
        key: SigningKey::from_secret(include_str!("../../../tests/fixtures/approval/test-signing-key.txt")).unwrap(),
        config: RequestConfig {
            base_url: BaseUrl::parse("https://abc.lambda-url.us-east-1.on.aws/").unwrap(),
            window_seconds: 3600,
            throttle: Throttle::default(),
        },
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());

fn check_request(payload: Value) -> Result<(), TestCaseError> {
    let now = Timestamp::parse("2026-11-25T18:00:13Z").unwrap();
    match RUNTIME.block_on(requester().handle(payload, now)) {
        Ok(_) => {}
        Err(AppError::InvalidInput(m)) => one_line(&m)?,
        Err(other) => prop_assert!(false, "not InvalidInput: {other:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn alarm_events_damaged_as_text(text in mutated(ALARM_TEXTS.clone(), 6)) {
        if let Ok(event) = serde_json::from_str::<Value>(&text) {
            check_event(&event)?;
        }
    }

    #[test]
    fn alarm_events_damaged_node_by_node(event in mutated_json(ALARMS.clone(), 6)) {
        check_event(&event)?;
    }

    #[test]
    fn sns_alarm_messages_damaged_node_by_node(message in mutated_json(SNS_MESSAGES.clone(), 6)) {
        check_event(&in_sns(&message))?;
    }

    #[test]
    fn sns_alarm_messages_damaged_as_text(
        message in mutated(SNS_MESSAGES.iter().map(Value::to_string).collect(), 6)
    ) {
        check_event(&in_sns(&Value::String(message)))?;
    }

    #[test]
    fn sns_state_change_times_of_any_text(time in any::<String>()) {
        let mut message = SNS_MESSAGES[0].clone();
        message["StateChangeTime"] = Value::String(time);
        check_event(&in_sns(&message))?;
    }

    #[test]
    fn events_of_any_text(text in any::<String>()) {
        check_event(&Value::String(text.clone()))?;
        if let Ok(event) = serde_json::from_str::<Value>(&text) {
            check_event(&event)?;
        }
    }

    #[test]
    fn approval_requests_damaged_node_by_node(payload in mutated_json(REQUESTS.clone(), 4)) {
        check_request(payload)?;
    }
}

#[test]
fn the_recorded_events_and_requests_are_read() {
    // Damage starts from these: the well-formed ones must be read as they are.
    assert!(ALARMS.len() >= 15, "{} alarm fixtures", ALARMS.len());
    assert!(!SNS_MESSAGES.is_empty() && REQUESTS.len() >= 2);
    let remediated = ALARMS.iter().filter(|e| matches!(decide_event(e), Ok((_, Some(_))))).count();
    assert!(remediated >= 4, "{remediated} events remediated");
    for r in REQUESTS.iter() {
        RUNTIME.block_on(requester().handle(r.clone(), Timestamp::parse("2026-11-25T18:00:13Z").unwrap())).unwrap();
    }
}
