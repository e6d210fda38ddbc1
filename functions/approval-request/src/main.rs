//! approval-request Lambda: wires configuration, the signing key (read once), SNS and the shared
//! approval-request use case. Invoked by the state machine, `prepare` then `request`
//! (`lambda:invoke.waitForTaskToken`).

use approval_request::Config;
use autoheal_app::approval::{ApprovalRequester, load_key};
use autoheal_aws::{sdk, secrets::AwsSecrets, sns::Topic};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let key = load_key(&AwsSecrets::from_conf(&sdk), &config.secret).await?;
    let requester = ApprovalRequester {
        notifier: Topic::new(aws_sdk_sns::Client::new(&sdk), config.approval_topic_arn),
        key,
        config: config.request,
    };
    let requester = &requester;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        requester.handle(event.payload, Timestamp::now()).await.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
