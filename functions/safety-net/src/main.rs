//! Safety-net Lambda: the target of the EventBridge rule on the remediation state machine's
//! FAILED, TIMED_OUT and ABORTED executions. Wires Step Functions (history), kafka-ops' cleanup
//! (MSK, SSM, S3), the notify use case (SNS), the lease table (DynamoDB) and the marker bucket; `autoheal_app::workflow::
//! safety_net` decides.

// The handler's future nests the cleanup use case inside this one.
#![recursion_limit = "256"]

use autoheal_app::workflow::kafka_ops::KafkaOps;
use autoheal_app::workflow::notify::Notify;
use autoheal_app::workflow::safety_net::SafetyNet;
use autoheal_aws::sfn_history::SfnHistory;
use autoheal_aws::{kafka::MskClusters, lease::DynamoLease, s3::Bucket, sdk, sns::Topic, ssm::RunCommand};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let config = safety_net::config_from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let store = Bucket::new(aws_sdk_s3::Client::new(&sdk));
    let ops = config.kafka.ops;
    let net = SafetyNet {
        history: SfnHistory::new(aws_sdk_sfn::Client::new(&sdk)),
        bucket: ops.bucket.clone(),
        prefix: ops.prefix.clone(),
        cleanup: KafkaOps {
            clusters: MskClusters::new(aws_sdk_kafka::Client::new(&sdk)),
            runner: RunCommand::new(aws_sdk_ssm::Client::new(&sdk)),
            store: store.clone(),
            config: ops,
        },
        notify: Notify { notifier: Topic::new(aws_sdk_sns::Client::new(&sdk), config.topic_arn) },
        lease: DynamoLease::new(aws_sdk_dynamodb::Client::new(&sdk), config.lease_table),
        store,
        state_machine_arn: config.state_machine_arn,
        cluster_arn: config.kafka.cluster_arn,
    };
    let net = &net;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let result = async {
            // Commands are waited for until shortly before this invocation's deadline.
            let deadline = kafka_ops::wait_until(event.context.deadline);
            let report = net.run(&event.payload, Timestamp::now(), deadline).await?;
            serde_json::to_value(&report)
                .map_err(|e| autoheal_app::AppError::InvalidInput(format!("report does not serialise: {e}")))
        };
        result.await.map_err(autoheal_lambda::diagnostic)
    }))
    .await
}
