//! The parsers and the planner on real captures from a real Kafka cluster
//! (tests/fixtures/planner, see its README).

use std::collections::BTreeMap;
use std::path::PathBuf;

use autoheal_planner::formats::{self, parse_log_dirs, write_reassignment_json};
use autoheal_planner::{PlanError, PlanRequest, SourceFormat, Strategy, TopicPartition, parse_assignment, plan};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/planner").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn racks() -> BTreeMap<i32, String> {
    [(1, "use1-az1"), (2, "use1-az2"), (3, "use1-az1"), (4, "use1-az2")]
        .into_iter()
        .map(|(b, r)| (b, r.to_string()))
        .collect()
}

#[test]
fn describe_4x_and_generate_json_read_the_same_assignment() {
    let describe = parse_assignment(&fixture("describe-kafka4.txt")).unwrap();
    let generate = parse_assignment(&fixture("reassign-generate-kafka4.txt")).unwrap();
    assert_eq!(describe.source, SourceFormat::DescribeV4);
    assert_eq!(generate.source, SourceFormat::ReassignmentJson);
    assert_eq!(describe.partitions.len(), 11);
    let by_tp = |a: &autoheal_planner::Assignment| {
        a.partitions.iter().map(|p| (p.tp.clone(), p.replicas.clone())).collect::<BTreeMap<_, _>>()
    };
    // The generate output's *current* block, not the proposed one that follows it.
    assert_eq!(by_tp(&describe), by_tp(&generate));
    assert!(describe.is_fully_replicated());
    assert_eq!(describe.under_replicated().count(), 0);
    assert_eq!(describe.brokers(), vec![1, 2]);
}

#[test]
fn under_replication_is_read_from_both_layouts() {
    for name in ["describe-broker-down-kafka4.txt", "describe-kafka3.txt"] {
        let a = parse_assignment(&fixture(name)).unwrap();
        let urp: Vec<String> = a.under_replicated().map(|p| p.tp.to_string()).collect();
        assert_eq!(urp.len(), 10, "{name}: {urp:?}");
        assert!(urp.contains(&"audit-log-0".to_string()), "a leaderless RF-1 partition with an empty ISR");
        assert!(!urp.contains(&"audit-log-1".to_string()));
        assert!(!a.is_fully_replicated());
        let leaderless = a.partitions.iter().find(|p| p.tp == TopicPartition::new("audit-log", 0)).unwrap();
        assert_eq!(leaderless.leader, None);
    }
    assert_eq!(parse_assignment(&fixture("describe-kafka3.txt")).unwrap().source, SourceFormat::DescribeV3);
    let only = parse_assignment(&fixture("describe-under-replicated-kafka4.txt")).unwrap();
    assert_eq!(only.partitions.len(), 10);
    assert_eq!(only.under_replicated().count(), 10);
}

#[test]
fn a_reassignment_in_flight_is_refused_by_the_planner() {
    let a = parse_assignment(&fixture("describe-reassigning-kafka3.txt")).unwrap();
    let p = a.reassigning().next().unwrap();
    assert_eq!(p.tp, TopicPartition::new("orders", 1));
    assert_eq!(p.replicas, vec![2, 1]);
    let err = plan(&a, &PlanRequest { brokers: vec![1, 2, 3, 4], ..Default::default() }).unwrap_err();
    assert_eq!(err, PlanError::ReassignmentInFlight(TopicPartition::new("orders", 1)));
}

#[test]
fn log_dirs_give_partition_sizes() {
    let dirs = parse_log_dirs(&fixture("log-dirs-kafka4.txt")).unwrap();
    let sizes = dirs.partition_sizes().unwrap();
    assert_eq!(sizes.len(), 11);
    assert!(sizes.values().all(|&s| s > 0), "{sizes:?}");
    assert!(dirs.offline_dirs().is_empty());
    let replicas = dirs.replicas().unwrap();
    // RF 2 topics have two replicas, the RF-1 topic one: 9×2 + 2.
    assert_eq!(replicas.len(), 20);
}

#[test]
fn the_plan_for_the_captured_cluster_beats_kafkas_own_proposal() {
    let text = fixture("reassign-generate-kafka4.txt");
    let current = parse_assignment(&text).unwrap();
    let proposed_at = text.find("Proposed partition reassignment configuration").unwrap();
    let kafka = formats::parse_reassignment_json(&text[proposed_at + 45..]).unwrap();
    let kafka_moves: usize = current
        .partitions
        .iter()
        .map(|p| {
            let new = &kafka.partitions.iter().find(|k| k.tp == p.tp).unwrap().replicas;
            new.iter().filter(|b| !p.replicas.contains(b)).count()
        })
        .sum();
    let sizes = parse_log_dirs(&fixture("log-dirs-kafka4.txt")).unwrap().partition_sizes().unwrap();
    let req = PlanRequest { brokers: vec![1, 2, 3, 4], racks: Some(racks()), sizes: Some(sizes), ..Default::default() };
    let p = plan(&current, &req).unwrap();
    let r = &p.report;
    // 20 replicas on 2 brokers → 5 each on 4: 10 must move, no more.
    assert_eq!((r.moves, r.lower_bound), (10, 10));
    assert!(r.proven_optimal);
    assert!(kafka_moves > r.moves as usize, "Kafka's --generate moved {kafka_moves}");
    assert_eq!(r.replica_spread_after, 0);
    assert!(r.leader_spread_after <= 1);
    assert_eq!(r.rack_violations, 0);
    // The plan round-trips through the --execute format.
    let json =
        write_reassignment_json(p.changed.iter().map(|&i| (&current.partitions[i].tp, p.proposed[i].as_slice())));
    let back = parse_assignment(&json).unwrap();
    assert_eq!(back.partitions.len(), p.changed.len());
    // The generate port itself plans the same capture validly.
    let g = plan(&current, &PlanRequest { strategy: Strategy::KafkaGenerate, seed: 1, ..req }).unwrap();
    assert!(g.report.moves >= r.moves);
}

/// Real Kafka 3.6.2 captures recorded for the workflow's parsers (tests/fixtures/kafka): the 3.x
/// describe layout and log-dirs, read by the same API.
#[test]
fn real_kafka_3_6_captures_read_and_plan() {
    let read = |name: &str| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kafka").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    for version in ["3.6.2", "4.1.2"] {
        let a = parse_assignment(&read(&format!("topics-describe-4-brokers-{version}.txt"))).unwrap();
        let want = if version == "3.6.2" { SourceFormat::DescribeV3 } else { SourceFormat::DescribeV4 };
        assert_eq!(a.source, want, "{version}");
        let sizes =
            parse_log_dirs(&read(&format!("log-dirs-describe-{version}.txt"))).unwrap().partition_sizes().unwrap();
        assert!(a.partitions.iter().all(|p| sizes.contains_key(&p.tp)), "{version}: every partition has a size");
        let req =
            PlanRequest { brokers: vec![1, 2, 3, 4], racks: Some(racks()), sizes: Some(sizes), ..Default::default() };
        let p = plan(&a, &req).unwrap();
        assert_eq!(p.report.moves, p.report.lower_bound, "{version}");
        assert!(p.report.proven_optimal);
        let after = parse_assignment(&read(&format!("topics-describe-after-{version}.txt"))).unwrap();
        assert_eq!(after.partitions.len(), a.partitions.len());
    }
}

/// The workflow's "healed?" question, asked of real captures.
#[test]
fn under_replicated_partitions_of_real_captures() {
    use autoheal_planner::formats::under_replicated_partitions;
    assert!(under_replicated_partitions(&fixture("describe-kafka4.txt")).unwrap().is_empty());
    assert_eq!(under_replicated_partitions(&fixture("describe-broker-down-kafka4.txt")).unwrap().len(), 10);
    assert_eq!(under_replicated_partitions(&fixture("describe-under-replicated-kafka4.txt")).unwrap().len(), 10);
    assert_eq!(under_replicated_partitions(&fixture("describe-kafka3.txt")).unwrap().len(), 10);
}
