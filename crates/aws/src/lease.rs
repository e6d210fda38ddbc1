//! The per-cluster lease: one DynamoDB item per cluster ARN, written with a conditional PutItem, so
//! two detectors racing for one cluster cannot both win (ListExecutions, which single flight reads,
//! is eventually consistent). `DynamoLease` is the adapter; `MemoryLease` the in-memory fake with
//! the same conditions, for tests and dry runs.

use crate::error::{AwsError, ErrorKind, Result};
use crate::ports::{Lease, LeaseOutcome};
use autoheal_domain::cluster::ClusterArn;
use autoheal_domain::time::Timestamp;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use std::collections::HashMap;
use std::sync::Mutex;
use tracing::instrument;

/// Partition key (the cluster ARN), holder (the execution name), and the TTL attribute (epoch
/// seconds; DynamoDB deletes expired items lazily, so the condition reads it too).
pub const KEY: &str = "cluster_arn";
pub const HOLDER: &str = "holder";
pub const EXPIRES_AT: &str = "expires_at";
pub const ACQUIRED_AT: &str = "acquired_at";

/// The lease table through the SDK.
#[derive(Clone, Debug)]
pub struct DynamoLease {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoLease {
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }
}

fn epoch(t: Timestamp) -> i64 {
    t.unix_millis().div_euclid(1000)
}

impl Lease for DynamoLease {
    #[instrument(skip(self), fields(cluster_arn = %cluster, holder, table = %self.table))]
    async fn acquire(
        &self,
        cluster: &ClusterArn,
        holder: &str,
        now: Timestamp,
        ttl_seconds: u64,
        replacing: Option<&str>,
    ) -> Result<LeaseOutcome> {
        let expires = epoch(now).saturating_add(i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 2));
        let mut condition = format!("attribute_not_exists({KEY}) OR {EXPIRES_AT} < :now OR {HOLDER} = :me");
        let mut req = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(KEY, AttributeValue::S(cluster.to_string()))
            .item(HOLDER, AttributeValue::S(holder.to_owned()))
            .item(EXPIRES_AT, AttributeValue::N(expires.to_string()))
            .item(ACQUIRED_AT, AttributeValue::S(now.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(epoch(now).to_string()))
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(old) = replacing {
            condition.push_str(&format!(" OR {HOLDER} = :old"));
            req = req.expression_attribute_values(":old", AttributeValue::S(old.to_owned()));
        }
        match req.condition_expression(condition).send().await {
            Ok(_) => Ok(LeaseOutcome::Acquired),
            Err(e) => {
                let item = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c) => {
                        Some(c.item().cloned().unwrap_or_default())
                    }
                    _ => None,
                });
                match item {
                    Some(item) => Ok(held_by(&item)),
                    None => Err(AwsError::from_sdk("PutItem", e)),
                }
            }
        }
    }

    #[instrument(skip(self), fields(cluster_arn = %cluster, holder, table = %self.table))]
    async fn release(&self, cluster: &ClusterArn, holder: &str) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(cluster.to_string()))
            .condition_expression(format!("{HOLDER} = :me"))
            .expression_attribute_values(":me", AttributeValue::S(holder.to_owned()))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(AwsError::from_sdk("DeleteItem", e)),
        }
    }
}

/// The item that made the condition fail: who holds the lease, until when.
fn held_by(item: &HashMap<String, AttributeValue>) -> LeaseOutcome {
    let holder = item.get(HOLDER).and_then(|v| v.as_s().ok()).cloned().unwrap_or_else(|| "unknown".to_owned());
    let expires_at = item
        .get(EXPIRES_AT)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_unix_millis(s.saturating_mul(1000)));
    let acquired_at = item.get(ACQUIRED_AT).and_then(|v| v.as_s().ok()).and_then(|s| Timestamp::parse(s));
    LeaseOutcome::HeldBy { holder, acquired_at, expires_at }
}

/// In-memory lease with DynamoDB's conditions, atomic under one lock (as one item's conditional
/// write is in DynamoDB).
#[derive(Debug, Default)]
pub struct MemoryLease {
    items: Mutex<HashMap<String, Held>>,
}

#[derive(Debug, Clone)]
struct Held {
    holder: String,
    acquired_at: Timestamp,
    expires_at: i64,
}

impl MemoryLease {
    /// The holder of `cluster`'s lease, if any (expired or not).
    pub fn holder(&self, cluster: &ClusterArn) -> Option<String> {
        self.items.lock().ok()?.get(cluster.as_str()).map(|h| h.holder.clone())
    }
}

impl Lease for MemoryLease {
    async fn acquire(
        &self,
        cluster: &ClusterArn,
        holder: &str,
        now: Timestamp,
        ttl_seconds: u64,
        replacing: Option<&str>,
    ) -> Result<LeaseOutcome> {
        let mut items =
            self.items.lock().map_err(|_| AwsError::new("PutItem", ErrorKind::Other, "in-memory lease poisoned"))?;
        let now_s = epoch(now);
        if let Some(h) = items.get(cluster.as_str()) {
            let free = h.expires_at < now_s || h.holder == holder || replacing == Some(h.holder.as_str());
            if !free {
                return Ok(LeaseOutcome::HeldBy {
                    holder: h.holder.clone(),
                    acquired_at: Some(h.acquired_at),
                    expires_at: Timestamp::from_unix_millis(h.expires_at.saturating_mul(1000)),
                });
            }
        }
        let expires_at = now_s.saturating_add(i64::try_from(ttl_seconds).unwrap_or(i64::MAX / 2));
        items.insert(cluster.to_string(), Held { holder: holder.to_owned(), acquired_at: now, expires_at });
        Ok(LeaseOutcome::Acquired)
    }

    async fn release(&self, cluster: &ClusterArn, holder: &str) -> Result<bool> {
        let mut items =
            self.items.lock().map_err(|_| AwsError::new("DeleteItem", ErrorKind::Other, "in-memory lease poisoned"))?;
        if items.get(cluster.as_str()).is_some_and(|h| h.holder == holder) {
            items.remove(cluster.as_str());
            return Ok(true);
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const ARN: &str = "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2";

    fn arn() -> ClusterArn {
        ClusterArn::parse(ARN).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn of_many_acquires_at_once_exactly_one_wins() {
        let lease = Arc::new(MemoryLease::default());
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let lease = lease.clone();
                tokio::spawn(async move {
                    lease.acquire(&arn(), &format!("exec-{i}"), t("2026-11-25T18:00:00Z"), 3600, None).await.unwrap()
                })
            })
            .collect();
        let mut acquired = 0;
        for task in tasks {
            if task.await.unwrap() == LeaseOutcome::Acquired {
                acquired += 1;
            }
        }
        assert_eq!(acquired, 1);
    }

    #[tokio::test]
    async fn held_until_it_expires_then_taken() {
        let lease = MemoryLease::default();
        let now = t("2026-11-25T18:00:00Z");
        assert_eq!(lease.acquire(&arn(), "a", now, 600, None).await.unwrap(), LeaseOutcome::Acquired);
        match lease.acquire(&arn(), "b", now.plus_minutes(9), 600, None).await.unwrap() {
            LeaseOutcome::HeldBy { holder, acquired_at, expires_at } => {
                assert_eq!((holder.as_str(), acquired_at), ("a", Some(now)));
                assert_eq!(expires_at, Some(now.plus_minutes(10)));
            }
            other => panic!("{other:?}"),
        }
        // The same holder again (a redelivered event) keeps it; after expiry anyone takes it.
        assert_eq!(lease.acquire(&arn(), "a", now.plus_minutes(1), 600, None).await.unwrap(), LeaseOutcome::Acquired);
        assert_eq!(lease.acquire(&arn(), "b", now.plus_minutes(12), 600, None).await.unwrap(), LeaseOutcome::Acquired);
        assert_eq!(lease.holder(&arn()).as_deref(), Some("b"));
    }

    #[tokio::test]
    async fn replacing_only_the_named_holder() {
        let lease = MemoryLease::default();
        let now = t("2026-11-25T18:00:00Z");
        lease.acquire(&arn(), "a", now, 600, None).await.unwrap();
        assert!(matches!(lease.acquire(&arn(), "c", now, 600, Some("b")).await.unwrap(), LeaseOutcome::HeldBy { .. }));
        assert_eq!(lease.acquire(&arn(), "c", now, 600, Some("a")).await.unwrap(), LeaseOutcome::Acquired);
    }

    mod dynamodb {
        use super::*;
        use aws_sdk_dynamodb::operation::delete_item::{DeleteItemError, DeleteItemOutput};
        use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
        use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
        use aws_smithy_mocks::{RuleMode, mock, mock_client};

        #[tokio::test]
        async fn the_put_is_conditional_and_a_refusal_names_the_holder() {
            let put = mock!(aws_sdk_dynamodb::Client::put_item)
                .match_requests(|r| {
                    r.table_name() == Some("leases")
                        && r.condition_expression()
                            == Some("attribute_not_exists(cluster_arn) OR expires_at < :now OR holder = :me")
                        && r.item().and_then(|i| i.get(HOLDER)).and_then(|v| v.as_s().ok()).map(String::as_str)
                            == Some("b")
                        && r.item().and_then(|i| i.get(EXPIRES_AT)).and_then(|v| v.as_n().ok()).map(String::as_str)
                            == Some("1795630200")
                })
                .then_error(|| {
                    let item = HashMap::from([
                        (KEY.to_owned(), AttributeValue::S(ARN.to_owned())),
                        (HOLDER.to_owned(), AttributeValue::S("a".to_owned())),
                        (EXPIRES_AT.to_owned(), AttributeValue::N("1795630000".to_owned())),
                        (ACQUIRED_AT.to_owned(), AttributeValue::S("2026-11-25T17:50:00Z".to_owned())),
                    ]);
                    PutItemError::ConditionalCheckFailedException(
                        ConditionalCheckFailedException::builder()
                            .message("The conditional request failed")
                            .set_item(Some(item))
                            .build(),
                    )
                });
            let lease = DynamoLease::new(mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&put]), "leases");
            let out = lease.acquire(&arn(), "b", t("2026-11-25T18:00:00Z"), 600, None).await.unwrap();
            assert_eq!(
                out,
                LeaseOutcome::HeldBy {
                    holder: "a".into(),
                    acquired_at: Some(t("2026-11-25T17:50:00Z")),
                    expires_at: Timestamp::from_unix_millis(1_795_630_000_000),
                }
            );
            assert_eq!(put.num_calls(), 1);

            let ok = mock!(aws_sdk_dynamodb::Client::put_item)
                .match_requests(|r| {
                    r.condition_expression().is_some_and(|c| c.ends_with(" OR holder = :old"))
                        && r.expression_attribute_values().and_then(|v| v.get(":old")).and_then(|v| v.as_s().ok())
                            == Some(&"a".to_owned())
                })
                .then_output(|| PutItemOutput::builder().build());
            let lease = DynamoLease::new(mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&ok]), "leases");
            let out = lease.acquire(&arn(), "b", t("2026-11-25T18:00:00Z"), 600, Some("a")).await.unwrap();
            assert_eq!(out, LeaseOutcome::Acquired);
        }

        #[tokio::test]
        async fn a_release_by_another_holder_is_false_not_an_error() {
            let del = mock!(aws_sdk_dynamodb::Client::delete_item)
                .match_requests(|r| r.condition_expression() == Some("holder = :me"))
                .sequence()
                .error(|| {
                    DeleteItemError::ConditionalCheckFailedException(
                        ConditionalCheckFailedException::builder().message("The conditional request failed").build(),
                    )
                })
                .output(|| DeleteItemOutput::builder().build())
                .build();
            let lease = DynamoLease::new(mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&del]), "leases");
            assert!(!lease.release(&arn(), "b").await.unwrap());
            assert!(lease.release(&arn(), "a").await.unwrap());
        }
    }

    #[tokio::test]
    async fn release_by_a_non_holder_changes_nothing() {
        let lease = MemoryLease::default();
        let now = t("2026-11-25T18:00:00Z");
        lease.acquire(&arn(), "a", now, 600, None).await.unwrap();
        assert!(!lease.release(&arn(), "b").await.unwrap());
        assert_eq!(lease.holder(&arn()).as_deref(), Some("a"));
        assert!(lease.release(&arn(), "a").await.unwrap());
        assert_eq!(lease.holder(&arn()), None);
        assert!(!lease.release(&arn(), "a").await.unwrap(), "a second release is a no-op");
    }
}
