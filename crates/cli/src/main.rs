//! `autoheal`: the operators' CLI. Every Lambda decision as a dry run, plans, fixes, monitoring.
//! This file only parses the command line and maps errors to exit codes.

mod approval;
mod assess;
mod confirm;
mod detect;
mod diagnose;
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
    /// Why partitions are under-replicated and the remedy for that cause, from a snapshot file (offline).
    Diagnose(diagnose::Args),
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
        // --help and --version are not errors: print them as clap renders them.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            std::process::exit(0);
        }
        // Everything else is bad input: one line, exit 2.
        Err(e) => {
            eprintln!("autoheal: {}", one_line_usage_error(&e.render().to_string()));
            std::process::exit(2);
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
        Command::Diagnose(args) => diagnose::run(args),
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

/// clap's error without its usage block and help hint, on one line:
/// `the following required arguments were not provided: --event <FILE> (see autoheal incident --help)`.
fn one_line_usage_error(rendered: &str) -> String {
    let mut parts = Vec::new();
    let mut usage = None;
    for line in rendered.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(u) = line.strip_prefix("Usage: ") {
            usage = u
                .split_whitespace()
                .take_while(|w| !w.starts_with(['-', '<', '[']))
                .collect::<Vec<_>>()
                .join(" ")
                .into();
        } else if !line.starts_with("For more information") {
            parts.push(line.strip_prefix("error: ").unwrap_or(line).to_owned());
        }
    }
    let mut msg = parts.join(" ");
    if let Some(cmd) = usage.filter(|c: &String| !c.is_empty()) {
        msg.push_str(&format!(" (see {cmd} --help)"));
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_become_one_line() {
        let err = Cli::try_parse_from(["autoheal", "incident"]).err().unwrap();
        let line = one_line_usage_error(&err.render().to_string());
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains("--event <FILE>"), "{line}");
        assert!(line.ends_with("(see autoheal incident --help)"), "{line}");
        let err = Cli::try_parse_from(["autoheal", "nonsense"]).err().unwrap();
        let line = one_line_usage_error(&err.render().to_string());
        assert!(line.contains("unrecognized subcommand 'nonsense'"), "{line}");
        assert!(!line.contains('\n'), "{line}");
    }
}
