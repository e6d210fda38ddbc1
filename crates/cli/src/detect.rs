//! `autoheal detect --event FILE --state-machine-arn ARN`: the detector Lambda's whole decision
//! against real AWS (cluster lookup, single flight, cool-down) — a dry run unless `--execute`.

use crate::error::CliError;
use crate::incident::read_event;
use autoheal_app::AppError;
use autoheal_app::detect::Detector;
use autoheal_aws::{kafka::MskClusters, lease::DynamoLease, sdk, sfn::StateMachine, sns::Topic};
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::cluster::ClusterName;
use autoheal_domain::remediation::{DetectorPolicy, Mode};
use autoheal_domain::time::Timestamp;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Alarm event JSON (EventBridge, SNS or alarm action); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub event: PathBuf,
    /// The remediation state machine.
    #[arg(long, value_name = "ARN")]
    pub state_machine_arn: String,
    /// Topic for refusal notifications (only used with --execute).
    #[arg(long, value_name = "ARN")]
    pub topic_arn: Option<String>,
    /// The per-cluster lease table (LEASE_TABLE of the stack); needed with --execute.
    #[arg(long, value_name = "TABLE", required_if_eq("execute", "true"))]
    pub lease_table: Option<String>,
    #[arg(long, default_value = "auto", value_parser = parse_mode)]
    pub mode: Mode,
    /// Clusters that always need approval (comma-separated).
    #[arg(long, value_delimiter = ',', value_parser = parse_cluster)]
    pub approval_clusters: Vec<ClusterName>,
    #[arg(long, default_value_t = DetectorPolicy::default().capacity.max_brokers)]
    pub max_brokers: u32,
    #[arg(long, default_value_t = DetectorPolicy::default().capacity.step_per_az, value_parser = clap::value_parser!(u32).range(1..))]
    pub step_per_az: u32,
    #[arg(long, default_value_t = DetectorPolicy::default().cooldown_minutes)]
    pub cooldown_minutes: u32,
    /// Really start the execution (and send refusal notifications). Without it nothing changes.
    #[arg(long)]
    pub execute: bool,
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    s.parse()
}

fn parse_cluster(s: &str) -> Result<ClusterName, String> {
    ClusterName::parse(s).map_err(|e| e.to_string())
}

pub async fn run(args: Args) -> Result<(), CliError> {
    let event = read_event(&args.event)?;
    let sdk = sdk::load().await;
    let detector = Detector {
        clusters: MskClusters::new(aws_sdk_kafka::Client::new(&sdk)),
        executions: StateMachine::new(aws_sdk_sfn::Client::new(&sdk), args.state_machine_arn),
        notifier: args.topic_arn.map(|arn| Topic::new(aws_sdk_sns::Client::new(&sdk), arn)),
        // A dry run never takes the lease (it starts nothing).
        lease: DynamoLease::new(aws_sdk_dynamodb::Client::new(&sdk), args.lease_table.unwrap_or_default()),
        policy: DetectorPolicy {
            capacity: CapacityPolicy { step_per_az: args.step_per_az, max_brokers: args.max_brokers },
            mode: args.mode,
            approval_clusters: args.approval_clusters,
            cooldown_minutes: args.cooldown_minutes,
        },
    };
    let outcome = detector.handle(&event, Timestamp::now(), !args.execute).await.map_err(|e| match e {
        AppError::InvalidInput(_) => CliError::input(format!("{}: {e}", args.event.display())),
        e => CliError::failed(format!("{} ({})", e, e.error_type())),
    })?;
    let json = serde_json::to_string_pretty(&outcome).map_err(|e| CliError::failed(e.to_string()))?;
    println!("{json}");
    Ok(())
}
