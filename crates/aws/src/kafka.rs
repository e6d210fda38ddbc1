//! MSK adapter: `ClusterControl` and `ClusterScaling` (including the cluster operations the scale
//! step polls) over `aws_sdk_kafka::Client`.

use crate::error::{AwsError, ErrorKind, Result};
use crate::ports::{
    BootstrapBrokers, ClusterControl, ClusterOperation, ClusterOperations, ClusterScaling, OperationState,
};
use autoheal_domain::cluster::{ClusterArn, ClusterInfo, ClusterName, ClusterState, ClusterVersion};
use aws_sdk_kafka::types::{Cluster, ClusterType};
use tracing::instrument;

/// MSK through the SDK.
#[derive(Clone, Debug)]
pub struct MskClusters {
    client: aws_sdk_kafka::Client,
}

impl MskClusters {
    pub fn new(client: aws_sdk_kafka::Client) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &aws_sdk_kafka::Client {
        &self.client
    }
}

impl ClusterControl for MskClusters {
    #[instrument(skip(self), fields(cluster = %name))]
    async fn find_cluster(&self, name: &ClusterName) -> Result<Option<ClusterArn>> {
        // The filter is a prefix match: page through and keep the exact name only.
        let mut pages = self.client.list_clusters_v2().cluster_name_filter(name.as_str()).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| AwsError::from_sdk("ListClustersV2", e))?;
            for c in page.cluster_info_list() {
                if c.cluster_name() == Some(name.as_str()) {
                    let arn = c.cluster_arn().unwrap_or_default();
                    return ClusterArn::parse(arn)
                        .map(Some)
                        .map_err(|e| AwsError::new("ListClustersV2", ErrorKind::Other, format!("MSK returned {e}")));
                }
            }
        }
        Ok(None)
    }

    #[instrument(skip(self), fields(cluster_arn = %arn))]
    async fn describe_cluster(&self, arn: &ClusterArn) -> Result<ClusterInfo> {
        let out = self
            .client
            .describe_cluster_v2()
            .cluster_arn(arn.as_str())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeClusterV2", e))?;
        let info = out
            .cluster_info()
            .ok_or_else(|| AwsError::new("DescribeClusterV2", ErrorKind::Other, "response carries no ClusterInfo"))?;
        cluster_info(info)
    }
}

/// Reduces an MSK `Cluster` to the domain's `ClusterInfo`, refusing anything malformed.
pub fn cluster_info(c: &Cluster) -> Result<ClusterInfo> {
    let bad = |what: String| AwsError::new("DescribeClusterV2", ErrorKind::Other, what);
    let arn = ClusterArn::parse(c.cluster_arn().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
    let name = ClusterName::parse(c.cluster_name().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
    let current_version =
        ClusterVersion::parse(c.current_version().unwrap_or_default()).map_err(|e| bad(e.to_string()))?;
    let state = ClusterState::parse(c.state().map(|s| s.as_str()).unwrap_or("UNKNOWN"));
    let serverless = matches!(c.cluster_type(), Some(ClusterType::Serverless)) || c.serverless().is_some();
    let provisioned = c.provisioned();
    let (broker_count, az_count, instance_type, kafka_version) = match provisioned {
        Some(p) if !serverless => {
            let group = p.broker_node_group_info();
            let zones = group.map(|g| g.client_subnets().len().max(g.zone_ids().len())).unwrap_or(0);
            (
                u32::try_from(p.number_of_broker_nodes().unwrap_or(0)).unwrap_or(0),
                u32::try_from(zones).unwrap_or(0),
                group.and_then(|g| g.instance_type()).map(str::to_owned),
                p.current_broker_software_info().and_then(|s| s.kafka_version()).map(str::to_owned),
            )
        }
        _ => (0, 0, None, None),
    };
    Ok(ClusterInfo {
        arn,
        name,
        state,
        provisioned: !serverless && provisioned.is_some(),
        broker_count,
        az_count,
        current_version,
        instance_type,
        kafka_version,
    })
}

impl ClusterScaling for MskClusters {
    #[instrument(skip(self), fields(cluster_arn = %arn, current_version = %current_version, target))]
    async fn update_broker_count(
        &self,
        arn: &ClusterArn,
        current_version: &ClusterVersion,
        target: u32,
    ) -> Result<String> {
        let target = i32::try_from(target).map_err(|_| {
            AwsError::new("UpdateBrokerCount", ErrorKind::Invalid, format!("target {target} too large"))
        })?;
        let out = self
            .client
            .update_broker_count()
            .cluster_arn(arn.as_str())
            .current_version(current_version.as_str())
            .target_number_of_broker_nodes(target)
            .send()
            .await
            .map_err(|e| stale_version_is_conflict(AwsError::from_sdk("UpdateBrokerCount", e)))?;
        Ok(out.cluster_operation_arn().unwrap_or_default().to_owned())
    }

    #[instrument(skip(self), fields(cluster_arn = %arn))]
    async fn bootstrap_brokers(&self, arn: &ClusterArn) -> Result<BootstrapBrokers> {
        let out = self
            .client
            .get_bootstrap_brokers()
            .cluster_arn(arn.as_str())
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("GetBootstrapBrokers", e))?;
        let s = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        Ok(BootstrapBrokers {
            plaintext: s(out.bootstrap_broker_string()),
            tls: s(out.bootstrap_broker_string_tls()),
            sasl_scram: s(out.bootstrap_broker_string_sasl_scram()),
            sasl_iam: s(out.bootstrap_broker_string_sasl_iam()),
        })
    }
}

impl ClusterOperations for MskClusters {
    #[instrument(skip(self))]
    async fn describe_operation(&self, operation_arn: &str) -> Result<ClusterOperation> {
        let out = self
            .client
            .describe_cluster_operation_v2()
            .cluster_operation_arn(operation_arn)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("DescribeClusterOperationV2", e))?;
        let op = out.cluster_operation_info().ok_or_else(|| {
            AwsError::new("DescribeClusterOperationV2", ErrorKind::Other, "response carries no ClusterOperationInfo")
        })?;
        let error = op.error_info().map(|e| {
            (e.error_code().unwrap_or("unknown").to_owned(), e.error_string().unwrap_or("no error string").to_owned())
        });
        Ok(ClusterOperation {
            arn: op.operation_arn().unwrap_or(operation_arn).to_owned(),
            operation_type: op.operation_type().unwrap_or_default().to_owned(),
            state: OperationState::parse(op.operation_state().unwrap_or("UNKNOWN")),
            error,
        })
    }

    #[instrument(skip(self), fields(cluster_arn = %arn))]
    async fn operations_in_progress(&self, arn: &ClusterArn) -> Result<Vec<ClusterOperation>> {
        // Newest first: an operation still running is on the first page.
        let out = self
            .client
            .list_cluster_operations_v2()
            .cluster_arn(arn.as_str())
            .max_results(20)
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("ListClusterOperationsV2", e))?;
        Ok(out
            .cluster_operation_info_list()
            .iter()
            .map(|o| ClusterOperation {
                arn: o.operation_arn().unwrap_or_default().to_owned(),
                operation_type: o.operation_type().unwrap_or_default().to_owned(),
                state: OperationState::parse(o.operation_state().unwrap_or("UNKNOWN")),
                error: None,
            })
            .filter(|o| o.state.is_running())
            .collect())
    }
}

/// MSK answers a stale CurrentVersion with BadRequestException ("The provided cluster version ...
/// does not match the current version") or ConflictException: both mean "re-read and retry".
fn stale_version_is_conflict(mut e: AwsError) -> AwsError {
    let msg = e.message.to_ascii_lowercase();
    if e.kind == ErrorKind::Invalid && msg.contains("version") && (msg.contains("match") || msg.contains("current")) {
        e.kind = ErrorKind::Conflict;
    }
    e
}
