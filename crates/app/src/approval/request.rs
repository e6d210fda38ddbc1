//! approval-request: the state machine's two approval steps.
//!
//! - `prepare` (plain `lambda:invoke`): checks the state, renders the email once without sending it,
//!   and fixes the approval window — `{timeout_seconds, expires_at}` — which the ASL stores and reads
//!   back as the waiting task's `TimeoutSecondsPath`, so the links expire exactly when the wait ends.
//! - `request` (`lambda:invoke.waitForTaskToken`): signs an approve and a reject link for the task
//!   token and emails them with the plan through SNS. Its return value is ignored by Step Functions:
//!   the execution resumes only when the endpoint answers the token.
//!
//! The URLs carry the token, so neither they nor the token are ever logged.

use crate::error::{AppError, Result};
use autoheal_aws::ports::Notifier;
use autoheal_domain::approval::{
    Action, ApprovalEmail, BaseUrl, EmailText, ExecutionName, Link, LinkSubject, MAX_VALIDITY_SECONDS, PlanSummary,
    Proposal, SigningKey, TaskToken,
};
use autoheal_domain::fixes::BrokerChange;
use autoheal_domain::kafka_cli::Throttle;
use autoheal_domain::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::info;

/// The approval-request Lambda's settings (docs/ARCHITECTURE.md).
#[derive(Debug, Clone)]
pub struct RequestConfig {
    /// The endpoint the links point at.
    pub base_url: BaseUrl,
    /// How long an operator has to decide.
    pub window_seconds: i64,
    /// The reassignment's throttle, for the ETA when the plan does not carry one.
    pub throttle: Throttle,
}

impl RequestConfig {
    /// The window from minutes (fractions allowed, so local tests can use seconds), 1 s to 24 hours.
    pub fn window_from_minutes(minutes: f64) -> std::result::Result<i64, String> {
        let seconds = (minutes * 60.0).round();
        if !seconds.is_finite() || seconds < 1.0 || seconds > MAX_VALIDITY_SECONDS as f64 {
            return Err(format!("expected between 1 second and {} minutes", MAX_VALIDITY_SECONDS / 60));
        }
        Ok(seconds as i64)
    }
}

/// Which of the two steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestStep {
    Prepare,
    Request,
}

/// What the ASL passes: `{step, execution: {name}, state, task_token?}`.
#[derive(Debug, Clone, Deserialize)]
pub struct RequestInput {
    pub step: RequestStep,
    pub execution: ExecutionRef,
    pub state: StateView,
    /// `$$.Task.Token`, on the `request` step only.
    #[serde(default)]
    pub task_token: Option<TaskToken>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ExecutionRef {
    pub name: ExecutionName,
}

/// The parts of the workflow state the email needs; everything else in it is ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct StateView {
    #[serde(flatten)]
    pub proposal: Proposal,
    #[serde(default)]
    pub assessment: Option<AssessmentView>,
    #[serde(default)]
    pub capture: Option<CaptureView>,
    #[serde(default)]
    pub plan: Option<PlanView>,
    /// The approval branch's dry-run plan (kafka-ops `dry_run`, `$.dry_run`): the estimate made
    /// before scaling. Preferred over `plan`, which only a post-scale PlanReassignment writes.
    #[serde(default)]
    pub dry_run: Option<PlanSummary>,
    /// `{Error, Cause}` the ASL's Catch stored when the dry run failed: the email says why there
    /// is no estimate, and the approval goes on without one.
    #[serde(default)]
    pub dry_run_error: Option<Value>,
    /// The window `prepare` fixed (absent before it ran).
    #[serde(default)]
    pub approval: Option<ApprovalWindow>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AssessmentView {
    #[serde(default)]
    pub instance_type: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CaptureView {
    #[serde(default)]
    pub partitions: Option<u64>,
    #[serde(default)]
    pub captured_at: Option<Timestamp>,
}

/// The workflow's dry-run plan summary, as far as the email uses it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PlanView {
    #[serde(flatten)]
    pub summary: PlanSummary,
    #[serde(default)]
    pub stage_keys: Option<Vec<Value>>,
}

/// The approval window, as `prepare` returns it and the ASL stores it at `$.approval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalWindow {
    /// The waiting task's TimeoutSecondsPath.
    pub timeout_seconds: i64,
    pub expires_at: Timestamp,
    pub prepared_at: Timestamp,
}

/// What `request` reports (Step Functions ignores it; `cargo lambda invoke` shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestSent {
    pub message_id: String,
    pub subject: String,
    pub expires_at: Timestamp,
}

impl StateView {
    fn plan_summary(&self) -> Option<PlanSummary> {
        if let Some(estimate) = &self.dry_run {
            return Some(estimate.clone());
        }
        let plan = self.plan.as_ref()?;
        let mut s = plan.summary.clone();
        if s.stage_count.is_none() {
            s.stage_count = plan.stage_keys.as_ref().map(|k| k.len() as u64);
        }
        if let Some(c) = &self.capture {
            s.partitions = s.partitions.or(c.partitions);
            s.captured_at = s.captured_at.or(c.captured_at);
        }
        Some(s)
    }

    /// Why the email has no plan: the dry run's failure as the ASL caught it.
    fn no_plan_reason(&self) -> Option<String> {
        let err = self.dry_run_error.as_ref()?;
        let error = err.get("Error").and_then(Value::as_str).unwrap_or("unknown error");
        // Cause is the Lambda's error JSON as a string ({errorType, errorMessage}); a States.*
        // error's Cause is plain text.
        let cause = err.get("Cause").and_then(Value::as_str).unwrap_or_default();
        let message = serde_json::from_str::<Value>(cause)
            .ok()
            .and_then(|c| c.get("errorMessage").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_else(|| cause.to_owned());
        let mut reason = format!("the dry run failed, {error}: {message}");
        if reason.len() > 300 {
            let cut = (0..=297).rev().find(|&i| reason.is_char_boundary(i)).unwrap_or(0);
            reason.truncate(cut);
            reason.push_str("...");
        }
        Some(reason)
    }

    fn subject(&self, execution: &ExecutionName) -> Result<LinkSubject> {
        let p = &self.proposal;
        let brokers = BrokerChange::new(p.current_broker_count, p.target_broker_count)
            .map_err(|e| AppError::InvalidInput(e.to_string()))?;
        Ok(LinkSubject { cluster: p.cluster_name.clone(), brokers, execution: execution.clone() })
    }
}

/// The use case, generic over how the email is sent.
pub struct ApprovalRequester<N> {
    pub notifier: N,
    pub key: SigningKey,
    pub config: RequestConfig,
}

impl<N: Notifier> ApprovalRequester<N> {
    /// The Lambda's entry point: the raw payload in, `prepare`'s window or `request`'s receipt out.
    pub async fn handle(&self, payload: Value, now: Timestamp) -> Result<Value> {
        // serde quotes what it refused: control characters escaped, so the error stays one line.
        let input: RequestInput = serde_json::from_value(payload).map_err(|e| {
            let mut why = String::new();
            for c in e.to_string().chars() {
                if c.is_control() {
                    why.extend(c.escape_default());
                } else {
                    why.push(c);
                }
            }
            AppError::InvalidInput(format!("approval-request input: {why}"))
        })?;
        let out = match input.step {
            RequestStep::Prepare => serde_json::to_value(self.prepare(&input, now)?),
            RequestStep::Request => serde_json::to_value(self.request(&input, now).await?),
        };
        out.map_err(|e| AppError::InvalidInput(e.to_string()))
    }

    /// Checks everything the request will need and fixes the window. Sends nothing.
    pub fn prepare(&self, input: &RequestInput, now: Timestamp) -> Result<ApprovalWindow> {
        let window = ApprovalWindow {
            timeout_seconds: self.config.window_seconds,
            expires_at: after(now, self.config.window_seconds)?,
            prepared_at: now,
        };
        // Render once with a placeholder token: a state the email cannot be made from fails here,
        // before the workflow waits for anyone.
        let placeholder = TaskToken::new("prepare").map_err(|e| AppError::InvalidInput(e.to_string()))?;
        self.render(input, &placeholder, window.expires_at, now)?;
        info!(execution = %input.execution.name, cluster = %input.state.proposal.cluster_name,
              expires_at = %window.expires_at, timeout_seconds = window.timeout_seconds, "approval window fixed");
        Ok(window)
    }

    /// Signs the links for the task token and emails them.
    pub async fn request(&self, input: &RequestInput, now: Timestamp) -> Result<RequestSent> {
        let token = input
            .task_token
            .as_ref()
            .ok_or_else(|| AppError::InvalidInput("the request step needs task_token ($$.Task.Token)".into()))?;
        let expires_at = match input.state.approval {
            Some(w) => w.expires_at,
            None => after(now, self.config.window_seconds)?,
        };
        let left = expires_at.seconds_since(now);
        if left <= 0 {
            return Err(AppError::InvalidInput(format!("the approval window ended at {expires_at}, before the email")));
        }
        if left > MAX_VALIDITY_SECONDS + 60 {
            return Err(AppError::InvalidInput(format!(
                "approval expiry {expires_at} is more than {} hours away",
                MAX_VALIDITY_SECONDS / 3600
            )));
        }
        let email = self.render(input, token, expires_at, now)?;
        let message_id = self.notifier.publish(&email.subject, &email.body).await?;
        info!(execution = %input.execution.name, cluster = %input.state.proposal.cluster_name,
              expires_at = %expires_at, message_id = %message_id, "approval requested");
        Ok(RequestSent { message_id, subject: email.subject, expires_at })
    }

    /// The email exactly as `request` sends it.
    pub fn render(
        &self,
        input: &RequestInput,
        token: &TaskToken,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<EmailText> {
        render_email(&self.key, &self.config, input, token, expires_at, now)
    }
}

/// The approval email for a task token: both links signed with `key`, the plan, the cost, the fix.
/// `autoheal approval-email` prints exactly this.
pub fn render_email(
    key: &SigningKey,
    config: &RequestConfig,
    input: &RequestInput,
    token: &TaskToken,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<EmailText> {
    let state = &input.state;
    let subject = state.subject(&input.execution.name)?;
    let approve = Link::new(Action::Approve, subject, token.clone(), expires_at);
    // The links carry whole seconds; the email states the same instant.
    let expires_at = approve.expires_at;
    let approve_url = approve.url(&config.base_url, key);
    let reject_url = approve.with_action(Action::Reject).url(&config.base_url, key);
    let plan = state.plan_summary();
    let no_plan_reason = state.no_plan_reason();
    ApprovalEmail {
        proposal: &state.proposal,
        execution: &input.execution.name,
        instance_type: state.assessment.as_ref().and_then(|a| a.instance_type.as_deref()),
        plan: plan.as_ref(),
        no_plan_reason: no_plan_reason.as_deref(),
        throttle: config.throttle,
        approve_url: &approve_url,
        reject_url: &reject_url,
        expires_at,
        now,
    }
    .render()
    .map_err(|e| AppError::InvalidInput(e.to_string()))
}

/// `seconds` after `now`, in whole seconds: links carry Unix seconds, and the email, the state and
/// the links must name the same instant.
fn after(now: Timestamp, seconds: i64) -> Result<Timestamp> {
    let secs = now.unix_millis().div_euclid(1000).saturating_add(seconds);
    Timestamp::from_unix_millis(secs.saturating_mul(1000))
        .ok_or_else(|| AppError::InvalidInput("approval window out of range".into()))
}
