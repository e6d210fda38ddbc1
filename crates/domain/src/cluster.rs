//! MSK cluster identity and state: validated names and ARNs (nothing unchecked is ever passed on to
//! AWS or a shell) and the plain description the decisions work from.

use serde::{Deserialize, Serialize};
use std::fmt;
use thiserror::Error;

/// Why a cluster name, ARN or version was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdentityError {
    #[error("invalid cluster name {0:?}: MSK names are 1-64 characters of letters, digits and hyphens")]
    ClusterName(String),
    #[error("invalid cluster ARN {0:?}: expected arn:<partition>:kafka:<region>:<account>:cluster/<name>/<uuid>")]
    ClusterArn(String),
    #[error(
        "invalid cluster version {0:?}: expected the CurrentVersion string DescribeClusterV2 returns (letters and digits)"
    )]
    Version(String),
}

/// An MSK cluster name: letters, digits and hyphens, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ClusterName(String);

impl ClusterName {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let ok = (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if ok { Ok(Self(s.to_owned())) } else { Err(IdentityError::ClusterName(truncate_for_error(s))) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClusterName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ClusterName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A provisioned MSK cluster ARN, e.g.
/// `arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClusterArn {
    arn: String,
    name: ClusterName,
}

impl Serialize for ClusterArn {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.arn)
    }
}

impl ClusterArn {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        let err = || IdentityError::ClusterArn(truncate_for_error(s));
        let parts: Vec<&str> = s.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(err());
        };
        let token = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if arn != "arn" || !token(partition) || service != "kafka" || !token(region) {
            return Err(err());
        }
        if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let mut res = resource.split('/');
        let (Some("cluster"), Some(name), Some(uuid), None) = (res.next(), res.next(), res.next(), res.next()) else {
            return Err(err());
        };
        let name = ClusterName::parse(name).map_err(|_| err())?;
        if uuid.is_empty() || uuid.len() > 64 || !token(uuid) {
            return Err(err());
        }
        Ok(Self { arn: s.to_owned(), name })
    }

    pub fn as_str(&self) -> &str {
        &self.arn
    }

    /// The cluster name embedded in the ARN.
    pub fn name(&self) -> &ClusterName {
        &self.name
    }

    /// The region embedded in the ARN.
    pub fn region(&self) -> &str {
        self.arn.split(':').nth(3).unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for ClusterArn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ClusterArn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.arn)
    }
}

/// MSK's `CurrentVersion`: an opaque token (e.g. `K3AEGXETSR30VB`) that UpdateBrokerCount must echo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct ClusterVersion(String);

impl ClusterVersion {
    pub fn parse(s: &str) -> Result<Self, IdentityError> {
        if (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdentityError::Version(truncate_for_error(s)))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for ClusterVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ClusterVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// MSK cluster states (DescribeClusterV2 `State`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClusterState {
    Active,
    Creating,
    Deleting,
    Failed,
    Healing,
    Maintenance,
    RebootingBroker,
    Updating,
    #[serde(untagged)]
    Other(String),
}

impl ClusterState {
    pub fn parse(s: &str) -> Self {
        match s {
            "ACTIVE" => Self::Active,
            "CREATING" => Self::Creating,
            "DELETING" => Self::Deleting,
            "FAILED" => Self::Failed,
            "HEALING" => Self::Healing,
            "MAINTENANCE" => Self::Maintenance,
            "REBOOTING_BROKER" => Self::RebootingBroker,
            "UPDATING" => Self::Updating,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::Creating => "CREATING",
            Self::Deleting => "DELETING",
            Self::Failed => "FAILED",
            Self::Healing => "HEALING",
            Self::Maintenance => "MAINTENANCE",
            Self::RebootingBroker => "REBOOTING_BROKER",
            Self::Updating => "UPDATING",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the decisions need to know about a cluster (from DescribeClusterV2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterInfo {
    pub arn: ClusterArn,
    pub name: ClusterName,
    pub state: ClusterState,
    /// False for MSK Serverless, which has no brokers to add.
    pub provisioned: bool,
    pub broker_count: u32,
    /// Number of client subnets = availability zones the brokers are spread over.
    pub az_count: u32,
    pub current_version: ClusterVersion,
    pub instance_type: Option<String>,
    pub kafka_version: Option<String>,
}

/// Keeps error messages one line and bounded, whatever the input was.
fn truncate_for_error(s: &str) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(80).collect();
    if s.chars().count() > 80 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cluster_names() {
        assert!(ClusterName::parse("demo").is_ok());
        assert!(ClusterName::parse("msk-demo-01").is_ok());
        assert!(ClusterName::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "a;rm -rf /", "x_y", "ü", "a/b", "$(id)"] {
            assert!(ClusterName::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ClusterName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn cluster_arns() {
        let arn = ClusterArn::parse(
            "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
        )
        .unwrap();
        assert_eq!(arn.name().as_str(), "demo");
        assert_eq!(arn.region(), "us-east-1");
        assert!(ClusterArn::parse("arn:aws-cn:kafka:cn-north-1:123456789012:cluster/c/u-1").is_ok());
        for bad in [
            "",
            "demo",
            "arn:aws:kafka:us-east-1:123456789012:cluster/demo",
            "arn:aws:sqs:us-east-1:123456789012:cluster/demo/u",
            "arn:aws:kafka:us-east-1:12345:cluster/demo/u",
            "arn:aws:kafka:us-east-1:123456789012:topic/demo/u/t",
            "arn:aws:kafka:us-east-1:123456789012:cluster/de mo/u",
            "arn:aws:kafka:us-east-1:123456789012:cluster/demo/u;id",
            "arn:aws:kafka:us-east-1:123456789012:cluster/demo/u/extra",
        ] {
            assert!(ClusterArn::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn errors_are_one_line_and_bounded() {
        let e = ClusterName::parse(&format!("a\nb{}", "x".repeat(500))).unwrap_err().to_string();
        assert!(!e.contains('\n'));
        assert!(e.len() < 250);
    }

    proptest! {
        #[test]
        fn accepted_names_are_shell_safe(s in ".{0,80}") {
            if let Ok(n) = ClusterName::parse(&s) {
                prop_assert!(n.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            }
        }

        #[test]
        fn accepted_arns_round_trip(s in "arn:aws:kafka:[a-z0-9-]{1,12}:[0-9]{12}:cluster/[A-Za-z0-9-]{1,64}/[a-z0-9-]{1,40}") {
            let arn = ClusterArn::parse(&s).unwrap();
            prop_assert_eq!(arn.as_str(), s.as_str());
            let json = serde_json::to_string(&arn).unwrap();
            let back: ClusterArn = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, arn);
        }
    }
}
