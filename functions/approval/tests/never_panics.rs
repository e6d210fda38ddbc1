//! Never a panic on input (issue 12.8), at the approval endpoint's HTTP edge: the recorded function
//! URL requests (a GET of a link, a form POST), damaged node by node and as text — query strings,
//! base64 bodies, headers, methods — are read into an `EndpointRequest` and answered with a page.
//! A damaged link is refused; one that still verifies decides exactly what the recorded one does.

#[path = "../../../crates/domain/tests/support/mutate.rs"]
mod mutate;

use approval::{endpoint_request, http_response, respond};
use autoheal_app::approval::ApprovalEndpoint;
use autoheal_aws::callbacks::StepFunctionsCallbacks;
use autoheal_domain::approval::SigningKey;
use autoheal_domain::time::Timestamp;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use mutate::{mutated, mutated_json, named_fixtures};
use proptest::prelude::*;
use serde_json::Value;
use std::sync::LazyLock;

static EVENTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    named_fixtures("approval", &[".json"])
        .into_iter()
        .filter(|(name, _)| name.starts_with("function-url-"))
        .map(|(_, text)| text)
        .collect()
});

static RUNTIME: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());

fn endpoint() -> ApprovalEndpoint<StepFunctionsCallbacks> {
    let ok = mock!(aws_sdk_sfn::Client::send_task_success).then_output(|| SendTaskSuccessOutput::builder().build());
    let fail = mock!(aws_sdk_sfn::Client::send_task_failure).then_output(|| SendTaskFailureOutput::builder().build());
    ApprovalEndpoint {
        callbacks: StepFunctionsCallbacks::new(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&ok, &fail])),
        key: SigningKey::from_secret(include_str!("../../../tests/fixtures/approval/test-signing-key.txt")).unwrap(),
    }
}

/// A function URL event as text: read (or refused by the runtime's own parser), answered with a page.
///
/// lambda_http's conversion of the event into an `http::Request` panics on events AWS never sends (a
/// body flagged base64 that is not, a path or host that is no URI: `expect`s in lambda_http 1.3 and
/// aws_lambda_events 1.2, before any code of ours runs; lambda_runtime answers that invocation with
/// an error). Those cases are left to the library; everything from the request on is ours and held
/// to "never a panic".
fn check(event: &str) -> Result<(), TestCaseError> {
    let parsed = std::panic::catch_unwind(|| lambda_http::request::from_str(event));
    let Ok(Ok(req)) = parsed else { return Ok(()) };
    let request = endpoint_request(&req);
    let now = Timestamp::parse("2026-11-25T18:10:00Z").unwrap();
    let response = RUNTIME.block_on(respond(&endpoint(), req, now));
    let status = response.status().as_u16();
    prop_assert!(matches!(status, 200 | 400 | 403 | 405 | 410 | 502 | 503), "status {}", status);
    // A 200 to a GET or POST is only ever the recorded link's own decision.
    if status == 200 && request.method != "HEAD" {
        let params = if request.form.iter().any(|(k, _)| k == "sig") { &request.form } else { &request.query };
        let cluster = params.iter().find(|(k, _)| k == "cluster").map(|(_, v)| v.as_str());
        prop_assert_eq!(cluster, Some("demo"));
    }
    let _ = http_response(autoheal_domain::approval::Page::method_not_allowed(), request.method == "HEAD");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn function_url_events_damaged_node_by_node(
        event in mutated_json(EVENTS.iter().map(|e| serde_json::from_str::<Value>(e).unwrap()).collect(), 4)
    ) {
        check(&event.to_string())?;
    }

    #[test]
    fn function_url_events_damaged_as_text(event in mutated(EVENTS.clone(), 6)) {
        check(&event)?;
    }
}

#[test]
fn the_recorded_requests_are_answered() {
    let now = Timestamp::parse("2026-11-25T18:10:00Z").unwrap();
    for e in EVENTS.iter() {
        let req = lambda_http::request::from_str(e).unwrap();
        let response = RUNTIME.block_on(respond(&endpoint(), req, now));
        assert_eq!(response.status(), 200);
    }
}

#[test]
fn damaged_events_still_reach_the_endpoint() {
    // Most node-by-node damage leaves an event lambda_http reads, so the property runs our code.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = mutated_json(EVENTS.iter().map(|e| serde_json::from_str::<Value>(e).unwrap()).collect(), 4);
    let read = (0..200)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current().to_string())
        .filter(|e| matches!(std::panic::catch_unwind(|| lambda_http::request::from_str(e)), Ok(Ok(_))))
        .count();
    assert!(read >= 50, "only {read} of 200 damaged events read");
}
