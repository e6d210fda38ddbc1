//! The fix as AWS CLI commands: UpdateBrokerCount, then how to watch for ACTIVE.

use super::FixRequest;

pub fn render(req: &FixRequest) -> String {
    let (arn, region) = (req.cluster_arn.as_str(), req.cluster_arn.region());
    let (from, to) = (req.brokers.from(), req.brokers.to());
    // Every value here is validated (ARN, version, region out of the ARN): quoting is uniformity,
    // not the only defence.
    format!(
        "# Add brokers to {name}: {from} -> {to}. MSK spreads them evenly over the cluster's AZs;\n\
         # the update takes 15-60 minutes and the cluster keeps serving meanwhile.\n\
         aws kafka update-broker-count \\\n  \
           --region {region} \\\n  \
           --cluster-arn '{arn}' \\\n  \
           --current-version '{version}' \\\n  \
           --target-number-of-broker-nodes {to}\n\
         \n\
         # Wait until the cluster is ACTIVE again with {to} brokers:\n\
         aws kafka describe-cluster-v2 --region {region} --cluster-arn '{arn}' \\\n  \
           --query '[ClusterInfo.State, ClusterInfo.Provisioned.NumberOfBrokerNodes]' --output text\n\
         \n\
         # Then move partitions onto the new brokers (the kafka-cli fix): Kafka does not do it by itself.\n",
        name = req.cluster_arn.name(),
        version = req.current_version.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::request;
    use super::*;

    #[test]
    fn update_broker_count_with_every_required_flag() {
        let text = render(&request(2, 4));
        assert!(text.contains(
            "aws kafka update-broker-count \\\n  --region us-east-1 \\\n  \
             --cluster-arn 'arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2' \\\n  \
             --current-version 'K3AEGXETSR30VB' \\\n  --target-number-of-broker-nodes 4\n"
        ));
        assert!(text.contains("2 -> 4"));
    }

    #[test]
    fn the_commands_are_valid_shell() {
        let out = std::process::Command::new("sh").arg("-n").arg("-c").arg(render(&request(2, 4))).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
