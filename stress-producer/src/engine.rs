//! The load engine: `--producers` librdkafka producer instances (each its own connections, so a
//! leader sees several requests at once, as from the original demo's goroutines) with the
//! `--workers` sending threads spread round-robin over them, one bounded window of records in
//! flight across all of them (like the Java producer's `buffer.memory`), a poller thread per
//! instance serving its delivery reports into that instance's [`Stats`] (and, with `--ack-ledger`,
//! its per-partition ledger), and the reporter loop that merges them into perf-test lines and
//! decides when to stop (duration, record count, signal, fatal producer error).

use std::error::Error as StdError;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::OAuthToken;
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::error::KafkaResult;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::metadata::Metadata;
use rdkafka::producer::{
    BaseProducer, BaseRecord, DeliveryResult, FutureProducer, FutureRecord, Producer, ProducerContext, PurgeConfig,
};
use rdkafka::{ClientContext, Message};

use crate::cli::{Acks, Config, EngineKind, Partitioner, SecurityConfig, TopicSpec};
use crate::iam::IamTokenSource;
use crate::ledger::{self, Tally};
use crate::report::{self, StopReason};
use crate::stats::{self, InstanceTotals, Stats, Summary};

/// A connection check must answer well inside the 10 s an operator waits for "unreachable".
const CONNECT_TIMEOUT: Duration = Duration::from_secs(8);
/// Java's default delivery.timeout.ms: a record not acknowledged by then counts as failed.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(120);
const TICK: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// librdkafka refused the configuration (a bad --producer-prop, an unreadable CA file).
    #[error("invalid producer configuration: {0}")]
    Config(String),
    #[error("cannot reach the bootstrap servers {bootstrap} within {secs} s: {detail}")]
    Unreachable { bootstrap: String, secs: u64, detail: String },
    #[error("topic '{0}' does not exist (create it, or pass --create-topic --partitions N --replication-factor N)")]
    TopicMissing(String),
    #[error("could not create topic '{topic}': {detail}")]
    CreateTopic { topic: String, detail: String },
    #[error("MSK IAM: {0}")]
    Iam(#[from] crate::iam::IamError),
    #[error("interrupted before the load started")]
    Interrupted,
}

impl RunError {
    /// Bad input exits 2 like a bad flag; everything else is a failed run (1).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Config(_) => 2,
            _ => 1,
        }
    }
}

/// What the run did.
pub struct Outcome {
    /// All instances together.
    pub summary: Summary,
    /// Each producer instance's share, in instance order.
    pub by_producer: Vec<InstanceTotals>,
    pub stopped_by: StopReason,
    /// Every instance's acknowledgement ledger merged; None without `--ack-ledger`.
    pub ledger: Option<Tally>,
    /// Records sent whose report never came back (the run gave up on a wedged producer).
    pub unresolved: u64,
}

/// What a record carries from its send to its delivery report, packed into librdkafka's opaque
/// pointer so that nothing is allocated per record: the low 32 bits of its send time in µs since
/// the run's epoch, and the CRC-32 of its value (0 without `--ack-ledger`). 32 bits of µs wrap
/// after 71 minutes, and a latency is a difference of two of them, so it is exact up to that,
/// beyond the histogram's hour and librdkafka's message timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    sent_us: u32,
    crc: u32,
}

// The tag needs the whole 64 bits of a pointer; the EC2 client (and every supported target) has them.
const _: () = assert!(usize::BITS == 64, "the delivery tag packs two u32 into a usize");

impl Tag {
    fn new(sent_us: u64, crc: u32) -> Self {
        Self { sent_us: sent_us as u32, crc }
    }

    fn pack(self) -> usize {
        ((u64::from(self.crc) << 32) | u64::from(self.sent_us)) as usize
    }

    fn unpack(v: usize) -> Self {
        Self { sent_us: v as u32, crc: (v as u64 >> 32) as u32 }
    }

    /// Microseconds from the send to `now_us` (same epoch), across the 32-bit wrap.
    fn latency_us(self, now_us: u64) -> u64 {
        u64::from((now_us as u32).wrapping_sub(self.sent_us))
    }
}

/// One record's outcome, as its delivery report tells it.
#[derive(Debug, Clone, Copy)]
enum Report<'a> {
    Acked {
        partition: i32,
        offset: i64,
    },
    /// `partition` is -1 when none was chosen yet (librdkafka's partitioner).
    Failed {
        partition: i32,
        error: &'a KafkaError,
    },
}

/// Counting semaphore over records in flight. Only the transition from "full" wakes a waiter,
/// and that worker then sends while permits last: one wake-up per saturation, not per record.
struct Window {
    state: Mutex<WindowState>,
    cv: Condvar,
    capacity: usize,
}

struct WindowState {
    available: usize,
    waiters: usize,
}

impl Window {
    fn new(capacity: usize) -> Self {
        Self { state: Mutex::new(WindowState { available: capacity, waiters: 0 }), cv: Condvar::new(), capacity }
    }

    /// Takes a permit; false when `stop` was raised while waiting.
    fn acquire(&self, stop: &AtomicBool) -> bool {
        let mut s = lock(&self.state);
        while s.available == 0 {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            s.waiters += 1;
            // The timeout only bounds how late a worker notices `stop`.
            s = self.cv.wait_timeout(s, Duration::from_millis(50)).unwrap_or_else(|e| e.into_inner()).0;
            s.waiters -= 1;
        }
        s.available -= 1;
        true
    }

    fn release(&self) {
        let mut s = lock(&self.state);
        s.available += 1;
        let wake = s.available == 1 && s.waiters > 0;
        drop(s);
        if wake {
            self.cv.notify_one();
        }
    }

    fn in_flight(&self) -> usize {
        self.capacity - lock(&self.state).available
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking worker must not take the summary down with it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Authentication hooks and error capture shared by the producer and the admin client.
struct AuthContext {
    iam: Option<IamTokenSource>,
    last_error: Mutex<Option<String>>,
    fatal: AtomicBool,
}

impl AuthContext {
    fn note_error(&self, what: String) {
        *lock(&self.last_error) = Some(what);
    }
}

impl ClientContext for AuthContext {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    // librdkafka logs every failed connect; keep the last error for the one-line message instead
    // of flooding the terminal.
    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        if (level as i32) <= RDKafkaLogLevel::Error as i32 {
            self.note_error(format!("{fac}: {msg}"));
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        if error.rdkafka_error_code() == Some(RDKafkaErrorCode::Fatal) {
            self.fatal.store(true, Ordering::SeqCst);
        }
        self.note_error(format!("{error}: {reason}"));
    }

    fn generate_oauth_token(&self, _config: Option<&str>) -> Result<OAuthToken, Box<dyn StdError>> {
        let iam = self.iam.as_ref().ok_or("OAUTHBEARER token requested but --security is not iam")?;
        let (token, lifetime_ms) = iam.token()?;
        // MSK takes the principal from the signed URL; librdkafka only needs a non-empty name.
        Ok(OAuthToken { token, principal_name: "msk-iam".into(), lifetime_ms })
    }
}

/// What the delivery paths (either engine, every instance), the workers and the reporter share.
struct Shared {
    /// One for all instances: a fatal error or the last connection error of any of them counts.
    auth: AuthContext,
    epoch: Instant,
    record_bytes: u64,
    /// One per producer instance, indexed like `Run::engines`.
    stats: Vec<Mutex<Stats>>,
    /// The in-flight budget of the whole process, not per instance (`--buffer-memory` is a total).
    window: Window,
}

impl Shared {
    /// One record's outcome: into its instance's stats (and ledger), and its slot back to the window.
    fn delivered(&self, instance: usize, tag: Tag, report: Report<'_>) {
        let latency_us = tag.latency_us(self.now_us());
        {
            let mut stats = lock(&self.stats[instance]);
            match report {
                Report::Acked { partition, offset } => {
                    stats.record_ok(latency_us, self.record_bytes);
                    stats.ledger_ack(partition, offset, tag.crc);
                }
                Report::Failed { partition, error } => {
                    stats.record_error(&error_kind(error));
                    stats.ledger_fail(partition);
                }
            }
        }
        self.window.release();
    }

    fn now_us(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }

    /// The interval window of all instances together; starts a new one on each.
    fn take_interval(&self) -> stats::Window {
        let mut w = stats::Window::default();
        for s in &self.stats {
            w.merge(&lock(s).take_interval());
        }
        w
    }

    /// Records acknowledged (with their bytes) and failed so far, all instances together.
    fn totals(&self) -> (stats::Window, u64) {
        let mut total = stats::Window::default();
        let mut failed = 0;
        for s in &self.stats {
            let s = lock(s);
            total.merge(&s.total());
            failed += s.failed();
        }
        (total, failed)
    }

    /// The whole run's summary, each instance's share of it, and the merged ledger (if kept).
    fn summary(&self, elapsed: Duration) -> (Summary, Vec<InstanceTotals>, Option<Tally>) {
        let parts: Vec<MutexGuard<'_, Stats>> = self.stats.iter().map(lock).collect();
        let by_instance = parts.iter().map(|s| s.instance_totals()).collect();
        let all = Stats::merged(parts.iter().map(|s| &**s));
        (all.summary(elapsed), by_instance, all.ledger().cloned())
    }
}

/// One producer instance's librdkafka context: auth hooks and error capture, and for the callback
/// engine the delivery reports, which it files under its instance.
#[derive(Clone)]
struct Ctx {
    shared: Arc<Shared>,
    instance: usize,
}

impl ClientContext for Ctx {
    const ENABLE_REFRESH_OAUTH_TOKEN: bool = true;

    fn log(&self, level: RDKafkaLogLevel, fac: &str, msg: &str) {
        self.shared.auth.log(level, fac, msg)
    }

    fn error(&self, error: KafkaError, reason: &str) {
        self.shared.auth.error(error, reason)
    }

    fn generate_oauth_token(&self, config: Option<&str>) -> Result<OAuthToken, Box<dyn StdError>> {
        self.shared.auth.generate_oauth_token(config)
    }
}

impl ProducerContext for Ctx {
    /// A packed [`Tag`]: no allocation per record.
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, tag: usize) {
        let report = match result {
            Ok(m) => Report::Acked { partition: m.partition(), offset: m.offset() },
            Err((error, m)) => Report::Failed { partition: m.partition(), error },
        };
        self.shared.delivered(self.instance, Tag::unpack(tag), report);
    }
}

/// One producer instance, by how its delivery reports come back. `Callback`: librdkafka's delivery
/// callback served by the instance's poller thread, the send time riding in the opaque pointer
/// (nothing allocated per record). `Futures`: rdkafka's FutureProducer, a oneshot channel and a
/// tokio task per record.
enum Engine {
    Callback {
        producer: Arc<BaseProducer<Ctx>>,
        poll_stop: Arc<AtomicBool>,
        poller: Option<thread::JoinHandle<()>>,
    },
    /// The runtime that awaits the delivery futures is shared by all instances.
    Futures {
        producer: FutureProducer<Ctx>,
        runtime: Arc<tokio::runtime::Runtime>,
        instance: usize,
    },
}

impl Engine {
    /// Instance number `instance` of `kind`; `runtime` is the futures engine's shared runtime.
    fn new(
        kind: EngineKind,
        conf: &ClientConfig,
        shared: &Arc<Shared>,
        instance: usize,
        runtime: Option<&Arc<tokio::runtime::Runtime>>,
    ) -> Result<Self, RunError> {
        let ctx = Ctx { shared: Arc::clone(shared), instance };
        let config_err = |e: KafkaError| RunError::Config(e.to_string());
        match (kind, runtime) {
            (EngineKind::Callback, _) => {
                let producer: Arc<BaseProducer<Ctx>> = Arc::new(conf.create_with_context(ctx).map_err(config_err)?);
                // The poller serves delivery reports, errors and OAUTHBEARER refreshes for the
                // whole run, including the connection check (IAM needs a token before any request).
                let poll_stop = Arc::new(AtomicBool::new(false));
                let (p, s) = (Arc::clone(&producer), Arc::clone(&poll_stop));
                let poller = thread::Builder::new()
                    .name(format!("rdkafka-poll-{instance}"))
                    .spawn(move || {
                        while !s.load(Ordering::Relaxed) {
                            p.poll(Duration::from_millis(50));
                        }
                    })
                    .map_err(|e| RunError::Config(format!("cannot start the poller thread: {e}")))?;
                Ok(Self::Callback { producer, poll_stop, poller: Some(poller) })
            }
            (EngineKind::Futures, Some(runtime)) => {
                let producer: FutureProducer<Ctx> = conf.create_with_context(ctx).map_err(config_err)?;
                Ok(Self::Futures { producer, runtime: Arc::clone(runtime), instance })
            }
            (EngineKind::Futures, None) => Err(RunError::Config("the futures engine needs its runtime".into())),
        }
    }

    fn fetch_metadata(&self, topic: Option<&str>) -> KafkaResult<Metadata> {
        match self {
            Self::Callback { producer, .. } => producer.client().fetch_metadata(topic, CONNECT_TIMEOUT),
            Self::Futures { producer, .. } => producer.client().fetch_metadata(topic, CONNECT_TIMEOUT),
        }
    }

    /// Enqueues one record (to `partition`, or where librdkafka's partitioner puts it); its
    /// outcome reaches `shared.delivered` later. An error here means it was never enqueued.
    fn send(
        &self,
        shared: &Arc<Shared>,
        topic: &str,
        partition: Option<i32>,
        payload: &[u8],
        tag: Tag,
    ) -> Result<(), KafkaError> {
        // QueueFull only happens if --producer-prop shrank librdkafka's queue below our window.
        let queue_full = |e: &KafkaError| matches!(e, KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull));
        match self {
            Self::Callback { producer, .. } => {
                let mut record = BaseRecord::<(), [u8], usize>::with_opaque_to(topic, tag.pack()).payload(payload);
                record.partition = partition;
                loop {
                    match producer.send(record) {
                        Ok(()) => return Ok(()),
                        Err((e, r)) if queue_full(&e) => {
                            record = r;
                            thread::sleep(Duration::from_millis(1));
                        }
                        Err((e, _)) => return Err(e),
                    }
                }
            }
            Self::Futures { producer, runtime, instance } => {
                let instance = *instance;
                let mut record = FutureRecord::<(), [u8]>::to(topic).payload(payload);
                record.partition = partition;
                loop {
                    match producer.send_result(record) {
                        Ok(delivery) => {
                            let shared = Arc::clone(shared);
                            let chosen = partition.unwrap_or(-1);
                            runtime.spawn(async move {
                                let canceled = KafkaError::Canceled;
                                let (owned_error, report);
                                match delivery.await {
                                    Ok(Ok(d)) => report = Report::Acked { partition: d.partition, offset: d.offset },
                                    Ok(Err((e, m))) => {
                                        owned_error = e;
                                        report = Report::Failed { partition: m.partition(), error: &owned_error };
                                    }
                                    Err(_) => report = Report::Failed { partition: chosen, error: &canceled },
                                }
                                shared.delivered(instance, tag, report);
                            });
                            return Ok(());
                        }
                        Err((e, r)) if queue_full(&e) => {
                            record = r;
                            thread::sleep(Duration::from_millis(1));
                        }
                        Err((e, _)) => return Err(e),
                    }
                }
            }
        }
    }

    fn instance(&self) -> usize {
        match self {
            Self::Callback { producer, .. } => producer.context().instance,
            Self::Futures { instance, .. } => *instance,
        }
    }

    /// Abandons everything queued or in flight; each record still gets its (failed) report.
    fn purge(&self) {
        let flags = PurgeConfig::default().queue().inflight();
        match self {
            Self::Callback { producer, .. } => producer.purge(flags),
            Self::Futures { producer, .. } => producer.purge(flags),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Self::Callback { poll_stop, poller, .. } = self {
            poll_stop.store(true, Ordering::Relaxed);
            if let Some(p) = poller.take() {
                let _ = p.join();
            }
        }
    }
}

/// A stable, countable name for an error: librdkafka's code name (MessageTimedOut, …).
fn error_kind(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => format!("{code:?}"),
        None => "Other".to_owned(),
    }
}

/// The librdkafka settings for `cfg`: perf-test-equivalent producer semantics.
pub fn client_config(cfg: &Config, window: usize) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &cfg.bootstrap)
        .set("client.id", "stress-producer")
        .set("acks", cfg.acks.as_str())
        // Idempotence needs acks=all; with it librdkafka keeps up to 5 requests in flight per
        // broker without reordering or duplicates, as the Java producer does.
        .set("enable.idempotence", if cfg.acks == Acks::All { "true" } else { "false" })
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", cfg.compression.as_str())
        .set("linger.ms", cfg.linger_ms.to_string())
        .set("batch.size", cfg.batch_size.to_string())
        // Let bytes, not a record count, close a batch (librdkafka's default caps at 10000).
        .set("batch.num.messages", "1000000")
        .set("message.max.bytes", (cfg.batch_size.max(cfg.msg_size) + 65_536).to_string())
        .set("message.timeout.ms", MESSAGE_TIMEOUT.as_millis().to_string())
        // Our window bounds memory; librdkafka's own queue must never be the one that fills.
        .set("queue.buffering.max.messages", (window + 1024).to_string())
        .set("queue.buffering.max.kbytes", "2097151")
        .set("socket.connection.setup.timeout.ms", "5000")
        .set("allow.auto.create.topics", "false");
    let ca = |c: &mut ClientConfig, ca: &Option<std::path::PathBuf>| {
        if let Some(p) = ca {
            c.set("ssl.ca.location", p.to_string_lossy());
        }
    };
    match &cfg.security {
        SecurityConfig::Plaintext => {
            c.set("security.protocol", "plaintext");
        }
        SecurityConfig::Tls { ca_file } => {
            c.set("security.protocol", "ssl");
            ca(&mut c, ca_file);
        }
        SecurityConfig::SaslScram { username, password, ca_file } => {
            c.set("security.protocol", "sasl_ssl")
                .set("sasl.mechanism", "SCRAM-SHA-512")
                .set("sasl.username", username)
                .set("sasl.password", password);
            ca(&mut c, ca_file);
        }
        SecurityConfig::Iam { ca_file, .. } => {
            c.set("security.protocol", "sasl_ssl").set("sasl.mechanism", "OAUTHBEARER");
            ca(&mut c, ca_file);
        }
    }
    for (k, v) in &cfg.producer_props {
        c.set(k, v);
    }
    c
}

/// In-flight window in records: `buffer_bytes` worth, at least a few full batches' worth of slots.
pub fn window_records(buffer_bytes: usize, msg_size: usize) -> usize {
    (buffer_bytes / msg_size.max(1)).clamp(64, 500_000)
}

/// The producer instance worker `worker` sends through: round-robin, so instances get
/// `workers / producers` workers each, give or take one.
pub fn instance_of(worker: usize, producers: usize) -> usize {
    worker % producers.max(1)
}

/// A v2 record's framing (at most 36 bytes in librdkafka's accounting) plus a share of the batch
/// and request headers: a stint of `batch_size / (msg_size + this)` records fits one batch
/// instead of spilling a few records into a second, nearly empty one.
const RECORD_OVERHEAD: usize = 64;

/// Records per stint of the batch partitioner: one batch's worth (at least one record).
pub fn stint_records(batch_size: usize, msg_size: usize) -> u64 {
    (batch_size / (msg_size + RECORD_OVERHEAD)).max(1) as u64
}

/// The partition of the `k`-th record sent through `instance` under the batch partitioner: a
/// stint of `stint` records per partition, then the next partition. Instances start
/// `partitions / producers` apart, so at any moment they fill different partitions (spread over
/// the leaders), as independent Java producers' sticky partitions would be.
pub fn batch_partition(instance: usize, producers: usize, k: u64, stint: u64, partitions: i32) -> i32 {
    let parts = partitions.max(1) as u64;
    let start = instance as u64 * parts / producers.max(1) as u64;
    ((start + k / stint.max(1)) % parts) as i32
}

/// The schedule's slip once record due `nominal` after the start is looked at, `elapsed` after the
/// start, the slip so far being `slip`: unchanged, unless `max_catch_up` is set and the record is
/// later than that, then just enough for it to be exactly `max_catch_up` late. The records missed
/// in a stall are thus caught up on for at most `max_catch_up` of sending, not all at once.
pub fn schedule_slip(nominal: Duration, slip: Duration, elapsed: Duration, max_catch_up: Option<Duration>) -> Duration {
    match max_catch_up {
        Some(max) if elapsed > nominal + slip + max => elapsed - nominal - max,
        _ => slip,
    }
}

/// Shared state of one run.
struct Run<'a> {
    cfg: &'a Config,
    /// The producer instances; never empty.
    engines: &'a [Engine],
    shared: &'a Arc<Shared>,
    stop: AtomicBool,
    next: AtomicU64,
    /// How far the throughput schedule has slipped (`--max-catch-up-ms`), in ns; only grows.
    slip_ns: AtomicU64,
    workers_done: AtomicUsize,
    start: Instant,
    payload: Vec<u8>,
    /// The batch partitioner's state: the topic's partition count (None: librdkafka partitions)
    /// and, per instance, the records sent through it so far.
    partitions: Option<i32>,
    stint: u64,
    sent_by_instance: Vec<AtomicU64>,
}

/// Runs the load until a stop condition; `signals` counts SIGINT/SIGTERM received.
pub fn run(cfg: &Config, signals: &AtomicUsize) -> Result<Outcome, RunError> {
    let window = window_records(cfg.buffer_memory, cfg.msg_size);
    let iam = match &cfg.security {
        SecurityConfig::Iam { region, .. } => Some(IamTokenSource::new(region)?),
        _ => None,
    };
    let new_stats = || if cfg.ack_ledger.is_some() { Stats::with_ledger() } else { Stats::new() };
    let shared = Arc::new(Shared {
        auth: AuthContext { iam, last_error: Mutex::new(None), fatal: AtomicBool::new(false) },
        epoch: Instant::now(),
        record_bytes: cfg.msg_size as u64,
        stats: (0..cfg.producers).map(|_| Mutex::new(new_stats())).collect(),
        window: Window::new(window),
    });
    let runtime = match cfg.engine {
        EngineKind::Callback => None,
        EngineKind::Futures => Some(Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("deliveries")
                .build()
                .map_err(|e| RunError::Config(format!("cannot start the runtime: {e}")))?,
        )),
    };
    // Every instance may hold the whole window (the budget is shared, not split), so each one's
    // librdkafka queue is sized for all of it.
    let conf = client_config(cfg, window);
    let engines = (0..cfg.producers)
        .map(|i| Engine::new(cfg.engine, &conf, &shared, i, runtime.as_ref()))
        .collect::<Result<Vec<_>, _>>()?;
    // One instance is enough to tell whether the cluster answers; the others connect on first send.
    let partitions = prepare_topic(cfg, &engines[0], &shared, signals)?;
    let partitions = match cfg.partitioner {
        Partitioner::Batch if partitions > 0 => Some(partitions),
        _ => None,
    };
    load(cfg, &engines, &shared, partitions, signals)
}

/// Checks the cluster answers and the topic exists (creating it when asked); returns its
/// partition count.
fn prepare_topic(cfg: &Config, engine: &Engine, shared: &Shared, signals: &AtomicUsize) -> Result<i32, RunError> {
    let unreachable = |detail: String| RunError::Unreachable {
        bootstrap: cfg.bootstrap.clone(),
        secs: CONNECT_TIMEOUT.as_secs(),
        detail,
    };
    let last_error = || lock(&shared.auth.last_error).clone();
    // All topics, not just ours: asking for one topic by name can auto-create it on the broker.
    let metadata =
        engine.fetch_metadata(None).map_err(|e| unreachable(last_error().unwrap_or_else(|| e.to_string())))?;
    if signals.load(Ordering::SeqCst) > 0 {
        return Err(RunError::Interrupted);
    }
    let existing = metadata.topics().iter().find(|t| t.name() == cfg.topic && t.error().is_none());
    if let Some(t) = existing {
        return Ok(t.partitions().len() as i32);
    }
    let Some(spec) = cfg.create_topic else {
        return Err(RunError::TopicMissing(cfg.topic.clone()));
    };
    create_topic(cfg, spec)?;
    wait_for_leaders(cfg, engine, spec, signals)
}

fn create_topic(cfg: &Config, spec: TopicSpec) -> Result<(), RunError> {
    let fail = |detail: String| RunError::CreateTopic { topic: cfg.topic.clone(), detail };
    let iam = match &cfg.security {
        SecurityConfig::Iam { region, .. } => Some(IamTokenSource::new(region)?),
        _ => None,
    };
    let ctx = AuthContext { iam, last_error: Mutex::new(None), fatal: AtomicBool::new(false) };
    let mut conf = ClientConfig::new();
    for (k, v) in client_config(cfg, 1024).config_map() {
        // Producer-only settings make the admin client log warnings; keep the connection ones.
        if k.starts_with("bootstrap") || k.starts_with("security") || k.starts_with("sasl") || k.starts_with("ssl") {
            conf.set(k, v);
        }
    }
    let admin: AdminClient<AuthContext> = conf.create_with_context(ctx).map_err(|e| RunError::Config(e.to_string()))?;
    let topic = NewTopic::new(&cfg.topic, spec.partitions, TopicReplication::Fixed(spec.replication_factor));
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().map_err(|e| fail(e.to_string()))?;
    let results = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(40), admin.create_topics([&topic], &opts)).await })
        .map_err(|_| fail("timed out after 40 s".into()))?
        .map_err(|e| fail(e.to_string()))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => return Err(fail(code.to_string())),
        }
    }
    Ok(())
}

/// A new topic is usable once every partition has a leader; returns its partition count.
fn wait_for_leaders(cfg: &Config, engine: &Engine, spec: TopicSpec, signals: &AtomicUsize) -> Result<i32, RunError> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if signals.load(Ordering::SeqCst) > 0 {
            return Err(RunError::Interrupted);
        }
        if let Ok(md) = engine.fetch_metadata(Some(&cfg.topic)) {
            let ready = md.topics().iter().find(|t| {
                t.name() == cfg.topic
                    && t.error().is_none()
                    && t.partitions().len() >= spec.partitions as usize
                    && t.partitions().iter().all(|p| p.leader() >= 0 && p.error().is_none())
            });
            if let Some(t) = ready {
                return Ok(t.partitions().len() as i32);
            }
        }
        if Instant::now() > deadline {
            return Err(RunError::CreateTopic {
                topic: cfg.topic.clone(),
                detail: "partitions have no leader 30 s after creation".into(),
            });
        }
        thread::sleep(Duration::from_millis(200));
    }
}

fn load(
    cfg: &Config,
    engines: &[Engine],
    shared: &Arc<Shared>,
    partitions: Option<i32>,
    signals: &AtomicUsize,
) -> Result<Outcome, RunError> {
    let run = Run {
        cfg,
        engines,
        shared,
        stop: AtomicBool::new(false),
        next: AtomicU64::new(0),
        slip_ns: AtomicU64::new(0),
        workers_done: AtomicUsize::new(0),
        start: Instant::now(),
        payload: payload_pool(cfg.msg_size),
        partitions,
        stint: stint_records(cfg.batch_size, cfg.msg_size),
        sent_by_instance: engines.iter().map(|_| AtomicU64::new(0)).collect(),
    };
    let stopped_by = thread::scope(|s| {
        for i in 0..cfg.workers {
            let run = &run;
            thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn_scoped(s, move || {
                    worker(run, &run.engines[instance_of(i, run.engines.len())]);
                    run.workers_done.fetch_add(1, Ordering::SeqCst);
                })
                .expect("spawning a worker thread");
        }
        supervise(&run, signals)
    });
    let (summary, by_producer, ledger) = shared.summary(run.start.elapsed());
    let unresolved = shared.window.in_flight() as u64;
    Ok(Outcome { summary, by_producer, stopped_by, ledger, unresolved })
}

/// Random A–Z bytes, as perf-test's payloads (so compression sees the same data), in a pool far
/// larger than LZ4's 64 KB window: slices of it compress like fresh random records, for free.
fn payload_pool(msg_size: usize) -> Vec<u8> {
    let len = (8 * 1024 * 1024).max(msg_size * 64);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (Instant::now().elapsed().as_nanos() as u64);
    (0..len)
        .map(|_| {
            // xorshift64*: plenty random for filler bytes, and no dependency.
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            b'A' + (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u8 % 26
        })
        .collect()
}

/// Offset of record `i` in the pool: consecutive records are disjoint slices.
fn payload_offset(i: u64, msg_size: usize, pool_len: usize) -> usize {
    let slots = pool_len - msg_size + 1;
    ((i as u128 * (msg_size as u128 + 13)) % slots as u128) as usize
}

fn worker(run: &Run<'_>, engine: &Engine) {
    let cfg = run.cfg;
    let shared = run.shared;
    loop {
        if run.stop.load(Ordering::Relaxed) {
            return;
        }
        let i = run.next.fetch_add(1, Ordering::Relaxed);
        if cfg.num_records.is_some_and(|n| i >= n) {
            return;
        }
        if let Some(rate) = cfg.throughput {
            // Record i is due at i/rate seconds: a global schedule, whatever the worker count.
            let nominal = Duration::from_secs_f64(i as f64 / rate);
            let slip = Duration::from_nanos(run.slip_ns.load(Ordering::Relaxed));
            let needed = schedule_slip(nominal, slip, run.start.elapsed(), cfg.max_catch_up);
            if needed > slip {
                // fetch_max, not add: workers that notice the same stall together slip it once.
                run.slip_ns.fetch_max(needed.as_nanos() as u64, Ordering::Relaxed);
            }
            let due = run.start + nominal + needed;
            loop {
                let now = Instant::now();
                if now >= due {
                    break;
                }
                if run.stop.load(Ordering::Relaxed) {
                    return;
                }
                thread::sleep((due - now).min(Duration::from_millis(50)));
            }
        }
        if !shared.window.acquire(&run.stop) {
            return;
        }
        let off = payload_offset(i, cfg.msg_size, run.payload.len());
        let instance = engine.instance();
        let partition = run.partitions.map(|p| {
            let k = run.sent_by_instance[instance].fetch_add(1, Ordering::Relaxed);
            batch_partition(instance, run.engines.len(), k, run.stint, p)
        });
        let payload = &run.payload[off..off + cfg.msg_size];
        // The CRC of exactly the bytes handed to the producer; computed only for the ledger.
        let crc = if cfg.ack_ledger.is_some() { ledger::crc32(payload) } else { 0 };
        let tag = Tag::new(shared.now_us(), crc);
        if let Err(error) = engine.send(shared, &cfg.topic, partition, payload, tag) {
            shared.delivered(instance, tag, Report::Failed { partition: partition.unwrap_or(-1), error: &error });
        }
    }
}

/// The reporter: prints interval lines (and the terminal progress line), and decides when to
/// stop sending and how long to wait for what is in flight.
fn supervise(run: &Run<'_>, signals: &AtomicUsize) -> StopReason {
    let cfg = run.cfg;
    let ctx = run.shared;
    let tty = std::io::stdout().is_terminal();
    let mut last_report = Instant::now();
    let mut reason: Option<StopReason> = None;
    let mut drain_deadline = Instant::now();
    let mut purged = false;
    loop {
        thread::sleep(TICK);
        let now = Instant::now();
        let elapsed = now - run.start;
        let sig = signals.load(Ordering::SeqCst);
        if reason.is_none() {
            reason = if sig > 0 {
                Some(StopReason::Signal)
            } else if ctx.auth.fatal.load(Ordering::SeqCst) {
                Some(StopReason::Fatal)
            } else if cfg.duration.is_some_and(|d| elapsed >= d) {
                Some(StopReason::Duration)
            } else if run.workers_done.load(Ordering::SeqCst) == cfg.workers {
                Some(StopReason::NumRecords)
            } else {
                None
            };
            if let Some(r) = reason {
                run.stop.store(true, Ordering::SeqCst);
                drain_deadline = now
                    + match r {
                        StopReason::Signal => cfg.drain_timeout,
                        StopReason::Fatal => Duration::ZERO,
                        _ => MESSAGE_TIMEOUT,
                    };
            }
        }
        if now - last_report >= cfg.report_interval {
            let w = ctx.take_interval();
            let line = report::interval_line(&w, now - last_report);
            last_report = now;
            if tty {
                print!("\r\x1b[K");
            }
            if cfg.json {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        let in_flight = ctx.window.in_flight();
        if tty {
            let (total, failed) = ctx.totals();
            print!("\r\x1b[K{}", report::progress_line(&total, failed, in_flight as u64, elapsed, cfg.duration));
            let _ = std::io::stdout().flush();
        }
        if let Some(r) = reason {
            let workers_gone = run.workers_done.load(Ordering::SeqCst) == cfg.workers;
            if workers_gone && in_flight == 0 {
                if tty {
                    print!("\r\x1b[K");
                    let _ = std::io::stdout().flush();
                }
                return r;
            }
            // Out of time, or a second Ctrl-C: give up on what is still in flight.
            if !purged && (now >= drain_deadline || sig > 1) {
                for engine in run.engines {
                    engine.purge();
                }
                purged = true;
                drain_deadline = now + Duration::from_secs(5);
            } else if purged && now >= drain_deadline {
                // Purged reports never came back (the producer is wedged): report what we have.
                return r;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_blocks_at_capacity_and_reopens() {
        let w = Window::new(2);
        let stop = AtomicBool::new(false);
        assert!(w.acquire(&stop) && w.acquire(&stop));
        assert_eq!(w.in_flight(), 2);
        stop.store(true, Ordering::SeqCst);
        assert!(!w.acquire(&stop), "full window + stop returns instead of blocking");
        w.release();
        assert_eq!(w.in_flight(), 1);
        assert!(w.acquire(&stop), "a free permit is taken even when stopping");
    }

    #[test]
    fn window_wakes_a_blocked_worker() {
        let w = Arc::new(Window::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        assert!(w.acquire(&stop));
        let (w2, s2) = (Arc::clone(&w), Arc::clone(&stop));
        let t = thread::spawn(move || w2.acquire(&s2));
        thread::sleep(Duration::from_millis(20));
        w.release();
        assert!(t.join().unwrap());
    }

    #[test]
    fn payload_is_uppercase_letters_and_slices_are_disjoint() {
        let pool = payload_pool(10_240);
        assert!(pool.iter().all(|b| b.is_ascii_uppercase()));
        let distinct: std::collections::HashSet<u8> = pool.iter().copied().collect();
        assert_eq!(distinct.len(), 26);
        let a = payload_offset(0, 10_240, pool.len());
        let b = payload_offset(1, 10_240, pool.len());
        assert!(b >= a + 10_240, "consecutive records do not overlap");
        for i in [0, 1, 7, 1_000_000, u64::MAX / 3] {
            assert!(payload_offset(i, 10_240, pool.len()) + 10_240 <= pool.len());
        }
    }

    #[test]
    fn window_is_buffer_memory_in_records() {
        assert_eq!(window_records(32 << 20, 10_240), 3276);
        assert_eq!(window_records(32 << 20, 1), 500_000);
        assert_eq!(window_records(1024, 1_000_000), 64);
    }

    #[test]
    fn config_carries_the_perf_test_semantics() {
        let cfg = crate::cli::validate(
            <crate::cli::Args as clap::Parser>::try_parse_from([
                "sp",
                "--bootstrap",
                "h:1",
                "--producer-prop",
                "linger.ms=99",
            ])
            .unwrap(),
            |_| None,
        )
        .unwrap();
        let c = client_config(&cfg, 3276);
        assert_eq!(c.get("acks"), Some("all"));
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("compression.type"), Some("lz4"));
        assert_eq!(c.get("batch.size"), Some("1048576"));
        assert_eq!(c.get("linger.ms"), Some("99"), "--producer-prop applies last");
        assert_eq!(c.get("security.protocol"), Some("plaintext"));
    }

    #[test]
    fn workers_spread_evenly_over_every_instance() {
        for (workers, producers) in [(64, 4), (64, 3), (8, 8), (5, 2), (1, 1), (100, 64)] {
            let mut per = vec![0usize; producers];
            for w in 0..workers {
                per[instance_of(w, producers)] += 1;
            }
            let (min, max) = (per.iter().min().unwrap(), per.iter().max().unwrap());
            assert!(*min >= 1, "{workers}/{producers}: an instance without workers: {per:?}");
            assert!(max - min <= 1, "{workers}/{producers}: uneven {per:?}");
            assert_eq!(per.iter().sum::<usize>(), workers);
        }
        // Consecutive workers land on different instances (round-robin, not blocks), so the
        // first few workers already use several connections.
        assert_eq!((0..4).map(|w| instance_of(w, 4)).collect::<Vec<_>>(), [0, 1, 2, 3]);
    }

    #[test]
    fn batch_partitioner_fills_one_partition_per_stint_and_visits_all_evenly() {
        // The demo's 10 KB records and 1 MiB batches: about 100 records per stint, one batch.
        let stint = stint_records(1_048_576, 10_240);
        assert_eq!(stint, 101);
        assert!(stint as usize * (10_240 + 36) <= 1_048_576, "a stint fits one librdkafka batch");
        assert_eq!(stint_records(100, 10_240), 1, "records larger than a batch: one per stint");
        // One instance: `stint` records in a row to each partition, in turn, all 12 per cycle.
        let parts: Vec<i32> = (0..12 * stint).map(|k| batch_partition(0, 1, k, stint, 12)).collect();
        for (n, chunk) in parts.chunks(stint as usize).enumerate() {
            assert!(chunk.iter().all(|&p| p == n as i32), "stint {n}: {chunk:?}");
        }
        // Four instances start 3 partitions apart and stay apart while they advance together.
        for k in [0, 50, stint, 7 * stint + 3] {
            let now: Vec<i32> = (0..4).map(|i| batch_partition(i, 4, k, stint, 12)).collect();
            let distinct: std::collections::HashSet<_> = now.iter().collect();
            assert_eq!(distinct.len(), 4, "k={k}: {now:?}");
        }
        assert_eq!((0..4).map(|i| batch_partition(i, 4, 0, stint, 12)).collect::<Vec<_>>(), [0, 3, 6, 9]);
        // More instances than partitions, a single partition: always in range.
        for i in 0..8 {
            assert!((0..3).contains(&batch_partition(i, 8, 1_000_003, 1, 3)));
            assert_eq!(batch_partition(i, 8, 42, 5, 1), 0);
        }
        assert_eq!(batch_partition(0, 1, u64::MAX, 1, 12), (u64::MAX % 12) as i32);
    }

    fn shared(instances: usize, window: usize, ledger: bool) -> Shared {
        Shared {
            auth: AuthContext { iam: None, last_error: Mutex::new(None), fatal: AtomicBool::new(false) },
            epoch: Instant::now(),
            record_bytes: 100,
            stats: (0..instances)
                .map(|_| Mutex::new(if ledger { Stats::with_ledger() } else { Stats::new() }))
                .collect(),
            window: Window::new(window),
        }
    }

    fn acked(partition: i32, offset: i64) -> Report<'static> {
        Report::Acked { partition, offset }
    }

    #[test]
    fn deliveries_are_filed_under_their_instance_and_share_one_window() {
        let shared = shared(3, 4, false);
        let stop = AtomicBool::new(false);
        for _ in 0..4 {
            assert!(shared.window.acquire(&stop));
        }
        assert_eq!(shared.window.in_flight(), 4, "the window is one budget for every instance");
        let tag = Tag::new(0, 0);
        let timed_out = KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut);
        shared.delivered(0, tag, acked(0, 0));
        shared.delivered(2, tag, acked(1, 0));
        shared.delivered(2, tag, acked(1, 1));
        shared.delivered(1, tag, Report::Failed { partition: 2, error: &timed_out });
        assert_eq!(shared.window.in_flight(), 0, "each outcome frees its slot, whichever instance");
        let (total, failed) = shared.totals();
        assert_eq!((total.records, total.bytes, failed), (3, 300, 1));
        assert_eq!(shared.take_interval().records, 3);
        assert_eq!(shared.take_interval().records, 0, "the interval restarted on every instance");
        let (summary, by_producer, ledger) = shared.summary(Duration::from_secs(1));
        assert_eq!((summary.records, summary.failed), (3, 1));
        assert_eq!(summary.errors.get("MessageTimedOut"), Some(&1));
        assert_eq!(
            by_producer,
            [
                InstanceTotals { records: 1, failed: 0 },
                InstanceTotals { records: 0, failed: 1 },
                InstanceTotals { records: 2, failed: 0 }
            ]
        );
        assert_eq!(ledger, None, "no --ack-ledger, no ledger");
    }

    #[test]
    fn the_ledger_merges_every_instance_with_each_records_crc() {
        let shared = shared(2, 8, true);
        let stop = AtomicBool::new(false);
        let values: [&[u8]; 4] = [b"a", b"bb", b"ccc", b"dddd"];
        let purged = KafkaError::MessageProduction(RDKafkaErrorCode::PurgeQueue);
        for (i, v) in values.iter().enumerate() {
            assert!(shared.window.acquire(&stop));
            let tag = Tag::new(shared.now_us(), ledger::crc32(v));
            // Through the opaque pointer and back, as librdkafka hands it to the callback.
            shared.delivered(i % 2, Tag::unpack(tag.pack()), acked(7, i as i64));
        }
        assert!(shared.window.acquire(&stop));
        shared.delivered(1, Tag::new(0, 0), Report::Failed { partition: -1, error: &purged });
        let (_, _, ledger) = shared.summary(Duration::from_secs(1));
        let ledger = ledger.unwrap();
        assert_eq!((ledger.acked(), ledger.failed()), (4, 1));
        let (p, t) = ledger.partitions().next().unwrap();
        let want =
            values.iter().enumerate().fold(0u64, |s, (i, v)| s.wrapping_add(ledger::mix(i as i64, ledger::crc32(v))));
        assert_eq!((p, t.count, t.checksum, t.max_offset), (7, 4, want, 3));
    }

    /// Records sent per 100 ms slot by an instant sender at `rate` that stalls from 10 s to 13 s.
    fn burst_after_stall(rate: f64, max_catch_up: Option<Duration>) -> u64 {
        let (mut slip, mut i, mut sent_at_13) = (Duration::ZERO, 0u64, 0);
        let mut t = Duration::ZERO;
        while t < Duration::from_secs(15) {
            let stalled = t >= Duration::from_secs(10) && t < Duration::from_secs(13);
            // Send every record due by now; nothing runs while stalled.
            if !stalled {
                loop {
                    let nominal = Duration::from_secs_f64(i as f64 / rate);
                    slip = schedule_slip(nominal, slip, t, max_catch_up);
                    if nominal + slip > t {
                        break;
                    }
                    i += 1;
                    if t == Duration::from_secs(13) {
                        sent_at_13 += 1;
                    }
                }
            }
            t += Duration::from_millis(100);
        }
        sent_at_13
    }

    #[test]
    fn a_stall_is_caught_up_on_for_at_most_max_catch_up() {
        // perf-test's behaviour: everything missed in the 3 s stall goes at once (600 records, plus
        // the 20 of the slot itself).
        assert_eq!(burst_after_stall(200.0, None), 620);
        // With 0.5 s: half a second's worth (+1: the record exactly on time), then the schedule
        // has moved on.
        assert_eq!(burst_after_stall(200.0, Some(Duration::from_millis(500))), 101);
        // Never behind by more than the limit: nothing slips.
        let s = schedule_slip(
            Duration::from_secs(5),
            Duration::ZERO,
            Duration::from_millis(5400),
            Some(Duration::from_millis(500)),
        );
        assert_eq!(s, Duration::ZERO);
        let s = schedule_slip(
            Duration::from_secs(5),
            Duration::from_secs(1),
            Duration::from_secs(8),
            Some(Duration::from_millis(500)),
        );
        assert_eq!(s, Duration::from_millis(2500), "8 s now = 5 s nominal + 2.5 s slip + 0.5 s late");
    }

    #[test]
    fn the_tag_round_trips_and_measures_latency_across_the_wrap() {
        let tag = Tag::new(0x1_2345_6789, 0xCBF4_3926);
        assert_eq!(Tag::unpack(tag.pack()), tag);
        assert_eq!(tag.crc, 0xCBF4_3926);
        assert_eq!(tag.latency_us(0x1_2345_6789 + 1_500), 1_500);
        // Sent just before the 32-bit µs counter wraps (every 71 min), acknowledged just after.
        let near_wrap = Tag::new(0xFFFF_FF00, 0);
        assert_eq!(near_wrap.latency_us(0x1_0000_0100), 0x200);
        // The histogram's longest latency (1 h) still fits.
        assert_eq!(Tag::new(5, 0).latency_us(5 + 3_600_000_000), 3_600_000_000);
    }

    #[test]
    fn error_kinds_are_code_names() {
        assert_eq!(error_kind(&KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut)), "MessageTimedOut");
    }
}
