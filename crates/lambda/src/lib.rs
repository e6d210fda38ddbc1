//! The plumbing every Lambda's `main` shares, so each `main` only wires: tracing, configuration read
//! once from the environment (typed, with a clear error at cold start), and the mapping of
//! `AppError` to a Lambda `Diagnostic` whose `errorType` the ASL matches.

pub mod env;

use autoheal_app::AppError;
pub use lambda_runtime::Diagnostic;

/// Structured logs: JSON when the function's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`), level from
/// `AWS_LAMBDA_LOG_LEVEL` or `RUST_LOG`.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// A use-case error as the Lambda runtime reports it: stable `errorType`, one-line message.
pub fn diagnostic(e: AppError) -> Diagnostic {
    let error_type = e.error_type();
    let message = e.to_string().replace('\n', " ");
    tracing::error!(error_type, error = %message, "invocation failed");
    Diagnostic { error_type: error_type.to_owned(), error_message: message }
}
