//! `autoheal approval-link / approval-email / approval-verify` as operators run them: a signed link
//! verifies, a changed one does not, the email is the one the Lambda sends, and bad input exits 2
//! with one line.

use std::process::{Command, Output};

const KEY: &str = "tests/fixtures/approval/test-signing-key.txt";
const TOKEN: &str = "tests/fixtures/approval/task-token.txt";
const BASE: &str = "https://abcdefghijklmnop.lambda-url.us-east-1.on.aws/";

fn autoheal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoheal"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .output()
        .expect("autoheal runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn link(action: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "approval-link",
        "--action",
        action,
        "--token-file",
        TOKEN,
        "--secret-file",
        KEY,
        "--base-url",
        BASE,
        "--execution",
        "5d41402a-demo-20261125T180000Z",
    ];
    args.extend_from_slice(extra);
    autoheal(&args)
}

#[test]
fn a_signed_link_verifies_and_a_changed_one_does_not() {
    let out = link("reject", &["--cluster", "demo", "--from", "2", "--to", "4", "--expires-in", "600"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let url = stdout(&out).trim().to_owned();
    assert!(url.starts_with(&format!("{BASE}?action=reject&cluster=demo&from=2&to=4&")), "{url}");

    let ok = autoheal(&["approval-verify", "--url", &url, "--secret-file", KEY]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("valid: reject adding brokers to demo (2 -> 4)"), "{}", stdout(&ok));

    let forged = autoheal(&["approval-verify", "--url", &url.replace("to=4", "to=6"), "--secret-file", KEY]);
    assert_eq!(forged.status.code(), Some(1));
    assert_eq!(stderr(&forged), "autoheal: invalid link: the link's signature does not match its content\n");

    let cut = autoheal(&["approval-verify", "--url", &url[..url.find("&sig=").unwrap()], "--secret-file", KEY]);
    assert_eq!(cut.status.code(), Some(2));
    assert!(stderr(&cut).contains("sig is missing"), "{}", stderr(&cut));
}

#[test]
fn the_link_can_take_cluster_and_counts_from_the_execution_input() {
    // request-prepare.json is a task input ({step, execution, state}) as the execution history shows it.
    let out = link("approve", &["--input", "tests/fixtures/approval/request-prepare.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let url = stdout(&out).trim().to_owned();
    assert!(url.contains("action=approve&cluster=demo&from=2&to=4&execution=5d41402a-demo-20261125T180000Z"), "{url}");
    let ok = autoheal(&["approval-verify", "--url", &url, "--secret-file", KEY]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let no_cluster = link("approve", &["--input", "tests/fixtures/approval/test-signing-key.txt"]);
    assert_eq!(no_cluster.status.code(), Some(2));
    assert!(stderr(&no_cluster).contains("not JSON"), "{}", stderr(&no_cluster));
}

#[test]
fn the_email_is_the_one_the_lambda_sends() {
    let out = autoheal(&[
        "approval-email",
        "--input",
        "tests/fixtures/approval/request-prepare.json",
        "--execution",
        "5d41402a-demo-20261125T180000Z",
        "--secret-file",
        KEY,
        "--base-url",
        BASE,
        "--token-file",
        TOKEN,
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let email: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(email["subject"], "msk-autoheal: approve adding 2 brokers to demo (2 -> 4)?");
    let body = email["body"].as_str().unwrap();
    assert!(body.contains("Replica moves: 12 in 12 of 12 partitions, in 2 stages"), "{body}");
    assert!(body.contains("about $306.60/month"), "{body}");
    // Its approve link is a valid link for the token.
    let url = body.lines().map(str::trim).find(|l| l.starts_with(BASE) && l.contains("action=approve")).unwrap();
    let ok = autoheal(&["approval-verify", "--url", url, "--secret-file", KEY]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    for (args, needle) in [
        (vec!["--cluster", "demo", "--from", "4", "--to", "2"], "invalid broker counts 4 -> 2"),
        (vec!["--cluster", "a b", "--from", "2", "--to", "4"], "cluster"),
        (vec!["--cluster", "demo", "--from", "2", "--to", "4", "--expires-in", "999999"], "--expires-in"),
        (vec![], "give --input FILE, or --cluster with --from and --to"),
    ] {
        let out = link("approve", &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.trim_end().contains('\n') || err.starts_with("error:"), "one line: {err}");
    }
    let out = link("maybe", &["--cluster", "demo", "--from", "2", "--to", "4"]);
    assert_eq!(stderr(&out), "autoheal: invalid action \"maybe\": expected approve or reject\n");
    let plain_http = autoheal(&[
        "approval-link",
        "--action",
        "approve",
        "--token-file",
        TOKEN,
        "--secret-file",
        KEY,
        "--base-url",
        "http://example.com/",
        "--execution",
        "e",
        "--cluster",
        "demo",
        "--from",
        "2",
        "--to",
        "4",
    ]);
    assert_eq!(plain_http.status.code(), Some(2));
    assert!(stderr(&plain_http).contains("links must use https://"), "{}", stderr(&plain_http));
    let short = std::env::temp_dir().join(format!("autoheal-short-key-{}", std::process::id()));
    std::fs::write(&short, "too short\n").unwrap();
    let out = autoheal(&["approval-verify", "--url", "https://x/?a=b", "--secret-file", short.to_str().unwrap()]);
    std::fs::remove_file(&short).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("at least 32 are required"), "{}", stderr(&out));
}
