//! The fix for an undersized cluster, rendered every way an operator may apply it by hand: AWS CLI,
//! Terraform (a diff, or a patch for their own file), Pulumi TypeScript and Python, CloudFormation,
//! and the Kafka CLI script that moves partitions onto the new brokers. Pure functions over
//! validated inputs; the Assess step and `autoheal fix` show the same text.

mod aws_cli;
mod cloudformation;
mod kafka_script;
mod names;
mod pulumi;
mod terraform;

use crate::cluster::{ClusterArn, ClusterVersion};
use crate::kafka_cli::{BootstrapServers, CommandConfigPath, KafkaBinDir, Throttle};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use thiserror::Error;

pub use terraform::{TerraformError, TerraformFile, terraform_file_diff};

/// Largest broker count a fix is rendered for: far beyond MSK's per-cluster quota, so only a typo
/// (or a unit mix-up) trips it.
pub const MAX_RENDERED_BROKERS: u32 = 1000;

/// Why a fix cannot be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FixError {
    #[error("invalid broker counts {from} -> {to}: {why}")]
    BrokerCounts { from: u32, to: u32, why: &'static str },
    #[error("unknown fix format {0:?}: expected aws-cli, terraform, pulumi-ts, pulumi-py, cloudformation or kafka-cli")]
    Format(String),
}

/// Broker count before and after: at least 1 before, strictly more after (remediation never
/// shrinks a cluster), at most [`MAX_RENDERED_BROKERS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BrokerChange {
    from: u32,
    to: u32,
}

impl BrokerChange {
    pub fn new(from: u32, to: u32) -> Result<Self, FixError> {
        let why = if from == 0 {
            Some("a cluster has at least one broker")
        } else if to <= from {
            Some("the target must be larger than the current count (msk-autoheal never removes brokers)")
        } else if to > MAX_RENDERED_BROKERS {
            Some("the target is implausibly large")
        } else {
            None
        };
        match why {
            Some(why) => Err(FixError::BrokerCounts { from, to, why }),
            None => Ok(Self { from, to }),
        }
    }

    pub fn from(self) -> u32 {
        self.from
    }

    pub fn to(self) -> u32 {
        self.to
    }
}

impl<'de> Deserialize<'de> for BrokerChange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            from: u32,
            to: u32,
        }
        let raw = Raw::deserialize(d)?;
        Self::new(raw.from, raw.to).map_err(serde::de::Error::custom)
    }
}

/// What every fix needs: the cluster, the version UpdateBrokerCount must echo, the counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRequest {
    pub cluster_arn: ClusterArn,
    pub current_version: ClusterVersion,
    pub brokers: BrokerChange,
}

/// How the Kafka CLI script reaches the cluster. Bootstrap servers left out are looked up on the
/// host with `aws kafka get-bootstrap-brokers`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KafkaScriptSettings {
    pub bin_dir: KafkaBinDir,
    pub bootstrap_servers: Option<BootstrapServers>,
    pub command_config: Option<CommandConfigPath>,
    pub throttle: Throttle,
}

/// The formats of `autoheal fix --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixFormat {
    AwsCli,
    Terraform,
    PulumiTs,
    PulumiPy,
    Cloudformation,
    KafkaCli,
}

impl FixFormat {
    pub const ALL: [FixFormat; 6] =
        [Self::AwsCli, Self::Terraform, Self::PulumiTs, Self::PulumiPy, Self::Cloudformation, Self::KafkaCli];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwsCli => "aws-cli",
            Self::Terraform => "terraform",
            Self::PulumiTs => "pulumi-ts",
            Self::PulumiPy => "pulumi-py",
            Self::Cloudformation => "cloudformation",
            Self::KafkaCli => "kafka-cli",
        }
    }
}

impl FromStr for FixFormat {
    type Err = FixError;
    fn from_str(s: &str) -> Result<Self, FixError> {
        Self::ALL.into_iter().find(|f| f.as_str() == s).ok_or_else(|| FixError::Format(s.chars().take(40).collect()))
    }
}

impl fmt::Display for FixFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Renders one format. Terraform here is the generic diff; [`terraform_file_diff`] patches a file.
pub fn render(format: FixFormat, req: &FixRequest, kafka: &KafkaScriptSettings) -> String {
    match format {
        FixFormat::AwsCli => aws_cli::render(req),
        FixFormat::Terraform => terraform::render_generic(req),
        FixFormat::PulumiTs => pulumi::render_typescript(req),
        FixFormat::PulumiPy => pulumi::render_python(req),
        FixFormat::Cloudformation => cloudformation::render(req),
        FixFormat::KafkaCli => kafka_script::render(req, kafka),
    }
}

/// Every format at once, as the Assess step puts them in the execution state and notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderedFixes {
    pub aws_cli: String,
    pub terraform: String,
    pub pulumi_ts: String,
    pub pulumi_py: String,
    pub cloudformation: String,
    pub kafka_cli: String,
}

pub fn render_all(req: &FixRequest, kafka: &KafkaScriptSettings) -> RenderedFixes {
    RenderedFixes {
        aws_cli: render(FixFormat::AwsCli, req, kafka),
        terraform: render(FixFormat::Terraform, req, kafka),
        pulumi_ts: render(FixFormat::PulumiTs, req, kafka),
        pulumi_py: render(FixFormat::PulumiPy, req, kafka),
        cloudformation: render(FixFormat::Cloudformation, req, kafka),
        kafka_cli: render(FixFormat::KafkaCli, req, kafka),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn request(from: u32, to: u32) -> FixRequest {
        FixRequest {
            cluster_arn: ClusterArn::parse(
                "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
            )
            .unwrap(),
            current_version: ClusterVersion::parse("K3AEGXETSR30VB").unwrap(),
            brokers: BrokerChange::new(from, to).unwrap(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::request;
    use super::*;

    #[test]
    fn broker_changes() {
        assert!(BrokerChange::new(2, 4).is_ok());
        for (from, to) in [(0, 2), (2, 2), (4, 2), (2, MAX_RENDERED_BROKERS + 1)] {
            let e = BrokerChange::new(from, to).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid broker counts {from} -> {to}")), "{e}");
        }
        assert!(serde_json::from_str::<BrokerChange>(r#"{"from":4,"to":2}"#).is_err());
    }

    #[test]
    fn formats_round_trip_through_their_names() {
        for f in FixFormat::ALL {
            assert_eq!(f.as_str().parse::<FixFormat>().unwrap(), f);
            assert_eq!(serde_json::to_value(f).unwrap(), f.as_str());
        }
        assert!("yaml".parse::<FixFormat>().is_err());
    }

    #[test]
    fn every_format_names_the_target_and_the_current_count() {
        let req = request(2, 4);
        let fixes = render_all(&req, &KafkaScriptSettings::default());
        for (name, text) in [
            ("aws_cli", &fixes.aws_cli),
            ("terraform", &fixes.terraform),
            ("pulumi_ts", &fixes.pulumi_ts),
            ("pulumi_py", &fixes.pulumi_py),
            ("cloudformation", &fixes.cloudformation),
        ] {
            assert!(text.contains('4') && text.contains('2'), "{name}: {text}");
            assert!(text.ends_with('\n'), "{name} must end with a newline");
        }
        assert!(fixes.kafka_cli.contains("--broker-list '1,2,3,4'"));
    }
}
