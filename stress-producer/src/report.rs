//! Output: kafka-producer-perf-test's exact line formats (so existing dashboards and habits carry
//! over), the error breakdown, the `--json` document and the terminal progress line. Pure strings.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cli::Config;
use crate::stats::{InstanceTotals, Summary, Window};

const MB: f64 = 1024.0 * 1024.0;

/// Why the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    Duration,
    NumRecords,
    Signal,
    Fatal,
}

impl StopReason {
    /// The same name serde gives it, for documents built by hand (the ack ledger).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duration => "duration",
            Self::NumRecords => "num_records",
            Self::Signal => "signal",
            Self::Fatal => "fatal",
        }
    }
}

/// perf-test's periodic line:
/// `%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.`
pub fn interval_line(w: &Window, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let avg_ms = if w.records == 0 { 0.0 } else { w.latency_sum_us as f64 / 1000.0 / w.records as f64 };
    format!(
        "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.1} ms avg latency, {:.1} ms max latency.",
        w.records,
        w.records as f64 / secs,
        w.bytes as f64 / MB / secs,
        avg_ms,
        w.latency_max_us as f64 / 1000.0,
    )
}

/// perf-test's final line; percentiles are whole milliseconds there, so they are here.
pub fn final_line(s: &Summary) -> String {
    format!(
        "{} records sent, {:.1} records/sec ({:.2} MB/sec), {:.2} ms avg latency, {:.2} ms max latency, \
         {} ms 50th, {} ms 95th, {} ms 99th, {} ms 99.9th.",
        s.records,
        s.records_per_sec,
        s.mb_per_sec,
        s.avg_latency_ms,
        s.max_latency_ms,
        s.p50_ms as u64,
        s.p95_ms as u64,
        s.p99_ms as u64,
        s.p999_ms as u64,
    )
}

/// `N records failed: KindA=n, KindB=m` or nothing when every record was acknowledged.
pub fn errors_line(s: &Summary) -> Option<String> {
    if s.failed == 0 {
        return None;
    }
    let kinds: Vec<String> = s.errors.iter().map(|(k, n)| format!("{k}={n}")).collect();
    Some(format!("{} records failed: {}", s.failed, kinds.join(", ")))
}

/// The `--json` document: the summary (all producer instances together), why it stopped, each
/// instance's share, and the settings that shaped it.
pub fn json_summary(s: &Summary, cfg: &Config, stopped_by: StopReason, by_producer: &[InstanceTotals]) -> Value {
    json!({
        "records_sent": s.records,
        "records_failed": s.failed,
        "bytes_sent": s.bytes,
        "elapsed_s": round3(s.elapsed_s),
        "records_per_sec": round3(s.records_per_sec),
        "mb_per_sec": round3(s.mb_per_sec),
        "latency_ms": {
            "avg": round3(s.avg_latency_ms),
            "max": round3(s.max_latency_ms),
            "p50": round3(s.p50_ms),
            "p95": round3(s.p95_ms),
            "p99": round3(s.p99_ms),
            "p99_9": round3(s.p999_ms),
        },
        "errors": s.errors,
        "stopped_by": stopped_by,
        "by_producer": by_producer,
        "config": {
            "topic": cfg.topic,
            "workers": cfg.workers,
            "producers": cfg.producers,
            "msg_size": cfg.msg_size,
            "batch_size": cfg.batch_size,
            "linger_ms": cfg.linger_ms,
            "compression": cfg.compression,
            "partitioner": cfg.partitioner,
            "acks": cfg.acks,
            "throughput": cfg.throughput,
            "num_records": cfg.num_records,
            "duration_s": cfg.duration.map(|d| d.as_secs()),
            "ack_ledger": cfg.ack_ledger.as_ref().map(|p| p.display().to_string()),
        },
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The one-line live indicator redrawn in place on a terminal.
pub fn progress_line(
    total: &Window,
    failed: u64,
    in_flight: u64,
    elapsed: Duration,
    limit: Option<Duration>,
) -> String {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let time = match limit {
        Some(l) => format!("{:>4}s/{}s", elapsed.as_secs(), l.as_secs()),
        None => format!("{:>4}s", elapsed.as_secs()),
    };
    format!(
        "[{time}] {} acked, {} failed, {} in flight, {:.2} MB/sec avg",
        total.records,
        failed,
        in_flight,
        total.bytes as f64 / MB / secs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Acks, Compression, SecurityConfig};
    use pretty_assertions::assert_eq;
    use std::collections::BTreeMap;

    fn summary() -> Summary {
        Summary {
            records: 50_000,
            bytes: 50_000 * 10_240,
            failed: 0,
            elapsed_s: 10.0,
            records_per_sec: 5000.0,
            mb_per_sec: 48.828125,
            avg_latency_ms: 123.456,
            max_latency_ms: 987.654,
            p50_ms: 100.9,
            p95_ms: 300.2,
            p99_ms: 500.0,
            p999_ms: 900.999,
            errors: BTreeMap::new(),
        }
    }

    #[test]
    fn interval_line_is_perf_test_format() {
        let w = Window { records: 2500, bytes: 2500 * 10_240, latency_sum_us: 2500 * 12_340, latency_max_us: 45_670 };
        assert_eq!(
            interval_line(&w, Duration::from_secs(5)),
            "2500 records sent, 500.0 records/sec (4.88 MB/sec), 12.3 ms avg latency, 45.7 ms max latency."
        );
    }

    #[test]
    fn empty_interval_has_no_nan() {
        assert_eq!(
            interval_line(&Window::default(), Duration::from_secs(5)),
            "0 records sent, 0.0 records/sec (0.00 MB/sec), 0.0 ms avg latency, 0.0 ms max latency."
        );
    }

    #[test]
    fn final_line_is_perf_test_format_with_whole_ms_percentiles() {
        assert_eq!(
            final_line(&summary()),
            "50000 records sent, 5000.0 records/sec (48.83 MB/sec), 123.46 ms avg latency, \
             987.65 ms max latency, 100 ms 50th, 300 ms 95th, 500 ms 99th, 900 ms 99.9th."
        );
    }

    #[test]
    fn errors_line_lists_kinds_in_order() {
        assert_eq!(errors_line(&summary()), None);
        let mut s = summary();
        s.failed = 3;
        s.errors.insert("NotEnoughReplicas".into(), 1);
        s.errors.insert("MessageTimedOut".into(), 2);
        assert_eq!(errors_line(&s).unwrap(), "3 records failed: MessageTimedOut=2, NotEnoughReplicas=1");
    }

    #[test]
    fn json_shape() {
        let cfg = Config {
            bootstrap: "h:1".into(),
            topic: "t".into(),
            duration: Some(Duration::from_secs(60)),
            workers: 64,
            producers: 4,
            msg_size: 10_240,
            batch_size: 1_048_576,
            linger_ms: 10,
            compression: Compression::Lz4,
            partitioner: crate::cli::Partitioner::Batch,
            acks: Acks::All,
            throughput: None,
            num_records: Some(50_000),
            create_topic: None,
            security: SecurityConfig::Plaintext,
            report_interval: Duration::from_secs(5),
            json: true,
            producer_props: vec![],
            engine: crate::cli::EngineKind::Callback,
            buffer_memory: 33_554_432,
            ack_ledger: Some("l.json".into()),
            drain_timeout: Duration::from_secs(10),
            max_catch_up: None,
        };
        let shares = [InstanceTotals { records: 30_000, failed: 0 }, InstanceTotals { records: 20_000, failed: 0 }];
        let v = json_summary(&summary(), &cfg, StopReason::NumRecords, &shares);
        assert_eq!(v["records_sent"], 50_000);
        assert_eq!(v["latency_ms"]["p99"], 500.0);
        assert_eq!(v["latency_ms"]["avg"], 123.456);
        assert_eq!(v["stopped_by"], "num_records");
        assert_eq!(v["config"]["acks"], "all");
        assert_eq!(v["config"]["compression"], "lz4");
        assert_eq!(v["errors"], json!({}));
        assert_eq!(v["config"]["producers"], 4);
        assert_eq!(v["config"]["partitioner"], "batch");
        assert_eq!(v["by_producer"], json!([{"records": 30_000, "failed": 0}, {"records": 20_000, "failed": 0}]));
        assert_eq!(v["config"]["ack_ledger"], "l.json");
        for r in [StopReason::Duration, StopReason::NumRecords, StopReason::Signal, StopReason::Fatal] {
            assert_eq!(json!(r), r.as_str(), "as_str is serde's name");
        }
    }

    #[test]
    fn progress_line_shows_the_limit_when_there_is_one() {
        let w = Window { records: 10, bytes: 10 * MB as u64, ..Window::default() };
        let line = progress_line(&w, 1, 7, Duration::from_secs(5), Some(Duration::from_secs(60)));
        assert_eq!(line, "[   5s/60s] 10 acked, 1 failed, 7 in flight, 2.00 MB/sec avg");
    }
}
