//! The per-cluster lease's use cases: how long the detector takes it for, and its release by the
//! end of an execution (notify, on success and on failure; the safety net for executions that never
//! reach it). The port and its adapters are `autoheal_aws::ports::Lease` / `autoheal_aws::lease`.

use crate::error::Result;
use autoheal_aws::ports::Lease;
use autoheal_domain::cluster::ClusterArn;
use tracing::{info, warn};

/// How long a lease lasts: the longest an execution can run, the state machine's `TimeoutSeconds`
/// (30 days; a test holds the two together). An execution that ended without releasing it does not
/// block the cluster that long: the detector takes over the lease of a holder it sees ended.
pub const LEASE_TTL_SECONDS: u64 = 30 * 24 * 60 * 60;

/// A lease whose holder never appears among the executions (its detector died between the lease and
/// StartExecution) is taken over after this long; ListExecutions lags by seconds, not minutes.
pub const UNSTARTED_HOLDER_MINUTES: i64 = 15;

/// Releases `cluster`'s lease if `execution` holds it. Releasing a lease held by another execution
/// (or none) changes nothing and is not an error: the end of an execution may run more than once.
pub async fn release<L: Lease>(lease: &L, cluster: &ClusterArn, execution: &str) -> Result<bool> {
    let released = lease.release(cluster, execution).await?;
    if released {
        info!(cluster_arn = %cluster, execution, "cluster lease released");
    } else {
        warn!(cluster_arn = %cluster, execution, "cluster lease not held by this execution; nothing released");
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lease_outlives_every_execution() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../statemachine/remediation.asl.json");
        let asl: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let timeout = asl["TimeoutSeconds"]
            .as_u64()
            .expect("the state machine has a numeric TimeoutSeconds: derive LEASE_TTL_SECONDS from it");
        assert!(
            LEASE_TTL_SECONDS >= timeout,
            "LEASE_TTL_SECONDS {LEASE_TTL_SECONDS} is shorter than the execution timeout {timeout}: a running remediation could lose its lease"
        );
    }
}
