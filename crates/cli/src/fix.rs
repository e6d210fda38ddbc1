//! `autoheal fix`: the fix for an undersized cluster in the format an operator applies by hand (AWS
//! CLI, Terraform, Pulumi, CloudFormation, Kafka CLI), or a patch for their own Terraform files.
//! Offline: the same renderers the Assess step uses, nothing is called.

use crate::error::{CliError, read_input_file};
use autoheal_domain::cluster::{ClusterArn, ClusterVersion};
use autoheal_domain::fixes::{
    BrokerChange, FixFormat, FixRequest, KafkaScriptSettings, TerraformFile, render, render_all, terraform_file_diff,
};
use autoheal_domain::kafka_cli::{BootstrapServers, CommandConfigPath, KafkaBinDir, Throttle};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The cluster's ARN (arn:aws:kafka:<region>:<account>:cluster/<name>/<uuid>).
    #[arg(long, value_name = "ARN")]
    pub cluster_arn: String,
    /// The cluster's CurrentVersion (aws kafka describe-cluster-v2 ... --query ClusterInfo.CurrentVersion).
    #[arg(long, value_name = "VERSION")]
    pub current_version: String,
    /// Broker count now.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub from: String,
    /// Broker count wanted (a multiple of the cluster's AZ count).
    #[arg(long, value_name = "M", allow_hyphen_values = true)]
    pub to: String,
    /// aws-cli, terraform, pulumi-ts, pulumi-py, cloudformation, kafka-cli, or all (one JSON object).
    #[arg(long, value_name = "FORMAT", default_value = "aws-cli")]
    pub format: String,
    /// Terraform: print a unified diff for these files (`patch -p1` applies it from this directory).
    /// Repeat it to include the file that sets a variable used for number_of_broker_nodes.
    #[arg(long = "tf-file", value_name = "FILE")]
    pub tf_files: Vec<PathBuf>,
    /// Kafka CLI: the Kafka bin directory on the client.
    #[arg(long, value_name = "DIR", default_value = "/opt/kafka/bin")]
    pub kafka_bin: String,
    /// Kafka CLI: bootstrap servers (default: looked up with aws kafka get-bootstrap-brokers).
    #[arg(long, value_name = "HOST:PORT,...")]
    pub bootstrap_servers: Option<String>,
    /// Kafka CLI: client properties file for TLS, SASL/SCRAM or IAM.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<String>,
    /// Kafka CLI: replication throttle for the moves, bytes per second.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub throttle: Option<String>,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let input = |e: &dyn std::fmt::Display| CliError::input(e.to_string());
    let request = FixRequest {
        cluster_arn: ClusterArn::parse(&args.cluster_arn).map_err(|e| input(&e))?,
        current_version: ClusterVersion::parse(&args.current_version).map_err(|e| input(&e))?,
        brokers: BrokerChange::new(count("--from", &args.from)?, count("--to", &args.to)?).map_err(|e| input(&e))?,
    };
    let kafka = KafkaScriptSettings {
        bin_dir: KafkaBinDir::parse(&args.kafka_bin).map_err(|e| input(&e))?,
        bootstrap_servers: args
            .bootstrap_servers
            .as_deref()
            .map(BootstrapServers::parse)
            .transpose()
            .map_err(|e| input(&e))?,
        command_config: args
            .command_config
            .as_deref()
            .map(CommandConfigPath::parse)
            .transpose()
            .map_err(|e| input(&e))?,
        throttle: args.throttle.as_deref().map(Throttle::parse).transpose().map_err(|e| input(&e))?.unwrap_or_default(),
    };

    if args.format == "all" {
        if !args.tf_files.is_empty() {
            return Err(CliError::input("--tf-file needs --format terraform"));
        }
        let json =
            serde_json::to_string_pretty(&render_all(&request, &kafka)).map_err(|e| CliError::failed(e.to_string()))?;
        println!("{json}");
        return Ok(());
    }
    let format: FixFormat = args.format.parse().map_err(|_| {
        CliError::input(format!(
            "unknown --format {:?}: expected aws-cli, terraform, pulumi-ts, pulumi-py, cloudformation, kafka-cli or all",
            args.format.chars().take(40).collect::<String>()
        ))
    })?;
    if args.tf_files.is_empty() {
        print!("{}", render(format, &request, &kafka));
        return Ok(());
    }
    if format != FixFormat::Terraform {
        return Err(CliError::input("--tf-file needs --format terraform"));
    }
    let files = args
        .tf_files
        .iter()
        .map(|p| Ok(TerraformFile { path: p.display().to_string(), content: read_input_file(p)? }))
        .collect::<Result<Vec<_>, CliError>>()?;
    if let Some(abs) = files.iter().find(|f| f.path.starts_with('/')) {
        return Err(CliError::input(format!(
            "--tf-file {}: give a path relative to the directory the patch will be applied in",
            abs.path
        )));
    }
    print!("{}", terraform_file_diff(&request, &files).map_err(|e| input(&e))?);
    Ok(())
}

/// A broker count: digits only, so `--from -1` or `--from 2.5` get a clear message, not clap's.
fn count(flag: &str, s: &str) -> Result<u32, CliError> {
    if !s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().map_err(|_| CliError::input(format!("{flag} {s:?}: expected a broker count")))
    } else {
        Err(CliError::input(format!("{flag} {:?}: expected a broker count", s.chars().take(20).collect::<String>())))
    }
}
