//! Never a panic on input (issue 12.8): every domain parser of text that comes from outside — time
//! stamps, Kafka CLI output, validated values, cluster identities, approval links and query strings
//! — meets arbitrary strings and damaged copies of the recorded fixtures, and answers `Ok` or a typed
//! error. Where a parser has a writer, what it accepts writes back to the same value.

#[path = "support/mutate.rs"]
mod mutate;

use autoheal_domain::alarm::AlarmState;
use autoheal_domain::approval::{
    Action, BaseUrl, Decision, DecisionPage, ExecutionName, Link, LinkError, Page, SigningKey, TaskToken, clean_note,
    html_escape, parse_urlencoded,
};
use autoheal_domain::cluster::{ClusterArn, ClusterName, ClusterState, ClusterVersion};
use autoheal_domain::kafka_cli::{
    self, BootstrapServers, BrokerId, OutputError, S3Bucket, S3Key, Throttle, TopicName, TopicPartition, VerifyOutcome,
};
use autoheal_domain::time::Timestamp;
use mutate::{fixtures, mutated};
use proptest::prelude::*;
use std::sync::LazyLock;

static KAFKA: LazyLock<Vec<String>> = LazyLock::new(|| fixtures("kafka", &[".txt"]));

/// Time stamps in every form AWS writes them, and near the ends of the representable range.
const STAMPS: [&str; 8] = [
    "2019-10-02T17:04:40.989Z",
    "2019-10-02T17:04:40.989+0000",
    "2019-10-02T17:04:40.989+00:00",
    "2019-10-02T12:04:40-0500",
    "9999-12-31T23:59:59.999-0500",
    "0000-01-01T00:00:00+0100",
    "9999-12-31T23:59:59.999999999Z",
    "2026-11-25T18:00:00.123456+05:30",
];

fn check_timestamp(s: &str) -> Result<(), TestCaseError> {
    if let Some(t) = Timestamp::parse(s) {
        // What is accepted can be written, compacted, moved and read back unchanged.
        let text = t.to_string();
        prop_assert_eq!(Timestamp::parse(&text), Some(t), "{:?} -> {:?}", s, text);
        let _ = t.compact();
        prop_assert!(t >= Timestamp::MIN && t <= Timestamp::MAX);
        for m in [i64::MIN, -1, 0, 1, 525_600, i64::MAX] {
            let moved = t.plus_minutes(m);
            let _ = moved.to_string();
            let _ = moved.seconds_since(t);
        }
        prop_assert_eq!(Timestamp::from_unix_millis(t.unix_millis()), Some(t));
        let json = serde_json::to_string(&t).expect("a timestamp serialises");
        prop_assert_eq!(serde_json::from_str::<Timestamp>(&json).ok(), Some(t));
    }
    let _ = serde_json::from_value::<Timestamp>(serde_json::Value::String(s.to_owned()));
    Ok(())
}

/// Every Kafka CLI parser on one text; accepted partitions write back to themselves.
fn check_kafka_output(text: &str) -> Result<(), TestCaseError> {
    let sections = kafka_cli::split_sections(text);
    // The sections of a section's text are found again the same way.
    for name in ["capture", "brokers", "verify", "list", "cancel", "throttles", "describe"] {
        if let Some(part) = sections.get(name) {
            let _ = kafka_cli::parse_verify(part);
        }
    }
    match kafka_cli::parse_verify(text) {
        Ok(report) => {
            prop_assert!(!report.partitions.is_empty(), "a verify report always has a partition");
            let outcome = report.outcome();
            if outcome == VerifyOutcome::Complete {
                prop_assert!(report.partitions.iter().all(|p| p.state == kafka_cli::PartitionState::Complete));
            }
            for p in &report.partitions {
                prop_assert_eq!(&TopicPartition::parse(&p.partition.to_string()).expect("round trip"), &p.partition);
            }
        }
        Err(e) => one_line(&e.to_string())?,
    }
    match kafka_cli::parse_list(text) {
        Ok(tps) => {
            for tp in tps {
                prop_assert_eq!(TopicPartition::parse(&tp.to_string()).ok(), Some(tp));
            }
        }
        Err(e) => one_line(&e.to_string())?,
    }
    if let Err(e) = kafka_cli::parse_cancel(text) {
        one_line(&e.to_string())?;
    }
    if let Some(brokers) = kafka_cli::parse_brokers(text) {
        prop_assert!(brokers.windows(2).all(|w| w[0].broker < w[1].broker), "sorted and unique");
    }
    let _ = kafka_cli::parse_election(text);
    let _ = kafka_cli::parse_throttle_cleanup(text);
    for line in text.lines() {
        check_values(line)?;
        for word in line.split_whitespace() {
            check_values(word.trim_end_matches(['.', ',', ':']))?;
        }
    }
    Ok(())
}

/// An error message is one line (a Lambda's error and the CLI's stderr both carry one).
fn one_line(message: &str) -> Result<(), TestCaseError> {
    prop_assert!(!message.contains('\n') && !message.contains('\r'), "multi-line error: {:?}", message);
    Ok(())
}

/// Validated values and identities: refused with a one-line error, or accepted and written back.
fn check_values(s: &str) -> Result<(), TestCaseError> {
    macro_rules! round_trip {
        ($($parse:expr),*) => {$(
            match $parse(s) {
                Ok(v) => prop_assert_eq!($parse(&v.to_string()).ok(), Some(v)),
                Err(e) => one_line(&e.to_string())?,
            }
        )*};
    }
    round_trip!(
        TopicPartition::parse,
        TopicName::parse,
        BrokerId::parse,
        Throttle::parse,
        BootstrapServers::parse,
        S3Bucket::parse,
        S3Key::parse,
        ClusterName::parse,
        ClusterArn::parse,
        ClusterVersion::parse
    );
    if let Ok(arn) = ClusterArn::parse(s) {
        let _ = (arn.name(), arn.region());
    }
    let state = ClusterState::parse(s);
    prop_assert_eq!(state.as_str(), s);
    if let Some(state) = AlarmState::parse(s) {
        prop_assert_eq!(state.as_str(), s);
    }
    let _ = (ExecutionName::parse(s), BaseUrl::parse(s), TaskToken::new(s), s.parse::<Action>());
    Ok(())
}

fn key() -> SigningKey {
    SigningKey::from_secret(include_str!("../../../tests/fixtures/approval/test-signing-key.txt")).unwrap()
}

/// The query string of the recorded function URL GET: a real signed link.
fn recorded_query() -> String {
    let event: serde_json::Value =
        serde_json::from_str(include_str!("../../../tests/fixtures/approval/function-url-get-approve.json")).unwrap();
    event["rawQueryString"].as_str().unwrap().to_owned()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-25T18:10:00Z").unwrap()
}

/// A query string or form body, however damaged: decoded, verified, shown — never a panic. A link
/// that still verifies says exactly what the recorded one says (no field can change unsigned).
fn check_query(query: &str, original: &Link) -> Result<(), TestCaseError> {
    let params = parse_urlencoded(query);
    let verified = Link::verify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key(), now());
    match verified {
        Ok(link) => {
            prop_assert_eq!(&link.subject, &original.subject);
            prop_assert_eq!(link.expires_at, original.expires_at);
            prop_assert_eq!(link.token.expose(), original.token.expose());
            prop_assert_eq!(link.action, original.action);
            let page = DecisionPage { link: &link, key: &key(), now: now() }.render();
            prop_assert_eq!(page.status, 200);
            let _ = (Page::approved(&link), Page::rejected(&link), Page::no_longer_waiting(&link));
        }
        Err(e) => {
            one_line(&e.to_string())?;
            let _ = Page::link_error(&e);
        }
    }
    for (k, v) in &params {
        let note = clean_note(v);
        if let Some(n) = &note {
            let again = clean_note(n);
            prop_assert_eq!(again.as_ref(), Some(n), "a clean note stays the same");
            prop_assert!(n.chars().count() <= autoheal_domain::approval::MAX_NOTE_CHARS);
            prop_assert!(!n.chars().any(char::is_control));
        }
        let d = Decision::new(Action::Reject, Some(v), now());
        one_line(&d.rejection_cause())?;
        let escaped = html_escape(k);
        prop_assert!(!escaped.contains('<') && !escaped.contains('"'));
    }
    Ok(())
}

fn original_link() -> Link {
    let q = recorded_query();
    let params = parse_urlencoded(&q);
    Link::verify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key(), now())
        .expect("the recorded link verifies")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn timestamps_from_any_string(s in any::<String>()) {
        check_timestamp(&s)?;
    }

    #[test]
    fn timestamps_damaged(s in mutated(STAMPS.iter().map(|s| (*s).to_owned()).collect(), 4)) {
        check_timestamp(&s)?;
    }

    #[test]
    fn timestamps_shaped_like_aws_ones(
        s in "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,12})?(Z|[+-][0-9]{2}:?[0-9]{2})"
    ) {
        check_timestamp(&s)?;
    }

    #[test]
    fn timestamps_from_any_unix_millis(ms in any::<i64>(), minutes in any::<i64>()) {
        if let Some(t) = Timestamp::from_unix_millis(ms) {
            check_timestamp(&t.to_string())?;
            let _ = t.plus_minutes(minutes).to_string();
        }
    }

    #[test]
    fn kafka_output_from_any_string(s in any::<String>()) {
        check_kafka_output(&s)?;
    }

    #[test]
    fn kafka_output_damaged(s in mutated(KAFKA.clone(), 8)) {
        check_kafka_output(&s)?;
    }

    #[test]
    fn kafka_output_made_of_its_own_words(
        lines in prop::collection::vec(
            (prop::sample::select(vec![
                "Reassignment of partition ", "There is no active reassignment of partition ", ", but replica set is ",
                " rather than ", " is completed.", " is still in progress.", " failed", "Status of partition reassignment:",
                "Error: ", ": replicas: ", "Successfully cancelled partition reassignments for: ", " (id: ", " rack: ",
                "#autoheal:section:", "#autoheal:end", "#autoheal:throttle-removed ", "Clearing broker-level throttles on broker",
                "Error completing leader election (PREFERRED) for partition: ", "Exception: ", "t-0", "-", ",", "1", " ",
            ]), nasty_string()),
            0..12,
        )
    ) {
        let text: String = lines.iter().map(|(a, b)| format!("{a}{b}\n")).collect();
        check_kafka_output(&text)?;
    }

    // What a script prints between its markers comes back section by section, whatever the text
    // (its own lines never start with a marker: the scripts print tool output after them).
    #[test]
    fn sections_round_trip(
        sections in prop::collection::vec(("[a-z0-9-]{1,12}", prop::collection::vec("[^\n\r#]{0,30}", 0..5)), 0..5),
        complete in any::<bool>(),
        noise in "[^\n#]{0,30}",
    ) {
        let mut text = format!("{noise}\n");
        for (name, lines) in &sections {
            text.push_str(&format!("{}{name}\n", kafka_cli::SECTION_MARKER));
            for l in lines {
                text.push_str(&format!("{l}\n"));
            }
        }
        if complete {
            text.push_str(&format!("{}\n", kafka_cli::END_MARKER));
        }
        let split = kafka_cli::split_sections(&text);
        prop_assert_eq!(split.complete, complete);
        for (name, lines) in &sections {
            // A name given once is found with exactly its text.
            if sections.iter().filter(|(n, _)| n == name).count() == 1 {
                let want: String = lines.iter().map(|l| format!("{l}\n")).collect();
                prop_assert_eq!(split.get(name), Some(want.as_str()));
            }
        }
    }

    #[test]
    fn values_from_any_string(s in any::<String>()) {
        check_values(&s)?;
    }

    #[test]
    fn query_strings_from_any_string(s in any::<String>()) {
        check_query(&s, &original_link())?;
    }

    #[test]
    fn recorded_link_damaged(q in mutated(vec![recorded_query()], 4)) {
        check_query(&q, &original_link())?;
    }
}

/// Short strings of the characters that break parsers.
fn nasty_string() -> impl Strategy<Value = String> {
    prop::collection::vec(mutate::nasty_char(), 0..6).prop_map(|cs| cs.into_iter().collect())
}

#[test]
fn the_recorded_link_verifies_and_damage_to_it_is_typed() {
    let link = original_link();
    assert_eq!(link.action, Action::Approve);
    let q = recorded_query();
    // Cut at every character: each prefix is a typed refusal (or, cut only inside the signature's
    // padding-free tail, still the same link).
    for (i, _) in q.char_indices() {
        let params = parse_urlencoded(&q[..i]);
        match Link::verify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key(), now()) {
            Ok(l) => assert_eq!(l, link),
            Err(LinkError::Malformed(_) | LinkError::Forged) => {}
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn multi_byte_time_stamps_are_refused_not_panics() {
    // The case the issue names: the offset form's last five bytes start inside a character.
    for s in
        ["2019-10-02T17:04:40.989+00é", "2019-10-02T17:04:40€", "€€", "2019-10-02T17:04:40.989+0€", "\u{10FFFF}+000"]
    {
        assert_eq!(Timestamp::parse(s), None, "{s:?}");
    }
    // And the ends of the range: no overflow converting to UTC, moving, or writing.
    assert_eq!(Timestamp::parse("9999-12-31T23:59:59-0500"), None);
    assert_eq!(Timestamp::parse("0000-01-01T00:00:00+0100"), None);
    let max = Timestamp::parse("9999-12-31T23:59:59.999Z").unwrap();
    assert_eq!(max.plus_minutes(60), Timestamp::MAX);
    assert_eq!(max.plus_minutes(i64::MIN), Timestamp::MIN);
    assert_eq!(Timestamp::from_unix_millis(i64::MIN), None);
    assert_eq!(Timestamp::from_unix_millis(-62_167_219_200_001), None, "before year 0");
}

#[test]
fn errors_about_tool_output_stay_one_line() {
    let text = "Status of partition reassignment:\nReassignment of partition a\rb-0 is odd\n";
    let e = kafka_cli::parse_verify(text).unwrap_err().to_string();
    assert!(!e.contains('\r'), "{e:?}");
    let e = kafka_cli::parse_verify("Status of partition reassignment:\nError: x\ry\n").unwrap_err().to_string();
    assert!(!e.contains('\r'), "{e:?}");
    let r = kafka_cli::parse_election(
        "Error completing leader election (PREFERRED) for partition: t\r-0: Exception: m\r\n",
    );
    assert!(!r.failed[0].contains('\r'), "{:?}", r.failed);
}

#[test]
fn verify_output_cut_after_its_header_is_unreadable() {
    for text in KAFKA.iter().filter(|t| t.starts_with("Status of partition reassignment:")) {
        let header = text.lines().next().unwrap();
        assert!(matches!(kafka_cli::parse_verify(header), Err(OutputError::NoPartitionLines(_))));
    }
}
