//! Never a panic on input (issue 12.8): the planner's readers of cluster captures
//! (`kafka-topics.sh --describe`, `kafka-log-dirs.sh --describe`, reassignment JSON) meet arbitrary
//! strings and damaged copies of the recorded captures, and answer `Ok` or a `FormatError` of one
//! line. What they accept plans without a panic, and reassignment JSON written from it reads back.

#[path = "../../domain/tests/support/mutate.rs"]
mod mutate;

use std::collections::BTreeSet;
use std::sync::LazyLock;

use autoheal_planner::formats::{
    parse_describe, parse_log_dirs, parse_reassignment_json, under_replicated_partitions, write_reassignment_json,
};
use autoheal_planner::{Assignment, PlanRequest, parse_assignment, plan};
use mutate::{mutated, named_fixtures};
use proptest::prelude::*;

/// Every capture recorded from real Kafka that the planner reads (the planner's own and the
/// workflow's), by file name.
static NAMED: LazyLock<Vec<(String, String)>> = LazyLock::new(|| {
    let mut all = named_fixtures("planner", &[".txt", ".json"]);
    all.extend(named_fixtures("kafka", &[".txt"]).into_iter().filter(|(name, _)| {
        ["topics-describe-", "log-dirs-", "reassign-execute-"]
            .iter()
            .any(|p| name.starts_with(p) && !name.contains("busy"))
    }));
    all
});
static CAPTURES: LazyLock<Vec<String>> = LazyLock::new(|| NAMED.iter().map(|(_, t)| t.clone()).collect());

fn one_line(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.contains('\n') && !message.contains('\r'), "multi-line error: {:?}", message);
    Ok(())
}

/// An accepted assignment: written as reassignment JSON it reads back the same, and planning onto
/// its brokers plus two new ones never panics.
fn check_assignment(a: &Assignment) -> Result<(), TestCaseError> {
    let json = write_reassignment_json(a.partitions.iter().map(|p| (&p.tp, p.replicas.as_slice())));
    let back = parse_reassignment_json(&json).expect("written JSON reads back");
    let mut want: Vec<_> = a.partitions.iter().map(|p| (p.tp.clone(), p.replicas.clone())).collect();
    want.sort();
    let got: Vec<_> = back.partitions.iter().map(|p| (p.tp.clone(), p.replicas.clone())).collect();
    prop_assert_eq!(got, want);
    let mut brokers: BTreeSet<i32> = a.partitions.iter().flat_map(|p| p.replicas.iter().copied()).collect();
    let top = brokers.last().copied().unwrap_or(0);
    brokers.extend([top.saturating_add(1), top.saturating_add(2)]);
    let req = PlanRequest { brokers: brokers.into_iter().collect(), ..Default::default() };
    if a.partitions.len() <= 2000 {
        match plan(a, &req) {
            Ok(p) => prop_assert_eq!(p.proposed.len(), a.partitions.len()),
            Err(e) => one_line(&e.to_string())?,
        }
    }
    Ok(())
}

fn check_text(text: &str) -> Result<(), TestCaseError> {
    for result in [parse_assignment(text), parse_describe(text), parse_reassignment_json(text)] {
        match result {
            Ok(a) => check_assignment(&a)?,
            Err(e) => one_line(&e.to_string())?,
        }
    }
    match parse_log_dirs(text) {
        Ok(dirs) => {
            let _ = dirs.partition_sizes().expect("every partition name resolved when parsed");
            let _ = dirs.offline_dirs();
        }
        Err(e) => one_line(&e.to_string())?,
    }
    if let Err(e) = under_replicated_partitions(text) {
        one_line(&e.to_string())?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn captures_from_any_string(s in any::<String>()) {
        check_text(&s)?;
    }

    #[test]
    fn captures_damaged(s in mutated(CAPTURES.clone(), 8)) {
        check_text(&s)?;
    }

    #[test]
    fn describe_lines_made_of_its_own_fields(
        fields in prop::collection::vec(
            (
                prop::sample::select(vec![
                    "\tTopic: ", "\tPartition: ", "\tLeader: ", "\tReplicas: ", "\tIsr: ", "\tAdding Replicas: ",
                    "\tRemoving Replicas: ", "\tElr: ", "\tLastKnownElr: ", "Topic: ", "\n", ",", "-1", "none", "N/A",
                ]),
                "[0-9a-z,:é€-]{0,6}",
            ),
            0..24,
        )
    ) {
        let text: String = fields.iter().map(|(k, v)| format!("{k}{v}")).collect();
        check_text(&text)?;
    }

    #[test]
    fn reassignment_json_with_any_numbers(
        entries in prop::collection::vec(
            (
                "[a-z.é_-]{0,4}",
                prop_oneof![0i64..4, any::<i64>()],
                prop::collection::vec(prop_oneof![3 => -2i64..6, 1 => any::<i32>().prop_map(i64::from), 1 => any::<i64>()], 0..5),
            ),
            0..8,
        )
    ) {
        let body: Vec<String> = entries
            .iter()
            .map(|(t, p, r)| format!(r#"{{"topic":{},"partition":{p},"replicas":{r:?}}}"#, serde_json::json!(t)))
            .collect();
        check_text(&format!(r#"{{"version":1,"partitions":[{}]}}"#, body.join(",")))?;
    }
}

#[test]
fn every_recorded_capture_reads() {
    // The fixtures themselves are what the damaged copies start from: each must read as what it is.
    for (name, text) in NAMED.iter().filter(|(name, _)| name != "topics-to-move.json") {
        let read = if name.starts_with("log-dirs") {
            parse_log_dirs(text).map(|_| ())
        } else {
            parse_assignment(text).map(|_| ())
        };
        assert_eq!(read, Ok(()), "{name}");
    }
}

#[test]
fn damaged_captures_still_reach_the_planner() {
    // The damage must leave many captures readable, or the planning half of the property above
    // would never run.
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = mutated(CAPTURES.clone(), 8);
    let read =
        (0..200).filter(|_| parse_assignment(&strategy.new_tree(&mut runner).unwrap().current()).is_ok()).count();
    assert!(read >= 40, "only {read} of 200 damaged captures read");
}
