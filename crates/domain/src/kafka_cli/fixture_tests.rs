//! The parsers and scripts against Kafka CLI output recorded from real Kafka
//! (tests/fixtures/kafka, see its README for how each file was made).

use super::fake::FakeKafka;
use super::*;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kafka").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tp(s: &str) -> TopicPartition {
    TopicPartition::parse(s).unwrap()
}

/// Every Kafka line recorded: 4.x (Java tools) and 3.x (Scala tools).
const VERSIONS: [&str; 2] = ["4.1.2", "3.6.2"];

#[test]
fn verify_in_progress() {
    for v in VERSIONS {
        let r = parse_verify(&fixture(&format!("reassign-verify-in-progress-{v}.txt"))).unwrap();
        assert_eq!(r.outcome(), VerifyOutcome::InProgress, "{v}");
        assert_eq!(r.partitions.len(), 7, "{v}");
        assert_eq!(r.partitions[0], PartitionStatus { partition: tp("big-0"), state: PartitionState::InProgress });
        assert!(r.count(|s| *s == PartitionState::Complete) >= 1, "{v}");
        assert!(!r.throttles_removed, "{v}: throttles stay while moves run");
        assert!(r.errors.is_empty());
    }
}

#[test]
fn verify_complete_removes_throttles() {
    for v in VERSIONS {
        let r = parse_verify(&fixture(&format!("reassign-verify-complete-{v}.txt"))).unwrap();
        assert_eq!(r.outcome(), VerifyOutcome::Complete, "{v}");
        assert_eq!(r.partitions.len(), 7);
        assert!(r.throttles_removed, "{v}");
    }
}

#[test]
fn verify_after_cancel_reports_the_partition_that_did_not_move() {
    for v in VERSIONS {
        let r = parse_verify(&fixture(&format!("reassign-verify-cancelled-{v}.txt"))).unwrap();
        assert_eq!(r.outcome(), VerifyOutcome::Failed, "{v}");
        assert_eq!(
            r.partitions[0],
            PartitionStatus {
                partition: tp("big-0"),
                state: PartitionState::Failed { current: vec![1, 2], target: vec![3, 4] }
            }
        );
    }
}

#[test]
fn list_and_cancel() {
    for v in VERSIONS {
        assert_eq!(parse_list(&fixture(&format!("reassign-list-idle-{v}.txt"))).unwrap(), vec![]);
        let busy = parse_list(&fixture(&format!("reassign-list-busy-{v}.txt"))).unwrap();
        assert!(busy.contains(&tp("big-0")), "{v}: {busy:?}");
        assert_eq!(parse_cancel(&fixture(&format!("reassign-cancel-{v}.txt"))).unwrap(), vec![tp("big-0")], "{v}");
    }
}

#[test]
fn broker_racks() {
    let brokers = parse_brokers(&fixture("broker-api-versions-brokers-4.1.2.txt")).unwrap();
    let racks: Vec<(u32, Option<&str>)> = brokers.iter().map(|b| (b.broker.get(), b.rack.as_deref())).collect();
    assert_eq!(racks, [(1, Some("use1-az1")), (2, Some("use1-az2")), (3, Some("use1-az1")), (4, Some("use1-az2"))]);
}

/// The cleanup script's throttle discovery (awk over `kafka-configs --describe`) on real output:
/// exactly the throttles Kafka set, on the brokers and on the plan's topics, nothing else.
#[test]
fn cleanup_removes_exactly_the_recorded_throttles() {
    let fake = FakeKafka::new("fixture-cleanup");
    let brokers = fake.path().join("brokers.txt");
    let topics = fake.path().join("topics.txt");
    std::fs::write(&brokers, fixture("configs-brokers-describe-throttled-4.1.2.txt")).unwrap();
    std::fs::write(&topics, fixture("configs-topics-describe-throttled-4.1.2.txt")).unwrap();
    fake.tool(
        "kafka-configs.sh",
        &format!(
            "case \"$*\" in *'--entity-type brokers --describe'*) cat '{}' ;; \
             *'--entity-type topics --describe'*) cat '{}' ;; *) echo 'Completed updating config' ;; esac",
            brokers.display(),
            topics.display()
        ),
    );
    let plan_topics = [TopicName::parse("stress-test").unwrap(), TopicName::parse("big").unwrap()];
    let (code, out, err) = fake.run(&cleanup_script(&fake.client(), None, &plan_topics));
    assert_eq!(code, 0, "{err}");
    let mut alters: Vec<String> = fake
        .calls()
        .into_iter()
        .filter(|c| c.contains("--alter"))
        .map(|c| c.split_once("--entity-type ").unwrap().1.to_owned())
        .collect();
    alters.sort();
    assert_eq!(
        alters,
        [
            "brokers --entity-name 1 --alter --delete-config follower.replication.throttled.rate,leader.replication.throttled.rate",
            "brokers --entity-name 2 --alter --delete-config follower.replication.throttled.rate,leader.replication.throttled.rate",
            "brokers --entity-name 3 --alter --delete-config follower.replication.throttled.rate,leader.replication.throttled.rate",
            "brokers --entity-name 4 --alter --delete-config follower.replication.throttled.rate,leader.replication.throttled.rate",
            "topics --entity-name big --alter --delete-config follower.replication.throttled.replicas,leader.replication.throttled.replicas",
            "topics --entity-name stress-test --alter --delete-config follower.replication.throttled.replicas,leader.replication.throttled.replicas",
        ]
    );
    let report = parse_throttle_cleanup(split_sections(&out).get(section::THROTTLES).unwrap());
    assert_eq!(report.removed.len(), 6);
    assert!(report.failed.is_empty());
}

#[test]
fn cleanup_on_a_clean_cluster_changes_nothing() {
    let fake = FakeKafka::new("fixture-clean");
    let brokers = fake.path().join("brokers.txt");
    std::fs::write(&brokers, fixture("configs-brokers-describe-clean-4.1.2.txt")).unwrap();
    fake.tool(
        "kafka-configs.sh",
        &format!("case \"$*\" in *--describe*) cat '{}' ;; *) exit 1 ;; esac", brokers.display()),
    );
    let (code, out, _) = fake.run(&cleanup_script(&fake.client(), None, &[TopicName::parse("stress-test").unwrap()]));
    assert_eq!(code, 0);
    assert!(!fake.calls().iter().any(|c| c.contains("--alter")));
    assert_eq!(parse_throttle_cleanup(&out), ThrottleCleanup::default());
}
