//! Every verdict from a recorded-style snapshot (tests/fixtures/snapshots, made by its generate.py),
//! the sizing arithmetic, severity, and property tests: no input makes `diagnose` panic, and every
//! `add_brokers` target is a multiple of the AZ count, above the current count and within the cap.

use super::*;
use crate::capacity::CapacityPolicy;
use proptest::prelude::*;
use std::path::PathBuf;

fn fixture_text(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/snapshots").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture(name: &str) -> Snapshot {
    Snapshot::parse(&fixture_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(name: &str, policy: &Policy) -> Diagnosis {
    diagnose(&fixture(name), policy).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn default(name: &str) -> Diagnosis {
    run(name, &Policy::default())
}

fn has(d: &Diagnosis, needle: &str) -> bool {
    d.evidence.iter().any(|e| e.contains(needle))
}

fn with_cap(max_brokers: u32, step_per_az: u32) -> Policy {
    Policy { capacity: CapacityPolicy { step_per_az, max_brokers }, ..Policy::default() }
}

#[test]
fn busy_when_an_operation_runs() {
    let d = default("busy-update-in-progress.json");
    assert_eq!(d.verdict, Verdict::Busy);
    assert_eq!(d.remedy, Remedy::None);
    assert!(has(&d, "cluster state is UPDATING"), "{:?}", d.evidence);
    assert!(has(&d, "operation UPDATE_BROKER_COUNT is UPDATE_IN_PROGRESS (created 2026-12-07T11:50:00Z)"));
    // An ACTIVE cluster with a PENDING operation is busy too.
    let mut s = fixture("busy-update-in-progress.json");
    s.cluster.state = ClusterState::Active;
    s.operations[0].operation_state = "PENDING".into();
    assert_eq!(diagnose(&s, &Policy::default()).unwrap().verdict, Verdict::Busy);
    // Once it completed, the same load is a capacity problem.
    s.operations[0].operation_state = "UPDATE_COMPLETE".into();
    assert_eq!(diagnose(&s, &Policy::default()).unwrap().verdict, Verdict::Capacity);
}

#[test]
fn a_silent_broker_is_named_and_nothing_scales() {
    let d = default("broker-unavailable-silent.json");
    assert_eq!(d.verdict, Verdict::BrokerUnavailable);
    assert_eq!(d.remedy, Remedy::None);
    assert_eq!(d.unavailable_brokers, vec![2]);
    assert!(
        has(
            &d,
            "broker 2 has reported no metric for 7 min (last point 2026-12-07T11:53:00Z) while brokers 1, 3 report"
        ),
        "{:?}",
        d.evidence
    );
    // URP on 2 of 3 brokers: more than a third.
    assert_eq!(d.severity, Severity::High);
}

#[test]
fn offline_partitions_are_unavailable_and_critical() {
    let d = default("broker-unavailable-offline.json");
    assert_eq!(d.verdict, Verdict::BrokerUnavailable);
    assert!(d.unavailable_brokers.is_empty());
    assert!(has(&d, "3 partitions offline at 2026-12-07T11:59:00Z (OfflinePartitionsCount)"), "{:?}", d.evidence);
    assert_eq!(d.severity, Severity::Critical);
}

#[test]
fn cleared_urp_is_transient() {
    let d = default("transient.json");
    assert_eq!(d.verdict, Verdict::Transient);
    assert_eq!(d.remedy, Remedy::None);
    assert_eq!(d.severity, Severity::Low);
    assert!(has(&d, "no under-replicated partition on any of 3 brokers in the last 3 min"), "{:?}", d.evidence);
    assert!(has(&d, "last under-replication: 1 partitions on broker 1 at 2026-12-07T11:55:00Z"));
    // Still present a minute ago: not transient.
    let mut s = fixture("transient.json");
    let urp = s.metrics.iter_mut().find(|m| m.name == "UnderReplicatedPartitions" && m.broker == Some(1)).unwrap();
    urp.points.last_mut().unwrap().1 = 2.0;
    assert_ne!(diagnose(&s, &Policy::default()).unwrap().verdict, Verdict::Transient);
    // No URP data at all in the window is not proof of healing.
    let mut s = fixture("transient.json");
    s.metrics.retain(|m| m.name != "UnderReplicatedPartitions");
    assert_ne!(diagnose(&s, &Policy::default()).unwrap().verdict, Verdict::Transient);
}

#[test]
fn a_full_disk_gets_storage_not_brokers() {
    let d = default("storage.json");
    assert_eq!(d.verdict, Verdict::Storage);
    // 88% of 1000 GiB ÷ 60% = 1466.67 GiB → 1470 (10 GiB steps): 59.86% used.
    assert_eq!(d.remedy, Remedy::ExpandStorage { target_storage_gib: 1470 });
    assert!(has(&d, "broker 2 data log disk 88% used"), "{:?}", d.evidence);
    assert!(has(&d, "88% × 1000 GiB ÷ 60% = 1466.67 GiB → 1470 GiB (10 GiB steps): fullest broker at 59.86%"));
    // Near MSK's maximum the target is capped at 16384 GiB.
    let mut s = fixture("storage.json");
    s.cluster.storage_gib = 15000;
    assert_eq!(diagnose(&s, &Policy::default()).unwrap().remedy, Remedy::ExpandStorage { target_storage_gib: 16384 });
    // At the maximum already: nothing to expand.
    s.cluster.storage_gib = 16384;
    let d = diagnose(&s, &Policy::default()).unwrap();
    assert_eq!((d.verdict, d.remedy.clone()), (Verdict::Storage, Remedy::None));
    assert!(has(&d, "already MSK's largest"));
    // A storage update 2 hours ago: MSK refuses another for 6 hours.
    let mut s = fixture("storage.json");
    s.operations.push(Operation {
        operation_type: "UPDATE_BROKER_STORAGE".into(),
        operation_state: "UPDATE_COMPLETE".into(),
        creation_time: Timestamp::parse("2026-12-07T10:00:00Z").unwrap(),
    });
    let d = diagnose(&s, &Policy::default()).unwrap();
    assert_eq!((d.verdict, d.remedy.clone()), (Verdict::Storage, Remedy::None));
    assert!(has(&d, "one storage update per broker every 6 hours"));
}

#[test]
fn one_hot_broker_is_skew() {
    let d = default("skew.json");
    assert_eq!(d.verdict, Verdict::Skew);
    assert_eq!(d.remedy, Remedy::Rebalance);
    assert!(has(&d, "broker 1 at 78% CPU while broker 2 is at 25%"), "{:?}", d.evidence);
    assert!(has(&d, "mean CPU 42.67% over the last 5 min on 3 of 3 brokers"));
}

#[test]
fn the_issues_example_84_percent_on_3_brokers() {
    let d = default("capacity-cpu.json");
    assert_eq!(d.verdict, Verdict::Capacity);
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 6 });
    assert_eq!(d.severity, Severity::High);
    assert_eq!(d.evidence[0], "mean CPU 84% over the last 5 min on 3 of 3 brokers (threshold 60%, target 50%)");
    assert!(
        has(&d, "load 84% ÷ target 50% × 3 brokers = 5.04 → 6 (multiple of 3 AZs): projected load 42% per broker"),
        "{:?}",
        d.evidence
    );
    let sizing = d.sizing.unwrap();
    assert_eq!(sizing.load_source, "cpu");
    assert_eq!(sizing.target_broker_count, Some(6));
    assert!((sizing.projected_load_percent.unwrap() - 42.0).abs() < 1e-9);
    assert!(
        d.evidence
            .last()
            .unwrap()
            .starts_with("severity high: 27 under-replicated partitions on 3 of 3 brokers for 12 min")
    );
}

#[test]
fn ninety_five_percent_on_6_brokers_needs_12_not_9() {
    let d = default("capacity-95-on-6.json");
    assert_eq!(d.verdict, Verdict::Capacity);
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 12 });
    assert!(has(&d, "load 95% ÷ target 50% × 6 brokers = 11.4 → 12 (multiple of 3 AZs)"), "{:?}", d.evidence);
    // Under a ceiling of 10 the most it may ask is 9, and it says so.
    let d = run("capacity-95-on-6.json", &with_cap(10, 1));
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 9 });
    assert!(has(&d, "capped at 9 (MAX_BROKERS 10, a multiple of 3 AZs): projected load 63.33% per broker"));
    // A lower target needs more brokers: 95 ÷ 40 × 6 = 14.25 → 15.
    let policy = Policy { target_cpu_percent: 40.0, ..with_cap(30, 1) };
    assert_eq!(run("capacity-95-on-6.json", &policy).remedy, Remedy::AddBrokers { target_broker_count: 15 });
}

#[test]
fn the_step_is_a_floor() {
    // 84% on 3 with target 80%: the load alone needs 3.15 → 6 anyway; with step 2 per AZ: 9.
    let policy = Policy { target_cpu_percent: 80.0, ..with_cap(30, 2) };
    let d = run("capacity-cpu.json", &policy);
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 9 });
    assert!(
        has(&d, "load 84% ÷ target 80% × 3 brokers = 3.15 → 6; at least 3 + 2 per AZ × 3 AZs = 9"),
        "{:?}",
        d.evidence
    );
}

#[test]
fn throughput_bound_m5_large() {
    let d = default("capacity-throughput.json");
    assert_eq!(d.verdict, Verdict::Capacity);
    // 70 MB/s of m5.large's 81.25 = 86.15%; 3 × 86.15 ÷ 50 = 5.17 → 6.
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 6 });
    assert!(
        has(
            &d,
            "write throughput (BytesIn + ReplicationBytesIn) 70 MB/s per broker over the last 5 min on 3 of 3 brokers = 86.15% of kafka.m5.large's sustained 81.25 MB/s (threshold 80%)"
        ),
        "{:?}",
        d.evidence
    );
    assert_eq!(d.sizing.unwrap().load_source, "throughput");
}

#[test]
fn the_local_demo_is_capacity_from_measured_replication() {
    let d = default("capacity-local-demo.json");
    assert_eq!(d.verdict, Verdict::Capacity);
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 4 });
    assert!(
        has(
            &d,
            "replication throughput (ReplicationBytesIn) 0.98 MB/s per broker over the last 5 min on 2 of 2 brokers = 98% of kafka.local.emulated's sustained 1 MB/s"
        ),
        "{:?}",
        d.evidence
    );
    assert!(has(&d, "load 98% ÷ target 50% × 2 brokers = 3.92 → 4 (multiple of 2 AZs)"));
    // The same numbers reported as kafka.t3.small (what the local stack says today) judge the
    // bytes against 16 MB/s: CPU 35%, throughput 13%, so no capacity verdict.
    let mut s = fixture("capacity-local-demo.json");
    s.cluster.instance_type = "kafka.t3.small".into();
    assert_eq!(diagnose(&s, &Policy::default()).unwrap().verdict, Verdict::Unexplained);
}

#[test]
fn at_the_ceiling_capacity_is_refused_with_the_reason() {
    let d = default("capacity-at-ceiling.json");
    assert_eq!(d.verdict, Verdict::Capacity);
    assert_eq!(d.remedy, Remedy::None);
    assert_eq!(d.refusal, Some(CapacityRefusal::AtCeiling { current: 12, max: 12, az_count: 3 }));
    assert!(
        has(&d, "load 75% ÷ target 50% × 12 brokers = 18 → 18 (multiple of 3 AZs), but cluster has 12 brokers"),
        "{:?}",
        d.evidence
    );
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["remedy"], serde_json::json!({"action": "none"}));
    assert_eq!(json["refusal"]["kind"], "at_ceiling");
}

#[test]
fn nothing_fits_is_unexplained_and_does_not_scale() {
    let d = default("unexplained.json");
    assert_eq!(d.verdict, Verdict::Unexplained);
    assert_eq!(d.remedy, Remedy::None);
    assert_eq!(d.severity, Severity::Medium);
    assert!(has(&d, "mean CPU 30% over the last 5 min"), "{:?}", d.evidence);
    // The policy flag restores today's +1 per AZ.
    let policy = Policy { unexplained_adds_brokers: true, ..Policy::default() };
    assert_eq!(run("unexplained.json", &policy).remedy, Remedy::AddBrokers { target_broker_count: 6 });
}

#[test]
fn an_unknown_type_is_judged_on_cpu_only() {
    let mut s = fixture("capacity-cpu.json");
    s.cluster.instance_type = "kafka.m9.huge".into();
    let d = diagnose(&s, &Policy::default()).unwrap();
    assert_eq!(d.remedy, Remedy::AddBrokers { target_broker_count: 6 });
    assert!(has(&d, "instance type kafka.m9.huge is not in the capacity table"));
}

#[test]
fn severity_mapping() {
    // Medium: URP on 1 of 3 brokers, 3 of 60 partitions (5%), for 6 minutes.
    let base = fixture("unexplained.json");
    assert_eq!(diagnose(&base, &Policy::default()).unwrap().severity, Severity::Medium);
    fn urp_of(s: &mut Snapshot, b: u32) -> &mut Series {
        s.metrics.iter_mut().find(|m| m.name == "UnderReplicatedPartitions" && m.broker == Some(b)).unwrap()
    }
    // High by duration: the same 3 partitions for the whole 15 minutes.
    let mut s = base.clone();
    urp_of(&mut s, 1).points.iter_mut().for_each(|p| p.1 = 3.0);
    let d = diagnose(&s, &Policy::default()).unwrap();
    assert_eq!(d.severity, Severity::High);
    assert!(d.evidence.last().unwrap().contains("for 15 min"), "{:?}", d.evidence);
    // High by share: 6 of 60 partitions.
    let mut s = base.clone();
    urp_of(&mut s, 1).points.last_mut().unwrap().1 = 6.0;
    assert_eq!(diagnose(&s, &Policy::default()).unwrap().severity, Severity::High);
    // Critical: under min ISR.
    let mut s = base.clone();
    s.metrics.push(Series {
        name: "UnderMinIsrPartitionCount".into(),
        broker: Some(1),
        period_seconds: 60,
        points: vec![(Timestamp::parse("2026-12-07T11:59:00Z").unwrap(), 1.0)],
    });
    assert_eq!(diagnose(&s, &Policy::default()).unwrap().severity, Severity::Critical);
    assert!(
        Severity::Critical > Severity::High && Severity::High > Severity::Medium && Severity::Medium > Severity::Low
    );
}

#[test]
fn json_shape_of_a_diagnosis() {
    let v = serde_json::to_value(default("capacity-cpu.json")).unwrap();
    assert_eq!(v["verdict"], "capacity");
    assert_eq!(v["severity"], "high");
    assert_eq!(v["remedy"], serde_json::json!({"action": "add_brokers", "target_broker_count": 6}));
    assert!(v["evidence"].as_array().unwrap().iter().all(|e| e.is_string()));
    assert!(v.get("unavailable_brokers").is_none() && v.get("refusal").is_none());
    let v = serde_json::to_value(default("storage.json")).unwrap();
    assert_eq!(v["remedy"], serde_json::json!({"action": "expand_storage", "target_storage_gib": 1470}));
    let v = serde_json::to_value(default("skew.json")).unwrap();
    assert_eq!(v["remedy"], serde_json::json!({"action": "rebalance"}));
    // A diagnosis reads back as itself (the workflow stores it in its state).
    let d = default("broker-unavailable-silent.json");
    let back: Diagnosis = serde_json::from_value(serde_json::to_value(&d).unwrap()).unwrap();
    assert_eq!(back, d);
}

#[test]
fn the_queries_the_diagnose_step_makes() {
    let q = snapshot::queries(&[2, 1, 2]);
    assert_eq!(q.len(), 2 * snapshot::BROKER_METRICS.len() + snapshot::CLUSTER_METRICS.len());
    assert_eq!(q[0], ("CpuUser", Some(1)));
    assert!(q.contains(&("UnderReplicatedPartitions", Some(2))));
    assert!(q.contains(&("OfflinePartitionsCount", None)));
    let unique: std::collections::BTreeSet<_> = q.iter().collect();
    assert_eq!(unique.len(), q.len());
    // Every metric the verdicts read is queried.
    for name in [
        "CpuUser",
        "CpuSystem",
        "BytesInPerSec",
        "ReplicationBytesInPerSec",
        "KafkaDataLogsDiskUsed",
        "UnderReplicatedPartitions",
        "UnderMinIsrPartitionCount",
        "LeaderCount",
        "OfflinePartitionsCount",
    ] {
        assert!(q.iter().any(|(m, _)| *m == name), "{name}");
    }
}

#[test]
fn snapshots_round_trip() {
    let s = fixture("capacity-cpu.json");
    let text = serde_json::to_string(&s).unwrap();
    assert_eq!(Snapshot::parse(&text).unwrap(), s);
}

#[test]
fn malformed_snapshots_are_one_line_errors() {
    for (file, says) in [
        ("malformed-syntax.json", "malformed snapshot JSON at line 3"),
        ("malformed-time.json", "invalid timestamp \"yesterday\""),
        ("malformed-broker-id.json", "broker \"b-1\" is not a Broker ID"),
        ("malformed-uneven-brokers.json", "broker_count 4 is not a positive multiple of az_count 3"),
        ("malformed-out-of-order.json", "points are not in increasing time order at 2026-12-07T11:47:00Z"),
    ] {
        let e = Snapshot::parse(&fixture_text(file)).unwrap_err().to_string();
        assert!(e.contains(says), "{file}: {e}");
        assert!(!e.contains('\n'), "{file}: {e}");
    }
    let good = fixture_text("capacity-cpu.json");
    for (from, to, says) in [
        ("\"az_count\": 3", "\"az_count\": 0", "az_count is 0"),
        ("\"storage_gib\": 1000", "\"storage_gib\": 20000", "outside MSK's 1..=16384"),
        ("\"instance_type\": \"kafka.m5.large\"", "\"instance_type\": \" \"", "instance_type is empty"),
        ("\"period_seconds\": 60", "\"period_seconds\": 0", "period_seconds is 0"),
        ("\"name\": \"CpuUser\", \"broker\": \"1\"", "\"name\": \"CpuUser\", \"broker\": null", "needs its broker id"),
        (
            "\"name\": \"OfflinePartitionsCount\", \"broker\": null",
            "\"name\": \"OfflinePartitionsCount\", \"broker\": \"1\"",
            "has broker null",
        ),
        ("\"name\": \"CpuSystem\", \"broker\": \"1\"", "\"name\": \"CpuUser\", \"broker\": \"1\"", "appears twice"),
        ("\"now\": \"2026-12-07T12:00:00Z\"", "\"now\": \"2026-12-07T11:50:00Z\"", "after the snapshot's now"),
        ("70.4", "1e999", "malformed snapshot JSON"),
        ("70.4", "-3", "outside 0..=1e15"),
        ("70.4", "2e15", "outside 0..=1e15"),
        ("\"state\": \"ACTIVE\"", "\"state\": 7", "malformed snapshot JSON"),
    ] {
        assert!(good.contains(from), "{from}");
        let e = Snapshot::parse(&good.replacen(from, to, 1)).unwrap_err().to_string();
        assert!(e.contains(says), "{to}: {e}");
    }
    // Built in code, a NaN is refused too (JSON cannot carry one).
    let mut s = fixture("capacity-cpu.json");
    s.metrics[0].points[0].1 = f64::NAN;
    assert!(matches!(diagnose(&s, &Policy::default()), Err(DiagnoseError::Snapshot(SnapshotError::Metric { .. }))));
}

#[test]
fn bad_policies_are_refused() {
    let s = fixture("capacity-cpu.json");
    for p in [
        Policy { target_cpu_percent: 0.0, ..Policy::default() },
        Policy { target_cpu_percent: f64::NAN, ..Policy::default() },
        with_cap(12, 0),
        Policy { thresholds: Thresholds { skew_ratio: 2.0, ..Thresholds::default() }, ..Policy::default() },
    ] {
        assert!(matches!(diagnose(&s, &p), Err(DiagnoseError::Policy(_))), "{p:?}");
    }
}

const FIXTURES: &[&str] = &[
    "busy-update-in-progress.json",
    "broker-unavailable-silent.json",
    "broker-unavailable-offline.json",
    "transient.json",
    "storage.json",
    "skew.json",
    "capacity-cpu.json",
    "capacity-95-on-6.json",
    "capacity-throughput.json",
    "capacity-local-demo.json",
    "capacity-at-ceiling.json",
    "unexplained.json",
];

fn check_invariants(s: &Snapshot, p: &Policy, d: &Diagnosis) -> Result<(), TestCaseError> {
    if let Remedy::AddBrokers { target_broker_count: t } = d.remedy {
        let c = &s.cluster;
        prop_assert!(t > c.broker_count && t <= p.capacity.max_brokers && t % c.az_count == 0, "{t} {:?}", c);
    }
    if let Remedy::ExpandStorage { target_storage_gib: g } = d.remedy {
        prop_assert!(g > s.cluster.storage_gib && g <= 16384);
    }
    prop_assert!(d.evidence.iter().all(|e| !e.contains('\n') && !e.is_empty()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let _ = Snapshot::parse(&text);
    }

    #[test]
    fn damaged_fixtures_never_panic(
        which in 0..FIXTURES.len(),
        cuts in proptest::collection::vec((0usize..30_000, 0usize..40, ".{0,6}"), 1..4),
    ) {
        let mut text = fixture_text(FIXTURES[which]);
        for (at, len, insert) in cuts {
            let mut at = at.min(text.len());
            while !text.is_char_boundary(at) { at -= 1; }
            let mut end = (at + len).min(text.len());
            while !text.is_char_boundary(end) { end -= 1; }
            text.replace_range(at..end, &insert);
        }
        if let Ok(s) = Snapshot::parse(&text) {
            let p = Policy::default();
            let d = diagnose(&s, &p).unwrap();
            check_invariants(&s, &p, &d)?;
        }
    }

    #[test]
    fn random_snapshots_keep_the_invariants(
        azs in 1u32..=3,
        per_az in 1u32..=4,
        values in proptest::collection::vec(proptest::option::of(0.0f64..120.0), 15 * 10 * 12),
        offline in proptest::option::of(0.0f64..3.0),
        max_brokers in 0u32..40,
        instance in prop_oneof![Just("kafka.m5.large"), Just("kafka.local.emulated"), Just("kafka.unknown")],
    ) {
        let mut s = fixture("capacity-cpu.json");
        let brokers = azs * per_az;
        s.cluster.az_count = azs;
        s.cluster.broker_count = brokers;
        s.cluster.instance_type = instance.into();
        let minute = |i: usize| s.now.plus_minutes(i as i64 - 15);
        let mut values = values.into_iter();
        let mut metrics = Vec::new();
        for b in 1..=brokers {
            for name in snapshot::BROKER_METRICS {
                // Byte rates in MB/s-ish magnitudes, the rest as they come (percents, counts).
                let scale = if name.contains("Bytes") { 1e6 } else { 1.0 };
                let points = (0..15)
                    .filter_map(|i| values.next().flatten().map(|v| (minute(i), v * scale)))
                    .collect();
                metrics.push(Series { name: (*name).into(), broker: Some(b), period_seconds: 60, points });
            }
        }
        let points = offline.map(|v| vec![(minute(14), v.floor())]).unwrap_or_default();
        metrics.push(Series { name: "OfflinePartitionsCount".into(), broker: None, period_seconds: 60, points });
        s.metrics = metrics;
        let p = with_cap(max_brokers, 1);
        let d = diagnose(&s, &p).unwrap();
        check_invariants(&s, &p, &d)?;
    }

    #[test]
    fn mutated_values_keep_the_invariants(
        which in 0..FIXTURES.len(),
        scale in prop_oneof![Just(0.0), 0.0f64..3.0, Just(1e6)],
        brokers_mult in 1u32..8,
        max_brokers in 0u32..60,
        step in 1u32..4,
        target in 1.0f64..100.0,
        storage in 1u32..=16384,
        drop_every in 0usize..5,
    ) {
        let mut s = fixture(FIXTURES[which]);
        s.cluster.broker_count = s.cluster.az_count * brokers_mult;
        s.cluster.storage_gib = storage;
        for (i, m) in s.metrics.iter_mut().enumerate() {
            for p in &mut m.points { p.1 *= scale; }
            if drop_every > 0 && i % (drop_every + 1) == 0 { m.points.clear(); }
        }
        let p = Policy { capacity: CapacityPolicy { step_per_az: step, max_brokers }, target_cpu_percent: target, ..Policy::default() };
        let d = diagnose(&s, &p).unwrap();
        check_invariants(&s, &p, &d)?;
        if d.verdict == Verdict::Capacity && d.remedy == Remedy::None {
            prop_assert!(d.refusal.is_some());
        }
    }
}
