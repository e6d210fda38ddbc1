//! `autoheal diagnose --snapshot FILE`: why partitions are under-replicated and the one remedy for
//! that cause, offline, from a snapshot file (the format the Diagnose step stores in S3). Prints
//! one JSON object: verdict, severity, remedy, evidence (and the sizing arithmetic for `capacity`).

use crate::error::{CliError, read_input_file};
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::diagnose::{Policy, Snapshot, diagnose};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Snapshot JSON (cluster, operations, 15 minutes of metrics); `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub snapshot: PathBuf,
    /// Hard ceiling on the broker count a scale-out may ask for.
    #[arg(long, value_name = "N", default_value_t = CapacityPolicy::default().max_brokers)]
    pub max_brokers: u32,
    /// At least this many brokers per AZ are added by a scale-out.
    #[arg(long, value_name = "K", default_value_t = CapacityPolicy::default().step_per_az,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub step_per_az: u32,
    /// The load per broker a scale-out aims for, percent of capacity (CPU or write throughput).
    #[arg(long, value_name = "P", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub target_cpu_percent: u32,
    /// Add step × AZs brokers even when no cause is found (the behaviour before diagnosis).
    #[arg(long)]
    pub unexplained_adds_brokers: bool,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let text = if args.snapshot.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CliError::input(format!("cannot read standard input: {e}")))?;
        s
    } else {
        read_input_file(&args.snapshot)?
    };
    let name = args.snapshot.display();
    let snapshot = Snapshot::parse(&text).map_err(|e| CliError::input(format!("{name}: {e}")))?;
    let policy = Policy {
        capacity: CapacityPolicy { step_per_az: args.step_per_az, max_brokers: args.max_brokers },
        target_cpu_percent: f64::from(args.target_cpu_percent),
        unexplained_adds_brokers: args.unexplained_adds_brokers,
        ..Policy::default()
    };
    let diagnosis = diagnose(&snapshot, &policy).map_err(|e| CliError::input(format!("{name}: {e}")))?;
    let json = serde_json::to_string_pretty(&diagnosis).map_err(|e| CliError::failed(e.to_string()))?;
    println!("{json}");
    Ok(())
}
