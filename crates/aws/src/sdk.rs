//! The shared SDK configuration, built once per process: rustls with ring (no aws-lc C build for
//! arm64), standard retries with backoff for throttles and 5xx, and `AWS_ENDPOINT_URL` honoured so
//! the same binaries run against moto locally.

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use std::time::Duration;

/// Attempts per call (first try + retries) for throttling and transient failures.
pub const MAX_ATTEMPTS: u32 = 5;

/// Standard retry mode: exponential backoff with jitter on throttles, 5xx and timeouts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS).with_max_backoff(Duration::from_secs(10))
}

/// Loads region, credentials and endpoint from the environment, as every AWS tool does.
pub async fn load() -> SdkConfig {
    let http =
        aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http).retry_config(retry_config()).load().await
}
