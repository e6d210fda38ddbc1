//! Counters and the latency histogram the delivery callback feeds. One `Stats` per producer
//! instance behind its own mutex (each instance's poller writes only its own, so they never
//! contend); the reporter sums the interval windows every `--report-interval` and merges the
//! instances into one `Stats` for the summary. With `--ack-ledger` each `Stats` also keeps its
//! instance's per-partition [`Tally`] (under the same lock: no extra synchronisation per record).

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::ledger::Tally;

/// Highest latency the histogram tracks exactly (1 hour, in microseconds); longer ones saturate.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Sums over a span of time: a report interval or the whole run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub records: u64,
    pub bytes: u64,
    pub latency_sum_us: u64,
    pub latency_max_us: u64,
}

impl Window {
    fn add(&mut self, latency_us: u64, bytes: u64) {
        self.records += 1;
        self.bytes += bytes;
        self.latency_sum_us += latency_us;
        self.latency_max_us = self.latency_max_us.max(latency_us);
    }

    /// Adds another span's sums: the same span seen by two producer instances.
    pub fn merge(&mut self, other: &Window) {
        self.records += other.records;
        self.bytes += other.bytes;
        self.latency_sum_us += other.latency_sum_us;
        self.latency_max_us = self.latency_max_us.max(other.latency_max_us);
    }
}

/// One producer instance's share of the run (the `--json` document lists them, so an operator can
/// see the load really was spread).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct InstanceTotals {
    pub records: u64,
    pub failed: u64,
}

#[derive(Debug)]
pub struct Stats {
    total: Window,
    interval: Window,
    hist: Histogram<u64>,
    failed: u64,
    errors: BTreeMap<String, u64>,
    /// The acknowledgement ledger's share of this instance; None without `--ack-ledger`.
    ledger: Option<Tally>,
}

/// The run's outcome, ready to print.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    pub records: u64,
    pub bytes: u64,
    pub failed: u64,
    pub elapsed_s: f64,
    pub records_per_sec: f64,
    pub mb_per_sec: f64,
    pub avg_latency_ms: f64,
    pub max_latency_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Failed records by error kind (librdkafka's error code name).
    pub errors: BTreeMap<String, u64>,
}

impl Default for Stats {
    fn default() -> Self {
        Self::new()
    }
}

impl Stats {
    pub fn new() -> Self {
        Self {
            total: Window::default(),
            interval: Window::default(),
            // 3 significant digits: 0.1% error on every percentile, about 200 KB of counters.
            hist: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("static bounds are valid"),
            failed: 0,
            errors: BTreeMap::new(),
            ledger: None,
        }
    }

    /// A `Stats` that also keeps the acknowledgement ledger.
    pub fn with_ledger() -> Self {
        Self { ledger: Some(Tally::default()), ..Self::new() }
    }

    /// Files an acknowledged record in the ledger (if kept): it is at `offset` of `partition`,
    /// its value's CRC-32 is `crc`.
    pub fn ledger_ack(&mut self, partition: i32, offset: i64, crc: u32) {
        if let Some(t) = &mut self.ledger {
            t.ack(partition, offset, crc);
        }
    }

    /// Files a failed record headed for `partition` (-1: none chosen) in the ledger (if kept).
    pub fn ledger_fail(&mut self, partition: i32) {
        if let Some(t) = &mut self.ledger {
            t.fail(partition);
        }
    }

    pub fn ledger(&self) -> Option<&Tally> {
        self.ledger.as_ref()
    }

    pub fn record_ok(&mut self, latency_us: u64, bytes: u64) {
        let latency_us = latency_us.clamp(1, MAX_LATENCY_US);
        self.total.add(latency_us, bytes);
        self.interval.add(latency_us, bytes);
        self.hist.saturating_record(latency_us);
    }

    pub fn record_error(&mut self, kind: &str) {
        self.failed += 1;
        match self.errors.get_mut(kind) {
            Some(n) => *n += 1,
            None => {
                self.errors.insert(kind.to_owned(), 1);
            }
        }
    }

    /// The window since the last call; starts a new one.
    pub fn take_interval(&mut self) -> Window {
        std::mem::take(&mut self.interval)
    }

    pub fn total(&self) -> Window {
        self.total
    }

    pub fn failed(&self) -> u64 {
        self.failed
    }

    pub fn instance_totals(&self) -> InstanceTotals {
        InstanceTotals { records: self.total.records, failed: self.failed }
    }

    /// Folds `other` in: counts, windows, errors by kind and every histogram bucket, so the
    /// percentiles are those of all records together (not an average of per-instance ones).
    pub fn merge(&mut self, other: &Stats) {
        self.total.merge(&other.total);
        self.interval.merge(&other.interval);
        // Record by record bucket rather than Histogram::add: every Stats has the same bounds, and
        // this way there is no error case to handle.
        for v in other.hist.iter_recorded() {
            self.hist.saturating_record_n(v.value_iterated_to(), v.count_at_value());
        }
        self.failed += other.failed;
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_insert(0) += n;
        }
        if let Some(theirs) = &other.ledger {
            self.ledger.get_or_insert_with(Tally::default).merge(theirs);
        }
    }

    /// All instances as one.
    pub fn merged<'a>(parts: impl IntoIterator<Item = &'a Stats>) -> Stats {
        let mut all = Stats::new();
        for part in parts {
            all.merge(part);
        }
        all
    }

    pub fn summary(&self, elapsed: Duration) -> Summary {
        let secs = elapsed.as_secs_f64().max(1e-9);
        let t = &self.total;
        let ms = |us: u64| us as f64 / 1000.0;
        let q = |quantile: f64| if t.records == 0 { 0.0 } else { ms(self.hist.value_at_quantile(quantile)) };
        Summary {
            records: t.records,
            bytes: t.bytes,
            failed: self.failed,
            elapsed_s: secs,
            records_per_sec: t.records as f64 / secs,
            mb_per_sec: t.bytes as f64 / (1024.0 * 1024.0) / secs,
            avg_latency_ms: if t.records == 0 { 0.0 } else { ms(t.latency_sum_us) / t.records as f64 },
            max_latency_ms: ms(t.latency_max_us),
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            errors: self.errors.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut s = Stats::new();
        // 1..=1000 ms, one record each: the q-quantile is q * 1000 ms (within HDR's 0.1%).
        for ms in 1..=1000u64 {
            s.record_ok(ms * 1000, 10);
        }
        let sum = s.summary(Duration::from_secs(2));
        let close = |got: f64, want: f64| (got - want).abs() <= want * 0.001 + 0.001;
        assert!(close(sum.p50_ms, 500.0), "{}", sum.p50_ms);
        assert!(close(sum.p95_ms, 950.0), "{}", sum.p95_ms);
        assert!(close(sum.p99_ms, 990.0), "{}", sum.p99_ms);
        assert!(close(sum.p999_ms, 999.0), "{}", sum.p999_ms);
        assert_eq!(sum.max_latency_ms, 1000.0);
        assert!((sum.avg_latency_ms - 500.5).abs() < 1e-9);
        assert_eq!(sum.records, 1000);
        assert!((sum.records_per_sec - 500.0).abs() < 1e-9);
    }

    #[test]
    fn a_skewed_tail_shows_in_p99_not_p50() {
        let mut s = Stats::new();
        for _ in 0..990 {
            s.record_ok(2_000, 1);
        }
        for _ in 0..10 {
            s.record_ok(800_000, 1);
        }
        let sum = s.summary(Duration::from_secs(1));
        assert!((sum.p50_ms - 2.0).abs() < 0.01, "{}", sum.p50_ms);
        assert!((sum.p99_ms - 2.0).abs() < 0.01, "{}", sum.p99_ms);
        assert!((sum.p999_ms - 800.0).abs() < 1.0, "{}", sum.p999_ms);
    }

    #[test]
    fn interval_resets_total_does_not() {
        let mut s = Stats::new();
        s.record_ok(5_000, 100);
        s.record_ok(7_000, 100);
        let w = s.take_interval();
        assert_eq!(w, Window { records: 2, bytes: 200, latency_sum_us: 12_000, latency_max_us: 7_000 });
        s.record_ok(1_000, 100);
        assert_eq!(s.take_interval().records, 1);
        assert_eq!(s.total().records, 3);
        assert_eq!(s.take_interval(), Window::default());
    }

    #[test]
    fn errors_are_counted_by_kind() {
        let mut s = Stats::new();
        s.record_error("MessageTimedOut");
        s.record_error("NotEnoughReplicas");
        s.record_error("MessageTimedOut");
        let sum = s.summary(Duration::from_secs(1));
        assert_eq!(sum.failed, 3);
        assert_eq!(sum.errors.get("MessageTimedOut"), Some(&2));
        assert_eq!(sum.errors.get("NotEnoughReplicas"), Some(&1));
        assert_eq!(sum.p99_ms, 0.0, "no successful record, no latency");
    }

    #[test]
    fn merged_instances_report_like_one_producer_that_sent_everything() {
        // Three instances with different latency profiles vs one Stats fed every record.
        let mut parts = [Stats::new(), Stats::new(), Stats::new()];
        let mut whole = Stats::new();
        for ms in 1..=3000u64 {
            let i = (ms % 3) as usize;
            // Instance 2 is the slow one: its records take 10x longer.
            let us = if i == 2 { ms * 10_000 } else { ms * 1000 };
            parts[i].record_ok(us, 100);
            whole.record_ok(us, 100);
        }
        for (i, kind) in [(0, "MessageTimedOut"), (2, "MessageTimedOut"), (1, "NotEnoughReplicas")] {
            parts[i].record_error(kind);
            whole.record_error(kind);
        }
        let merged = Stats::merged(&parts);
        let d = Duration::from_secs(3);
        assert_eq!(merged.summary(d), whole.summary(d));
        assert_eq!(merged.summary(d).errors.get("MessageTimedOut"), Some(&2));
        assert_eq!(merged.total(), whole.total());
        assert_eq!(parts.iter().map(|p| p.instance_totals().records).sum::<u64>(), 3000);
        assert_eq!(parts[1].instance_totals(), InstanceTotals { records: 1000, failed: 1 });
        // The p99 is that of all records together: instance 2's tail dominates it, which an
        // average of per-instance p99s would hide.
        assert!(merged.summary(d).p99_ms > 25_000.0, "{}", merged.summary(d).p99_ms);
    }

    #[test]
    fn interval_windows_sum_across_instances() {
        let mut a = Window::default();
        a.merge(&Window { records: 2, bytes: 20, latency_sum_us: 300, latency_max_us: 200 });
        a.merge(&Window { records: 1, bytes: 10, latency_sum_us: 900, latency_max_us: 900 });
        a.merge(&Window::default());
        assert_eq!(a, Window { records: 3, bytes: 30, latency_sum_us: 1200, latency_max_us: 900 });
    }

    #[test]
    fn the_ledger_is_kept_only_when_asked_and_merges_with_the_instances() {
        let mut plain = Stats::new();
        plain.record_ok(1_000, 10);
        plain.ledger_ack(0, 0, 1);
        assert!(plain.ledger().is_none(), "no ledger, no per-partition bookkeeping");
        let mut a = Stats::with_ledger();
        let mut b = Stats::with_ledger();
        a.ledger_ack(0, 0, 1);
        b.ledger_ack(1, 0, 2);
        b.ledger_fail(1);
        let merged = Stats::merged([&a, &b, &plain]);
        let t = merged.ledger().unwrap();
        assert_eq!((t.acked(), t.failed()), (2, 1));
    }

    #[test]
    fn merging_nothing_is_an_empty_run() {
        let s = Stats::merged(std::iter::empty());
        assert_eq!(s.summary(Duration::from_secs(1)).records, 0);
    }

    #[test]
    fn absurd_latencies_saturate_instead_of_panicking() {
        let mut s = Stats::new();
        s.record_ok(0, 1);
        s.record_ok(u64::MAX / 2, 1);
        assert_eq!(s.summary(Duration::from_secs(1)).records, 2);
    }
}
