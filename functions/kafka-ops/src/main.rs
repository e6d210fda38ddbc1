//! Kafka-ops Lambda: wires configuration, the MSK, SSM and S3 clients and the Kafka use cases
//! (steps capture, plan, execute, verify, confirm, cleanup, and dry_run for the approval branch).

// The handler's future nests six use cases deep; the default limit (128) is just short of it.
#![recursion_limit = "256"]

use autoheal_app::AppError;
use autoheal_app::workflow::kafka_ops::{Invocation, KafkaOps, validate_execution_name};
use autoheal_app::workflow::{parse_input, step};
use autoheal_aws::{kafka::MskClusters, s3::Bucket, sdk, ssm::RunCommand};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

const STEPS: [&str; 7] = ["capture", "plan", "execute", "verify", "confirm", "cleanup", "dry_run"];

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let config = kafka_ops::config_from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let ops = KafkaOps {
        clusters: MskClusters::new(aws_sdk_kafka::Client::new(&sdk)),
        runner: RunCommand::new(aws_sdk_ssm::Client::new(&sdk)),
        store: Bucket::new(aws_sdk_s3::Client::new(&sdk)),
        config: config.ops,
    };
    let (ops, allowed) = (&ops, &config.cluster_arn);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Every wait for an SSM command ends before the Lambda's own deadline: `StillRunning`.
        let deadline = kafka_ops::wait_until(event.context.deadline);
        let result = async {
            let input = parse_input(event.payload)?;
            let step = step(&input, &STEPS)?.to_owned();
            if let Some(arn) = allowed
                && arn != &input.state.cluster_arn
            {
                return Err(AppError::InvalidInput(format!(
                    "this deployment heals {arn}, not {}",
                    input.state.cluster_arn
                )));
            }
            let exec = input.execution.name.as_str();
            validate_execution_name(exec)?;
            let state = input.state;
            let inv = Invocation { execution: exec, now: Timestamp::now(), deadline };
            let state = match step.as_str() {
                "capture" => ops.capture(state, inv).await?,
                "plan" => ops.plan(state, exec).await?,
                "execute" => ops.execute(state, inv).await?,
                "verify" => ops.verify(state, inv).await?,
                "confirm" => ops.confirm(state, inv).await?,
                "dry_run" => ops.dry_run(state, inv).await?,
                _ => ops.cleanup(state, inv).await?,
            };
            autoheal_app::workflow::output(&state)
        };
        result.await.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
