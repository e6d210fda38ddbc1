//! `autoheal scale --cluster-arn ARN --target N --dry-run`: what the scale Lambda would do now —
//! ScaleBrokers (skip at or above the target, wait for an operation in progress, or call
//! UpdateBrokerCount with CurrentVersion V) and then CheckActive (is the cluster ACTIVE with the
//! target count?). The Scale use case runs on [`ReadOnlyMsk`]: describes reach AWS, the
//! UpdateBrokerCount it decides on is shown and never sent. There is no non-dry-run mode: the
//! workflow's ScaleBrokers is what adds brokers.

use crate::dry_run::{ReadOnlyMsk, UpdateCall, cluster_arn, count, report, state};
use crate::error::CliError;
use autoheal_app::AppError;
use autoheal_app::workflow::scale::Scale;
use autoheal_aws::kafka::MskClusters;
use autoheal_aws::ports::{ClusterControl, ClusterOperations, ClusterScaling};
use autoheal_aws::sdk;
use autoheal_domain::capacity::CapacityPolicy;
use autoheal_domain::cluster::ClusterArn;
use autoheal_domain::time::Timestamp;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct Args {
    /// The cluster's ARN.
    #[arg(long, value_name = "ARN")]
    pub cluster_arn: String,
    /// The broker count the workflow would scale to.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub target: String,
    /// Hard ceiling (the stack's MAX_BROKERS; default 12), checked again by ScaleBrokers.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_brokers: Option<String>,
    /// Required: this command only ever shows what ScaleBrokers would do.
    #[arg(long)]
    pub dry_run: bool,
}

/// ScaleBrokers' and CheckActive's verdicts.
pub struct Evaluation {
    /// ScaleBrokers: the cluster as it saw it, and its note when it would not call.
    pub scale: Result<Value, AppError>,
    /// The UpdateBrokerCount it would have sent (none when it would skip or wait).
    pub would_send: Vec<UpdateCall>,
    /// CheckActive's view now (absent when ScaleBrokers fails).
    pub check_active: Option<Result<Value, AppError>>,
}

/// Runs the Scale use case over `clusters` wrapped in [`ReadOnlyMsk`].
pub async fn evaluate<C: ClusterControl + ClusterScaling + ClusterOperations>(
    clusters: C,
    arn: &ClusterArn,
    target: u32,
    max_brokers: u32,
    now: Timestamp,
) -> Evaluation {
    let info = match clusters.describe_cluster(arn).await {
        Ok(i) => i,
        Err(e) => return Evaluation { scale: Err(e.into()), would_send: vec![], check_active: None },
    };
    let start = match state(&info, target) {
        Ok(s) => s,
        Err(e) => {
            return Evaluation {
                scale: Err(AppError::InvalidInput(e.to_string())),
                would_send: vec![],
                check_active: None,
            };
        }
    };
    let scale = Scale { clusters: ReadOnlyMsk::new(clusters), max_brokers };
    let after = scale.scale(start, now).await;
    let would_send = scale.clusters.update_calls();
    let after = match after {
        Ok(s) => s,
        Err(e) => return Evaluation { scale: Err(e), would_send, check_active: None },
    };
    let progress = after.scale.clone();
    let decision = json!({
        "cluster": {
            "name": info.name.to_string(),
            "state": info.state.to_string(),
            "broker_count": info.broker_count,
            "az_count": info.az_count,
            "current_version": info.current_version.to_string(),
        },
        "target": target,
        "update_broker_count": match (would_send.first(), progress.as_ref().and_then(|p| p.note.clone())) {
            (Some(call), _) => json!({"would_call": true, "request": call}),
            (None, note) => json!({"would_call": false, "why": note}),
        },
        "version_retries": progress.as_ref().map(|p| p.version_retries),
        "waiting_for": progress.as_ref().and_then(|p| p.waiting_for.clone()),
    });
    let check_active = scale.poll(after, now).await.map(|s| {
        s.scale.map_or(
            Value::Null,
            |p| json!({"active": p.active, "state": p.state, "broker_count": p.broker_count, "target": p.target}),
        )
    });
    Evaluation { scale: Ok(decision), would_send, check_active: Some(check_active) }
}

pub async fn run(args: Args) -> Result<(), CliError> {
    if !args.dry_run {
        return Err(CliError::input(
            "autoheal scale only shows what ScaleBrokers would do: add --dry-run (the workflow is what adds brokers)",
        ));
    }
    let arn = cluster_arn(&args.cluster_arn)?;
    let target = count("--target", &args.target)?;
    if target == 0 {
        return Err(CliError::input("--target must be at least 1"));
    }
    let max_brokers = args
        .max_brokers
        .as_deref()
        .map(|s| count("--max-brokers", s))
        .transpose()?
        .unwrap_or(CapacityPolicy::default().max_brokers);
    let sdk = sdk::load().await;
    let msk = MskClusters::new(aws_sdk_kafka::Client::new(&sdk));
    let eval = evaluate(msk, &arn, target, max_brokers, Timestamp::now()).await;
    let check_active = match eval.check_active {
        Some(Ok(v)) => v,
        Some(Err(e)) => json!({"error_type": e.error_type(), "reason": e.to_string()}),
        None => Value::Null,
    };
    let held_back = eval.would_send;
    let result = eval.scale.map(|mut d| {
        d["check_active"] = check_active;
        (d, "WaitForActive, then CheckActive until the cluster is ACTIVE with the target count")
    });
    // Every mutating request the use case made, held back: the proof that nothing was sent.
    report("ScaleBrokers", "scale", result, json!({"max_brokers": max_brokers, "held_back": held_back}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dry_run::tests_support::{ARN, cluster, msk, no_update_broker_count};
    use aws_sdk_kafka::operation::describe_cluster_v2::DescribeClusterV2Output;
    use aws_sdk_kafka::types::ClusterState;
    use aws_smithy_mocks::mock;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-25T18:00:00Z").unwrap()
    }

    fn describe(state: ClusterState, brokers: i32) -> aws_smithy_mocks::Rule {
        mock!(aws_sdk_kafka::Client::describe_cluster_v2).then_output(move || {
            DescribeClusterV2Output::builder().cluster_info(cluster(state.clone(), brokers, "K7")).build()
        })
    }

    #[tokio::test]
    async fn an_active_cluster_below_target_would_get_update_broker_count_which_is_never_sent() {
        let (d, update) = (describe(ClusterState::Active, 2), no_update_broker_count());
        let arn = ClusterArn::parse(ARN).unwrap();
        let eval = evaluate(msk(&[&d, &update]), &arn, 4, 12, now()).await;
        assert_eq!(update.num_calls(), 0, "UpdateBrokerCount reached the (mocked) SDK");
        assert_eq!(
            eval.would_send,
            vec![UpdateCall {
                operation: "UpdateBrokerCount",
                cluster_arn: ARN.into(),
                current_version: "K7".into(),
                target_number_of_broker_nodes: 4
            }]
        );
        let v = eval.scale.unwrap();
        assert_eq!(v["update_broker_count"]["would_call"], true);
        assert_eq!(v["update_broker_count"]["request"]["current_version"], "K7");
        let active = eval.check_active.unwrap().unwrap();
        assert_eq!((active["active"].as_bool(), active["broker_count"].as_u64()), (Some(false), Some(2)));
    }

    #[tokio::test]
    async fn at_target_or_while_updating_nothing_would_be_called() {
        let update = no_update_broker_count();
        let arn = ClusterArn::parse(ARN).unwrap();
        let at = describe(ClusterState::Active, 4);
        let eval = evaluate(msk(&[&at, &update]), &arn, 4, 12, now()).await;
        let v = eval.scale.unwrap();
        assert_eq!(v["update_broker_count"]["would_call"], false);
        assert!(v["update_broker_count"]["why"].as_str().unwrap().contains("already has 4 brokers"), "{v}");
        assert_eq!(eval.check_active.unwrap().unwrap()["active"], true);

        let updating = describe(ClusterState::Updating, 2);
        let theirs = mock!(aws_sdk_kafka::Client::list_cluster_operations_v2).then_output(|| {
            aws_sdk_kafka::operation::list_cluster_operations_v2::ListClusterOperationsV2Output::builder()
                .cluster_operation_info_list(
                    aws_sdk_kafka::types::ClusterOperationV2Summary::builder()
                        .operation_arn("arn:op/theirs")
                        .operation_type("UPDATE_SECURITY")
                        .operation_state("UPDATE_IN_PROGRESS")
                        .build(),
                )
                .build()
        });
        let eval = evaluate(msk(&[&updating, &update, &theirs]), &arn, 4, 12, now()).await;
        let v = eval.scale.unwrap();
        assert!(v["update_broker_count"]["why"].as_str().unwrap().contains("in progress"), "{v}");
        assert_eq!(v["waiting_for"], "arn:op/theirs (UPDATE_SECURITY)", "{v}");
        assert!(eval.would_send.is_empty());
        assert_eq!(update.num_calls(), 0);
    }

    #[tokio::test]
    async fn refusals_are_the_lambda_s() {
        let update = no_update_broker_count();
        let arn = ClusterArn::parse(ARN).unwrap();
        let d = describe(ClusterState::Active, 2);
        let e = evaluate(msk(&[&d, &update]), &arn, 14, 12, now()).await.scale.unwrap_err();
        assert_eq!(e.error_type(), "AtCeiling");
        let failed = describe(ClusterState::Failed, 2);
        let e = evaluate(msk(&[&failed, &update]), &arn, 4, 12, now()).await.scale.unwrap_err();
        assert_eq!(e.error_type(), "ClusterFailed");
        assert_eq!(update.num_calls(), 0);
    }
}
