//! One error type for every AWS call, classified so callers (and the ASL's Retry) can tell a
//! throttle from a missing resource from a conflict — never flattened into a string.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::fmt;

/// What kind of failure an AWS call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Rate limited (429, ThrottlingException, TooManyRequestsException…): retry with backoff.
    Throttled,
    /// 5xx, timeouts, connection failures: retry.
    Transient,
    /// The resource does not exist (404, NotFoundException, ExecutionDoesNotExist…).
    NotFound,
    /// The request conflicts with the resource's state (ConflictException, ExecutionAlreadyExists,
    /// a stale MSK CurrentVersion).
    Conflict,
    /// Access denied (403, AccessDeniedException, ForbiddenException).
    AccessDenied,
    /// The request itself is wrong (400, ValidationException, BadRequestException…).
    Invalid,
    /// Anything else.
    Other,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Throttled => "throttled",
            Self::Transient => "transient",
            Self::NotFound => "not found",
            Self::Conflict => "conflict",
            Self::AccessDenied => "access denied",
            Self::Invalid => "invalid request",
            Self::Other => "failed",
        }
    }
}

/// A failed AWS call: the operation, its classification, the service's error code and the source.
#[derive(Debug)]
pub struct AwsError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    pub code: Option<String>,
    pub message: String,
    source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl AwsError {
    /// An error that did not come from the SDK (e.g. a response missing a field we need).
    pub fn new(operation: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { operation, kind, code: None, message: message.into(), source: None }
    }

    /// Classifies an SDK error. The SDK has already retried throttles and 5xx by the time it returns one.
    pub fn from_sdk<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code().map(str::to_owned);
        let kind = match &err {
            SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
                ErrorKind::Transient
            }
            SdkError::ConstructionFailure(_) => ErrorKind::Invalid,
            _ => classify(code.as_deref(), status),
        };
        let message = err.message().map(str::to_owned).unwrap_or_else(|| DisplayErrorContext(&err).to_string());
        Self { operation, kind, code, message, source: Some(Box::new(err)) }
    }

    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttled | ErrorKind::Transient)
    }
}

/// Error codes seen across the services we call, by meaning.
fn classify(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    match code {
        Some(
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "SlowDown"
            | "ProvisionedThroughputExceededException",
        ) => return ErrorKind::Throttled,
        Some(
            "NotFoundException"
            | "ResourceNotFoundException"
            | "ExecutionDoesNotExist"
            | "StateMachineDoesNotExist"
            | "NoSuchKey"
            | "NoSuchBucket"
            | "InvocationDoesNotExist"
            | "InvalidInstanceId"
            | "TaskDoesNotExist"
            | "NotFound",
        ) => return ErrorKind::NotFound,
        Some("ConflictException" | "ExecutionAlreadyExists" | "ConcurrentModificationException") => {
            return ErrorKind::Conflict;
        }
        Some(
            "AccessDenied"
            | "AccessDeniedException"
            | "ForbiddenException"
            | "UnauthorizedException"
            | "AuthorizationError",
        ) => return ErrorKind::AccessDenied,
        Some(
            "ValidationException"
            | "BadRequestException"
            | "InvalidParameterException"
            | "InvalidParameter"
            | "InvalidParameterValue"
            | "InvalidArn"
            | "InvalidName"
            | "InvalidExecutionInput"
            | "InvalidDocument"
            | "InvalidToken"
            | "TaskTimedOut",
        ) => return ErrorKind::Invalid,
        Some("ServiceUnavailableException" | "InternalServerErrorException" | "InternalFailure" | "InternalError") => {
            return ErrorKind::Transient;
        }
        _ => {}
    }
    match status {
        Some(429) => ErrorKind::Throttled,
        Some(404) => ErrorKind::NotFound,
        Some(409) => ErrorKind::Conflict,
        Some(401 | 403) => ErrorKind::AccessDenied,
        Some(s) if s >= 500 => ErrorKind::Transient,
        Some(400..=499) => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.operation, self.kind.as_str())?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        // One line: messages end up in Lambda error payloads and CLI output.
        write!(f, ": {}", self.message.replace('\n', " "))
    }
}

impl std::error::Error for AwsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_win_over_status() {
        assert_eq!(classify(Some("ThrottlingException"), Some(400)), ErrorKind::Throttled);
        assert_eq!(classify(Some("ExecutionAlreadyExists"), Some(400)), ErrorKind::Conflict);
        assert_eq!(classify(Some("NotFoundException"), Some(404)), ErrorKind::NotFound);
        assert_eq!(classify(Some("BadRequestException"), Some(400)), ErrorKind::Invalid);
    }

    #[test]
    fn status_when_the_code_is_unknown() {
        assert_eq!(classify(Some("Weird"), Some(503)), ErrorKind::Transient);
        assert_eq!(classify(None, Some(429)), ErrorKind::Throttled);
        assert_eq!(classify(None, Some(404)), ErrorKind::NotFound);
        assert_eq!(classify(None, None), ErrorKind::Other);
    }

    #[test]
    fn display_is_one_line() {
        let e = AwsError::new("DescribeClusterV2", ErrorKind::Other, "a\nb");
        assert_eq!(e.to_string(), "DescribeClusterV2 failed: a b");
    }
}
