//! The approval Lambda's HTTP edge with real function URL events (tests/fixtures/approval, signed by
//! an independent Python implementation of the link format) and a mocked Step Functions: a GET shows
//! the page and calls nothing; the page's Reject form, POSTed, fails the task once with `Rejected`;
//! a link changed in transit is refused before any call.

use approval::respond;
use autoheal_app::approval::ApprovalEndpoint;
use autoheal_aws::callbacks::StepFunctionsCallbacks;
use autoheal_domain::approval::SigningKey;
use autoheal_domain::time::Timestamp;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
use aws_smithy_mocks::{Rule, RuleMode, mock, mock_client};
use lambda_http::Body;

const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAbQ9Zx7f2Vb0c3+Kp1rJ6m0hWq/Tz4s8yN2dLfG5aUeXo1RkQ7cVjB3HnM9tPwE6gY0iZrS2xCvD8bFqL4hN7oKmU1pJ3eW5yTzA==";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../tests/fixtures/approval/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn endpoint(rules: &[&Rule]) -> ApprovalEndpoint<StepFunctionsCallbacks> {
    let key = SigningKey::from_secret(&fixture("test-signing-key.txt")).unwrap();
    ApprovalEndpoint {
        callbacks: StepFunctionsCallbacks::new(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules)),
        key,
    }
}

fn rules() -> (Rule, Rule) {
    let ok = mock!(aws_sdk_sfn::Client::send_task_success)
        .match_requests(|r| r.task_token() == Some(TOKEN))
        .then_output(|| SendTaskSuccessOutput::builder().build());
    let fail = mock!(aws_sdk_sfn::Client::send_task_failure)
        .match_requests(|r| {
            r.task_token() == Some(TOKEN)
                && r.error() == Some("Rejected")
                && r.cause().is_some_and(|c| c.ends_with("from 203.0.113.7: not during the sale"))
        })
        .then_output(|| SendTaskFailureOutput::builder().build());
    (ok, fail)
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-25T18:10:00Z").unwrap()
}

fn html(body: &Body) -> &str {
    match body {
        Body::Text(t) => t,
        other => panic!("expected HTML, got {other:?}"),
    }
}

#[tokio::test]
async fn get_shows_the_page_and_calls_nothing() {
    let (ok, fail) = rules();
    let ep = endpoint(&[&ok, &fail]);
    let req = lambda_http::request::from_str(&fixture("function-url-get-approve.json")).unwrap();
    let resp = respond(&ep, req, now()).await;
    assert_eq!(resp.status(), 200, "{}", html(resp.body()));
    assert!(html(resp.body()).contains("Approve scaling demo?"));
    assert_eq!(resp.headers()["cache-control"], "no-store");
    assert_eq!((ok.num_calls(), fail.num_calls()), (0, 0));
}

#[tokio::test]
async fn the_pages_reject_form_fails_the_task_once() {
    let (ok, fail) = rules();
    let ep = endpoint(&[&ok, &fail]);
    let req = lambda_http::request::from_str(&fixture("function-url-post-reject.json")).unwrap();
    let resp = respond(&ep, req, now()).await;
    assert_eq!(resp.status(), 200, "{}", html(resp.body()));
    assert!(html(resp.body()).contains("<h1>Rejected</h1>"));
    assert_eq!((ok.num_calls(), fail.num_calls()), (0, 1));
}

#[tokio::test]
async fn a_link_changed_in_transit_is_refused_before_any_call() {
    let (ok, fail) = rules();
    let ep = endpoint(&[&ok, &fail]);
    let forged = fixture("function-url-get-approve.json").replace("to=4", "to=8");
    let mut event: serde_json::Value = serde_json::from_str(&forged).unwrap();
    event["requestContext"]["http"]["method"] = "POST".into();
    let req = lambda_http::request::from_str(&event.to_string()).unwrap();
    let resp = respond(&ep, req, now()).await;
    assert_eq!(resp.status(), 403);
    assert!(html(resp.body()).contains("This link is not valid"));
    assert_eq!((ok.num_calls(), fail.num_calls()), (0, 0));
}
