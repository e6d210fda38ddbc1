//! The approval use cases over the real SDK adapters with mocked SDK responses: GET has no side
//! effects; a good POST answers the token exactly once; forged, expired and malformed links never
//! reach Step Functions; a second click meets Step Functions' own "no longer waiting"; the request
//! step emails links that the endpoint accepts.

use autoheal_app::approval::{ApprovalEndpoint, ApprovalRequester, EndpointRequest, RequestConfig};
use autoheal_aws::callbacks::StepFunctionsCallbacks;
use autoheal_aws::{sdk, sns::Topic};
use autoheal_domain::approval::{
    Action, BaseUrl, ExecutionName, Link, LinkSubject, SigningKey, TaskToken, parse_urlencoded,
};
use autoheal_domain::cluster::ClusterName;
use autoheal_domain::fixes::BrokerChange;
use autoheal_domain::kafka_cli::Throttle;
use autoheal_domain::time::Timestamp;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{MockResponse, Rule, RuleMode, mock, mock_client};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAbQ9Zx7f2Vb0c3+Kp1rJ6m0hWq/Tz4s8yN2dLfG5aUeXo1RkQ7cVjB3HnM9tPwE6gY0iZrS2xCvD8bFqL4hN7oKmU1pJ3eW5yTzA==";
const BASE: &str = "https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/";

fn key() -> SigningKey {
    SigningKey::from_secret("test-signing-key-0123456789abcdef0123456789abcdef").unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn link(action: Action, token: &str) -> Link {
    Link::new(
        action,
        LinkSubject {
            cluster: ClusterName::parse("demo").unwrap(),
            brokers: BrokerChange::new(2, 4).unwrap(),
            execution: ExecutionName::parse("5d41402a-demo-20261125T180000Z").unwrap(),
        },
        TaskToken::new(token).unwrap(),
        t("2026-11-25T19:00:13Z"),
    )
}

fn query(url: &str) -> Vec<(String, String)> {
    parse_urlencoded(url.split_once('?').unwrap().1)
}

fn request(method: &str, url: &str) -> EndpointRequest {
    EndpointRequest {
        method: method.into(),
        query: query(url),
        form: vec![],
        source_ip: Some("203.0.113.7".into()),
        user_agent: Some("Mozilla/5.0".into()),
    }
}

/// Step Functions as far as task tokens go: a token is answered once; afterwards (or for a token it
/// never issued) it says TaskTimedOut / InvalidToken, as the service does.
#[derive(Clone, Default)]
struct FakeCallbacks {
    waiting: Arc<Mutex<Vec<String>>>,
    successes: Arc<Mutex<Vec<(String, String)>>>,
    failures: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl FakeCallbacks {
    fn waiting_for(token: &str) -> Self {
        let f = Self::default();
        f.waiting.lock().unwrap().push(token.to_owned());
        f
    }

    fn take(&self, token: &str) -> Option<HttpResponse> {
        let mut waiting = self.waiting.lock().unwrap();
        match waiting.iter().position(|w| w == token) {
            Some(i) => {
                waiting.remove(i);
                None
            }
            None if self.successes.lock().unwrap().iter().any(|(t, _)| t == token)
                || self.failures.lock().unwrap().iter().any(|(t, _, _)| t == token) =>
            {
                Some(sfn_error(400, "TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'"))
            }
            None => Some(sfn_error(400, "InvalidToken", "Invalid Token")),
        }
    }

    fn rules(&self) -> (Rule, Rule) {
        let me = self.clone();
        let ok = mock!(aws_sdk_sfn::Client::send_task_success).then_compute_response(move |req| {
            let token = req.task_token().unwrap_or_default().to_owned();
            if let Some(err) = me.take(&token) {
                return MockResponse::Http(err);
            }
            me.successes.lock().unwrap().push((token, req.output().unwrap_or_default().to_owned()));
            MockResponse::Output(SendTaskSuccessOutput::builder().build())
        });
        let me = self.clone();
        let fail = mock!(aws_sdk_sfn::Client::send_task_failure).then_compute_response(move |req| {
            let token = req.task_token().unwrap_or_default().to_owned();
            if let Some(err) = me.take(&token) {
                return MockResponse::Http(err);
            }
            me.failures.lock().unwrap().push((
                token,
                req.error().unwrap_or_default().to_owned(),
                req.cause().unwrap_or_default().to_owned(),
            ));
            MockResponse::Output(SendTaskFailureOutput::builder().build())
        });
        (ok, fail)
    }
}

fn sfn_error(status: u16, code: &str, message: &str) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(format!(r#"{{"__type":"{code}","message":"{message}"}}"#)),
    )
}

fn fast_retries() -> aws_sdk_sfn::config::retry::RetryConfig {
    sdk::retry_config().with_initial_backoff(Duration::from_millis(1)).with_max_backoff(Duration::from_millis(2))
}

fn endpoint(rules: &[&Rule]) -> ApprovalEndpoint<StepFunctionsCallbacks> {
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c.retry_config(fast_retries()));
    ApprovalEndpoint { callbacks: StepFunctionsCallbacks::new(client), key: key() }
}

const NOW: &str = "2026-11-25T18:10:00Z";

#[tokio::test]
async fn get_and_head_show_the_decision_and_touch_nothing() {
    let fake = FakeCallbacks::waiting_for(TOKEN);
    let (ok, fail) = fake.rules();
    let ep = endpoint(&[&ok, &fail]);
    for action in [Action::Approve, Action::Reject] {
        let url = link(action, TOKEN).url(&BaseUrl::parse(BASE).unwrap(), &key());
        for method in ["GET", "HEAD", "GET"] {
            let page = ep.handle(&request(method, &url), t(NOW)).await;
            assert_eq!(page.status, 200, "{method}");
            assert!(page.html.contains("add 2 brokers to the MSK cluster demo"), "{}", page.html);
            assert!(page.html.contains("<button type=\"submit\" id=\"approve\">"));
            assert!(page.html.contains("<button type=\"submit\" id=\"reject\">"));
        }
    }
    assert_eq!((ok.num_calls(), fail.num_calls()), (0, 0), "a GET must never answer the token");
    assert_eq!(fake.waiting.lock().unwrap().len(), 1, "still waiting");
}

#[tokio::test]
async fn a_good_approve_post_calls_send_task_success_once() {
    let fake = FakeCallbacks::waiting_for(TOKEN);
    let (ok, fail) = fake.rules();
    let ep = endpoint(&[&ok, &fail]);
    let url = link(Action::Approve, TOKEN).url(&BaseUrl::parse(BASE).unwrap(), &key());
    let mut req = request("POST", &url);
    req.query.push(("note".into(), "go ahead, change CHG-42".into()));

    let page = ep.handle(&req, t(NOW)).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("<h1>Approved</h1>"));
    assert_eq!((ok.num_calls(), fail.num_calls()), (1, 0));
    let successes = fake.successes.lock().unwrap().clone();
    assert_eq!(successes.len(), 1);
    assert_eq!(successes[0].0, TOKEN, "the token arrives intact (+, / and = survived the URL)");
    let output: Value = serde_json::from_str(&successes[0].1).unwrap();
    assert_eq!(output["approved"], true);
    assert_eq!(output["action"], "approve");
    assert_eq!(output["note"], "go ahead, change CHG-42");
    assert_eq!(output["decided_at"], "2026-11-25T18:10:00Z");
    assert_eq!(output["source_ip"], "203.0.113.7");

    // The same link again (a double click, a second operator): Step Functions no longer waits.
    let again = ep.handle(&req, t("2026-11-25T18:11:00Z")).await;
    assert_eq!(again.status, 410, "{}", again.html);
    assert!(again.html.contains("no longer waiting"));
    assert_eq!(fake.successes.lock().unwrap().len(), 1, "still only one decision");
}

#[tokio::test]
async fn reject_from_the_page_form_fails_the_task_with_rejected() {
    let fake = FakeCallbacks::waiting_for(TOKEN);
    let (ok, fail) = fake.rules();
    let ep = endpoint(&[&ok, &fail]);
    // The approve link was opened; the operator pressed Reject on its page: the form carries the
    // reject fields (signed by the page) and a reason; the query still holds the approve link.
    let approve_url = link(Action::Approve, TOKEN).url(&BaseUrl::parse(BASE).unwrap(), &key());
    let page = ep.handle(&request("GET", &approve_url), t(NOW)).await;
    let mut form = hidden_fields(&page.html, "reject-form");
    form.push(("note".into(), "not during the\nsale".into()));
    let req = EndpointRequest { form, ..request("POST", &approve_url) };

    let page = ep.handle(&req, t(NOW)).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("<h1>Rejected</h1>"));
    assert_eq!((ok.num_calls(), fail.num_calls()), (0, 1));
    let failures = fake.failures.lock().unwrap().clone();
    assert_eq!(failures[0].0, TOKEN);
    assert_eq!(failures[0].1, "Rejected");
    assert_eq!(failures[0].2, "rejected by an operator at 2026-11-25T18:10:00Z from 203.0.113.7: not during the sale");
}

#[tokio::test]
async fn forged_expired_and_malformed_links_never_reach_step_functions() {
    let fake = FakeCallbacks::waiting_for(TOKEN);
    let (ok, fail) = fake.rules();
    let ep = endpoint(&[&ok, &fail]);
    let base = BaseUrl::parse(BASE).unwrap();
    let good = link(Action::Approve, TOKEN).url(&base, &key());

    // Another key: forged.
    let other = SigningKey::from_secret(&"x".repeat(48)).unwrap();
    let forged = link(Action::Approve, TOKEN).url(&base, &other);
    // A field changed after signing: forged.
    let tampered = good.replace("to=4", "to=12");
    // A reject link turned into an approve link: forged.
    let flipped = link(Action::Reject, TOKEN).url(&base, &key()).replace("action=reject", "action=approve");
    for url in [&forged, &tampered, &flipped] {
        for method in ["GET", "POST"] {
            let page = ep.handle(&request(method, url), t(NOW)).await;
            assert_eq!(page.status, 403, "{method} {url}");
            assert!(page.html.contains("This link is not valid"));
        }
    }
    // Past its expiry.
    let page = ep.handle(&request("POST", &good), t("2026-11-25T19:00:13Z")).await;
    assert_eq!(page.status, 403);
    assert!(page.html.contains("This link has expired"));
    // Cut by a mail client.
    let cut = &good[..good.find("&sig=").unwrap()];
    let page = ep.handle(&request("POST", cut), t(NOW)).await;
    assert_eq!(page.status, 400);
    assert!(page.html.contains("sig is missing"));
    // Methods that are neither.
    assert_eq!(ep.handle(&request("PUT", &good), t(NOW)).await.status, 405);

    assert_eq!((ok.num_calls(), fail.num_calls()), (0, 0), "no call to Step Functions for any of them");
}

#[tokio::test]
async fn throttling_is_a_try_again_page_and_denial_a_failure_page() {
    let busy = mock!(aws_sdk_sfn::Client::send_task_success)
        .then_http_response(|| sfn_error(400, "ThrottlingException", "Rate exceeded"));
    let ep = endpoint(&[&busy]);
    let url = link(Action::Approve, TOKEN).url(&BaseUrl::parse(BASE).unwrap(), &key());
    let page = ep.handle(&request("POST", &url), t(NOW)).await;
    assert_eq!(page.status, 503);
    assert_eq!(busy.num_calls(), sdk::MAX_ATTEMPTS as usize, "the SDK retried the throttle first");

    let denied = mock!(aws_sdk_sfn::Client::send_task_failure)
        .then_http_response(|| sfn_error(400, "AccessDeniedException", "not authorized"));
    let ep = endpoint(&[&denied]);
    let url = link(Action::Reject, TOKEN).url(&BaseUrl::parse(BASE).unwrap(), &key());
    assert_eq!(ep.handle(&request("POST", &url), t(NOW)).await.status, 502);
}

/// `name="…" value="…"` pairs of one form's hidden inputs, HTML-unescaped.
fn hidden_fields(html: &str, form_id: &str) -> Vec<(String, String)> {
    let start = html.find(&format!("id=\"{form_id}\"")).unwrap();
    let form = &html[start..start + html[start..].find("</form>").unwrap()];
    form.split("<input type=\"hidden\" ")
        .skip(1)
        .map(|s| {
            let attr = |name: &str| {
                let from = s.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                let v = &s[from..from + s[from..].find('"').unwrap()];
                v.replace("&quot;", "\"")
                    .replace("&#39;", "'")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            };
            (attr("name"), attr("value"))
        })
        .collect()
}

// ---------------------------------------------------------------------------- approval-request

fn fixture(name: &str) -> Value {
    let path = format!("{}/../../tests/fixtures/approval/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn requester(rules: &[&Rule]) -> ApprovalRequester<Topic> {
    ApprovalRequester {
        notifier: Topic::new(
            mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules),
            "arn:aws:sns:us-east-1:123456789012:t",
        ),
        key: key(),
        config: RequestConfig {
            base_url: BaseUrl::parse(BASE).unwrap(),
            window_seconds: 3600,
            throttle: Throttle::new(50 * 1024 * 1024).unwrap(),
        },
    }
}

/// (subject, message) of every Publish.
type Sent = Arc<Mutex<Vec<(String, String)>>>;

fn recording_publish() -> (Rule, Sent) {
    let sent = Arc::new(Mutex::new(Vec::new()));
    let s = sent.clone();
    let rule = mock!(aws_sdk_sns::Client::publish).then_compute_output(move |req| {
        s.lock()
            .unwrap()
            .push((req.subject().unwrap_or_default().to_owned(), req.message().unwrap_or_default().to_owned()));
        PublishOutput::builder().message_id("msg-1").build()
    });
    (rule, sent)
}

#[tokio::test]
async fn prepare_fixes_the_window_and_sends_nothing() {
    let (publish, _) = recording_publish();
    let r = requester(&[&publish]);
    let out = r.handle(fixture("request-prepare.json"), t("2026-11-25T18:00:13.456Z")).await.unwrap();
    assert_eq!(out["timeout_seconds"], 3600);
    assert_eq!(out["expires_at"], "2026-11-25T19:00:13Z", "whole seconds, as the links carry them");
    assert_eq!(publish.num_calls(), 0);

    let mut bad = fixture("request-prepare.json");
    bad["state"]["target_broker_count"] = 2.into();
    let e = r.handle(bad, t(NOW)).await.unwrap_err();
    assert_eq!(e.error_type(), "InvalidInput");
    assert_eq!(publish.num_calls(), 0);
}

#[tokio::test]
async fn the_request_emails_links_the_endpoint_accepts() {
    let (publish, sent) = recording_publish();
    let r = requester(&[&publish]);
    let out = r.handle(fixture("request-send.json"), t("2026-11-25T18:00:14Z")).await.unwrap();
    assert_eq!(out["message_id"], "msg-1");
    assert_eq!(out["expires_at"], "2026-11-25T19:00:13Z", "the window prepare fixed");
    assert!(!out.to_string().contains(TOKEN), "the Lambda's answer never carries the token");
    let (subject, body) = sent.lock().unwrap()[0].clone();
    assert_eq!(subject, "msk-autoheal: approve adding 2 brokers to demo (2 -> 4)?");
    for needle in [
        "Replica moves: 12 in 12 of 12 partitions, in 2 stages",
        "Data to copy:  6.0 GiB (6442450944 bytes)",
        "ETA:           about 1 min 1 s at that throttle",
        "captured at 2026-11-25T18:00:12.87Z",
        "Instance:  kafka.m5.large",
        "about $306.60/month",
        "The links work until 2026-11-25T19:00:13Z (59 min 59 s from now)",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in\n{body}");
    }
    let urls: Vec<&str> = body.lines().map(str::trim).filter(|l| l.starts_with(BASE)).collect();
    assert_eq!(urls.len(), 2, "{body}");

    // Both links work at the endpoint, each for its own action.
    let fake = FakeCallbacks::waiting_for(TOKEN);
    let (ok, fail) = fake.rules();
    let ep = endpoint(&[&ok, &fail]);
    assert!(urls[0].contains("action=approve") && urls[1].contains("action=reject"));
    let page = ep.handle(&request("POST", urls[1]), t("2026-11-25T18:30:00Z")).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(fake.failures.lock().unwrap()[0].1, "Rejected");
    // The approve link of the same request is now too late: one decision per token.
    assert_eq!(ep.handle(&request("POST", urls[0]), t("2026-11-25T18:30:01Z")).await.status, 410);
}

#[tokio::test]
async fn the_request_needs_the_token_and_an_open_window() {
    let (publish, _) = recording_publish();
    let r = requester(&[&publish]);
    let mut no_token = fixture("request-send.json");
    no_token.as_object_mut().unwrap().remove("task_token");
    assert_eq!(r.handle(no_token, t(NOW)).await.unwrap_err().error_type(), "InvalidInput");
    let late = r.handle(fixture("request-send.json"), t("2026-11-25T19:00:14Z")).await.unwrap_err();
    assert_eq!(late.error_type(), "InvalidInput");
    assert!(late.to_string().contains("window ended"), "{late}");
    assert_eq!(publish.num_calls(), 0);
}
