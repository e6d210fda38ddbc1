//! `autoheal`: the operators' CLI. Every Lambda decision as a dry run, plans, fixes, monitoring.
//! This file only parses the command line and maps errors to exit codes.

mod error;
mod fix;

use clap::{Parser, Subcommand};
use error::CliError;

#[derive(Parser)]
#[command(name = "autoheal", version, about = "Heal an undersized Amazon MSK cluster: dry runs, plans, fixes, monitoring")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The fix (add brokers, then move partitions) as AWS CLI, Terraform, Pulumi, CloudFormation or Kafka CLI.
    Fix(fix::Args),
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
        Command::Fix(args) => fix::run(args),
    }
}
