//! Assess Lambda: wires configuration, the MSK client and the assess use case.

use autoheal_app::workflow::{assess::Assess, parse_input};
use autoheal_aws::{kafka::MskClusters, sdk};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let config = assess::config_from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let assess = Assess { clusters: MskClusters::new(aws_sdk_kafka::Client::new(&sdk)), config };
    let assess = &assess;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = async {
            let input = parse_input(event.payload)?;
            let state = assess.run(input.state, Timestamp::now()).await?;
            autoheal_app::workflow::output(&state)
        };
        result.await.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
