//! Scale Lambda: wires configuration, the MSK client and the scale use case (steps `scale`, `poll`).

use autoheal_app::workflow::{parse_input, scale::Scale, step};
use autoheal_aws::{kafka::MskClusters, sdk};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let max_brokers = scale::max_brokers_from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let scale = Scale { clusters: MskClusters::new(aws_sdk_kafka::Client::new(&sdk)), max_brokers };
    let scale = &scale;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = async {
            let input = parse_input(event.payload)?;
            let now = Timestamp::now();
            let state = match step(&input, &["scale", "poll"])? {
                "scale" => scale.scale(input.state, now).await?,
                _ => scale.poll(input.state, now).await?,
            };
            autoheal_app::workflow::output(&state)
        };
        result.await.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
