//! The planner's entry point: validate the request, place replicas with the fewest moves, balance
//! preferred leaders, split into stages, and report every figure an operator checks before running
//! `kafka-reassign-partitions.sh --execute`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::balance;
use crate::disk;
use crate::exact;
use crate::generate::{JavaRandom, assign_replicas_to_brokers};
use crate::layout::{Layout, NO_RACK};
use crate::leaders;
use crate::model::{Assignment, BrokerId, TopicPartition};
use crate::stages::{self, Change};
use crate::targets;

/// Which algorithm places the replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Fewest moves (this crate's planner).
    #[default]
    Minimal,
    /// A port of `kafka-reassign-partitions.sh --generate`, the baseline.
    KafkaGenerate,
}

/// What to plan for.
#[derive(Debug, Clone, Default)]
pub struct PlanRequest {
    /// The brokers the partitions may use after the plan (`--brokers`).
    pub brokers: Vec<BrokerId>,
    /// Rack (AZ) of each broker (`--racks`); every listed broker or none.
    pub racks: Option<BTreeMap<BrokerId, String>>,
    /// Bytes per partition (`--sizes`, from `kafka-log-dirs.sh --describe`).
    pub sizes: Option<HashMap<TopicPartition, u64>>,
    pub strategy: Strategy,
    /// Seed of the `kafka-generate` strategy's `java.util.Random`.
    pub seed: i64,
    /// At most this many movements per broker per stage (`--max-moves-per-broker`).
    pub max_moves_per_broker: Option<u32>,
    /// Inter-broker throttle in bytes/s, for the ETA (`--throttle`).
    pub throttle: Option<u64>,
}

/// A request the planner cannot honour; each message fits on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the broker list is empty")]
    EmptyBrokerList,
    #[error("broker {0} is listed twice")]
    DuplicateBroker(BrokerId),
    #[error("--racks names broker {0}, which is not in the broker list")]
    UnknownRackBroker(BrokerId),
    #[error("broker {0} has no rack: give every listed broker a rack, or none")]
    MissingRack(BrokerId),
    #[error("partition {tp} has replication factor {rf}, larger than the {brokers} brokers listed")]
    ReplicationFactorTooLarge { tp: TopicPartition, rf: usize, brokers: usize },
    #[error("--max-moves-per-broker must be at least 1")]
    ZeroMovesPerBroker,
    #[error("--throttle must be at least 1 byte/s")]
    ZeroThrottle,
    #[error("partition {0} is being reassigned; let that reassignment finish (or cancel it) first")]
    ReassignmentInFlight(TopicPartition),
}

/// Per-broker figures before and after the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrokerReport {
    pub broker: BrokerId,
    pub rack: Option<String>,
    /// False for a broker that holds replicas but is not in the broker list (it is emptied).
    pub listed: bool,
    pub replicas_before: u64,
    pub replicas_after: u64,
    pub replicas_target: u64,
    pub leaders_before: u64,
    pub leaders_after: u64,
    pub bytes_before: Option<u64>,
    pub bytes_after: Option<u64>,
}

/// One stage of the plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageReport {
    pub stage: usize,
    pub partitions: usize,
    pub moves: u64,
    pub max_movements_per_broker: u64,
    pub under_replicated_partitions: usize,
    pub bytes_moved: Option<u64>,
    pub eta_seconds: Option<f64>,
}

/// Everything the plan changes, in numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanReport {
    pub strategy: Strategy,
    pub seed: Option<i64>,
    pub partitions: usize,
    pub replicas: u64,
    pub brokers: usize,
    pub racks: usize,
    pub changed_partitions: usize,
    /// Replicas added to a broker that did not hold them.
    pub moves: u64,
    /// Σ_b max(0, c_b − t_b) with t_b ∈ {⌊R/M⌋, ⌈R/M⌉}, extra slots on the most-loaded brokers.
    pub lower_bound: u64,
    /// The same sum over the best targets racks allow (see `targets`); equals `lower_bound` unless
    /// racks make the targets impossible.
    pub rack_lower_bound: u64,
    /// True when the moves are known to be the minimum: they equal `rack_lower_bound`, or the
    /// exact min-cost-flow solver (used when racks block direct moves) produced them.
    pub proven_optimal: bool,
    /// Moves made to repair partitions spanning too few racks.
    pub rack_repairs: u64,
    /// Moves beyond the direct over→under ones (chains forced by rack constraints).
    pub fallback_moves: u64,
    pub leader_changes: u64,
    pub leader_lower_bound: u64,
    /// Leader changes beyond the direct hand-overs (chains through full brokers).
    pub leader_chain_changes: u64,
    pub bytes_moved: Option<u64>,
    pub replica_spread_before: u64,
    pub replica_spread_after: u64,
    pub leader_spread_before: u64,
    pub leader_spread_after: u64,
    pub disk_spread_before: Option<u64>,
    pub disk_spread_after: Option<u64>,
    /// Partitions spanning fewer than min(RF, racks) racks, after the plan (and before).
    pub rack_violations: usize,
    pub rack_violations_before: usize,
    /// Partitions whose rack count drops (never, for `minimal`).
    pub rack_spread_worsened: usize,
    /// False when racks of unequal sizes make replica spread ≤ 1 impossible.
    pub balanced_targets_feasible: bool,
    pub under_replicated_partitions: usize,
    /// Partitions a `--describe` capture shows without a leader (offline): a reassignment cannot
    /// copy them until the leader is back.
    pub leaderless_partitions: usize,
    pub throttle_bytes_per_sec: Option<u64>,
    /// Σ over stages of max over brokers of bytes in or out / throttle (needs sizes and throttle).
    pub eta_seconds: Option<f64>,
    pub broker_details: Vec<BrokerReport>,
    pub stages: Vec<StageReport>,
}

/// A finished plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// New replica list of every partition, aligned with the assignment's partitions.
    pub proposed: Vec<Vec<BrokerId>>,
    /// Indices of the partitions that change (replicas or their order), in input order.
    pub changed: Vec<usize>,
    /// Ordered stages of changed-partition indices (one stage without a per-broker limit).
    pub stages: Vec<Vec<usize>>,
    pub report: PlanReport,
}

/// Checks a request against an assignment without planning.
pub fn validate(a: &Assignment, req: &PlanRequest) -> Result<(), PlanError> {
    if req.brokers.is_empty() {
        return Err(PlanError::EmptyBrokerList);
    }
    let mut seen = BTreeSet::new();
    for b in &req.brokers {
        if !seen.insert(*b) {
            return Err(PlanError::DuplicateBroker(*b));
        }
    }
    if let Some(racks) = &req.racks {
        if let Some(b) = racks.keys().find(|b| !seen.contains(b)) {
            return Err(PlanError::UnknownRackBroker(*b));
        }
        if let Some(b) = req.brokers.iter().find(|b| !racks.is_empty() && !racks.contains_key(b)) {
            return Err(PlanError::MissingRack(*b));
        }
    }
    if req.max_moves_per_broker == Some(0) {
        return Err(PlanError::ZeroMovesPerBroker);
    }
    if req.throttle == Some(0) {
        return Err(PlanError::ZeroThrottle);
    }
    for p in &a.partitions {
        if p.replicas.len() > req.brokers.len() {
            return Err(PlanError::ReplicationFactorTooLarge {
                tp: p.tp.clone(),
                rf: p.replicas.len(),
                brokers: req.brokers.len(),
            });
        }
        if p.is_reassigning() {
            return Err(PlanError::ReassignmentInFlight(p.tp.clone()));
        }
    }
    Ok(())
}

/// Plans the reassignment. Pure and deterministic: the same input gives the same plan.
pub fn plan(a: &Assignment, req: &PlanRequest) -> Result<Plan, PlanError> {
    validate(a, req)?;
    let racks = req.racks.as_ref().filter(|r| !r.is_empty());
    let before = Layout::build(a, &req.brokers, racks, req.sizes.as_ref());
    let mut after = before.clone();
    let c0 = before.loads();
    let tg = targets::compute(&before, &c0);

    let old_leader: Vec<u32> = (0..before.partitions()).map(|p| before.replicas(p)[0]).collect();
    let mut exact_optimum: Option<u64> = None;
    let (fallback_moves, rack_repairs, leaders) = match req.strategy {
        Strategy::Minimal => {
            let (mut moves, mut stats) = balance::balance(&mut after, &tg.t);
            if racks.is_some() && moves.len() as u64 > tg.bound {
                // Racks blocked the direct moves: find the true minimum if the input is small.
                let mut exact = before.clone();
                if let Some(best) = exact::solve(&before, &mut exact) {
                    exact_optimum = Some(best);
                    if best < count_moves(&before, &after) {
                        after = exact;
                        moves = diff_moves(&before, &after);
                        stats.fallback_moves = 0;
                    }
                }
            }
            if req.sizes.is_some() {
                disk::even_out(&before, &mut after, &moves);
            }
            let leaders = leaders::balance_leaders(&mut after, &old_leader, &|p, b| before.lags(p, b));
            (stats.fallback_moves, stats.rack_repairs, leaders)
        }
        Strategy::KafkaGenerate => {
            kafka_generate(a, req, racks, &mut after);
            // Kafka's leaders stay as generated; the bound is computed on a scratch copy.
            let leaders = leaders::balance_leaders(&mut after.clone(), &old_leader, &|p, b| before.lags(p, b));
            (0, 0, leaders)
        }
    };

    let mut plan = assemble(a, req, &before, &after, &tg, &leaders, fallback_moves, rack_repairs);
    let r = &mut plan.report;
    r.proven_optimal = req.strategy == Strategy::Minimal
        && (r.moves == r.rack_lower_bound || exact_optimum.is_some_and(|best| best == r.moves));
    Ok(plan)
}

fn kafka_generate(a: &Assignment, req: &PlanRequest, racks: Option<&BTreeMap<BrokerId, String>>, after: &mut Layout) {
    let mut brokers = req.brokers.clone();
    brokers.sort_unstable();
    let mut by_topic: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, p) in a.partitions.iter().enumerate() {
        by_topic.entry(p.tp.topic.as_str()).or_default().push(i);
    }
    let index: HashMap<BrokerId, u32> = after.ids.iter().enumerate().map(|(i, b)| (*b, i as u32)).collect();
    let mut rng = JavaRandom::new(req.seed);
    for idxs in by_topic.values() {
        // Kafka numbers the topic's partitions 0..n and takes the RF of one of them.
        let rf = a.partitions[idxs[0]].replicas.len();
        let proposal = assign_replicas_to_brokers(&mut rng, &brokers, racks, idxs.len(), rf);
        let mut sorted = idxs.clone();
        sorted.sort_by_key(|&i| a.partitions[i].tp.partition);
        for (pid, &i) in sorted.iter().enumerate() {
            // A topic whose partitions have mixed RFs keeps its own RF per partition in the CSR;
            // Kafka would change it, which no operator wants from a rebalance.
            let range = after.range(i);
            let new = &proposal[pid];
            for (slot, s) in range.enumerate() {
                after.rep[s] = index[&new[slot.min(new.len() - 1)]];
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    a: &Assignment,
    req: &PlanRequest,
    before: &Layout,
    after: &Layout,
    tg: &targets::Targets,
    leaders: &leaders::LeaderResult,
    fallback_moves: u64,
    rack_repairs: u64,
) -> Plan {
    let parts = before.partitions();
    let n = before.n();
    let m = before.m;
    let with_sizes = req.sizes.is_some();

    let mut moves = 0u64;
    let mut leader_changes = 0u64;
    let mut bytes_moved = 0u64;
    let mut changed = Vec::new();
    let mut change_list = Vec::new();
    let mut involved: Vec<u32> = Vec::new();
    let mut rack_worse = 0usize;
    for p in 0..parts {
        let (old, new) = (before.replicas(p), after.replicas(p));
        if old == new {
            continue;
        }
        changed.push(p);
        let start = involved.len() as u32;
        let mut added = 0u64;
        for &b in new.iter().filter(|b| !old.contains(b)) {
            involved.push(b);
            added += 1;
        }
        involved.extend(old.iter().copied().filter(|b| !new.contains(b)));
        moves += added;
        bytes_moved += added * before.size[p];
        if old[0] != new[0] {
            leader_changes += 1;
        }
        if before.k() > 0 && after.spread(p) < before.spread(p) {
            rack_worse += 1;
        }
        // A move that keeps an out-of-sync replica cannot complete before it catches up.
        let class = if added == 0 {
            stages::Class::Healthy
        } else if new.iter().any(|&b| old.contains(&b) && before.lags(p, b)) {
            stages::Class::KeepsLagging
        } else if before.has_lagging(p) || a.partitions[p].is_under_replicated() {
            stages::Class::Repairing
        } else {
            stages::Class::Healthy
        };
        change_list.push(Change { index: p, start, len: involved.len() as u32 - start, class, bytes: before.size[p] });
    }
    let stage_idx = stages::split(change_list, &involved, req.max_moves_per_broker, n);

    let counts = |l: &Layout| {
        let mut rep = vec![0u64; n];
        let mut lead = vec![0u64; n];
        let mut bytes = vec![0u64; n];
        for p in 0..parts {
            let r = l.replicas(p);
            lead[r[0] as usize] += 1;
            for &b in r {
                rep[b as usize] += 1;
                bytes[b as usize] += l.size[p];
            }
        }
        (rep, lead, bytes)
    };
    let (rep0, lead0, bytes0) = counts(before);
    let (rep1, lead1, bytes1) = counts(after);
    let spread = |v: &[u64]| v[..m].iter().max().unwrap_or(&0) - v[..m].iter().min().unwrap_or(&0);

    // ETA: a new replica copies from the partition's current leader, so per stage the slowest
    // broker is the one with most bytes to receive or to serve, each side throttled.
    let stage_reports: Vec<StageReport> = stage_idx
        .iter()
        .enumerate()
        .map(|(i, idxs)| {
            let mut inb = vec![0u64; n];
            let mut outb = vec![0u64; n];
            let mut movements = vec![0u64; n];
            let mut smoves = 0;
            let mut urp = 0;
            for &p in idxs {
                let (old, new) = (before.replicas(p), after.replicas(p));
                let live_leader = a.partitions[p]
                    .leader
                    .and_then(|id| old.iter().copied().find(|&b| before.ids[b as usize] == id))
                    .unwrap_or(old[0]);
                for &b in new.iter().filter(|b| !old.contains(b)) {
                    smoves += 1;
                    inb[b as usize] += before.size[p];
                    outb[live_leader as usize] += before.size[p];
                    movements[b as usize] += 1;
                }
                for &b in old.iter().filter(|b| !new.contains(b)) {
                    movements[b as usize] += 1;
                }
                urp += usize::from(a.partitions[p].is_under_replicated());
            }
            let worst = inb.iter().zip(&outb).map(|(i, o)| *i.max(o)).max().unwrap_or(0);
            StageReport {
                stage: i + 1,
                partitions: idxs.len(),
                moves: smoves,
                max_movements_per_broker: movements.iter().copied().max().unwrap_or(0),
                under_replicated_partitions: urp,
                bytes_moved: with_sizes.then(|| idxs.iter().map(|&p| moved_bytes(before, after, p)).sum()),
                eta_seconds: match (with_sizes, req.throttle) {
                    (true, Some(t)) => Some(worst as f64 / t as f64),
                    _ => None,
                },
            }
        })
        .collect();
    let eta_seconds = match (with_sizes, req.throttle) {
        (true, Some(_)) => Some(stage_reports.iter().filter_map(|s| s.eta_seconds).sum()),
        _ => None,
    };

    let rack_name = |b: usize| (before.rack[b] != NO_RACK).then(|| before.rack_names[before.rack[b] as usize].clone());
    let broker_details = (0..n)
        .map(|b| BrokerReport {
            broker: before.ids[b],
            rack: rack_name(b),
            listed: b < m,
            replicas_before: rep0[b],
            replicas_after: rep1[b],
            replicas_target: tg.t[b],
            leaders_before: lead0[b],
            leaders_after: lead1[b],
            bytes_before: with_sizes.then_some(bytes0[b]),
            bytes_after: with_sizes.then_some(bytes1[b]),
        })
        .collect();

    let proposed = (0..parts).map(|p| after.replicas(p).iter().map(|&b| after.ids[b as usize]).collect()).collect();
    let report = PlanReport {
        strategy: req.strategy,
        seed: (req.strategy == Strategy::KafkaGenerate).then_some(req.seed),
        partitions: parts,
        replicas: before.rep.len() as u64,
        brokers: m,
        racks: before.k(),
        changed_partitions: changed.len(),
        moves,
        lower_bound: tg.unconstrained_bound,
        rack_lower_bound: tg.bound,
        proven_optimal: false,
        rack_repairs,
        fallback_moves,
        leader_changes,
        leader_lower_bound: leaders.lower_bound,
        leader_chain_changes: leaders.chain_extra,
        bytes_moved: with_sizes.then_some(bytes_moved),
        replica_spread_before: spread(&rep0),
        replica_spread_after: spread(&rep1),
        leader_spread_before: spread(&lead0),
        leader_spread_after: spread(&lead1),
        disk_spread_before: with_sizes.then(|| spread(&bytes0)),
        disk_spread_after: with_sizes.then(|| spread(&bytes1)),
        rack_violations: after.rack_violations(),
        rack_violations_before: before.rack_violations(),
        rack_spread_worsened: rack_worse,
        balanced_targets_feasible: tg.balanced,
        under_replicated_partitions: a.under_replicated().count(),
        leaderless_partitions: a.partitions.iter().filter(|p| p.isr.is_some() && p.leader.is_none()).count(),
        throttle_bytes_per_sec: req.throttle,
        eta_seconds,
        broker_details,
        stages: stage_reports,
    };
    Plan { proposed, changed, stages: stage_idx, report }
}

fn moved_bytes(before: &Layout, after: &Layout, p: usize) -> u64 {
    let old = before.replicas(p);
    after.replicas(p).iter().filter(|b| !old.contains(b)).count() as u64 * before.size[p]
}

fn count_moves(before: &Layout, after: &Layout) -> u64 {
    (0..before.partitions())
        .map(|p| after.replicas(p).iter().filter(|b| !before.replicas(p).contains(b)).count() as u64)
        .sum()
}

/// The moves that turn `before` into `after`, slot by slot.
fn diff_moves(before: &Layout, after: &Layout) -> Vec<balance::Move> {
    let mut out = Vec::new();
    for p in 0..before.partitions() {
        for s in before.range(p) {
            let (from, to) = (before.rep[s], after.rep[s]);
            if from != to && !before.replicas(p).contains(&to) {
                out.push(balance::Move { p: p as u32, slot: s as u32, from, to });
            }
        }
    }
    out
}
