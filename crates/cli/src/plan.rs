//! `autoheal plan`: the reassignment planner from a terminal. Reads a current assignment
//! (`kafka-reassign-partitions.sh` JSON or `kafka-topics.sh --describe` text) and optionally
//! `kafka-log-dirs.sh --describe` sizes, writes the JSON `kafka-reassign-partitions.sh --execute`
//! takes (only the partitions that change), its rollback, and per-stage plans, and prints a summary.
//! Everything is validated before the first file is written, and files are written whole
//! (temporary file + rename), so bad input never leaves half a plan behind.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use autoheal_planner::formats::{self, parse_log_dirs};
use autoheal_planner::{Assignment, BrokerId, Plan, PlanRequest, Strategy};
use clap::ValueEnum;

use crate::error::{CliError, read_input_file};

/// Placement algorithm (`--strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyArg {
    /// Fewest replica moves, balanced leaders, rack-aware (default).
    Minimal,
    /// A faithful port of `kafka-reassign-partitions.sh --generate` (seeded by --seed).
    KafkaGenerate,
}

/// Summary format on stdout (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Plan a partition reassignment that moves the fewest replicas.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Current assignment: `kafka-reassign-partitions.sh --generate` output (or its JSON), or
    /// `kafka-topics.sh --describe` output (Kafka 3.x or 4.x); the format is detected.
    #[arg(long, value_name = "FILE")]
    pub assignment: PathBuf,
    /// Brokers the partitions may use after the plan, e.g. 1,2,3,4.
    #[arg(long, value_name = "IDS")]
    pub brokers: String,
    /// Rack (AZ) of every broker, e.g. 1=use1-az1,2=use1-az2,3=use1-az1,4=use1-az2.
    #[arg(long, value_name = "ID=RACK,...")]
    pub racks: Option<String>,
    /// `kafka-log-dirs.sh --describe` output: bytes per replica (fewest bytes moved, even disks).
    #[arg(long, value_name = "FILE")]
    pub sizes: Option<PathBuf>,
    /// Inter-broker replication throttle in bytes/s, for the ETA.
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub throttle: Option<u64>,
    /// Split into stages so no broker takes part in more than K movements per stage
    /// (written as PLAN.stage-N.json next to --out).
    #[arg(long, value_name = "K")]
    pub max_moves_per_broker: Option<u32>,
    #[arg(long, value_enum, default_value_t = StrategyArg::Minimal)]
    pub strategy: StrategyArg,
    /// Seed of the kafka-generate strategy (java.util.Random).
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    pub seed: i64,
    /// Where to write the `--execute` JSON (only the partitions that change).
    #[arg(long, value_name = "PLAN.json")]
    pub out: PathBuf,
    /// Where to write the current assignment of exactly those partitions (`--execute` input to undo).
    #[arg(long, value_name = "ROLLBACK.json")]
    pub rollback: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: Args) -> Result<(), CliError> {
    let brokers = parse_brokers(&args.brokers)?;
    let racks = args.racks.as_deref().map(parse_racks).transpose()?;
    let text = read_input_file(&args.assignment)?;
    let assignment =
        formats::parse_assignment(&text).map_err(|e| CliError::input(format!("{}: {e}", args.assignment.display())))?;
    let (sizes, sizes_missing) = match &args.sizes {
        Some(path) => {
            let text = read_input_file(path)?;
            let dirs = parse_log_dirs(&text).map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
            let sizes = dirs.partition_sizes().map_err(|e| CliError::input(format!("{}: {e}", path.display())))?;
            let missing = assignment.partitions.iter().filter(|p| !sizes.contains_key(&p.tp)).count();
            (Some(sizes), missing)
        }
        None => (None, 0),
    };
    let request = PlanRequest {
        brokers,
        racks,
        sizes,
        strategy: match args.strategy {
            StrategyArg::Minimal => Strategy::Minimal,
            StrategyArg::KafkaGenerate => Strategy::KafkaGenerate,
        },
        seed: args.seed,
        max_moves_per_broker: args.max_moves_per_broker,
        throttle: args.throttle,
    };
    let plan = autoheal_planner::plan(&assignment, &request).map_err(|e| CliError::input(e.to_string()))?;

    // Render everything first; write only once all of it exists.
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    files.push((args.out.clone(), execute_json(&assignment, &plan, &plan.changed)));
    if let Some(rb) = &args.rollback {
        files.push((rb.clone(), rollback_json(&assignment, &plan.changed)));
    }
    let mut stage_files = Vec::new();
    if args.max_moves_per_broker.is_some() {
        for (i, stage) in plan.stages.iter().enumerate() {
            let path = stage_path(&args.out, i + 1);
            files.push((path.clone(), execute_json(&assignment, &plan, stage)));
            stage_files.push(path);
        }
    }
    // A missing output directory is a bad flag: say so before writing anything.
    for (path, _) in &files {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !dir.is_dir() {
            return Err(CliError::input(format!(
                "cannot write {}: {} is not a directory",
                path.display(),
                dir.display()
            )));
        }
    }
    for (path, body) in &files {
        write_whole(path, body)?;
    }

    let out = match args.format {
        Format::Json => {
            let mut v = serde_json::to_value(&plan.report).map_err(|e| CliError::failed(e.to_string()))?;
            let obj = v.as_object_mut().expect("the report is a struct");
            obj.insert("input_format".into(), serde_json::to_value(assignment.source).expect("enum"));
            obj.insert("out".into(), args.out.display().to_string().into());
            obj.insert("rollback".into(), args.rollback.as_ref().map(|p| p.display().to_string()).into());
            obj.insert(
                "stage_files".into(),
                stage_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().into(),
            );
            obj.insert("sizes_missing".into(), sizes_missing.into());
            v.to_string()
        }
        Format::Table => table(&plan, &args, &stage_files, sizes_missing),
    };
    println!("{out}");
    Ok(())
}

fn parse_brokers(s: &str) -> Result<Vec<BrokerId>, CliError> {
    let items: Vec<&str> = s.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
    if items.is_empty() {
        return Err(CliError::input("--brokers: the broker list is empty"));
    }
    items
        .iter()
        .map(|t| {
            t.parse::<BrokerId>()
                .ok()
                .filter(|b| *b >= 0)
                .ok_or_else(|| CliError::input(format!("--brokers: {t:?} is not a broker id")))
        })
        .collect()
}

fn parse_racks(s: &str) -> Result<BTreeMap<BrokerId, String>, CliError> {
    let mut out = BTreeMap::new();
    for item in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (b, r) =
            item.split_once('=').ok_or_else(|| CliError::input(format!("--racks: {item:?} is not ID=RACK")))?;
        let b: BrokerId =
            b.trim().parse().map_err(|_| CliError::input(format!("--racks: {:?} is not a broker id", b.trim())))?;
        let r = r.trim();
        if r.is_empty() || r.chars().any(|c| c.is_control()) {
            return Err(CliError::input(format!("--racks: broker {b} has an empty or invalid rack")));
        }
        if out.insert(b, r.to_string()).is_some() {
            return Err(CliError::input(format!("--racks: broker {b} is given twice")));
        }
    }
    Ok(out)
}

fn execute_json(a: &Assignment, plan: &Plan, idxs: &[usize]) -> String {
    formats::write_reassignment_json(idxs.iter().map(|&i| (&a.partitions[i].tp, plan.proposed[i].as_slice())))
}

fn rollback_json(a: &Assignment, idxs: &[usize]) -> String {
    formats::write_reassignment_json(idxs.iter().map(|&i| (&a.partitions[i].tp, a.partitions[i].replicas.as_slice())))
}

/// `plan.json` → `plan.stage-1.json`.
fn stage_path(out: &Path, n: usize) -> PathBuf {
    let stem = out.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plan".into());
    let name = match out.extension() {
        Some(ext) => format!("{stem}.stage-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}.stage-{n}"),
    };
    out.with_file_name(name)
}

fn write_whole(path: &Path, body: &str) -> Result<(), CliError> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    std::fs::write(&tmp, format!("{body}\n")).and_then(|()| std::fs::rename(&tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        CliError::failed(format!("cannot write {}: {e}", path.display()))
    })
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

fn duration(secs: f64) -> String {
    let s = secs.ceil() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn table(plan: &Plan, args: &Args, stage_files: &[PathBuf], sizes_missing: usize) -> String {
    let r = &plan.report;
    let mut o = String::new();
    let strategy = match r.strategy {
        Strategy::Minimal => "minimal".to_string(),
        Strategy::KafkaGenerate => format!("kafka-generate, seed {}", r.seed.unwrap_or_default()),
    };
    let _ = writeln!(
        o,
        "plan ({strategy}): {} of {} partitions change, {} brokers{}",
        r.changed_partitions,
        r.partitions,
        r.brokers,
        if r.racks > 0 { format!(" in {} racks", r.racks) } else { String::new() }
    );
    let optimal = if r.proven_optimal { ", minimal" } else { "" };
    let _ = writeln!(o, "replica moves   {:>8}  (lower bound {}{optimal})", r.moves, r.rack_lower_bound);
    let _ = writeln!(o, "leader changes  {:>8}  (lower bound {})", r.leader_changes, r.leader_lower_bound);
    if let Some(b) = r.bytes_moved {
        let eta = r.eta_seconds.map(|s| format!(", ETA {}", duration(s))).unwrap_or_default();
        let _ = writeln!(o, "bytes moved     {:>8}{eta}", bytes(b));
    }
    let _ = writeln!(
        o,
        "spread          replicas {} -> {}, leaders {} -> {}{}",
        r.replica_spread_before,
        r.replica_spread_after,
        r.leader_spread_before,
        r.leader_spread_after,
        match (r.disk_spread_before, r.disk_spread_after) {
            (Some(a), Some(b)) => format!(", disk {} -> {}", bytes(a), bytes(b)),
            _ => String::new(),
        }
    );
    if r.racks > 0 {
        let _ = writeln!(o, "rack violations {:>8}  (before {})", r.rack_violations, r.rack_violations_before);
    }
    if r.under_replicated_partitions > 0 {
        let _ = writeln!(o, "under-replicated partitions: {} (moved last)", r.under_replicated_partitions);
    }
    let leaderless = plan.report.leaderless_partitions;
    if leaderless > 0 {
        let _ =
            writeln!(o, "warning: {leaderless} partitions have no leader; their moves complete only once it is back");
    }
    if sizes_missing > 0 {
        let _ = writeln!(o, "warning: {sizes_missing} partitions have no size in --sizes (counted as 0 bytes)");
    }
    let _ = writeln!(o);
    let with_bytes = r.bytes_moved.is_some();
    let _ = writeln!(
        o,
        "{:>7}  {:<12} {:>17} {:>15}{}",
        "broker",
        "rack",
        "replicas",
        "leaders",
        if with_bytes { format!(" {:>25}", "bytes") } else { String::new() }
    );
    for b in &r.broker_details {
        let name = if b.listed { b.broker.to_string() } else { format!("{} (out)", b.broker) };
        let _ = writeln!(
            o,
            "{:>7}  {:<12} {:>17} {:>15}{}",
            name,
            b.rack.as_deref().unwrap_or("-"),
            format!("{} -> {}", b.replicas_before, b.replicas_after),
            format!("{} -> {}", b.leaders_before, b.leaders_after),
            match (b.bytes_before, b.bytes_after) {
                (Some(x), Some(y)) => format!(" {:>25}", format!("{} -> {}", bytes(x), bytes(y))),
                _ => String::new(),
            }
        );
    }
    let _ = writeln!(o);
    if !stage_files.is_empty() {
        let _ = writeln!(
            o,
            "{} stages (at most {} movements per broker each):",
            r.stages.len(),
            args.max_moves_per_broker.unwrap_or(0)
        );
        for (s, path) in r.stages.iter().zip(stage_files) {
            let _ = writeln!(
                o,
                "  {}: {} partitions, {} moves{}  {}",
                s.stage,
                s.partitions,
                s.moves,
                if s.under_replicated_partitions > 0 {
                    format!(", {} under-replicated", s.under_replicated_partitions)
                } else {
                    String::new()
                },
                path.display()
            );
        }
    }
    let _ = write!(o, "wrote {}", args.out.display());
    if let Some(rb) = &args.rollback {
        let _ = write!(o, " (rollback: {})", rb.display());
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_broker_and_rack_lists() {
        assert_eq!(parse_brokers("1, 2,3").unwrap(), vec![1, 2, 3]);
        assert!(parse_brokers(" , ").unwrap_err().to_string().contains("empty"));
        assert!(parse_brokers("1,x").unwrap_err().to_string().contains("\"x\""));
        let racks = parse_racks("1=use1-az1,2=use1-az2").unwrap();
        assert_eq!(racks[&2], "use1-az2");
        assert!(parse_racks("1=a,1=b").unwrap_err().to_string().contains("twice"));
        assert!(parse_racks("1:a").unwrap_err().to_string().contains("ID=RACK"));
    }

    #[test]
    fn stage_files_sit_next_to_the_plan() {
        assert_eq!(stage_path(Path::new("/tmp/p/plan.json"), 2), PathBuf::from("/tmp/p/plan.stage-2.json"));
        assert_eq!(stage_path(Path::new("plan"), 1), PathBuf::from("plan.stage-1"));
    }

    #[test]
    fn human_units() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
        assert_eq!(duration(61.2), "1m02s");
    }
}
