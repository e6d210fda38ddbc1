//! `autoheal`: the operators' CLI. Every Lambda decision as a dry run, plans, fixes, monitoring.
//! This file only parses the command line and maps errors to exit codes.

mod approval;
mod assess;
mod confirm;
mod detect;
mod dry_run;
mod dry_run_plan;
mod error;
mod fix;
mod incident;
mod monitor;
mod plan;
mod scale;
mod verify;

use clap::{Parser, Subcommand};
use error::CliError;

#[derive(Parser)]
#[command(
    name = "autoheal",
    version,
    about = "Heal an undersized Amazon MSK cluster: dry runs, plans, fixes, monitoring"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The detector's classification of an alarm event, offline (no AWS calls).
    Incident(incident::Args),
    /// The detector Lambda's whole decision against AWS; a dry run unless --execute.
    Detect(detect::Args),
    /// Live per-broker table of UnderReplicatedPartitions, CPU and BytesInPerSec from CloudWatch.
    Monitor(monitor::Args),
    /// The fix (add brokers, then move partitions) as AWS CLI, Terraform, Pulumi, CloudFormation or Kafka CLI.
    Fix(fix::Args),
    /// Plan a partition reassignment with the fewest replica moves (writes --execute JSON).
    Plan(plan::Args),
    /// Sign an approve or reject link for a waiting task token (as the approval email carries it).
    ApprovalLink(approval::LinkArgs),
    /// The approval email exactly as the approval-request Lambda would send it, offline.
    ApprovalEmail(approval::EmailArgs),
    /// Check an approval link: valid, forged, expired or cut, and what it decides.
    ApprovalVerify(approval::VerifyArgs),
    /// The Assess Lambda's decision against AWS, read-only: ACTIVE?, target, ceiling, every fix.
    Assess(assess::Args),
    /// What ScaleBrokers and CheckActive would do now; UpdateBrokerCount is shown, never sent.
    Scale(scale::Args),
    /// The approval branch's dry-run plan (onto the predicted new brokers), from recorded Kafka CLI output.
    DryRunPlan(dry_run_plan::Args),
    /// VerifyReassignment's verdict on a recorded `kafka-reassign-partitions.sh --verify` output.
    Verify(verify::Args),
    /// ConfirmHealed's verdict (healed or not, and why) on a recorded `kafka-topics.sh --describe`.
    Confirm(confirm::Args),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors; everything else is bad input (exit 2).
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            std::process::exit(code);
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("autoheal: {e}");
        std::process::exit(e.exit_code());
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Incident(args) => incident::run(args),
        Command::Detect(args) => block_on(detect::run(args)),
        Command::Monitor(args) => monitor::run(args),
        Command::Fix(args) => fix::run(args),
        Command::Plan(args) => plan::run(args),
        Command::ApprovalLink(args) => approval::run_link(args),
        Command::ApprovalEmail(args) => approval::run_email(args),
        Command::ApprovalVerify(args) => approval::run_verify(args),
        Command::Assess(args) => block_on(assess::run(args)),
        Command::Scale(args) => block_on(scale::run(args)),
        Command::DryRunPlan(args) => block_on(dry_run_plan::run(args)),
        Command::Verify(args) => block_on(verify::run(args)),
        Command::Confirm(args) => block_on(confirm::run(args)),
    }
}

/// Runs an async subcommand (those that call AWS) to completion.
fn block_on<F: std::future::Future<Output = Result<(), CliError>>>(f: F) -> Result<(), CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the async runtime: {e}")))?
        .block_on(f)
}
