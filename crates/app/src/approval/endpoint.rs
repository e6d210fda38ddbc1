//! The approval endpoint: GET (and HEAD) never act — they verify the link and show what a decision
//! would do, so mail scanners that prefetch links change nothing; POST verifies the link again and
//! answers the task token: SendTaskSuccess for approve, SendTaskFailure(`Rejected`) for reject.
//!
//! A link that is malformed (400), forged or expired (403) never reaches Step Functions. Whether a
//! valid link was used already is Step Functions' knowledge, not ours: the endpoint keeps no state,
//! and a token that is no longer awaited (answered, timed out, execution stopped) comes back as
//! TaskTimedOut / InvalidToken / TaskDoesNotExist, which is shown as 410 Gone. Every outcome is an
//! HTML page; nothing here returns an error to the runtime.

use autoheal_aws::callbacks::{TaskCallbacks, no_longer_waiting};
use autoheal_domain::approval::{Action, Decision, DecisionPage, Link, LinkError, Page, SigningKey};
use autoheal_domain::time::Timestamp;
use tracing::{error, info, warn};

/// The error Step Functions records for a rejection; the ASL's Catch matches it.
pub const REJECTED: &str = "Rejected";

/// An HTTP request reduced to what the endpoint reads. The Lambda's `main` builds it from the
/// function URL (or HTTP API) event.
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    pub method: String,
    /// Decoded query parameters.
    pub query: Vec<(String, String)>,
    /// Decoded form fields of a POST (`application/x-www-form-urlencoded`), empty otherwise.
    pub form: Vec<(String, String)>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl EndpointRequest {
    /// The link's fields: from the form when it carries a signature (the decision page's buttons),
    /// else from the query (`curl -X POST '<link>'`).
    fn link_params(&self) -> &[(String, String)] {
        if self.form.iter().any(|(k, _)| k == "sig") { &self.form } else { &self.query }
    }

    /// The operator's note: a form field (the page's textarea, `curl -d note=…`), else a query one.
    fn note(&self) -> Option<&str> {
        self.form.iter().chain(&self.query).find(|(k, _)| k == "note").map(|(_, v)| v.as_str())
    }
}

pub struct ApprovalEndpoint<C> {
    pub callbacks: C,
    pub key: SigningKey,
}

impl<C: TaskCallbacks> ApprovalEndpoint<C> {
    pub async fn handle(&self, req: &EndpointRequest, now: Timestamp) -> Page {
        match req.method.as_str() {
            "GET" | "HEAD" => self.show(req, now),
            "POST" => self.decide(req, now).await,
            other => {
                info!(method = other, "method not allowed");
                Page::method_not_allowed()
            }
        }
    }

    fn verify(&self, req: &EndpointRequest, now: Timestamp) -> Result<Link, Page> {
        let params = req.link_params().iter().map(|(k, v)| (k.as_str(), v.as_str()));
        Link::verify(params, &self.key, now).map_err(|e| {
            // Why a link was refused is worth a warning (probing, a cut link); its content is not logged.
            let reason = match &e {
                LinkError::Malformed(_) => "malformed",
                LinkError::Forged => "forged",
                LinkError::Expired(_) => "expired",
            };
            warn!(method = %req.method, reason, detail = %e, source_ip = req.source_ip.as_deref().unwrap_or("-"),
                  "approval link refused; Step Functions not called");
            Page::link_error(&e)
        })
    }

    fn show(&self, req: &EndpointRequest, now: Timestamp) -> Page {
        match self.verify(req, now) {
            Ok(link) => {
                info!(execution = %link.subject.execution, cluster = %link.subject.cluster, action = %link.action,
                      "decision page shown; nothing decided");
                DecisionPage { link: &link, key: &self.key, now }.render()
            }
            Err(page) => page,
        }
    }

    async fn decide(&self, req: &EndpointRequest, now: Timestamp) -> Page {
        let link = match self.verify(req, now) {
            Ok(link) => link,
            Err(page) => return page,
        };
        let mut decision = Decision::new(link.action, req.note(), now);
        decision.source_ip = req.source_ip.clone();
        decision.user_agent =
            req.user_agent.as_deref().map(|ua| ua.chars().filter(|c| !c.is_control()).take(200).collect());
        let result = match link.action {
            Action::Approve => match serde_json::to_string(&decision) {
                Ok(output) => self.callbacks.send_task_success(&link.token, &output).await,
                Err(e) => {
                    error!(error = %e, "cannot serialise the decision");
                    return Page::failed();
                }
            },
            Action::Reject => {
                self.callbacks.send_task_failure(&link.token, REJECTED, &decision.rejection_cause()).await
            }
        };
        let (execution, cluster) = (&link.subject.execution, &link.subject.cluster);
        match result {
            Ok(()) => {
                info!(execution = %execution, cluster = %cluster, action = %link.action,
                      source_ip = decision.source_ip.as_deref().unwrap_or("-"), note = decision.note.is_some(),
                      "decision recorded");
                match link.action {
                    Action::Approve => Page::approved(&link),
                    Action::Reject => Page::rejected(&link),
                }
            }
            Err(e) if no_longer_waiting(&e) => {
                info!(execution = %execution, action = %link.action, code = e.code.as_deref().unwrap_or("-"),
                      "the execution no longer waits for this token (already decided, timed out or stopped)");
                Page::no_longer_waiting(&link)
            }
            Err(e) if e.is_retryable() => {
                let error = redacted(&e.to_string(), &link);
                warn!(execution = %execution, error = %error, "Step Functions unavailable; decision not recorded");
                Page::try_again()
            }
            Err(e) => {
                let error = redacted(&e.to_string(), &link);
                error!(execution = %execution, error = %error, "Step Functions refused the decision");
                Page::failed()
            }
        }
    }
}

/// A service's error message may quote the token it refused; it never reaches the logs.
fn redacted(message: &str, link: &Link) -> String {
    message.replace(link.token.expose(), "<task token>")
}
