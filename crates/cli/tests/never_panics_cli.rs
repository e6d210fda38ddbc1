//! Never a panic on input (issue 12.8): the CLI promises exit 0, 1 (failed) or 2 (bad input, one
//! line) — never Rust's panic exit 101. Every subcommand that reads a file (an alarm event, a
//! reassignment capture, a `--verify` output, a `--describe`, broker lines, log dirs, an approval
//! link) runs on arbitrary bytes and on damaged copies of the recorded fixtures. Cases are fewer
//! than elsewhere: each one starts the binary.

#[path = "../../domain/tests/support/mutate.rs"]
mod mutate;

use mutate::{fixtures, mutated, named_fixtures};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn autoheal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_autoheal"))
        .args(args)
        .current_dir(root())
        // Never reach a real AWS account from a test, whatever the environment has.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("autoheal runs")
}

static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let d = std::env::temp_dir().join(format!("autoheal-never-panics-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
});
static N: AtomicUsize = AtomicUsize::new(0);

/// `bytes` in a fresh file of the test's directory.
fn file(bytes: &[u8]) -> String {
    let p = DIR.join(format!("input-{}", N.fetch_add(1, Ordering::Relaxed)));
    std::fs::write(&p, bytes).unwrap();
    p.display().to_string()
}

/// Exit 0, 1 or 2; never a panic; an error is one line on stderr.
fn check(args: &[&str]) -> Result<(), TestCaseError> {
    // A NUL cannot be passed in an argument at all (the OS's limit, not the CLI's).
    let args: Vec<String> = args.iter().map(|a| a.replace('\0', " ")).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = autoheal(&args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    prop_assert!(!stderr.contains("panicked"), "autoheal {:?} panicked: {}", args, stderr);
    prop_assert!(matches!(out.status.code(), Some(0..=2)), "autoheal {:?} exited {:?}: {}", args, out.status, stderr);
    if !out.status.success() {
        prop_assert_eq!(stderr.trim_end().lines().count(), 1, "autoheal {:?}: {}", args, stderr);
    }
    Ok(())
}

/// Every subcommand that reads text from a file, on `text`.
fn every_reader(bytes: &[u8]) -> Result<(), TestCaseError> {
    let f = file(bytes);
    let out = DIR.join("plan.json").display().to_string();
    check(&["incident", "--event", &f])?;
    check(&["plan", "--assignment", &f, "--brokers", "1,2,3,4", "--out", &out])?;
    check(&["verify", "--output", &f])?;
    check(&["confirm", "--describe", &f, "--log-dirs", &f, "--brokers", &f])?;
    check(&["dry-run-plan", "--describe", &f, "--brokers", &f, "--log-dirs", &f, "--target", "4"])?;
    Ok(())
}

static ALL: LazyLock<Vec<String>> = LazyLock::new(|| {
    let mut all = fixtures("alarms", &[".json"]);
    all.extend(fixtures("kafka", &[".txt"]));
    all.extend(fixtures("planner", &[".txt", ".json"]));
    all
});

/// The recorded approval link (its query string) and the key that signed it.
static LINK: LazyLock<String> = LazyLock::new(|| {
    let (_, event) = named_fixtures("approval", &[".json"])
        .into_iter()
        .find(|(name, _)| name == "function-url-get-approve.json")
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(&event).unwrap();
    format!("https://abc.lambda-url.us-east-1.on.aws/?{}", event["rawQueryString"].as_str().unwrap())
});

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn file_inputs_damaged(text in mutated(ALL.clone(), 6)) {
        every_reader(text.as_bytes())?;
    }

    #[test]
    fn file_inputs_of_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        every_reader(&bytes)?;
    }

    #[test]
    fn numbers_of_any_text(n in prop_oneof![any::<String>(), "-?[0-9]{1,25}"]) {
        let out = root().join("tests/fixtures/kafka/reassign-verify-in-progress-4.1.2.txt").display().to_string();
        for flag in ["--stage", "--stages", "--running-for", "--timeout-minutes", "--stalled-verifies"] {
            check(&["verify", "--output", &out, flag, &n])?;
        }
    }

    #[test]
    fn approval_links_damaged(url in mutated(vec![LINK.clone()], 4)) {
        let key = root().join("tests/fixtures/approval/test-signing-key.txt").display().to_string();
        check(&["approval-verify", "--secret-file", &key, "--url", &url])?;
    }
}
