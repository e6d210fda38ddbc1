//! `autoheal approval-link`, `approval-email`, `approval-verify`: approval mode as dry runs. Operators
//! see exactly what the approval-request Lambda would send (same signing, same email rendering)
//! and can check a link the endpoint refused. Offline: the key comes from a file, nothing is called.

use crate::error::{CliError, read_input_file};
use autoheal_app::approval::{RequestConfig, RequestInput, render_email};
use autoheal_domain::approval::{
    Action, BaseUrl, ExecutionName, Link, LinkError, LinkSubject, SigningKey, TaskToken, parse_urlencoded,
};
use autoheal_domain::cluster::ClusterName;
use autoheal_domain::fixes::BrokerChange;
use autoheal_domain::kafka_cli::Throttle;
use autoheal_domain::time::Timestamp;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Where the key and the endpoint come from, and how long links live.
#[derive(clap::Args)]
pub struct Signing {
    /// File holding the HMAC key (the secret's value; surrounding whitespace is ignored).
    #[arg(long, value_name = "FILE")]
    pub secret_file: PathBuf,
    /// The approval endpoint (the stack's ApprovalUrl output).
    #[arg(long, value_name = "URL")]
    pub base_url: String,
    /// Links expire this many seconds from now.
    #[arg(long, value_name = "SECONDS", default_value = "3600", allow_hyphen_values = true)]
    pub expires_in: String,
}

#[derive(clap::Args)]
pub struct LinkArgs {
    /// approve or reject.
    #[arg(long, value_name = "ACTION")]
    pub action: String,
    /// File holding the task token ($$.Task.Token of the waiting state).
    #[arg(long, value_name = "FILE")]
    pub token_file: PathBuf,
    /// The execution whose task waits.
    #[arg(long, value_name = "NAME")]
    pub execution: String,
    /// Execution input, state or task input JSON to take the cluster and broker counts from...
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cluster", "from", "to"])]
    pub input: Option<PathBuf>,
    /// ...or the cluster name,
    #[arg(long, value_name = "NAME", requires_all = ["from", "to"])]
    pub cluster: Option<String>,
    /// its broker count now,
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// and the target.
    #[arg(long, value_name = "M", allow_hyphen_values = true)]
    pub to: Option<String>,
    #[command(flatten)]
    pub signing: Signing,
}

#[derive(clap::Args)]
pub struct EmailArgs {
    /// The execution input (docs/ARCHITECTURE.md), the workflow state with assessment and plan, or
    /// a task input ({step, execution, state}) copied from the execution history.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// The execution name the email names.
    #[arg(long, value_name = "NAME")]
    pub execution: String,
    /// File holding the task token (default: a placeholder, so the links are shown but do not work).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Replication throttle of the moves, bytes per second (the stack's ThrottleBytesPerSec).
    #[arg(long, value_name = "BYTES_PER_SEC")]
    pub throttle: Option<String>,
    /// Print {subject, body} as JSON instead of the email.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub signing: Signing,
}

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The whole link, as the email has it.
    #[arg(long, value_name = "URL")]
    pub url: String,
    /// File holding the HMAC key.
    #[arg(long, value_name = "FILE")]
    pub secret_file: PathBuf,
}

fn input_err(e: impl std::fmt::Display) -> CliError {
    CliError::input(e.to_string())
}

fn key_from(path: &Path) -> Result<SigningKey, CliError> {
    SigningKey::from_secret(&read_input_file(path)?).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn token_from(path: &Path) -> Result<TaskToken, CliError> {
    TaskToken::new(read_input_file(path)?.trim()).map_err(|e| CliError::input(format!("{}: {e}", path.display())))
}

fn expiry(signing: &Signing, now: Timestamp) -> Result<(Timestamp, i64), CliError> {
    let secs: i64 = signing
        .expires_in
        .parse()
        .ok()
        .filter(|s| (1..=autoheal_domain::approval::MAX_VALIDITY_SECONDS).contains(s))
        .ok_or_else(|| {
            CliError::input(format!(
                "invalid --expires-in {:?}: expected 1 to {} seconds",
                signing.expires_in,
                autoheal_domain::approval::MAX_VALIDITY_SECONDS
            ))
        })?;
    let at = Timestamp::from_unix_millis(now.unix_millis() + secs * 1000)
        .ok_or_else(|| CliError::input("--expires-in is out of range"))?;
    Ok((at, secs))
}

fn json_file(path: &Path) -> Result<Value, CliError> {
    serde_json::from_str(&read_input_file(path)?)
        .map_err(|e| CliError::input(format!("{}: not JSON: {e}", path.display())))
}

/// The workflow state in a file: the file itself, or the `state` of a task input copied from the
/// execution history (`{step, execution, state}`).
fn state_of(mut v: Value) -> Value {
    match v.get_mut("state").filter(|s| s.is_object()) {
        Some(inner) => inner.take(),
        None => v,
    }
}

pub fn run_link(args: LinkArgs) -> Result<(), CliError> {
    let now = Timestamp::now();
    let action: Action = args.action.parse().map_err(CliError::input)?;
    let key = key_from(&args.signing.secret_file)?;
    let base = BaseUrl::parse(&args.signing.base_url).map_err(CliError::input)?;
    let token = token_from(&args.token_file)?;
    let execution = ExecutionName::parse(&args.execution).map_err(CliError::input)?;
    let (cluster, from, to) = match (&args.input, &args.cluster) {
        (Some(path), _) => {
            let v = state_of(json_file(path)?);
            let field = |k: &str| v.get(k).cloned().unwrap_or(Value::Null);
            let count = |k: &str| {
                field(k)
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| CliError::input(format!("{}: {k} is missing or not a broker count", path.display())))
            };
            let name = field("cluster_name");
            let name = name
                .as_str()
                .ok_or_else(|| CliError::input(format!("{}: cluster_name is missing", path.display())))?
                .to_owned();
            (name, count("current_broker_count")?, count("target_broker_count")?)
        }
        (None, Some(cluster)) => {
            let n = |flag: &str, v: &Option<String>| -> Result<u32, CliError> {
                v.as_deref()
                    .and_then(|s| s.parse().ok())
                    .ok_or_else(|| CliError::input(format!("invalid {flag} {:?}: expected a broker count", v)))
            };
            (cluster.clone(), n("--from", &args.from)?, n("--to", &args.to)?)
        }
        (None, None) => return Err(CliError::input("give --input FILE, or --cluster with --from and --to")),
    };
    let subject = LinkSubject {
        cluster: ClusterName::parse(&cluster).map_err(input_err)?,
        brokers: BrokerChange::new(from, to).map_err(input_err)?,
        execution,
    };
    let (expires_at, _) = expiry(&args.signing, now)?;
    println!("{}", Link::new(action, subject, token, expires_at).url(&base, &key));
    Ok(())
}

pub fn run_email(args: EmailArgs) -> Result<(), CliError> {
    let now = Timestamp::now();
    let key = key_from(&args.signing.secret_file)?;
    let (expires_at, window_seconds) = expiry(&args.signing, now)?;
    let config = RequestConfig {
        base_url: BaseUrl::parse(&args.signing.base_url).map_err(CliError::input)?,
        window_seconds,
        throttle: match &args.throttle {
            Some(t) => Throttle::parse(t).map_err(input_err)?,
            None => Throttle::default(),
        },
    };
    let token = match &args.token_file {
        Some(path) => token_from(path)?,
        None => TaskToken::new("dry-run-placeholder-task-token").map_err(input_err)?,
    };
    let state = state_of(json_file(&args.input)?);
    // The same input the state machine passes the request step.
    let input: RequestInput =
        serde_json::from_value(json!({"step": "request", "execution": {"name": args.execution}, "state": state}))
            .map_err(|e| CliError::input(format!("{}: {e}", args.input.display())))?;
    let email = render_email(&key, &config, &input, &token, expires_at, now).map_err(input_err)?;
    if args.json {
        let out = serde_json::to_string_pretty(&email).map_err(|e| CliError::failed(e.to_string()))?;
        println!("{out}");
    } else {
        println!("Subject: {}\n\n{}", email.subject, email.body);
    }
    Ok(())
}

pub fn run_verify(args: VerifyArgs) -> Result<(), CliError> {
    let key = key_from(&args.secret_file)?;
    let query = args.url.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let params = parse_urlencoded(query);
    let result = Link::verify(params.iter().map(|(k, v)| (k.as_str(), v.as_str())), &key, Timestamp::now());
    match result {
        Ok(link) => {
            let s = &link.subject;
            println!(
                "valid: {} adding brokers to {} ({} -> {}), execution {}, until {}",
                link.action,
                s.cluster,
                s.brokers.from(),
                s.brokers.to(),
                s.execution,
                link.expires_at
            );
            Ok(())
        }
        // An invalid link is the answer, not a usage error: exit 1 with the reason.
        Err(e @ (LinkError::Forged | LinkError::Expired(_))) => Err(CliError::failed(format!("invalid link: {e}"))),
        Err(e) => Err(CliError::input(format!("invalid link: {e}"))),
    }
}
