//! `autoheal assess --cluster-arn ARN`: the Assess Lambda's decision against AWS, as a dry run —
//! is the cluster ACTIVE and provisioned, is the target (the detector's, or `--target`) within
//! MAX_BROKERS and a multiple of the AZ count, and every fix rendered. The Assess use case only
//! describes the cluster (its port, `ClusterControl`, has no mutating call), so nothing changes.

use crate::dry_run::{cluster_arn, count, report, state};
use crate::error::CliError;
use autoheal_app::AppError;
use autoheal_app::workflow::WorkflowState;
use autoheal_app::workflow::assess::{Assess, AssessConfig};
use autoheal_aws::kafka::MskClusters;
use autoheal_aws::ports::ClusterControl;
use autoheal_aws::sdk;
use autoheal_domain::capacity::{CapacityPolicy, CapacityRefusal, target_brokers};
use autoheal_domain::cluster::{ClusterArn, ClusterInfo};
use autoheal_domain::fixes::KafkaScriptSettings;
use autoheal_domain::kafka_cli::{BootstrapServers, CommandConfigPath, KafkaBinDir, Throttle};
use autoheal_domain::time::Timestamp;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// The cluster's ARN.
    #[arg(long, value_name = "ARN")]
    pub cluster_arn: String,
    /// Target broker count (default: what the detector would ask for, --step-per-az more per AZ
    /// within --max-brokers).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub target: Option<String>,
    /// Hard ceiling (the stack's MAX_BROKERS; default 12).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_brokers: Option<String>,
    /// Brokers added per AZ (BROKER_STEP_PER_AZ; default 1).
    #[arg(long, value_name = "K", allow_hyphen_values = true)]
    pub step_per_az: Option<String>,
    /// Kafka CLI fix: the Kafka bin directory on the client.
    #[arg(long, value_name = "DIR", default_value = "/opt/kafka/bin")]
    pub kafka_bin: String,
    /// Kafka CLI fix: bootstrap servers (default: looked up with aws kafka get-bootstrap-brokers).
    #[arg(long, value_name = "HOST:PORT,...")]
    pub bootstrap_servers: Option<String>,
    /// Kafka CLI fix: client properties file for TLS, SASL/SCRAM or IAM.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
    /// Kafka CLI fix: replication throttle, bytes per second.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub throttle: Option<String>,
    /// json (default; the assessment as the Lambda writes it to $.assessment) or text (every fix
    /// printed as it is applied).
    #[arg(long, value_name = "FORMAT", default_value = "json")]
    pub format: String,
}

/// Where the target came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetFrom {
    Flag,
    DetectorPolicy,
}

/// The dry run's result: the cluster as described, the target, and Assess's verdict.
pub struct Evaluation {
    pub info: Option<ClusterInfo>,
    pub target: Option<u32>,
    pub target_from: TargetFrom,
    pub result: Result<WorkflowState, AppError>,
}

/// Runs the Assess use case on `clusters` (read-only by its port's type).
pub async fn evaluate<C: ClusterControl>(
    clusters: C,
    arn: &ClusterArn,
    target: Option<u32>,
    config: AssessConfig,
    now: Timestamp,
) -> Evaluation {
    let target_from = if target.is_some() { TargetFrom::Flag } else { TargetFrom::DetectorPolicy };
    let info = match clusters.describe_cluster(arn).await {
        Ok(info) => info,
        Err(e) => return Evaluation { info: None, target, target_from, result: Err(e.into()) },
    };
    let target = match target {
        Some(t) => t,
        None => match target_brokers(info.broker_count, info.az_count, config.capacity) {
            Ok(t) => t,
            Err(refusal) => {
                // The detector refuses these; a workflow would never be started.
                let e = match refusal {
                    CapacityRefusal::AtCeiling { .. } => AppError::AtCeiling(refusal.to_string()),
                    other => AppError::InvalidInput(other.to_string()),
                };
                return Evaluation { info: Some(info), target: None, target_from, result: Err(e) };
            }
        },
    };
    let result = match state(&info, target) {
        Ok(s) => Assess { clusters, config }.run(s, now).await,
        Err(e) => Err(AppError::InvalidInput(e.to_string())),
    };
    Evaluation { info: Some(info), target: Some(target), target_from, result }
}

pub async fn run(args: Args) -> Result<(), CliError> {
    let arn = cluster_arn(&args.cluster_arn)?;
    let defaults = CapacityPolicy::default();
    let capacity = CapacityPolicy {
        step_per_az: args
            .step_per_az
            .as_deref()
            .map(|s| count("--step-per-az", s))
            .transpose()?
            .unwrap_or(defaults.step_per_az),
        max_brokers: args
            .max_brokers
            .as_deref()
            .map(|s| count("--max-brokers", s))
            .transpose()?
            .unwrap_or(defaults.max_brokers),
    };
    if capacity.step_per_az == 0 {
        return Err(CliError::input("--step-per-az must be at least 1"));
    }
    let target = args.target.as_deref().map(|s| count("--target", s)).transpose()?;
    let input = |flag: &str, e: &dyn std::fmt::Display| CliError::input(format!("{flag}: {e}"));
    let kafka = KafkaScriptSettings {
        bin_dir: KafkaBinDir::parse(&args.kafka_bin).map_err(|e| input("--kafka-bin", &e))?,
        bootstrap_servers: args
            .bootstrap_servers
            .as_deref()
            .map(BootstrapServers::parse)
            .transpose()
            .map_err(|e| input("--bootstrap-servers", &e))?,
        command_config: args
            .command_config
            .as_deref()
            .map(CommandConfigPath::parse)
            .transpose()
            .map_err(|e| input("--command-config", &e))?,
        throttle: args
            .throttle
            .as_deref()
            .map(Throttle::parse)
            .transpose()
            .map_err(|e| input("--throttle", &e))?
            .unwrap_or_default(),
    };
    let text = match args.format.as_str() {
        "json" => false,
        "text" => true,
        other => {
            return Err(CliError::input(format!(
                "unknown --format {:?}: expected json or text",
                other.chars().take(20).collect::<String>()
            )));
        }
    };
    let sdk = sdk::load().await;
    let msk = MskClusters::new(aws_sdk_kafka::Client::new(&sdk));
    let eval = evaluate(msk, &arn, target, AssessConfig { capacity, kafka }, Timestamp::now()).await;
    if text { print_text(&eval, capacity) } else { print_json(eval, capacity) }
}

fn print_json(eval: Evaluation, capacity: CapacityPolicy) -> Result<(), CliError> {
    let details = json!({
        "target": eval.target,
        "target_from": match eval.target_from {
            TargetFrom::Flag => "--target".to_owned(),
            TargetFrom::DetectorPolicy => format!(
                "detector policy: +{} per AZ, MAX_BROKERS {}", capacity.step_per_az, capacity.max_brokers
            ),
        },
        "max_brokers": capacity.max_brokers,
    });
    let result = eval.result.map(|s| {
        let assessment = serde_json::to_value(&s.assessment).unwrap_or(Value::Null);
        (json!({"assessment": assessment}), "ApprovalGate: ScaleBrokers (mode auto) or DryRunPlan (mode approval)")
    });
    report("Assess", "assess", result, details)
}

fn print_text(eval: &Evaluation, capacity: CapacityPolicy) -> Result<(), CliError> {
    println!("Assess (dry run; nothing is changed)");
    if let Some(i) = &eval.info {
        println!(
            "  cluster:  {} {}, {} brokers over {} AZs, {}, Kafka {}, CurrentVersion {}",
            i.name,
            i.state,
            i.broker_count,
            i.az_count,
            i.instance_type.as_deref().unwrap_or("instance type unknown"),
            i.kafka_version.as_deref().unwrap_or("unknown"),
            i.current_version
        );
    }
    if let Some(t) = eval.target {
        let from = match eval.target_from {
            TargetFrom::Flag => "from --target".to_owned(),
            TargetFrom::DetectorPolicy => format!("the detector's: +{} per AZ", capacity.step_per_az),
        };
        println!("  target:   {t} brokers ({from}; MAX_BROKERS {})", capacity.max_brokers);
    }
    match &eval.result {
        Err(e) => {
            println!("  verdict:  fails with {}: {e}", e.error_type());
            Err(CliError::failed(format!("Assess would fail: {e} ({})", e.error_type())))
        }
        Ok(s) => {
            let a = s.assessment.as_ref().ok_or_else(|| CliError::failed("Assess returned no assessment"))?;
            if !a.scale_needed {
                println!("  verdict:  ok, no scaling needed: the cluster has {} brokers already", a.broker_count);
            } else {
                println!(
                    "  verdict:  ok, scale {} -> {} brokers; next: ApprovalGate",
                    a.broker_count, a.target_broker_count
                );
            }
            if let Some(f) = &a.fixes {
                for (title, body) in [
                    ("AWS CLI", &f.aws_cli),
                    ("Terraform", &f.terraform),
                    ("Pulumi (TypeScript)", &f.pulumi_ts),
                    ("Pulumi (Python)", &f.pulumi_py),
                    ("CloudFormation", &f.cloudformation),
                    ("Kafka CLI (after the brokers joined)", &f.kafka_cli),
                ] {
                    println!("\n--- {title} ---");
                    print!("{body}");
                }
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dry_run::tests_support::{ARN, cluster, msk, no_update_broker_count};
    use aws_sdk_kafka::operation::describe_cluster_v2::DescribeClusterV2Output;
    use aws_sdk_kafka::types::ClusterState;
    use aws_smithy_mocks::mock;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-25T18:00:00Z").unwrap()
    }

    #[tokio::test]
    async fn an_active_cluster_gets_the_detector_s_target_and_every_fix_with_nothing_sent() {
        let describe = mock!(aws_sdk_kafka::Client::describe_cluster_v2).then_output(|| {
            DescribeClusterV2Output::builder().cluster_info(cluster(ClusterState::Active, 2, "K1")).build()
        });
        let update = no_update_broker_count();
        let arn = ClusterArn::parse(ARN).unwrap();
        let eval = evaluate(msk(&[&describe, &update]), &arn, None, AssessConfig::default(), now()).await;
        let a = eval.result.unwrap().assessment.unwrap();
        assert_eq!((eval.target, eval.target_from), (Some(4), TargetFrom::DetectorPolicy));
        assert!(a.scale_needed && a.fixes.unwrap().aws_cli.contains("--target-number-of-broker-nodes 4"));
        assert_eq!(update.num_calls(), 0);
    }

    #[tokio::test]
    async fn the_lambda_s_refusals_are_the_dry_run_s() {
        let update = no_update_broker_count();
        let arn = ClusterArn::parse(ARN).unwrap();
        let updating = mock!(aws_sdk_kafka::Client::describe_cluster_v2).then_output(|| {
            DescribeClusterV2Output::builder().cluster_info(cluster(ClusterState::Updating, 2, "K1")).build()
        });
        let e =
            evaluate(msk(&[&updating, &update]), &arn, None, AssessConfig::default(), now()).await.result.unwrap_err();
        assert_eq!(e.error_type(), "ClusterNotActive");

        let active = mock!(aws_sdk_kafka::Client::describe_cluster_v2).then_output(|| {
            DescribeClusterV2Output::builder().cluster_info(cluster(ClusterState::Active, 2, "K1")).build()
        });
        let e = evaluate(msk(&[&active, &update]), &arn, Some(14), AssessConfig::default(), now())
            .await
            .result
            .unwrap_err();
        assert_eq!(e.error_type(), "AtCeiling", "{e}");
        let e =
            evaluate(msk(&[&active, &update]), &arn, Some(5), AssessConfig::default(), now()).await.result.unwrap_err();
        assert!(e.to_string().contains("not a multiple"), "{e}");
        let full =
            AssessConfig { capacity: CapacityPolicy { step_per_az: 1, max_brokers: 2 }, ..AssessConfig::default() };
        let e = evaluate(msk(&[&active, &update]), &arn, None, full, now()).await.result.unwrap_err();
        assert_eq!(e.error_type(), "AtCeiling", "the detector would refuse: {e}");
        assert_eq!(update.num_calls(), 0);
    }
}
