//! `autoheal plan` as a process: exit codes, the JSON summary, the files it writes (valid
//! `--execute` input holding only changed partitions, the rollback, stages), and one-line errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use autoheal_planner::parse_assignment;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_autoheal"))
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/planner").join(name)
}

fn tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("autoheal-plan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn plan(args: &[&str]) -> Output {
    bin().arg("plan").args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

const RACKS: &str = "1=use1-az1,2=use1-az2,3=use1-az1,4=use1-az2";

#[test]
fn plans_the_captured_cluster_and_writes_execute_input() {
    let d = tmp("ok");
    let out = d.join("plan.json");
    let rb = d.join("rollback.json");
    let o = plan(&[
        "--assignment",
        fixture("describe-kafka4.txt").to_str().unwrap(),
        "--brokers",
        "1,2,3,4",
        "--racks",
        RACKS,
        "--sizes",
        fixture("log-dirs-kafka4.txt").to_str().unwrap(),
        "--throttle",
        "1048576",
        "--out",
        out.to_str().unwrap(),
        "--rollback",
        rb.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Value = serde_json::from_slice(&o.stdout).expect("one JSON object on stdout");
    assert_eq!(s["moves"], 10);
    assert_eq!(s["lower_bound"], 10);
    assert_eq!(s["rack_violations"], 0);
    assert!(s["leader_changes"].as_u64().unwrap() >= s["leader_lower_bound"].as_u64().unwrap());
    assert!(s["bytes_moved"].as_u64().unwrap() > 0);
    assert!(s["eta_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(s["input_format"], "describe-v4");
    let brokers = s["broker_details"].as_array().unwrap();
    assert_eq!(brokers.len(), 4);
    for b in brokers {
        assert_eq!(b["replicas_after"], 5, "{b}");
        assert!(b["bytes_before"].is_u64() && b["leaders_after"].is_u64());
    }

    // --out is what `kafka-reassign-partitions.sh --execute` reads, listing only changed partitions.
    let plan_json = read_json(&out);
    assert_eq!(plan_json["version"], 1);
    let current = parse_assignment(&std::fs::read_to_string(fixture("describe-kafka4.txt")).unwrap()).unwrap();
    let entries = plan_json["partitions"].as_array().unwrap();
    assert_eq!(entries.len() as u64, s["changed_partitions"].as_u64().unwrap());
    for e in entries {
        let tp = autoheal_planner::TopicPartition::new(
            e["topic"].as_str().unwrap(),
            e["partition"].as_u64().unwrap() as u32,
        );
        let old = &current.partitions.iter().find(|p| p.tp == tp).unwrap().replicas;
        let new: Vec<i32> = e["replicas"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap() as i32).collect();
        assert_ne!(&new, old, "{tp} is listed but unchanged");
        assert_eq!(e["log_dirs"].as_array().unwrap().len(), new.len());
    }
    // The rollback holds the current replicas of exactly those partitions.
    let rollback = read_json(&rb);
    let rb_entries = rollback["partitions"].as_array().unwrap();
    assert_eq!(rb_entries.len(), entries.len());
    for (e, r) in entries.iter().zip(rb_entries) {
        assert_eq!((&e["topic"], &e["partition"]), (&r["topic"], &r["partition"]));
        let tp = autoheal_planner::TopicPartition::new(
            r["topic"].as_str().unwrap(),
            r["partition"].as_u64().unwrap() as u32,
        );
        let old: Vec<Value> =
            current.partitions.iter().find(|p| p.tp == tp).unwrap().replicas.iter().map(|&b| b.into()).collect();
        assert_eq!(r["replicas"].as_array().unwrap(), &old);
    }
    // Same input, same bytes out.
    let first = std::fs::read(&out).unwrap();
    let again = plan(&[
        "--assignment",
        fixture("describe-kafka4.txt").to_str().unwrap(),
        "--brokers",
        "1,2,3,4",
        "--racks",
        RACKS,
        "--sizes",
        fixture("log-dirs-kafka4.txt").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(again.status.success());
    assert_eq!(std::fs::read(&out).unwrap(), first);
    // The table is for people: it names the bound and every broker.
    let table = String::from_utf8(again.stdout).unwrap();
    assert!(table.contains("replica moves") && table.contains("lower bound 10"), "{table}");
}

#[test]
fn stages_and_under_replicated_partitions_last() {
    let d = tmp("stages");
    let out = d.join("plan.json");
    let o = plan(&[
        "--assignment",
        fixture("describe-broker-down-kafka4.txt").to_str().unwrap(),
        "--brokers",
        "1,2,3,4",
        "--max-moves-per-broker",
        "2",
        "--out",
        out.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    let files = s["stage_files"].as_array().unwrap();
    assert!(files.len() >= 2, "{s}");
    let mut seen = 0;
    for (i, f) in files.iter().enumerate() {
        let path = PathBuf::from(f.as_str().unwrap());
        assert_eq!(path, d.join(format!("plan.stage-{}.json", i + 1)));
        let stage = read_json(&path);
        seen += stage["partitions"].as_array().unwrap().len();
        let report = &s["stages"][i];
        assert!(report["max_movements_per_broker"].as_u64().unwrap() <= 2, "{report}");
    }
    assert_eq!(seen as u64, s["changed_partitions"].as_u64().unwrap());
    // Every partition but audit-log-1 is under-replicated in this capture; audit-log-1 (healthy)
    // must not come after any of them.
    let stages: Vec<Value> = files.iter().map(|f| read_json(Path::new(f.as_str().unwrap()))).collect();
    let stage_of = |topic: &str, p: u64| {
        stages.iter().position(|st| {
            st["partitions"].as_array().unwrap().iter().any(|e| e["topic"] == topic && e["partition"] == p)
        })
    };
    if let Some(h) = stage_of("audit-log", 1) {
        let urp_first = (0..6).filter_map(|p| stage_of("orders", p)).min().unwrap();
        assert!(h < urp_first, "healthy partition in stage {h}, under-replicated from {urp_first}");
    }
}

#[test]
fn kafka_generate_strategy_is_seeded() {
    let d = tmp("gen");
    let run = |seed: &str, name: &str| {
        let out = d.join(name);
        let o = plan(&[
            "--assignment",
            fixture("reassign-generate-kafka4.txt").to_str().unwrap(),
            "--brokers",
            "1,2,3,4",
            "--strategy",
            "kafka-generate",
            "--seed",
            seed,
            "--out",
            out.to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        (serde_json::from_slice::<Value>(&o.stdout).unwrap(), std::fs::read(out).unwrap())
    };
    let (a, fa) = run("7", "a.json");
    let (_, fb) = run("7", "b.json");
    assert_eq!(fa, fb);
    assert_eq!(a["strategy"], "kafka-generate");
    assert!(a["moves"].as_u64().unwrap() >= a["lower_bound"].as_u64().unwrap());
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let d = tmp("bad");
    let out = d.join("plan.json");
    let malformed = d.join("malformed.json");
    std::fs::write(
        &malformed,
        "{\"version\":1,\n\"partitions\":[{\"topic\":\"a\",\"partition\":0,\"replicas\":[1,]}]}\n",
    )
    .unwrap();
    let twice = d.join("twice.json");
    std::fs::write(
        &twice,
        r#"{"version":1,"partitions":[{"topic":"a","partition":0,"replicas":[1,2]},{"topic":"a","partition":0,"replicas":[2,1]}]}"#,
    )
    .unwrap();
    let describe = fixture("describe-kafka4.txt");
    let d4 = describe.to_str().unwrap();
    let reassigning = fixture("describe-reassigning-kafka3.txt");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--assignment", malformed.to_str().unwrap(), "--brokers", "1,2"], "line 2, column"),
        (vec!["--assignment", twice.to_str().unwrap(), "--brokers", "1,2"], "a-0 is listed twice"),
        (vec!["--assignment", d4, "--brokers", ""], "broker list is empty"),
        (vec!["--assignment", d4, "--brokers", "1"], "replication factor 2, larger than the 1 brokers"),
        (vec!["--assignment", d4, "--brokers", "1,2,3,4", "--racks", "1=a,2=b,3=a,4=b,9=c"], "broker 9"),
        (vec!["--assignment", d4, "--brokers", "1,2,3,4", "--racks", "1=a,2=b"], "broker 3 has no rack"),
        (vec!["--assignment", d4, "--brokers", "1,2,x"], "\"x\" is not a broker id"),
        (vec!["--assignment", d4, "--brokers", "1,2,3,4", "--max-moves-per-broker", "0"], "at least 1"),
        (vec!["--assignment", "/nonexistent/file", "--brokers", "1,2"], "cannot read /nonexistent/file"),
        (vec!["--assignment", reassigning.to_str().unwrap(), "--brokers", "1,2,3,4"], "orders-1 is being reassigned"),
    ];
    for (args, want) in cases {
        let mut full = args.clone();
        full.extend(["--out", out.to_str().unwrap()]);
        let o = plan(&full);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("autoheal: ") && err.contains(want), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(!out.exists(), "{args:?} left {} behind", out.display());
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn a_missing_output_directory_is_bad_input() {
    let o = plan(&[
        "--assignment",
        fixture("describe-kafka4.txt").to_str().unwrap(),
        "--brokers",
        "1,2,3,4",
        "--out",
        "/nonexistent-dir/plan.json",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is not a directory"), "{}", stderr(&o));
}
