//! Approval mode's use cases: `request` (the approval-request Lambda, invoked by the state machine
//! with `.waitForTaskToken`: sign the links, email the plan) and `endpoint` (the approval Lambda
//! behind HTTPS: GET shows, POST resumes or fails the execution). Both share the signing key, read
//! once at cold start with [`load_key`].

pub mod endpoint;
pub mod request;

pub use endpoint::{ApprovalEndpoint, EndpointRequest};
pub use request::{
    ApprovalRequester, ApprovalWindow, RequestConfig, RequestInput, RequestStep, StateView, render_email,
};

use crate::error::{AppError, Result};
use autoheal_aws::secrets::{SecretLocation, SecretSource};
use autoheal_domain::approval::SigningKey;
use tracing::info;

/// Reads the HMAC key from Secrets Manager. Called once per cold start: a missing
/// or short secret fails the init with a message naming where it looked (never the value).
pub async fn load_key(source: &impl SecretSource, location: &SecretLocation) -> Result<SigningKey> {
    let secret = source.read_secret(location).await?;
    let key =
        SigningKey::from_secret(secret.expose()).map_err(|e| AppError::InvalidInput(format!("{location}: {e}")))?;
    info!(location = %location, "approval signing key loaded");
    Ok(key)
}
