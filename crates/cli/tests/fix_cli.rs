//! `autoheal fix` as operators run it: exit codes, one-line errors, and output that applies.

use std::process::{Command, Output};

const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";

fn autoheal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoheal"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("autoheal runs")
}

fn fix(extra: &[&str]) -> Output {
    let mut args = vec!["fix", "--cluster-arn", ARN, "--current-version", "K3AEGXETSR30VB", "--from", "2", "--to", "4"];
    args.extend_from_slice(extra);
    autoheal(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_format_renders() {
    for format in ["aws-cli", "terraform", "pulumi-ts", "pulumi-py", "cloudformation", "kafka-cli"] {
        let out = fix(&["--format", format]);
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains('4'), "{format}: {text}");
    }
    let out = fix(&["--format", "all"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in ["aws_cli", "terraform", "pulumi_ts", "pulumi_py", "cloudformation", "kafka_cli"] {
        assert!(json[key].as_str().is_some_and(|s| !s.is_empty()), "{key} missing");
    }
}

#[test]
fn terraform_patch_for_the_repository_demo_environment() {
    let out = fix(&["--format", "terraform", "--tf-file", "infra/msk.tf", "--tf-file", "infra/variables.tf"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diff = String::from_utf8(out.stdout).unwrap();
    assert!(diff.starts_with("--- a/infra/variables.tf\n+++ b/infra/variables.tf\n"), "{diff}");
    assert_eq!(diff.lines().filter(|l| l.starts_with('-') && !l.starts_with("---")).count(), 1);
    assert_eq!(diff.lines().filter(|l| l.starts_with('+') && !l.starts_with("+++")).count(), 1);
}

#[test]
fn bad_input_exits_2_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "fix",
                "--cluster-arn",
                "arn:aws:kafka:us-east-1:1:cluster/x/y",
                "--current-version",
                "V",
                "--from",
                "2",
                "--to",
                "4",
            ],
            "invalid cluster ARN",
        ),
        (
            &["fix", "--cluster-arn", ARN, "--current-version", "K3;reboot", "--from", "2", "--to", "4"],
            "invalid cluster version",
        ),
        (&["fix", "--cluster-arn", ARN, "--current-version", "V", "--from", "-1", "--to", "4"], "--from"),
        (&["fix", "--cluster-arn", ARN, "--current-version", "V", "--from", "4", "--to", "4"], "never removes"),
        (&["fix", "--cluster-arn", ARN, "--current-version", "V", "--from", "2", "--to", "x"], "--to"),
        (
            &["fix", "--cluster-arn", ARN, "--current-version", "V", "--from", "2", "--to", "4", "--format", "yaml"],
            "unknown --format",
        ),
        (
            &[
                "fix",
                "--cluster-arn",
                ARN,
                "--current-version",
                "V",
                "--from",
                "2",
                "--to",
                "4",
                "--tf-file",
                "infra/msk.tf",
            ],
            "--tf-file needs --format terraform",
        ),
        (
            &[
                "fix",
                "--cluster-arn",
                ARN,
                "--current-version",
                "V",
                "--from",
                "2",
                "--to",
                "4",
                "--format",
                "terraform",
                "--tf-file",
                "infra/msk.tf",
            ],
            "var.broker_count",
        ),
        (
            &[
                "fix",
                "--cluster-arn",
                ARN,
                "--current-version",
                "V",
                "--from",
                "2",
                "--to",
                "4",
                "--format",
                "terraform",
                "--tf-file",
                "missing.tf",
            ],
            "cannot read missing.tf",
        ),
        (
            &[
                "fix",
                "--cluster-arn",
                ARN,
                "--current-version",
                "V",
                "--from",
                "2",
                "--to",
                "4",
                "--format",
                "kafka-cli",
                "--kafka-bin",
                "/opt/$(id)/bin",
            ],
            "invalid Kafka bin directory",
        ),
        (
            &[
                "fix",
                "--cluster-arn",
                ARN,
                "--current-version",
                "V",
                "--from",
                "2",
                "--to",
                "4",
                "--format",
                "kafka-cli",
                "--throttle",
                "0",
            ],
            "invalid throttle",
        ),
    ];
    for (args, expected) in cases {
        let out = autoheal(args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed something");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("autoheal: ") && err.contains(expected), "{args:?}: {err}");
    }
}
