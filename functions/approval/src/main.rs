//! approval Lambda (function URL): wires configuration, the signing key (read once), Step Functions
//! and the shared approval endpoint. GET shows, POST decides.

use approval::{Config, respond};
use autoheal_app::approval::{ApprovalEndpoint, load_key};
use autoheal_aws::{callbacks::StepFunctionsCallbacks, sdk, secrets::AwsSecrets};
use autoheal_domain::time::Timestamp;
use autoheal_lambda::env::ProcessEnv;
use lambda_http::{Error, Request, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    autoheal_lambda::init_tracing();
    let config = Config::from_env(&ProcessEnv)?;
    let sdk = sdk::load().await;
    let key = load_key(&AwsSecrets::from_conf(&sdk), &config.secret).await?;
    let endpoint = ApprovalEndpoint { callbacks: StepFunctionsCallbacks::new(aws_sdk_sfn::Client::new(&sdk)), key };
    let endpoint = &endpoint;
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Error>(respond(endpoint, req, Timestamp::now()).await)
    }))
    .await
}
