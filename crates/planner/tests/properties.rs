//! Property tests of every guarantee the planner makes (issue 3), on random clusters: valid plans,
//! moves equal to the bound (checked against an exact min-cost-flow oracle on small inputs), rack
//! awareness, leader balance and its bound, determinism, stages, and the `--generate` port.

mod oracle;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use autoheal_planner::{
    Assignment, BrokerId, PartitionState, Plan, PlanRequest, SourceFormat, Strategy as PlanStrategy, TopicPartition,
    plan,
};
use proptest::prelude::*;

/// A random cluster: `old` brokers holding the partitions, `new` brokers listed after growth.
#[derive(Debug, Clone)]
struct Case {
    assignment: Assignment,
    brokers: Vec<BrokerId>,
    racks: Option<BTreeMap<BrokerId, String>>,
    sizes: Option<HashMap<TopicPartition, u64>>,
}

fn rack_name(i: usize) -> String {
    format!("use1-az{}", i + 1)
}

/// Builds a case from plain random numbers so shrinking stays meaningful.
#[allow(clippy::too_many_arguments)]
fn build(
    old: usize,
    added: usize,
    racks: usize,
    rack_valid_start: bool,
    topics: Vec<(usize, usize)>,
    picks: Vec<u32>,
    sizes: Option<Vec<u64>>,
    urp: Vec<bool>,
) -> Case {
    let total = old + added;
    let ids: Vec<BrokerId> = (1..=total as BrokerId).collect();
    let rack_map: Option<BTreeMap<BrokerId, String>> =
        (racks > 1).then(|| ids.iter().map(|&b| (b, rack_name((b as usize - 1) % racks))).collect());
    let mut partitions = Vec::new();
    let mut pick = picks.into_iter().cycle();
    for (ti, (count, rf)) in topics.into_iter().enumerate() {
        let rf = rf.min(old).max(1);
        for p in 0..count {
            let mut reps: Vec<BrokerId> = Vec::new();
            while reps.len() < rf {
                // Walk from a random broker to the first one not yet used (and, for a rack-valid
                // start, in a rack not yet used while one is left).
                let start = pick.next().unwrap() as usize % old;
                let used_racks: BTreeSet<String> =
                    rack_map.iter().flat_map(|rm| reps.iter().map(|x| rm[x].clone())).collect();
                let old_racks = racks.min(old).max(1);
                let ok = |b: BrokerId, strict: bool| {
                    let rack_taken = strict
                        && rack_valid_start
                        && used_racks.len() < old_racks
                        && rack_map.as_ref().is_some_and(|rm| used_racks.contains(&rm[&b]));
                    !reps.contains(&b) && !rack_taken
                };
                let walk =
                    |strict: bool| (0..old).map(|i| ((start + i) % old) as BrokerId + 1).find(|&b| ok(b, strict));
                let b = walk(true).or_else(|| walk(false)).expect("rf <= old");
                reps.push(b);
            }
            let mut st = PartitionState::new(TopicPartition::new(format!("t{ti}"), p as u32), reps.clone());
            let u = urp[partitions.len() % urp.len()];
            st.isr = Some(if u { reps[..1].to_vec() } else { reps.clone() });
            st.leader = Some(reps[0]);
            partitions.push(st);
        }
    }
    let sizes = sizes.map(|s| {
        partitions.iter().enumerate().map(|(i, p): (usize, &PartitionState)| (p.tp.clone(), s[i % s.len()])).collect()
    });
    Case {
        assignment: Assignment { partitions, source: SourceFormat::DescribeV4 },
        brokers: ids,
        racks: rack_map,
        sizes,
    }
}

fn case(
    max_old: usize,
    max_added: usize,
    max_parts: usize,
    racks: bool,
    rack_valid: bool,
    sizes: bool,
) -> impl Strategy<Value = Case> {
    (
        1..=max_old,
        0..=max_added,
        if racks { 2usize..=3 } else { 0usize..=0 },
        prop::collection::vec((1..=max_parts, 1usize..=4), 1..=3),
        prop::collection::vec(any::<u32>(), 1..64),
        if sizes {
            prop::option::of(prop::collection::vec(1u64..1_000_000, 1..40)).boxed()
        } else {
            Just(None).boxed()
        },
        prop::collection::vec(any::<bool>(), 1..8),
    )
        .prop_map(move |(old, added, k, topics, picks, sizes, urp)| {
            let old = if k > 1 { old.max(k) } else { old };
            build(old, added.max(1), k, rack_valid, topics, picks, sizes, urp)
        })
}

fn request(c: &Case) -> PlanRequest {
    PlanRequest { brokers: c.brokers.clone(), racks: c.racks.clone(), sizes: c.sizes.clone(), ..Default::default() }
}

fn check_valid(c: &Case, p: &Plan) {
    let listed: BTreeSet<BrokerId> = c.brokers.iter().copied().collect();
    for (i, new) in p.proposed.iter().enumerate() {
        let old = &c.assignment.partitions[i].replicas;
        assert_eq!(new.len(), old.len(), "RF kept");
        let set: BTreeSet<_> = new.iter().collect();
        assert_eq!(set.len(), new.len(), "no broker twice in {new:?}");
        assert!(new.iter().all(|b| listed.contains(b)), "only listed brokers: {new:?}");
    }
    // `changed` lists exactly the partitions that differ.
    let differ: Vec<usize> =
        (0..p.proposed.len()).filter(|&i| p.proposed[i] != c.assignment.partitions[i].replicas).collect();
    assert_eq!(p.changed, differ);
}

fn rack_span(racks: &BTreeMap<BrokerId, String>, reps: &[BrokerId]) -> usize {
    reps.iter().filter_map(|b| racks.get(b)).collect::<BTreeSet<_>>().len()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// Without racks: valid, moves = Σ max(0, c_b − t_b) exactly, replica spread ≤ 1, and no
    /// balanced assignment at all moves fewer (exact oracle).
    #[test]
    fn moves_equal_the_lower_bound_without_racks(c in case(6, 5, 12, false, false, true)) {
        let p = plan(&c.assignment, &request(&c)).unwrap();
        check_valid(&c, &p);
        let r = &p.report;
        prop_assert_eq!(r.moves, r.lower_bound);
        prop_assert_eq!(r.rack_lower_bound, r.lower_bound);
        prop_assert!(r.replica_spread_after <= 1);
        prop_assert_eq!(r.fallback_moves, 0);
        prop_assert!(r.proven_optimal);
        let exact = oracle::min_moves(&c.assignment, &c.brokers, None).unwrap();
        prop_assert_eq!(r.moves as i64, exact);
    }

    /// Racks, rack-valid start: every partition spans min(RF, racks), spread never worsens, and
    /// the moves equal the rack-feasible bound, which the oracle confirms is the true minimum.
    #[test]
    fn rack_aware_moves_are_minimal(c in case(6, 6, 10, true, true, false)) {
        let p = plan(&c.assignment, &request(&c)).unwrap();
        check_valid(&c, &p);
        let r = &p.report;
        let racks = c.racks.as_ref().unwrap();
        let k = racks.values().collect::<BTreeSet<_>>().len();
        for (i, new) in p.proposed.iter().enumerate() {
            let old = &c.assignment.partitions[i].replicas;
            prop_assert!(rack_span(racks, new) >= new.len().min(k), "{old:?} -> {new:?}");
            prop_assert!(rack_span(racks, new) >= rack_span(racks, old).min(new.len().min(k)));
        }
        prop_assert_eq!(r.rack_violations, 0);
        prop_assert_eq!(r.rack_spread_worsened, 0);
        match oracle::min_moves(&c.assignment, &c.brokers, c.racks.as_ref()) {
            Some(exact) => {
                prop_assert_eq!(r.moves as i64, exact, "report {:?}", (r.lower_bound, r.rack_lower_bound, r.fallback_moves));
                // The targets' bound is a valid lower bound, and tight unless racks pin replicas.
                prop_assert!(r.moves >= r.rack_lower_bound);
                prop_assert!(r.proven_optimal);
                prop_assert!(r.replica_spread_after <= 1);
            }
            None => prop_assert!(!r.balanced_targets_feasible || r.fallback_moves > 0 || r.moves >= r.rack_lower_bound),
        }
    }

    /// Racks, arbitrary (possibly rack-violating) start: violations are all repaired.
    #[test]
    fn rack_violations_are_repaired(c in case(5, 4, 10, true, false, false)) {
        let p = plan(&c.assignment, &request(&c)).unwrap();
        check_valid(&c, &p);
        prop_assert_eq!(p.report.rack_violations, 0);
        prop_assert!(p.report.moves >= p.report.rack_lower_bound);
        if let Some(exact) = oracle::min_moves(&c.assignment, &c.brokers, c.racks.as_ref()) {
            // Repairs may cost moves the bound does not count, never below the true minimum.
            prop_assert!(p.report.moves as i64 >= exact);
        }
    }

    /// Preferred leaders: spread ≤ 1 whenever the replica lists allow it, never below the bound.
    #[test]
    fn leaders_are_balanced_near_their_bound(c in case(6, 5, 14, false, false, false)) {
        let p = plan(&c.assignment, &request(&c)).unwrap();
        let r = &p.report;
        // Spread ≤ 1 whenever the final replica lists allow it at all (exact flow check).
        if oracle::leaders_can_balance(&p.proposed, &c.brokers) {
            prop_assert!(r.leader_spread_after <= 1, "leader spread {}", r.leader_spread_after);
        }
        // Direct hand-overs cost one change per unit of surplus (the bound); only chains through
        // full brokers may cost more, and never more than their length.
        if r.leader_spread_after <= 1 {
            prop_assert!(r.leader_changes >= r.leader_lower_bound);
        }
    }

    /// Same input, same output; and the `kafka-generate` port is seeded and valid.
    #[test]
    fn deterministic_and_generate_is_valid(c in case(5, 4, 10, true, true, true), seed in any::<i64>()) {
        let a = plan(&c.assignment, &request(&c)).unwrap();
        let b = plan(&c.assignment, &request(&c)).unwrap();
        prop_assert_eq!(&a.proposed, &b.proposed);
        prop_assert_eq!(&a.report, &b.report);
        let g = PlanRequest { strategy: PlanStrategy::KafkaGenerate, seed, ..request(&c) };
        let g1 = plan(&c.assignment, &g).unwrap();
        let g2 = plan(&c.assignment, &g).unwrap();
        prop_assert_eq!(&g1.proposed, &g2.proposed);
        check_valid(&c, &g1);
        // Whenever Kafka's proposal is itself balanced and rack-valid, it cannot move fewer.
        if g1.report.replica_spread_after <= 1 && g1.report.rack_violations == 0 && a.report.fallback_moves == 0 && a.report.rack_repairs == 0 {
            prop_assert!(g1.report.moves >= a.report.moves, "generate {} < minimal {}", g1.report.moves, a.report.moves);
        }
    }

    /// Stages: no broker in more than K movements per stage, every changed partition exactly once,
    /// and a partition whose target keeps an out-of-sync replica (it cannot complete before that
    /// replica catches up) only after every other moving partition. Under-replicated partitions
    /// whose move replaces their out-of-sync replicas are repairs and may go first (README).
    #[test]
    fn stages_respect_the_limit_and_move_partitions_keeping_a_laggard_last(c in case(5, 5, 12, false, false, false), k in 1u32..4) {
        let req = PlanRequest { max_moves_per_broker: Some(k), ..request(&c) };
        let p = plan(&c.assignment, &req).unwrap();
        let mut seen: Vec<usize> = p.stages.iter().flatten().copied().collect();
        seen.sort_unstable();
        prop_assert_eq!(&seen, &p.changed);
        let mut last_other: Option<usize> = None;
        let mut first_keeping = usize::MAX;
        for (s, idxs) in p.stages.iter().enumerate() {
            let mut count: HashMap<BrokerId, u32> = HashMap::new();
            for &i in idxs {
                let part = &c.assignment.partitions[i];
                let old = &part.replicas;
                let new = &p.proposed[i];
                let moved = new.iter().any(|b| !old.contains(b));
                for b in new.iter().filter(|b| !old.contains(b)).chain(old.iter().filter(|b| !new.contains(b))) {
                    *count.entry(*b).or_default() += 1;
                }
                let isr = part.isr.as_ref().unwrap();
                let keeps_laggard = new.iter().any(|b| old.contains(b) && !isr.contains(b));
                if moved {
                    if keeps_laggard {
                        first_keeping = first_keeping.min(s);
                    } else {
                        last_other = Some(last_other.map_or(s, |h| h.max(s)));
                    }
                }
            }
            prop_assert!(count.values().all(|&n| n <= k), "stage {s}: {count:?}");
        }
        if let (Some(h), true) = (last_other, first_keeping != usize::MAX) {
            prop_assert!(first_keeping > h, "partitions keeping a laggard start in stage {first_keeping}, others end in {h}");
        }
    }

    /// Out-of-sync replicas are the ones replaced: in the scenario (2 brokers → 4, RF 2,
    /// racks or not, some partitions under-replicated), a broker above its target gives up its
    /// lagging replicas before any in-sync one, so either all of its lagging replicas leave or
    /// everything it gives up was lagging — with the fewest moves still.
    #[test]
    fn lagging_replicas_are_replaced_first(
        parts in 1usize..=16, picks in prop::collection::vec(any::<u32>(), 1..32),
        urp in prop::collection::vec(any::<bool>(), 1..8), racks in any::<bool>(),
    ) {
        let c = build(2, 2, if racks { 2 } else { 0 }, true, vec![(parts, 2)], picks, None, urp);
        let p = plan(&c.assignment, &request(&c)).unwrap();
        check_valid(&c, &p);
        prop_assert_eq!(p.report.moves, p.report.lower_bound);
        for b in [1, 2] {
            let (mut lagging, mut lagging_left, mut given, mut given_lagging) = (0, 0, 0, 0);
            for (i, part) in c.assignment.partitions.iter().enumerate() {
                if !part.replicas.contains(&b) {
                    continue;
                }
                let lags = !part.isr.as_ref().unwrap().contains(&b);
                let kept = p.proposed[i].contains(&b);
                lagging += usize::from(lags);
                lagging_left += usize::from(lags && kept);
                given += usize::from(!kept);
                given_lagging += usize::from(!kept && lags);
            }
            prop_assert!(lagging_left == 0 || given_lagging == given,
                "broker {b}: {lagging} lagging, {lagging_left} kept; gave up {given}, {given_lagging} of them lagging");
        }
    }
}
