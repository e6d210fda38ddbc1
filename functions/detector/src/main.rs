//! Detector Lambda: wires configuration, SDK clients and the shared detector use case.

use autoheal_app::detect::Detector;
use autoheal_aws::{kafka::MskClusters, lease::DynamoLease, sdk, sfn::StateMachine, sns::Topic};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use detector::Config;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let detector = Detector {
        clusters: MskClusters::new(aws_sdk_kafka::Client::new(&sdk)),
        executions: StateMachine::new(aws_sdk_sfn::Client::new(&sdk), config.state_machine_arn),
        notifier: config.topic_arn.map(|arn| Topic::new(aws_sdk_sns::Client::new(&sdk), arn)),
        lease: DynamoLease::new(aws_sdk_dynamodb::Client::new(&sdk), config.lease_table),
        policy: config.policy,
    };
    let detector = &detector;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let outcome = detector.handle(&event.payload, Timestamp::now(), false).await;
        outcome.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
