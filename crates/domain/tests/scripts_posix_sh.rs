//! The SSM agent runs AWS-RunShellScript's commands with `sh`, not bash (issue 11.3): every script
//! the workflow sends must be POSIX sh. Each rendered script is checked by `shellcheck -s sh`
//! (warnings and errors fail: a bashism such as `[[`, arrays, `pipefail` or `$'..'` is one) and
//! parsed by the system's `sh -n` (dash on Debian, as on the local agent).

use autoheal_domain::kafka_cli::{
    BootstrapServers, CommandConfigPath, KafkaBinDir, KafkaClient, PlanSource, S3Bucket, S3Key, S3Location, Script,
    Throttle, TopicName, capture_script, cleanup_script, elect_preferred_script, execute_script, verify_script,
};
use autoheal_domain::kafka_cli::{
    BrokerId, ThrottleRestore, ThrottleTarget, restore_throttles_script, throttle_configs_script,
};
use std::io::Write;
use std::process::{Command, Stdio};

fn client(command_config: bool) -> KafkaClient {
    KafkaClient {
        bin_dir: KafkaBinDir::parse("/opt/kafka/bin").unwrap(),
        bootstrap_servers: BootstrapServers::parse("b-1.demo:9098,b-2.demo:9098").unwrap(),
        command_config: command_config.then(|| CommandConfigPath::parse("/etc/kafka/client.properties").unwrap()),
    }
}

/// Every script the workflow can send, in each of its shapes.
fn scripts() -> Vec<(String, Script)> {
    let plan = br#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,1]}]}"#;
    let s3 = PlanSource::S3(S3Location {
        bucket: S3Bucket::parse("bucket-1").unwrap(),
        key: S3Key::parse("autoheal/run/stage-1.json").unwrap(),
    });
    let topics = [TopicName::parse("stress-test").unwrap(), TopicName::parse("orders").unwrap()];
    let mut out = Vec::new();
    for cc in [false, true] {
        let c = client(cc);
        for (kind, p) in [("inline", PlanSource::inline(plan)), ("s3", s3.clone())] {
            out.push((format!("execute/{kind}/cc={cc}"), execute_script(&c, &p, Throttle::default())));
            out.push((format!("verify/{kind}/cc={cc}"), verify_script(&c, &p)));
            out.push((format!("elect/{kind}/cc={cc}"), elect_preferred_script(&c, &p)));
            out.push((format!("cleanup+cancel/{kind}/cc={cc}"), cleanup_script(&c, Some(&p), &topics)));
        }
        out.push((format!("capture/cc={cc}"), capture_script(&c)));
        out.push((format!("cleanup/no-topics/cc={cc}"), cleanup_script(&c, None, &[])));
        // kafka-ops: every script runs under its run's lock; the throttle record and its restore.
        out.push((format!("capture+lock/cc={cc}"), capture_script(&c).with_lock("exec-1.capture")));
        out.push((format!("throttle-configs/cc={cc}"), throttle_configs_script(&c, true)));
        let restores = [
            ThrottleRestore {
                target: ThrottleTarget::Broker(BrokerId::new(1).unwrap()),
                before: vec![("leader.replication.throttled.rate".into(), "5000".into())],
            },
            ThrottleRestore { target: ThrottleTarget::Topic(topics[0].clone()), before: vec![] },
        ];
        out.push((format!("restore+cancel/cc={cc}"), restore_throttles_script(&c, Some(&s3), &restores)));
    }
    out
}

fn run(argv: &[&str], input: &str) -> std::io::Result<(bool, String)> {
    let mut child = Command::new(argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(input.as_bytes())?;
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.success(), text))
}

#[test]
fn every_script_is_posix_sh_for_shellcheck() {
    let mut failures = Vec::new();
    for (name, script) in scripts() {
        let (ok, report) = run(&["shellcheck", "-s", "sh", "-S", "warning", "-"], &script.text()).unwrap_or_else(|e| {
            panic!("shellcheck could not run ({e}): `make setup` installs it (apt package shellcheck)")
        });
        if !ok {
            failures.push(format!("--- {name}\n{report}\n{}", script.text()));
        }
    }
    assert!(failures.is_empty(), "scripts that are not POSIX sh:\n{}", failures.join("\n"));
}

#[test]
fn every_script_parses_under_the_system_sh() {
    for (name, script) in scripts() {
        let (ok, report) = run(&["sh", "-n"], &script.text()).expect("sh runs");
        assert!(ok, "{name}: sh -n refused it: {report}\n{}", script.text());
    }
}

#[test]
fn shellcheck_refuses_a_bashism() {
    // The check above can fail: the same gate on a bash-only line.
    let (ok, report) =
        run(&["shellcheck", "-s", "sh", "-S", "warning", "-"], "set -o pipefail\n[[ -n \"$x\" ]] && echo y\n")
            .expect("shellcheck runs");
    assert!(!ok, "{report}");
    assert!(report.contains("SC3040") || report.contains("SC3010"), "{report}");
}
