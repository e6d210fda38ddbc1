//! The use cases' error, with the stable `error_type` each Lambda reports and the ASL's
//! Retry/Catch match on (the list is in docs/ARCHITECTURE.md).

use autoheal_aws::{AwsError, ErrorKind};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AppError {
    /// The event or input is malformed or names something invalid. Retrying cannot help.
    #[error("{0}")]
    InvalidInput(String),
    #[error("no MSK cluster named {0:?} in this account and region")]
    ClusterNotFound(String),
    #[error("{0}")]
    ClusterNotActive(String),
    #[error("{0}")]
    ClusterFailed(String),
    /// Our UpdateBrokerCount operation ended UPDATE_FAILED; the message carries MSK's errorInfo.
    #[error("{0}")]
    ScaleFailed(String),
    #[error("{0}")]
    VersionConflict(String),
    #[error("{0}")]
    AtCeiling(String),
    #[error("{0}")]
    CommandFailed(String),
    #[error("{0}")]
    ReassignmentFailed(String),
    #[error("{0}")]
    NotHealed(String),
    /// The step's SSM command outlives this invocation: the ASL retries the Task, whose next
    /// invocation re-attaches to the same command (never sends a second one).
    #[error("{0}")]
    StillRunning(String),
    /// An AWS call failed; its kind decides whether the ASL retries.
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl AppError {
    /// The Lambda `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "InvalidInput",
            Self::ClusterNotFound(_) => "ClusterNotFound",
            Self::ClusterNotActive(_) => "ClusterNotActive",
            Self::ClusterFailed(_) => "ClusterFailed",
            Self::ScaleFailed(_) => "ScaleFailed",
            Self::VersionConflict(_) => "VersionConflict",
            Self::AtCeiling(_) => "AtCeiling",
            Self::CommandFailed(_) => "CommandFailed",
            Self::ReassignmentFailed(_) => "ReassignmentFailed",
            Self::NotHealed(_) => "NotHealed",
            Self::StillRunning(_) => "StillRunning",
            Self::Aws(e) => match e.kind {
                ErrorKind::Throttled | ErrorKind::Transient => "Retryable",
                ErrorKind::NotFound => "AwsNotFound",
                ErrorKind::Conflict => "AwsConflict",
                ErrorKind::AccessDenied => "AccessDenied",
                ErrorKind::Invalid => "AwsInvalidRequest",
                ErrorKind::Other => "AwsError",
            },
        }
    }
}

pub type Result<T, E = AppError> = std::result::Result<T, E>;
