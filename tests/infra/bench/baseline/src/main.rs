//! Baseline Lambda for the cold-start benchmark: tracing initialised as the project's functions do
//! it, then an echo handler. Whatever a function's init adds on top of this is its own.
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move { Ok::<Value, Error>(event.payload) })).await
}
