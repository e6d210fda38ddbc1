//! CloudWatch metrics port and its adapter: the latest per-broker `AWS/Kafka` datapoints of a
//! cluster (the `autoheal monitor` table). ListMetrics finds the brokers that report, one
//! GetMetricData call per 500 series fetches their newest values.

use crate::error::{AwsError, ErrorKind, Result};
use autoheal_domain::cluster::ClusterName;
use aws_sdk_cloudwatch::types::{Dimension, DimensionFilter, Metric, MetricDataQuery, MetricStat, ScanBy};
use aws_smithy_types::DateTime;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::{Duration, SystemTime};
use tracing::instrument;

pub const NAMESPACE: &str = "AWS/Kafka";
const DIM_CLUSTER: &str = "Cluster Name";
const DIM_BROKER: &str = "Broker ID";
/// GetMetricData accepts at most this many queries per call.
const MAX_QUERIES: usize = 500;

/// How a metric's datapoints within one period are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statistic {
    Average,
    Maximum,
}

impl Statistic {
    fn as_str(self) -> &'static str {
        match self {
            Self::Average => "Average",
            Self::Maximum => "Maximum",
        }
    }
}

/// One per-broker metric to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricSpec {
    pub name: &'static str,
    pub stat: Statistic,
}

/// The newest value of one metric of one broker, if any datapoint fell in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokerValue {
    pub broker_id: String,
    pub metric: &'static str,
    pub value: Option<f64>,
    pub timestamp: Option<SystemTime>,
}

/// Reading MSK's per-broker CloudWatch metrics.
pub trait MetricsSource: Send + Sync {
    /// Broker IDs with `AWS/Kafka` metrics for the cluster, in numeric order.
    fn broker_ids(&self, cluster: &ClusterName) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// For every broker and metric, the newest datapoint in the last `lookback`, at `period`.
    fn latest(
        &self,
        cluster: &ClusterName,
        brokers: &[String],
        metrics: &[MetricSpec],
        lookback: Duration,
        period: Duration,
    ) -> impl Future<Output = Result<Vec<BrokerValue>>> + Send;
}

/// The SDK adapter.
#[derive(Clone, Debug)]
pub struct CloudWatch {
    client: aws_sdk_cloudwatch::Client,
}

impl CloudWatch {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        Self { client }
    }

    /// From the shared SDK configuration (`crate::sdk::load()`).
    pub fn from_conf(conf: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_cloudwatch::Client::new(conf))
    }
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

/// Numeric order for numeric IDs ("2" before "10"), text order otherwise.
fn broker_order(a: &String, b: &String) -> std::cmp::Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

impl MetricsSource for CloudWatch {
    #[instrument(skip(self), fields(cluster = %cluster))]
    async fn broker_ids(&self, cluster: &ClusterName) -> Result<Vec<String>> {
        let mut ids = BTreeSet::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_metrics()
                .namespace(NAMESPACE)
                .dimensions(DimensionFilter::builder().name(DIM_CLUSTER).value(cluster.as_str()).build())
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| AwsError::from_sdk("ListMetrics", e))?;
            for m in out.metrics() {
                let dims = m.dimensions();
                let ours = dims.iter().any(|d| d.name() == Some(DIM_CLUSTER) && d.value() == Some(cluster.as_str()));
                let broker = dims.iter().find(|d| d.name() == Some(DIM_BROKER)).and_then(|d| d.value());
                if let (true, Some(id)) = (ours, broker) {
                    ids.insert(id.to_owned());
                }
            }
            token = out.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        let mut ids: Vec<String> = ids.into_iter().collect();
        ids.sort_by(broker_order);
        Ok(ids)
    }

    #[instrument(skip(self, brokers, metrics), fields(cluster = %cluster, brokers = brokers.len()))]
    async fn latest(
        &self,
        cluster: &ClusterName,
        brokers: &[String],
        metrics: &[MetricSpec],
        lookback: Duration,
        period: Duration,
    ) -> Result<Vec<BrokerValue>> {
        // Query ids must start with a lower-case letter: index them and map back.
        let series: Vec<(&String, &MetricSpec)> =
            brokers.iter().flat_map(|b| metrics.iter().map(move |m| (b, m))).collect();
        let period_s = i32::try_from(period.as_secs().max(1))
            .map_err(|_| AwsError::new("GetMetricData", ErrorKind::Invalid, "period too long"))?;
        let end = SystemTime::now();
        let start = end - lookback.max(period);
        let mut newest: BTreeMap<usize, (f64, Option<SystemTime>)> = BTreeMap::new();
        for (chunk_no, chunk) in series.chunks(MAX_QUERIES).enumerate() {
            let queries: Vec<MetricDataQuery> = chunk
                .iter()
                .enumerate()
                .map(|(i, (broker, spec))| {
                    let metric = Metric::builder()
                        .namespace(NAMESPACE)
                        .metric_name(spec.name)
                        .dimensions(dim(DIM_CLUSTER, cluster.as_str()))
                        .dimensions(dim(DIM_BROKER, broker))
                        .build();
                    MetricDataQuery::builder()
                        .id(format!("q{}", chunk_no * MAX_QUERIES + i))
                        .metric_stat(
                            MetricStat::builder().metric(metric).period(period_s).stat(spec.stat.as_str()).build(),
                        )
                        .return_data(true)
                        .build()
                })
                .collect();
            let mut token: Option<String> = None;
            loop {
                let out = self
                    .client
                    .get_metric_data()
                    .set_metric_data_queries(Some(queries.clone()))
                    .start_time(DateTime::from(start))
                    .end_time(DateTime::from(end))
                    .scan_by(ScanBy::TimestampDescending)
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk("GetMetricData", e))?;
                for r in out.metric_data_results() {
                    let Some(idx) = r.id().and_then(|id| id.strip_prefix('q')).and_then(|n| n.parse::<usize>().ok())
                    else {
                        continue;
                    };
                    // Newest first is asked for, but pick the newest explicitly: pages and
                    // emulators need not honour the order.
                    for (ts, v) in r.timestamps().iter().zip(r.values()) {
                        let t = SystemTime::try_from(*ts).ok();
                        let newer = match newest.get(&idx) {
                            None => true,
                            Some((_, old)) => t > *old,
                        };
                        if newer {
                            newest.insert(idx, (*v, t));
                        }
                    }
                }
                token = out.next_token().map(str::to_owned);
                if token.is_none() {
                    break;
                }
            }
        }
        Ok(series
            .iter()
            .enumerate()
            .map(|(i, (broker, spec))| {
                let found = newest.get(&i);
                BrokerValue {
                    broker_id: (*broker).clone(),
                    metric: spec.name,
                    value: found.map(|(v, _)| *v),
                    timestamp: found.and_then(|(_, t)| *t),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
    use aws_sdk_cloudwatch::operation::list_metrics::ListMetricsOutput;
    use aws_sdk_cloudwatch::types::MetricDataResult;
    use aws_smithy_mocks::{RuleMode, mock, mock_client};

    fn cluster() -> ClusterName {
        ClusterName::parse("demo").unwrap()
    }

    fn listed(cluster: &str, broker: &str) -> Metric {
        Metric::builder()
            .namespace(NAMESPACE)
            .metric_name("CpuUser")
            .dimensions(dim(DIM_CLUSTER, cluster))
            .dimensions(dim(DIM_BROKER, broker))
            .build()
    }

    #[tokio::test]
    async fn broker_ids_are_numeric_sorted_and_only_this_clusters() {
        let page1 = mock!(aws_sdk_cloudwatch::Client::list_metrics)
            .match_requests(|r| r.next_token().is_none())
            .then_output(|| {
                ListMetricsOutput::builder()
                    .metrics(listed("demo", "10"))
                    .metrics(listed("demo", "2"))
                    .metrics(listed("other", "7"))
                    .next_token("p2")
                    .build()
            });
        let page2 = mock!(aws_sdk_cloudwatch::Client::list_metrics)
            .match_requests(|r| r.next_token() == Some("p2"))
            .then_output(|| {
                ListMetricsOutput::builder().metrics(listed("demo", "1")).metrics(listed("demo", "2")).build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&page1, &page2]);
        let ids = CloudWatch::new(client).broker_ids(&cluster()).await.unwrap();
        assert_eq!(ids, ["1", "2", "10"]);
    }

    #[tokio::test]
    async fn latest_maps_query_ids_back_and_keeps_the_newest_point() {
        let t = |s: i64| DateTime::from_secs(1_764_093_600 + s);
        let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
            .match_requests(|r| r.metric_data_queries().len() == 4 && r.scan_by() == Some(&ScanBy::TimestampDescending))
            .then_output(move || {
                GetMetricDataOutput::builder()
                    // q0 = broker 1 URP: oldest first on purpose.
                    .metric_data_results(
                        MetricDataResult::builder()
                            .id("q0")
                            .timestamps(t(0))
                            .values(0.0)
                            .timestamps(t(60))
                            .values(3.0)
                            .build(),
                    )
                    .metric_data_results(MetricDataResult::builder().id("q1").timestamps(t(60)).values(81.5).build())
                    .metric_data_results(MetricDataResult::builder().id("q2").build())
                    .build()
            });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let metrics = [
            MetricSpec { name: "UnderReplicatedPartitions", stat: Statistic::Maximum },
            MetricSpec { name: "CpuUser", stat: Statistic::Average },
        ];
        let brokers = vec!["1".to_owned(), "2".to_owned()];
        let got = CloudWatch::new(client)
            .latest(&cluster(), &brokers, &metrics, Duration::from_secs(600), Duration::from_secs(60))
            .await
            .unwrap();
        let v = |b: &str, m: &str| got.iter().find(|x| x.broker_id == b && x.metric == m).unwrap().value;
        assert_eq!(v("1", "UnderReplicatedPartitions"), Some(3.0));
        assert_eq!(v("1", "CpuUser"), Some(81.5));
        assert_eq!(v("2", "UnderReplicatedPartitions"), None, "no datapoints: no value");
        assert_eq!(v("2", "CpuUser"), None, "absent from the response: no value");
        assert_eq!(got.len(), 4);
    }

    #[tokio::test]
    async fn sdk_errors_keep_their_kind() {
        let rule = mock!(aws_sdk_cloudwatch::Client::list_metrics).then_error(|| {
            aws_sdk_cloudwatch::operation::list_metrics::ListMetricsError::InvalidParameterValueException(
                aws_sdk_cloudwatch::types::error::InvalidParameterValueException::builder()
                    .message("bad")
                    .meta(aws_smithy_types::error::ErrorMetadata::builder().code("InvalidParameterValue").build())
                    .build(),
            )
        });
        let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
        let err = CloudWatch::new(client).broker_ids(&cluster()).await.unwrap_err();
        assert_eq!(err.operation, "ListMetrics");
        assert_eq!(err.kind, ErrorKind::Invalid);
    }
}
