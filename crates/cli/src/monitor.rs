//! `autoheal monitor`: a live per-broker table of the metrics that show an undersized MSK cluster
//! (UnderReplicatedPartitions, CPU, BytesInPerSec) from CloudWatch — the original demo's
//! broker_monitor.py. Rendering is pure (`render_table`, `snapshot_json`); `run` only polls.

use crate::error::CliError;
use autoheal_aws::cloudwatch::{BrokerValue, CloudWatch, MetricSpec, MetricsSource, Statistic};
use autoheal_domain::cluster::ClusterName;
use autoheal_domain::time::Timestamp;
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const URP: &str = "UnderReplicatedPartitions";
const CPU_USER: &str = "CpuUser";
const CPU_SYSTEM: &str = "CpuSystem";
const BYTES_IN: &str = "BytesInPerSec";

/// What the table shows, and how each metric's minute is summarised: any under-replication in
/// the minute counts, so URP takes the maximum.
pub const METRICS: [MetricSpec; 4] = [
    MetricSpec { name: URP, stat: Statistic::Maximum },
    MetricSpec { name: CPU_USER, stat: Statistic::Average },
    MetricSpec { name: CPU_SYSTEM, stat: Statistic::Average },
    MetricSpec { name: BYTES_IN, stat: Statistic::Average },
];

/// MSK publishes broker metrics once a minute.
const PERIOD: Duration = Duration::from_secs(60);

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The MSK cluster's name (letters, digits, hyphens; 1-64)
    #[arg(long = "cluster-name", value_name = "NAME")]
    pub cluster_name: String,
    /// Seconds between polls
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub interval: u64,
    /// Print one snapshot and exit
    #[arg(long)]
    pub once: bool,
    /// One JSON document per snapshot instead of the table
    #[arg(long)]
    pub json: bool,
    /// Minutes to look back for each metric's newest datapoint
    #[arg(long = "lookback-minutes", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1440))]
    pub lookback_minutes: u64,
}

/// One broker's row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BrokerRow {
    pub broker_id: String,
    pub under_replicated: Option<f64>,
    pub cpu_user: Option<f64>,
    pub cpu_system: Option<f64>,
    pub bytes_in_per_sec: Option<f64>,
}

/// Folds the flat (broker, metric, value) list into rows, in the order the brokers were given.
pub fn rows(brokers: &[String], values: &[BrokerValue]) -> Vec<BrokerRow> {
    brokers
        .iter()
        .map(|b| {
            let get = |m: &str| values.iter().find(|v| &v.broker_id == b && v.metric == m).and_then(|v| v.value);
            BrokerRow {
                broker_id: b.clone(),
                under_replicated: get(URP),
                cpu_user: get(CPU_USER),
                cpu_system: get(CPU_SYSTEM),
                bytes_in_per_sec: get(BYTES_IN),
            }
        })
        .collect()
}

fn total_urp(rows: &[BrokerRow]) -> f64 {
    rows.iter().filter_map(|r| r.under_replicated).sum()
}

/// 1536 → "1.5 KB/s", binary units as Kafka's tools print them.
fn rate(bytes: f64) -> String {
    const UNITS: [&str; 4] = ["B/s", "KB/s", "MB/s", "GB/s"];
    let mut v = bytes;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 { format!("{v:.0} {}", UNITS[u]) } else { format!("{v:.1} {}", UNITS[u]) }
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".to_owned())
}

/// ISO-8601 UTC, second precision.
fn iso(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) as i64;
    Timestamp::from_unix_millis(secs * 1000).map(|ts| ts.to_string()).unwrap_or_else(|| secs.to_string())
}

/// The table an operator watches.
pub fn render_table(cluster: &ClusterName, rows: &[BrokerRow], at: SystemTime) -> String {
    let mut out = format!("cluster {cluster}  {}\n", iso(at));
    out.push_str(&format!(
        "{:<8} {:>16} {:>9} {:>11} {:>12}\n",
        "BROKER", "UNDER-REPLICATED", "CPU USER", "CPU SYSTEM", "BYTES IN"
    ));
    for r in rows {
        out.push_str(&format!(
            "{:<8} {:>16} {:>9} {:>11} {:>12}\n",
            r.broker_id,
            opt(r.under_replicated, |v| format!("{v:.0}")),
            opt(r.cpu_user, |v| format!("{v:.1}%")),
            opt(r.cpu_system, |v| format!("{v:.1}%")),
            opt(r.bytes_in_per_sec, rate),
        ));
    }
    let urp = total_urp(rows);
    if rows.iter().all(|r| r.under_replicated.is_none()) {
        out.push_str("UnderReplicatedPartitions: no data in the window\n");
    } else if urp > 0.0 {
        out.push_str(&format!(
            "UnderReplicatedPartitions: {urp:.0} — UNDER-REPLICATED (add brokers, then rebalance)\n"
        ));
    } else {
        out.push_str("UnderReplicatedPartitions: 0 — healthy\n");
    }
    out
}

/// The `--json` document for one snapshot.
pub fn snapshot_json(cluster: &ClusterName, rows: &[BrokerRow], at: SystemTime) -> Value {
    json!({
        "cluster_name": cluster.as_str(),
        "time": iso(at),
        "under_replicated_partitions": if rows.iter().all(|r| r.under_replicated.is_none()) {
            Value::Null
        } else {
            json!(total_urp(rows))
        },
        "brokers": rows.iter().map(|r| json!({
            "broker_id": r.broker_id,
            "under_replicated_partitions": r.under_replicated,
            "cpu_user": r.cpu_user,
            "cpu_system": r.cpu_system,
            "bytes_in_per_sec": r.bytes_in_per_sec,
        })).collect::<Vec<_>>(),
    })
}

/// One poll: the brokers that report, then their newest values.
async fn snapshot<M: MetricsSource>(
    source: &M,
    cluster: &ClusterName,
    lookback: Duration,
) -> Result<Vec<BrokerRow>, CliError> {
    let brokers = source.broker_ids(cluster).await.map_err(|e| CliError::failed(e.to_string()))?;
    if brokers.is_empty() {
        return Err(CliError::failed(format!(
            "no AWS/Kafka broker metrics for cluster '{cluster}' in CloudWatch (wrong name or region, or none published yet)"
        )));
    }
    let values = source
        .latest(cluster, &brokers, &METRICS, lookback, PERIOD)
        .await
        .map_err(|e| CliError::failed(e.to_string()))?;
    Ok(rows(&brokers, &values))
}

/// Polls until Ctrl-C (or once). Validates before touching AWS.
pub fn run(args: Args) -> Result<(), CliError> {
    let cluster = ClusterName::parse(&args.cluster_name).map_err(|e| CliError::input(e.to_string()))?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failed(format!("cannot start the runtime: {e}")))?;
    rt.block_on(poll(args, cluster))
}

async fn poll(args: Args, cluster: ClusterName) -> Result<(), CliError> {
    let conf = autoheal_aws::sdk::load().await;
    let source = CloudWatch::from_conf(&conf);
    let lookback = Duration::from_secs(args.lookback_minutes * 60);
    let tty = std::io::stdout().is_terminal();
    loop {
        let result = snapshot(&source, &cluster, lookback).await;
        let now = SystemTime::now();
        match result {
            Ok(rows) => {
                let text = if args.json {
                    format!("{}\n", snapshot_json(&cluster, &rows, now))
                } else if tty && !args.once {
                    // Redraw in place: clear the screen, cursor home.
                    format!("\x1b[2J\x1b[H{}", render_table(&cluster, &rows, now))
                } else {
                    format!("{}\n", render_table(&cluster, &rows, now))
                };
                let mut out = std::io::stdout().lock();
                // A closed pipe (`| head`) ends the watch quietly.
                if out.write_all(text.as_bytes()).and_then(|()| out.flush()).is_err() {
                    return Ok(());
                }
            }
            Err(e) if args.once => return Err(e),
            // A live watch outlasts a throttle or a cluster that has not reported yet.
            Err(e) => eprintln!("autoheal: {e}"),
        }
        if args.once {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use autoheal_aws::error::Result as AwsResult;

    fn at() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_764_093_600)
    }

    fn cluster() -> ClusterName {
        ClusterName::parse("demo").unwrap()
    }

    fn row(id: &str, urp: Option<f64>, cpu: Option<f64>, bytes: Option<f64>) -> BrokerRow {
        BrokerRow {
            broker_id: id.into(),
            under_replicated: urp,
            cpu_user: cpu,
            cpu_system: cpu.map(|c| c / 10.0),
            bytes_in_per_sec: bytes,
        }
    }

    #[test]
    fn table_shows_every_broker_and_flags_under_replication() {
        let t = render_table(
            &cluster(),
            &[row("1", Some(3.0), Some(81.25), Some(52.5 * 1048576.0)), row("2", Some(0.0), None, Some(900.0))],
            at(),
        );
        let expected = "\
cluster demo  2025-11-25T18:00:00Z
BROKER   UNDER-REPLICATED  CPU USER  CPU SYSTEM     BYTES IN
1                       3     81.2%        8.1%    52.5 MB/s
2                       0         -           -      900 B/s
UnderReplicatedPartitions: 3 — UNDER-REPLICATED (add brokers, then rebalance)
";
        assert_eq!(t, expected);
    }

    #[test]
    fn healthy_and_no_data_footers() {
        let healthy = render_table(&cluster(), &[row("1", Some(0.0), Some(5.0), None)], at());
        assert!(healthy.ends_with("UnderReplicatedPartitions: 0 — healthy\n"), "{healthy}");
        let none = render_table(&cluster(), &[row("1", None, None, None)], at());
        assert!(none.ends_with("no data in the window\n"), "{none}");
    }

    #[test]
    fn json_snapshot_shape() {
        let v = snapshot_json(
            &cluster(),
            &[row("1", Some(2.0), Some(50.0), Some(10.0)), row("2", Some(1.0), None, None)],
            at(),
        );
        assert_eq!(v["cluster_name"], "demo");
        assert_eq!(v["time"], "2025-11-25T18:00:00Z");
        assert_eq!(v["under_replicated_partitions"], 3.0);
        assert_eq!(v["brokers"][0]["broker_id"], "1");
        assert_eq!(v["brokers"][0]["cpu_system"], 5.0);
        assert_eq!(v["brokers"][1]["cpu_user"], Value::Null);
        let none = snapshot_json(&cluster(), &[row("1", None, None, None)], at());
        assert_eq!(none["under_replicated_partitions"], Value::Null);
    }

    #[test]
    fn rates_use_binary_units() {
        assert_eq!(rate(0.0), "0 B/s");
        assert_eq!(rate(1536.0), "1.5 KB/s");
        assert_eq!(rate(3.0 * 1024.0 * 1024.0 * 1024.0), "3.0 GB/s");
    }

    /// In-memory port: the rows come from what the source returned, in broker order.
    struct Fake {
        brokers: Vec<String>,
    }

    impl MetricsSource for Fake {
        async fn broker_ids(&self, _: &ClusterName) -> AwsResult<Vec<String>> {
            Ok(self.brokers.clone())
        }

        async fn latest(
            &self,
            _: &ClusterName,
            brokers: &[String],
            metrics: &[MetricSpec],
            _: Duration,
            _: Duration,
        ) -> AwsResult<Vec<BrokerValue>> {
            Ok(brokers
                .iter()
                .flat_map(|b| {
                    metrics.iter().map(move |m| BrokerValue {
                        broker_id: b.clone(),
                        metric: m.name,
                        value: (m.name == URP).then(|| b.parse::<f64>().unwrap()),
                        timestamp: None,
                    })
                })
                .collect())
        }
    }

    #[tokio::test]
    async fn snapshot_folds_values_into_rows() {
        let fake = Fake { brokers: vec!["1".into(), "2".into()] };
        let rows = snapshot(&fake, &cluster(), Duration::from_secs(600)).await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].under_replicated, Some(2.0));
        assert_eq!(rows[1].cpu_user, None);
    }

    #[tokio::test]
    async fn no_brokers_is_a_clear_failure() {
        let fake = Fake { brokers: vec![] };
        let err = snapshot(&fake, &cluster(), Duration::from_secs(600)).await.unwrap_err();
        assert_eq!(err.exit_code(), 1);
        assert!(err.to_string().contains("no AWS/Kafka broker metrics for cluster 'demo'"), "{err}");
    }

    #[test]
    fn bad_cluster_name_is_input_error_before_any_aws_call() {
        for bad in ["", "has space", "semi;colon", &"x".repeat(65)] {
            let err =
                run(Args { cluster_name: bad.to_owned(), interval: 30, once: true, json: false, lookback_minutes: 10 })
                    .unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad:?}");
        }
    }
}
