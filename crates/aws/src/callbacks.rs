//! Task-token callbacks: the `TaskCallbacks` port (SendTaskSuccess / SendTaskFailure) the approval
//! endpoint resumes or fails a waiting execution with, and its Step Functions adapter. The token is
//! a bearer credential: it is passed to the SDK and nowhere else (no span field, no log line).

use crate::error::{AwsError, Result};
use autoheal_domain::approval::TaskToken;
use std::future::Future;
use tracing::instrument;

/// Step Functions' limits on SendTaskFailure's fields.
const ERROR_MAX: usize = 256;
const CAUSE_MAX: usize = 32_768;

/// Answering a `.waitForTaskToken` task.
pub trait TaskCallbacks: Send + Sync {
    /// SendTaskSuccess with a JSON `output`.
    fn send_task_success(&self, token: &TaskToken, output: &str) -> impl Future<Output = Result<()>> + Send;

    /// SendTaskFailure with an `error` the ASL's Catch matches and a human `cause`.
    fn send_task_failure(&self, token: &TaskToken, error: &str, cause: &str)
    -> impl Future<Output = Result<()>> + Send;
}

/// True when Step Functions no longer waits for this token: the task was answered already, timed
/// out, or its execution ended. Stateless "already used" detection rests on exactly this.
pub fn no_longer_waiting(e: &AwsError) -> bool {
    matches!(e.code.as_deref(), Some("TaskTimedOut" | "InvalidToken" | "TaskDoesNotExist"))
}

/// The Step Functions adapter.
#[derive(Clone, Debug)]
pub struct StepFunctionsCallbacks {
    client: aws_sdk_sfn::Client,
}

impl StepFunctionsCallbacks {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }
}

impl TaskCallbacks for StepFunctionsCallbacks {
    #[instrument(skip_all)]
    async fn send_task_success(&self, token: &TaskToken, output: &str) -> Result<()> {
        self.client
            .send_task_success()
            .task_token(token.expose())
            .output(output)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendTaskSuccess", e))?;
        Ok(())
    }

    #[instrument(skip_all, fields(error = %error))]
    async fn send_task_failure(&self, token: &TaskToken, error: &str, cause: &str) -> Result<()> {
        self.client
            .send_task_failure()
            .task_token(token.expose())
            .error(truncate(error, ERROR_MAX))
            .cause(truncate(cause, CAUSE_MAX))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("SendTaskFailure", e))?;
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
    use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;

    fn token() -> TaskToken {
        TaskToken::new("AQCEAAAAKgAAAAMAAAAA+/=").unwrap()
    }

    #[tokio::test]
    async fn success_and_failure_carry_the_token_and_payload() {
        let ok = mock!(aws_sdk_sfn::Client::send_task_success)
            .match_requests(|r| r.task_token() == Some("AQCEAAAAKgAAAAMAAAAA+/=") && r.output() == Some(r#"{"a":1}"#))
            .then_output(|| SendTaskSuccessOutput::builder().build());
        let fail = mock!(aws_sdk_sfn::Client::send_task_failure)
            .match_requests(|r| r.error() == Some("Rejected") && r.cause().is_some_and(|c| c.len() == CAUSE_MAX))
            .then_output(|| SendTaskFailureOutput::builder().build());
        let cb = StepFunctionsCallbacks::new(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&ok, &fail]));
        cb.send_task_success(&token(), r#"{"a":1}"#).await.unwrap();
        cb.send_task_failure(&token(), "Rejected", &"x".repeat(CAUSE_MAX + 10)).await.unwrap();
        assert_eq!((ok.num_calls(), fail.num_calls()), (1, 1));
    }

    #[tokio::test]
    async fn a_used_token_is_told_apart() {
        for code in ["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"] {
            let rule = mock!(aws_sdk_sfn::Client::send_task_success).then_http_response(move || {
                HttpResponse::new(
                    StatusCode::try_from(400).unwrap(),
                    SdkBody::from(format!(r#"{{"__type":"{code}","message":"no"}}"#)),
                )
            });
            let cb = StepFunctionsCallbacks::new(mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&rule]));
            let e = cb.send_task_success(&token(), "{}").await.unwrap_err();
            assert!(no_longer_waiting(&e), "{code}: {e}");
            assert!(!e.to_string().contains("AQCEAAAAKgAAAAMAAAAA"), "the token must not leak into errors: {e}");
        }
        let throttled = AwsError::new("SendTaskSuccess", ErrorKind::Throttled, "slow down");
        assert!(!no_longer_waiting(&throttled));
    }
}
