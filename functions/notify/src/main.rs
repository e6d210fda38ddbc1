//! Notify Lambda: wires the SNS topic and the notify use case (steps `success`, `failure`), then
//! releases the cluster's lease (every end of an execution passes here) before publishing.

use autoheal_app::workflow::notify::{Notify, Outcome};
use autoheal_app::workflow::{parse_input, step};
use autoheal_aws::{lease::DynamoLease, sdk, sns::Topic};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::{ProcessEnv, required};
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let topic_arn = required(&ProcessEnv, "TOPIC_ARN")?;
    let lease_table = required(&ProcessEnv, "LEASE_TABLE")?;
    let sdk = sdk::load().await;
    let notify = Notify { notifier: Topic::new(aws_sdk_sns::Client::new(&sdk), topic_arn) };
    let notify = &notify;
    let lease = DynamoLease::new(aws_sdk_dynamodb::Client::new(&sdk), lease_table);
    let lease = &lease;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = async {
            let input = parse_input(event.payload)?;
            let outcome = Outcome::parse(Some(step(&input, &["success", "failure"])?)).expect("step checked");
            // Before publishing: a failed release retried by the ASL sends no second notification, and
            // the release a retry repeats is a no-op.
            autoheal_app::lease::release(lease, &input.state.cluster_arn, &input.execution.name).await?;
            let state = notify
                .run(input.state, outcome, &input.execution.name, input.execution.started(), Timestamp::now())
                .await?;
            autoheal_app::workflow::output(&state)
        };
        result.await.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
