//! Command line: flags compatible with the original Go producer (single-dash `-bootstrap` works too)
//! and with kafka-producer-perf-test's `--throughput`/`--num-records`, validated into a [`Config`].
//! Pure: no I/O, so every rule here is unit-tested.

use std::path::PathBuf;
use std::time::Duration;

use clap::{CommandFactory, Parser, ValueEnum};

/// Environment variable holding the SASL/SCRAM password: never a flag, so it never shows in `ps`.
pub const SASL_PASSWORD_ENV: &str = "SASL_PASSWORD";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "stress-producer",
    version,
    about = "Kafka load generator: many acks=all sends in flight, kafka-producer-perf-test output",
    after_help = "Go-style single-dash flags (-bootstrap host:9092 -workers 64) are accepted too.\n\
                  SASL/SCRAM reads its password from the SASL_PASSWORD environment variable."
)]
pub struct Args {
    /// Bootstrap servers, host:port[,host:port...]
    #[arg(long, value_name = "HOST:PORT,...")]
    pub bootstrap: String,
    /// Topic to produce to
    #[arg(long, default_value = "stress-test")]
    pub topic: String,
    /// Seconds to run; 0 = until --num-records are sent or Ctrl-C
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub duration: u64,
    /// Concurrent sending threads, spread round-robin over the --producers instances
    #[arg(long, default_value_t = 64)]
    pub workers: usize,
    /// Producer instances, each with its own connection to every broker; workers are spread
    /// round-robin over them [default: 4, at most --workers]
    ///
    /// With acks=all a broker serves one request per connection at a time and answers only once
    /// the followers have the data, so a single connection per leader slows the producer down
    /// instead of overloading the followers: reproducing under-replication needs several
    /// connections (the original Go demo had one per goroutine). 4 does it with margin at 4
    /// connections per broker. --producers 1 measures what one well-behaved client can push.
    /// Each instance is its own idempotent producer; --buffer-memory and --throughput are totals.
    #[arg(long, value_name = "N")]
    pub producers: Option<usize>,
    /// Record (value) size in bytes
    #[arg(long = "msg-size", default_value_t = 10240, value_name = "BYTES")]
    pub msg_size: usize,
    /// Producer batch size in bytes (per partition)
    #[arg(long = "batch-size", default_value_t = 1_048_576, value_name = "BYTES")]
    pub batch_size: usize,
    /// Time to wait for a batch to fill, in milliseconds
    #[arg(long = "linger-ms", default_value_t = 10, value_name = "MS")]
    pub linger_ms: u64,
    /// Compression codec
    #[arg(long, value_enum, default_value_t = Compression::Lz4)]
    pub compression: Compression,
    /// How records (all keyless) pick a partition
    ///
    /// batch: each producer instance sends to one partition until a --batch-size worth of records
    /// went there, then moves to the next, as the Java client's default partitioner does
    /// (KIP-794), so batches fill up. librdkafka: librdkafka's own default, a random partition
    /// every 10 ms, which spreads a slow producer's records over every partition in small
    /// batches (one partition per produce request in librdkafka: small requests, and a leader
    /// that never has much to replicate at once)
    #[arg(long, value_enum, default_value_t = Partitioner::Batch)]
    pub partitioner: Partitioner,
    /// Acknowledgements: all (idempotent), 1 or 0
    #[arg(long, default_value = "all", value_parser = parse_acks, allow_hyphen_values = true)]
    pub acks: Acks,
    /// Cap on records per second across all workers; -1 = no cap (as in perf-test)
    #[arg(long, allow_negative_numbers = true, value_name = "RECORDS/S")]
    pub throughput: Option<f64>,
    /// Stop after this many records
    #[arg(long = "num-records", value_name = "N")]
    pub num_records: Option<u64>,
    /// Create the topic if it does not exist
    #[arg(long = "create-topic")]
    pub create_topic: bool,
    /// Partitions for --create-topic
    #[arg(long, default_value_t = 12)]
    pub partitions: i32,
    /// Replication factor for --create-topic
    #[arg(long = "replication-factor", default_value_t = 2)]
    pub replication_factor: i32,
    /// How to connect: plaintext, tls, sasl-scram (SASL_SSL, SCRAM-SHA-512) or iam (MSK IAM, OAUTHBEARER)
    #[arg(long, value_enum, default_value_t = Security::Plaintext)]
    pub security: Security,
    /// SASL/SCRAM user name (password from $SASL_PASSWORD)
    #[arg(long = "sasl-username", value_name = "USER")]
    pub sasl_username: Option<String>,
    /// CA bundle (PEM) for tls, sasl-scram and iam; default: the system store
    #[arg(long = "ca-file", value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// AWS region for --security iam; default: $AWS_REGION, else taken from the bootstrap host name
    #[arg(long)]
    pub region: Option<String>,
    /// Bytes of records in flight (sent, not yet acknowledged), in total: one budget shared by all
    /// --producers, so their number changes connections, not memory or queueing latency. Like the
    /// Java producer's buffer.memory, but that one counts whole 1 MB batch buffers: 8 MiB of records
    /// here queues about as long as its 32 MiB default (BENCHMARKS.md)
    #[arg(long = "buffer-memory", default_value_t = 8_388_608, value_name = "BYTES")]
    pub buffer_memory: usize,
    /// Seconds between progress lines
    #[arg(long = "report-interval", default_value_t = 5, value_name = "SECONDS")]
    pub report_interval: u64,
    /// On exit, write a JSON ledger of every acknowledged record to FILE: per partition the count
    /// and an order-independent checksum over (offset, CRC-32 of the value), for a consumer's
    /// read-back to be compared with (local/ledger/Ledger.java verify)
    ///
    /// Written at every exit once the load has started (end, --duration, Ctrl-C after the drain, a
    /// fatal producer error), also when records failed; written aside and renamed, so FILE is
    /// never half a ledger. Needs acknowledgements (--acks all or 1).
    #[arg(long = "ack-ledger", value_name = "FILE")]
    pub ack_ledger: Option<PathBuf>,
    /// After Ctrl-C or SIGTERM: seconds the records in flight get to be acknowledged before the
    /// rest is purged (counted as failed)
    #[arg(long = "drain-timeout", default_value_t = 10, value_name = "SECONDS")]
    pub drain_timeout: u64,
    /// With --throughput: how far sending may fall behind the schedule and still catch up. Beyond
    /// that the schedule slips instead, so a stall (a full window, a paused machine) is not
    /// followed by a burst of everything missed. Default: no limit (perf-test's behaviour)
    #[arg(long = "max-catch-up-ms", value_name = "MS")]
    pub max_catch_up_ms: Option<u64>,
    /// Print the summary as one JSON document on stdout (progress lines go to stderr)
    #[arg(long)]
    pub json: bool,
    /// Extra librdkafka property, key=value (repeatable); applied last
    #[arg(long = "producer-prop", value_name = "KEY=VALUE")]
    pub producer_prop: Vec<String>,
    /// How delivery reports come back (benchmarking aid): callback or futures
    #[arg(long, value_enum, default_value_t = EngineKind::Callback, hide = true)]
    pub engine: EngineKind,
}

/// The delivery path (see engine.rs); both are measured in BENCHMARKS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineKind {
    Callback,
    Futures,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Partitioner {
    Batch,
    Librdkafka,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Lz4,
    Zstd,
    Snappy,
    Gzip,
    None,
}

impl Compression {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
            Self::Snappy => "snappy",
            Self::Gzip => "gzip",
            Self::None => "none",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Acks {
    #[serde(rename = "all")]
    All,
    #[serde(rename = "1")]
    Leader,
    #[serde(rename = "0")]
    None,
}

impl Acks {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Leader => "1",
            Self::None => "0",
        }
    }
}

fn parse_acks(s: &str) -> Result<Acks, String> {
    match s {
        "all" | "-1" => Ok(Acks::All),
        "1" => Ok(Acks::Leader),
        "0" => Ok(Acks::None),
        _ => Err("expected all, 1 or 0".into()),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Security {
    Plaintext,
    Tls,
    SaslScram,
    Iam,
}

/// Everything the run needs, validated. Built once from the flags and the environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub bootstrap: String,
    pub topic: String,
    /// None: no time limit.
    pub duration: Option<Duration>,
    pub workers: usize,
    /// Producer instances (1..=workers); worker i sends through instance i % producers.
    pub producers: usize,
    pub msg_size: usize,
    pub batch_size: usize,
    pub linger_ms: u64,
    pub compression: Compression,
    pub partitioner: Partitioner,
    pub acks: Acks,
    /// Records per second; None: no cap.
    pub throughput: Option<f64>,
    pub num_records: Option<u64>,
    pub create_topic: Option<TopicSpec>,
    pub security: SecurityConfig,
    pub report_interval: Duration,
    pub json: bool,
    pub producer_props: Vec<(String, String)>,
    pub engine: EngineKind,
    /// Bytes of records in flight.
    pub buffer_memory: usize,
    /// Where to write the acknowledgement ledger on exit; None: no ledger (and no CRC per record).
    pub ack_ledger: Option<PathBuf>,
    /// How long Ctrl-C waits for the records in flight.
    pub drain_timeout: Duration,
    /// With a throughput cap: the most the schedule may be caught up on at once; None: all of it.
    pub max_catch_up: Option<Duration>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicSpec {
    pub partitions: i32,
    pub replication_factor: i32,
}

#[derive(Clone, PartialEq)]
pub enum SecurityConfig {
    Plaintext,
    Tls { ca_file: Option<PathBuf> },
    SaslScram { username: String, password: String, ca_file: Option<PathBuf> },
    Iam { region: String, ca_file: Option<PathBuf> },
}

// Hand-written so the SCRAM password can never reach a log or an error message.
impl std::fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Plaintext => f.write_str("Plaintext"),
            Self::Tls { ca_file } => f.debug_struct("Tls").field("ca_file", ca_file).finish(),
            Self::SaslScram { username, ca_file, .. } => f
                .debug_struct("SaslScram")
                .field("username", username)
                .field("password", &"<redacted>")
                .field("ca_file", ca_file)
                .finish(),
            Self::Iam { region, ca_file } => {
                f.debug_struct("Iam").field("region", region).field("ca_file", ca_file).finish()
            }
        }
    }
}

/// Largest record librdkafka and a default broker accept in one request.
const MAX_MSG_SIZE: usize = 1_000_000;
const MAX_WORKERS: usize = 1024;
/// Enough connections per leader to reproduce the overload (local/README.md, Capacity: 3 did at
/// 1.1x the replication capacity), few enough to stay far from MSK's per-broker connection limits.
pub const DEFAULT_PRODUCERS: usize = 4;
/// Each instance is a full librdkafka client: a thread per broker plus its own, and a connection
/// to every broker. Beyond this the extra connections only cost the brokers.
const MAX_PRODUCERS: usize = 64;

/// Rewrites Go-style `-flag` / `-flag=value` into `--flag` for every long flag we know, so the
/// original demo's command lines keep working. Values (`-1`) and short flags (`-h`) are left
/// alone, as is everything after `--`.
pub fn normalize_args(argv: impl IntoIterator<Item = String>) -> Vec<String> {
    let cmd = Args::command();
    let longs: Vec<String> = cmd
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_owned))
        .chain(["help".to_owned(), "version".to_owned()])
        .collect();
    let mut out = Vec::new();
    let mut rest = false;
    for (i, arg) in argv.into_iter().enumerate() {
        if i == 0 || rest || !arg.starts_with('-') || arg.starts_with("--") {
            rest |= arg == "--";
            out.push(arg);
            continue;
        }
        let name = arg[1..].split('=').next().unwrap_or("");
        if longs.iter().any(|l| l == name) {
            out.push(format!("-{arg}"));
        } else {
            out.push(arg);
        }
    }
    out
}

/// Validates the parsed flags; `env` looks up environment variables (injected for tests).
pub fn validate(args: Args, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
    let bootstrap = validate_bootstrap(&args.bootstrap)?;
    validate_topic(&args.topic)?;
    if args.workers == 0 || args.workers > MAX_WORKERS {
        return Err(format!("--workers must be 1..={MAX_WORKERS}, got {}", args.workers));
    }
    let producers = match args.producers {
        // The default never exceeds --workers: a worker sends through exactly one instance, and
        // an instance without workers would only hold idle connections.
        None => DEFAULT_PRODUCERS.min(args.workers),
        Some(p) if (1..=MAX_PRODUCERS.min(args.workers)).contains(&p) => p,
        Some(p) => {
            return Err(format!(
                "--producers must be 1..={} (at most --workers and {MAX_PRODUCERS}), got {p}",
                MAX_PRODUCERS.min(args.workers)
            ));
        }
    };
    if args.msg_size == 0 || args.msg_size > MAX_MSG_SIZE {
        return Err(format!("--msg-size must be 1..={MAX_MSG_SIZE} bytes, got {}", args.msg_size));
    }
    if args.batch_size == 0 || args.batch_size > 16 * 1_048_576 {
        return Err(format!("--batch-size must be 1..=16777216 bytes, got {}", args.batch_size));
    }
    if args.buffer_memory < args.msg_size || args.buffer_memory > 4 << 30 {
        return Err(format!("--buffer-memory must be between --msg-size and 4 GiB, got {}", args.buffer_memory));
    }
    if args.linger_ms > 900_000 {
        return Err(format!("--linger-ms must be at most 900000, got {}", args.linger_ms));
    }
    let throughput = match args.throughput {
        None => None,
        Some(t) if t < 0.0 => None,
        Some(t) if t.is_finite() && t > 0.0 => Some(t),
        Some(t) => return Err(format!("--throughput must be > 0 or -1 (no cap), got {t}")),
    };
    if args.num_records == Some(0) {
        return Err("--num-records must be at least 1".into());
    }
    if args.report_interval == 0 {
        return Err("--report-interval must be at least 1 second".into());
    }
    let create_topic = if args.create_topic {
        if !(1..=10_000).contains(&args.partitions) {
            return Err(format!("--partitions must be 1..=10000, got {}", args.partitions));
        }
        if !(1..=16).contains(&args.replication_factor) {
            return Err(format!("--replication-factor must be 1..=16, got {}", args.replication_factor));
        }
        Some(TopicSpec { partitions: args.partitions, replication_factor: args.replication_factor })
    } else {
        None
    };
    if let Some(ca) = &args.ca_file {
        if args.security == Security::Plaintext {
            return Err("--ca-file needs --security tls, sasl-scram or iam".into());
        }
        if ca.as_os_str().is_empty() {
            return Err("--ca-file is empty".into());
        }
    }
    let ca_file = args.ca_file.clone();
    let security = match args.security {
        Security::Plaintext => SecurityConfig::Plaintext,
        Security::Tls => SecurityConfig::Tls { ca_file },
        Security::SaslScram => {
            let username = args
                .sasl_username
                .clone()
                .filter(|u| !u.is_empty())
                .ok_or("--security sasl-scram needs --sasl-username")?;
            let password = env(SASL_PASSWORD_ENV)
                .filter(|p| !p.is_empty())
                .ok_or(format!("--security sasl-scram needs the password in ${SASL_PASSWORD_ENV}"))?;
            SecurityConfig::SaslScram { username, password, ca_file }
        }
        Security::Iam => {
            let region = args
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .or_else(|| region_from_bootstrap(&bootstrap))
                .ok_or("--security iam needs --region (or $AWS_REGION)")?;
            validate_region(&region)?;
            SecurityConfig::Iam { region, ca_file }
        }
    };
    if args.sasl_username.is_some() && args.security != Security::SaslScram {
        return Err("--sasl-username needs --security sasl-scram".into());
    }
    if let Some(path) = &args.ack_ledger {
        if path.as_os_str().is_empty() {
            return Err("--ack-ledger is empty".into());
        }
        // acks=0 delivery reports carry no offset: there would be nothing to prove.
        if args.acks == Acks::None {
            return Err("--ack-ledger needs acknowledgements with offsets: --acks all or 1".into());
        }
    }
    if args.drain_timeout > 3600 {
        return Err(format!("--drain-timeout must be 0..=3600 seconds, got {}", args.drain_timeout));
    }
    let max_catch_up = match args.max_catch_up_ms {
        None => None,
        Some(_) if throughput.is_none() => return Err("--max-catch-up-ms needs --throughput".into()),
        Some(ms) if ms <= 3_600_000 => Some(Duration::from_millis(ms)),
        Some(ms) => return Err(format!("--max-catch-up-ms must be at most 3600000, got {ms}")),
    };
    let mut producer_props = Vec::new();
    for p in &args.producer_prop {
        match p.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => producer_props.push((k.trim().to_owned(), v.to_owned())),
            _ => return Err(format!("--producer-prop expects key=value, got '{p}'")),
        }
    }
    Ok(Config {
        bootstrap,
        topic: args.topic,
        duration: (args.duration > 0).then(|| Duration::from_secs(args.duration)),
        workers: args.workers,
        producers,
        msg_size: args.msg_size,
        batch_size: args.batch_size,
        linger_ms: args.linger_ms,
        compression: args.compression,
        partitioner: args.partitioner,
        acks: args.acks,
        throughput,
        num_records: args.num_records,
        create_topic,
        security,
        report_interval: Duration::from_secs(args.report_interval),
        json: args.json,
        producer_props,
        engine: args.engine,
        buffer_memory: args.buffer_memory,
        ack_ledger: args.ack_ledger,
        drain_timeout: Duration::from_secs(args.drain_timeout),
        max_catch_up,
    })
}

/// host:port[,host:port...] with a non-empty host free of shell and URL syntax and a port 1..=65535.
fn validate_bootstrap(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("--bootstrap is empty".into());
    }
    for server in s.split(',') {
        let server = server.trim();
        let (host, port) =
            server.rsplit_once(':').ok_or_else(|| format!("--bootstrap: '{server}' is not host:port"))?;
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host.chars().all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c));
        if !host_ok {
            return Err(format!("--bootstrap: bad host in '{server}'"));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(format!("--bootstrap: bad port in '{server}'")),
        }
    }
    Ok(s.split(',').map(str::trim).collect::<Vec<_>>().join(","))
}

/// Kafka's own rule: 1-249 of [a-zA-Z0-9._-], not "." or "..".
pub fn validate_topic(t: &str) -> Result<(), String> {
    let legal = t.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if t.is_empty() || t.len() > 249 || !legal || t == "." || t == ".." {
        return Err(format!("--topic '{t}' is not a legal Kafka topic name (1-249 of letters, digits, '.', '_', '-')"));
    }
    Ok(())
}

fn validate_region(r: &str) -> Result<(), String> {
    let ok =
        !r.is_empty() && r.len() <= 32 && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok { Ok(()) } else { Err(format!("--region '{r}' is not an AWS region name")) }
}

/// MSK broker names look like b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098.
fn region_from_bootstrap(bootstrap: &str) -> Option<String> {
    let host = bootstrap.split(',').next()?.rsplit_once(':')?.0;
    let labels: Vec<&str> = host.split('.').collect();
    let i = labels.iter().position(|l| *l == "kafka")?;
    labels.get(i + 1).filter(|r| r.contains('-')).map(|r| (*r).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn argv(s: &str) -> Vec<String> {
        std::iter::once("stress-producer").chain(s.split_whitespace()).map(String::from).collect()
    }

    fn parse(s: &str) -> Result<Config, String> {
        parse_env(s, |_| None)
    }

    fn parse_env(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let args = Args::try_parse_from(normalize_args(argv(s))).map_err(|e| e.to_string())?;
        validate(args, env)
    }

    #[test]
    fn defaults_match_the_original_demo() {
        let c = parse("--bootstrap localhost:9092").unwrap();
        assert_eq!(c.topic, "stress-test");
        assert_eq!(c.workers, 64);
        assert_eq!(c.producers, DEFAULT_PRODUCERS);
        assert_eq!(c.msg_size, 10240);
        assert_eq!(c.batch_size, 1_048_576);
        assert_eq!(c.linger_ms, 10);
        assert_eq!(c.compression, Compression::Lz4);
        assert_eq!(c.partitioner, Partitioner::Batch);
        assert_eq!(c.acks, Acks::All);
        assert_eq!(c.duration, Some(Duration::from_secs(60)));
        assert_eq!(c.throughput, None);
        assert_eq!(c.create_topic, None);
        assert_eq!(c.security, SecurityConfig::Plaintext);
        assert_eq!(c.report_interval, Duration::from_secs(5));
        assert_eq!(c.buffer_memory, 8 * 1024 * 1024);
        assert_eq!(c.ack_ledger, None);
        assert_eq!(c.drain_timeout, Duration::from_secs(10));
        assert_eq!(c.max_catch_up, None);
    }

    #[test]
    fn ack_ledger_drain_and_catch_up_flags() {
        let c =
            parse("--bootstrap h:1 --ack-ledger out/l.json --drain-timeout 60 --throughput 215 --max-catch-up-ms 500")
                .unwrap();
        assert_eq!(c.ack_ledger, Some(PathBuf::from("out/l.json")));
        assert_eq!(c.drain_timeout, Duration::from_secs(60));
        assert_eq!(c.max_catch_up, Some(Duration::from_millis(500)));
        assert_eq!(
            parse("-bootstrap h:1 -ack-ledger=x.json -acks 1").unwrap().ack_ledger,
            Some(PathBuf::from("x.json"))
        );
        for (flags, needle) in [
            ("--ack-ledger x.json --acks 0", "--acks all or 1"),
            ("--max-catch-up-ms 500", "needs --throughput"),
            ("--throughput 10 --max-catch-up-ms 3600001", "--max-catch-up-ms"),
            ("--drain-timeout 3601", "--drain-timeout"),
        ] {
            let err = parse(&format!("--bootstrap h:1 {flags}")).unwrap_err();
            assert!(err.contains(needle), "{flags}: {err}");
        }
    }

    #[test]
    fn go_style_single_dash_flags_work() {
        let c = parse("-bootstrap b-1:9092,b-2:9092 -topic t1 -duration 300 -workers=8 -msg-size 100 -json").unwrap();
        assert_eq!(c.bootstrap, "b-1:9092,b-2:9092");
        assert_eq!(c.topic, "t1");
        assert_eq!(c.duration, Some(Duration::from_secs(300)));
        assert_eq!(c.workers, 8);
        assert_eq!(c.msg_size, 100);
        assert!(c.json);
    }

    #[test]
    fn normalize_leaves_values_short_flags_and_the_rest_alone() {
        let out = normalize_args(argv("-bootstrap h:1 --throughput -1 -h -- -topic"));
        assert_eq!(out[1..], ["--bootstrap", "h:1", "--throughput", "-1", "-h", "--", "-topic"]);
        // An unknown single-dash word is not invented into a flag.
        assert_eq!(normalize_args(argv("-bogus"))[1], "-bogus");
    }

    #[test]
    fn perf_test_style_throughput_minus_one_means_no_cap() {
        assert_eq!(parse("--bootstrap h:1 --throughput -1").unwrap().throughput, None);
        assert_eq!(parse("--bootstrap h:1 --throughput 500").unwrap().throughput, Some(500.0));
        assert!(parse("--bootstrap h:1 --throughput 0").is_err());
    }

    #[test]
    fn acks_and_compression_values() {
        assert_eq!(parse("--bootstrap h:1 --acks 1").unwrap().acks, Acks::Leader);
        assert_eq!(parse("--bootstrap h:1 --acks 0").unwrap().acks, Acks::None);
        assert_eq!(parse("--bootstrap h:1 --acks -1").unwrap().acks, Acks::All);
        assert!(parse("--bootstrap h:1 --acks 2").is_err());
        for (s, c) in [("zstd", Compression::Zstd), ("gzip", Compression::Gzip), ("none", Compression::None)] {
            assert_eq!(parse(&format!("--bootstrap h:1 --compression {s}")).unwrap().compression, c);
        }
        assert!(parse("--bootstrap h:1 --compression brotli").is_err());
    }

    #[test]
    fn bad_values_are_rejected_with_the_flag_named() {
        for (flags, needle) in [
            ("--bootstrap nohostport", "--bootstrap"),
            ("--bootstrap h:0", "bad port"),
            ("--bootstrap h;rm:9092", "bad host"),
            ("--bootstrap h:1 --topic bad/topic", "--topic"),
            ("--bootstrap h:1 --workers 0", "--workers"),
            ("--bootstrap h:1 --msg-size 0", "--msg-size"),
            ("--bootstrap h:1 --num-records 0", "--num-records"),
            ("--bootstrap h:1 --report-interval 0", "--report-interval"),
            ("--bootstrap h:1 --msg-size 2048 --buffer-memory 1024", "--buffer-memory"),
            ("--bootstrap h:1 --create-topic --partitions 0", "--partitions"),
            ("--bootstrap h:1 --ca-file x.pem", "--ca-file"),
            ("--bootstrap h:1 --producer-prop nokey", "--producer-prop"),
            ("--bootstrap h:1 --security sasl-scram", "--sasl-username"),
        ] {
            let err = parse(flags).unwrap_err();
            assert!(err.contains(needle), "{flags}: {err}");
        }
        assert!(parse("--topic t").is_err(), "--bootstrap is required");
    }

    #[test]
    fn producers_default_to_four_never_more_than_workers() {
        assert_eq!(parse("--bootstrap h:1 --workers 64").unwrap().producers, 4);
        // Fewer workers than the default: one instance per worker, no idle instance.
        assert_eq!(parse("--bootstrap h:1 --workers 2").unwrap().producers, 2);
        assert_eq!(parse("--bootstrap h:1 --workers 1").unwrap().producers, 1);
        assert_eq!(parse("--bootstrap h:1 --producers 1").unwrap().producers, 1);
        assert_eq!(parse("-bootstrap h:1 -workers 8 -producers 8").unwrap().producers, 8);
        for flags in ["--producers 0", "--workers 2 --producers 3", "--workers 100 --producers 65"] {
            let err = parse(&format!("--bootstrap h:1 {flags}")).unwrap_err();
            assert!(err.contains("--producers"), "{flags}: {err}");
        }
        assert!(parse("--bootstrap h:1 --producers -1").is_err());
    }

    #[test]
    fn create_topic_spec() {
        let c = parse("--bootstrap h:1 --create-topic --partitions 3 --replication-factor 1").unwrap();
        assert_eq!(c.create_topic, Some(TopicSpec { partitions: 3, replication_factor: 1 }));
    }

    #[test]
    fn scram_password_comes_from_the_environment_and_is_never_printed() {
        let env = |k: &str| (k == SASL_PASSWORD_ENV).then(|| "s3cret".to_owned());
        let c = parse_env("--bootstrap h:9096 --security sasl-scram --sasl-username alice", env).unwrap();
        let SecurityConfig::SaslScram { username, password, .. } = &c.security else {
            panic!("not scram: {:?}", c.security)
        };
        assert_eq!((username.as_str(), password.as_str()), ("alice", "s3cret"));
        assert!(!format!("{c:?}").contains("s3cret"));
        let err = parse("--bootstrap h:9096 --security sasl-scram --sasl-username alice").unwrap_err();
        assert!(err.contains(SASL_PASSWORD_ENV), "{err}");
    }

    #[test]
    fn iam_region_from_flag_env_or_msk_host_name() {
        let host = "b-1.demo.abc123.c2.kafka.eu-west-2.amazonaws.com:9098";
        let c = parse(&format!("--bootstrap {host} --security iam")).unwrap();
        assert_eq!(c.security, SecurityConfig::Iam { region: "eu-west-2".into(), ca_file: None });
        let env = |k: &str| (k == "AWS_REGION").then(|| "us-west-1".to_owned());
        let c = parse_env("--bootstrap h:9098 --security iam", env).unwrap();
        assert_eq!(c.security, SecurityConfig::Iam { region: "us-west-1".into(), ca_file: None });
        assert!(parse("--bootstrap h:9098 --security iam").is_err());
        assert!(parse("--bootstrap h:9098 --security iam --region US_EAST").is_err());
    }
}
