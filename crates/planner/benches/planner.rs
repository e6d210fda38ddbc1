//! Planner benchmark: the scenarios, `minimal` side by side with the `--generate` port
//! (mean of 20 seeds), written as the "Planner" section of BENCHMARKS.md.
//!
//!     cargo bench -p autoheal-planner --bench planner                       # print the table
//!     cargo bench -p autoheal-planner --bench planner -- --write BENCHMARKS.md
//!
//! Starting assignments are what Kafka itself creates: each topic placed by the rack-aware
//! `assignReplicasToBrokers` port on the old brokers (seeded), except the skewed scenario. Sizes,
//! where used, follow a Zipf law. Times are wall-clock on one core (the planner is single
//! threaded), median of several runs; the generate port's time is the ratio's baseline.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use autoheal_planner::generate::{JavaRandom, assign_replicas_to_brokers};
use autoheal_planner::{
    Assignment, BrokerId, PartitionState, PlanReport, PlanRequest, SourceFormat, Strategy, TopicPartition, plan,
};

/// SplitMix64: a tiny deterministic generator for the scenario data (not for planning).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

struct Scenario {
    name: &'static str,
    old: usize,
    new: usize,
    azs: usize,
    /// (partitions, RF) per topic.
    topics: Vec<(usize, usize)>,
    zipf: bool,
    skewed: bool,
}

fn racks(n: usize, azs: usize) -> Option<BTreeMap<BrokerId, String>> {
    (azs > 1).then(|| (1..=n as BrokerId).map(|b| (b, format!("use1-az{}", (b as usize - 1) % azs + 1))).collect())
}

/// Topics of varied sizes adding up to about `partitions`, all with replication factor `rf`.
fn topics(rng: &mut Rng, partitions: usize, rf: impl Fn(&mut Rng) -> usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut left = partitions;
    while left > 0 {
        let n = [1, 3, 6, 12, 24, 48, 64, 100][rng.below(8) as usize].min(left);
        let r = rf(rng);
        out.push((n, r));
        left -= n;
    }
    out
}

fn build(s: &Scenario, seed: u64) -> (Assignment, Option<HashMap<TopicPartition, u64>>) {
    let mut rng = Rng(seed);
    let old: Vec<BrokerId> = (1..=s.old as BrokerId).collect();
    let old_racks = racks(s.old, s.azs);
    let mut java = JavaRandom::new(seed as i64);
    let mut partitions = Vec::new();
    for (t, &(n, rf)) in s.topics.iter().enumerate() {
        let reps = if s.skewed {
            // A hot spot: the first broker leads and holds far more than its share.
            (0..n)
                .map(|_| {
                    let mut r: Vec<BrokerId> = Vec::new();
                    if rng.unit() < 0.6 {
                        r.push(1);
                    }
                    while r.len() < rf {
                        let b = 1 + rng.below(s.old as u64) as BrokerId;
                        if !r.contains(&b) {
                            r.push(b);
                        }
                    }
                    r
                })
                .collect()
        } else {
            assign_replicas_to_brokers(&mut java, &old, old_racks.as_ref(), n, rf)
        };
        for (p, r) in reps.into_iter().enumerate() {
            partitions.push(PartitionState::new(TopicPartition::new(format!("topic-{t:05}"), p as u32), r));
        }
    }
    let sizes = s.zipf.then(|| {
        // Zipf(1.1) over partitions in a random order: a few huge partitions, a long tail.
        let mut order: Vec<usize> = (0..partitions.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i as u64 + 1) as usize);
        }
        let mut sizes = HashMap::new();
        for (rank, &i) in order.iter().enumerate() {
            let bytes = (50e9 / ((rank + 1) as f64).powf(1.1)) as u64 + 1_000_000;
            sizes.insert(partitions[i].tp.clone(), bytes);
        }
        sizes
    });
    (Assignment { partitions, source: SourceFormat::ReassignmentJson }, sizes)
}

#[derive(Default, Clone)]
struct Row {
    moves: f64,
    lower_bound: f64,
    leader_changes: f64,
    leader_lower_bound: f64,
    bytes: Option<f64>,
    replica_spread: f64,
    leader_spread: f64,
    disk_spread: Option<f64>,
    rack_violations: f64,
    ms: f64,
    wall_ms: f64,
    optimal: bool,
}

fn row(r: &PlanReport, ms: f64, wall_ms: f64) -> Row {
    Row {
        moves: r.moves as f64,
        lower_bound: r.rack_lower_bound as f64,
        leader_changes: r.leader_changes as f64,
        leader_lower_bound: r.leader_lower_bound as f64,
        bytes: r.bytes_moved.map(|b| b as f64),
        replica_spread: r.replica_spread_after as f64,
        leader_spread: r.leader_spread_after as f64,
        disk_spread: r.disk_spread_after.map(|b| b as f64),
        rack_violations: r.rack_violations as f64,
        ms,
        wall_ms,
        optimal: r.proven_optimal,
    }
}

/// CPU time this thread has run, from the kernel's scheduler statistics (ns), if available: on a
/// shared machine it measures the work itself, not the wait for a core.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Median CPU and wall milliseconds per `plan()` over `runs` samples; each sample repeats the
/// plan until it has run for at least 50 ms, since the kernel's CPU clock ticks coarsely.
fn timed(a: &Assignment, req: &PlanRequest, runs: usize) -> (PlanReport, f64, f64) {
    let mut cpu_ms = Vec::new();
    let mut wall_ms = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let (t, cpu) = (Instant::now(), thread_cpu_ns());
        let mut reps = 0;
        while reps == 0 || t.elapsed().as_millis() < 50 {
            last = Some(plan(a, req).expect("scenario plans").report);
            reps += 1;
        }
        let wall = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        wall_ms.push(wall);
        cpu_ms.push(match (cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => (b - a) as f64 / 1e6 / reps as f64,
            _ => wall,
        });
    }
    cpu_ms.sort_by(f64::total_cmp);
    wall_ms.sort_by(f64::total_cmp);
    (last.unwrap(), cpu_ms[cpu_ms.len() / 2], wall_ms[wall_ms.len() / 2])
}

fn mean(rows: &[Row]) -> Row {
    let n = rows.len() as f64;
    let avg = |f: &dyn Fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let avg_opt = |f: &dyn Fn(&Row) -> Option<f64>| {
        rows[0..1].iter().all(|r| f(r).is_some()).then(|| rows.iter().map(|r| f(r).unwrap()).sum::<f64>() / n)
    };
    Row {
        moves: avg(&|r| r.moves),
        lower_bound: avg(&|r| r.lower_bound),
        leader_changes: avg(&|r| r.leader_changes),
        leader_lower_bound: avg(&|r| r.leader_lower_bound),
        bytes: avg_opt(&|r| r.bytes),
        replica_spread: avg(&|r| r.replica_spread),
        leader_spread: avg(&|r| r.leader_spread),
        disk_spread: avg_opt(&|r| r.disk_spread),
        rack_violations: avg(&|r| r.rack_violations),
        ms: avg(&|r| r.ms),
        wall_ms: avg(&|r| r.wall_ms),
        optimal: false,
    }
}

fn gb(x: Option<f64>) -> String {
    x.map(|b| format!("{:.1}", b / 1e9)).unwrap_or_else(|| "–".into())
}

fn ms(x: f64) -> String {
    if x < 1.0 { format!("{x:.3}") } else { format!("{x:.1}") }
}

fn num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 { format!("{}", x as i64) } else { format!("{x:.1}") }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let write_to = args.iter().position(|a| a == "--write").and_then(|i| args.get(i + 1)).cloned();
    let quick = args.iter().any(|a| a == "--quick");
    let seeds = if quick { 3 } else { 20 };

    let mut rng = Rng(7);
    let scenarios = vec![
        Scenario {
            name: "2→4, 2 AZs, RF 2 (the demo: 12-partition topic + 50 offsets partitions)",
            old: 2,
            new: 4,
            azs: 2,
            topics: vec![(12, 2), (50, 2)],
            zipf: false,
            skewed: false,
        },
        Scenario {
            name: "3→6, 3 AZs, RF 3",
            old: 3,
            new: 6,
            azs: 3,
            topics: topics(&mut rng, 2_000, |_| 3),
            zipf: false,
            skewed: false,
        },
        Scenario {
            name: "4→8, 2 AZs, RF 3",
            old: 4,
            new: 8,
            azs: 2,
            topics: topics(&mut rng, 2_000, |_| 3),
            zipf: false,
            skewed: false,
        },
        Scenario {
            name: "6→9, 3 AZs, RF 3, Zipf sizes",
            old: 6,
            new: 9,
            azs: 3,
            topics: topics(&mut rng, 3_000, |_| 3),
            zipf: true,
            skewed: false,
        },
        Scenario {
            name: "3→6, 3 AZs, mixed RF 1/2/3",
            old: 3,
            new: 6,
            azs: 3,
            topics: topics(&mut rng, 3_000, |r| 1 + r.below(3) as usize),
            zipf: false,
            skewed: false,
        },
        Scenario {
            name: "3→6, no racks, skewed start (60% on broker 1)",
            old: 3,
            new: 6,
            azs: 0,
            topics: topics(&mut rng, 3_000, |_| 2),
            zipf: false,
            skewed: true,
        },
        Scenario {
            name: "12→24, 3 AZs, RF 3 (~135k replicas)",
            old: 12,
            new: 24,
            azs: 3,
            topics: topics(&mut rng, 45_000, |_| 3),
            zipf: false,
            skewed: false,
        },
        Scenario {
            name: "30→45, 3 AZs, RF 3 (≥1,000,000 replicas)",
            old: 30,
            new: 45,
            azs: 3,
            topics: topics(&mut rng, 333_334, |_| 3),
            zipf: false,
            skewed: false,
        },
    ];

    let mut table = String::new();
    table.push_str("| scenario | replicas | strategy | moves (bound) | leader changes (bound) | bytes moved GB | replica / leader spread | disk spread GB | rack violations | plan ms CPU | wall ms |\n");
    table.push_str("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let mut notes = Vec::new();
    for s in &scenarios {
        let (a, sizes) = build(s, 42);
        let replicas = a.replica_count();
        let base = PlanRequest {
            brokers: (1..=s.new as BrokerId).collect(),
            racks: racks(s.new, s.azs),
            sizes,
            ..Default::default()
        };
        let runs = if replicas > 500_000 {
            5
        } else if replicas > 50_000 {
            7
        } else {
            11
        };
        let (mr, mms, mwall) = timed(&a, &base, runs);
        let mine = row(&mr, mms, mwall);
        let gen_rows: Vec<Row> = (0..seeds)
            .map(|seed| {
                let req = PlanRequest { strategy: Strategy::KafkaGenerate, seed, ..base.clone() };
                let (r, ms, wall) = timed(&a, &req, if replicas > 500_000 { 1 } else { 3 });
                row(&r, ms, wall)
            })
            .collect();
        let g = mean(&gen_rows);
        for (label, r) in [("minimal", &mine), (&*format!("kafka-generate (mean of {seeds} seeds)"), &g)] {
            table.push_str(&format!(
                "| {} | {} | {} | {} ({}){} | {} ({}) | {} | {} / {} | {} | {} | {} | {} |\n",
                s.name,
                replicas,
                label,
                num(r.moves),
                num(r.lower_bound),
                if r.optimal { " ✓" } else { "" },
                num(r.leader_changes),
                num(r.leader_lower_bound),
                gb(r.bytes),
                num(r.replica_spread),
                num(r.leader_spread),
                gb(r.disk_spread),
                num(r.rack_violations),
                ms(r.ms),
                ms(r.wall_ms),
            ));
        }
        notes.push(format!(
            "- {}: minimal moves {:.2}× of generate's, plans in {:.2}× generate's CPU time{}.",
            s.name,
            mine.moves / g.moves.max(1.0),
            mine.ms / g.ms.max(1e-9),
            match (mine.bytes, g.bytes) {
                (Some(a), Some(b)) => format!(", bytes moved {:.2}× of generate's", a / b),
                _ => String::new(),
            }
        ));
        eprintln!("done: {} ({} replicas, minimal {:.1} ms)", s.name, replicas, mms);
    }

    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into());
    let section = format!(
        "## Planner\n\n\
         Generated by `cargo bench -p autoheal-planner --bench planner -- --write BENCHMARKS.md` \
         (crates/planner/benches/planner.rs); {machine}, one core, release build. \
         `minimal` is `autoheal plan`; `kafka-generate` is the port of `kafka-reassign-partitions.sh --generate` \
         (rack-aware `assignReplicasToBrokers`), mean of {seeds} seeds. Starting assignments are Kafka's own placement \
         on the old brokers (except the skewed one). \"moves\" = replicas added to a broker that did not hold them; \
         the bound is Σ max(0, c_b − t_b) (rack-feasible targets; ✓ = proven minimal); leader bound = forced changes + \
         Σ max(0, keepable_b − λ_b). Spreads are max − min over the new broker set after the plan; plan ms CPU is the median \
         CPU time of one `plan()` on its thread (/proc/thread-self/schedstat; parsing excluded), which a busy shared \
         machine does not inflate; wall ms is the same run's elapsed time, which it does (load average at the time: {load}).\n\n{table}\n{}\n",
        notes.join("\n")
    );
    print!("{section}");
    if let Some(path) = write_to {
        // cargo runs benches from the package directory: a relative path means the repo root's.
        let path = {
            let p = std::path::PathBuf::from(&path);
            if p.is_absolute() { p } else { std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p) }
        };
        let path = path.display().to_string();
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, replace_section(&old, &section)).expect("write BENCHMARKS.md");
        eprintln!("wrote the Planner section of {path}");
    }
}

/// Replaces the `## Planner` section (up to the next `## ` heading) or appends it.
fn replace_section(doc: &str, section: &str) -> String {
    let Some(start) = doc.find("## Planner\n") else {
        let mut out = doc.to_string();
        if out.is_empty() {
            out.push_str("# Benchmarks\n\n");
        } else if !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(section);
        return out;
    };
    let rest = &doc[start + 1..];
    let end = rest.find("\n## ").map(|i| start + 1 + i + 1).unwrap_or(doc.len());
    format!(
        "{}{}{}",
        &doc[..start],
        section,
        if end < doc.len() { format!("\n{}", &doc[end..]) } else { String::new() }
    )
}
