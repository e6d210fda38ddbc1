//! The fix as a change to a CloudFormation template: `NumberOfBrokerNodes` on the
//! `AWS::MSK::Cluster`.

use super::{FixRequest, names};

pub fn render(req: &FixRequest) -> String {
    let name = req.cluster_arn.name();
    let (from, to) = (req.brokers.from(), req.brokers.to());
    format!(
        "# CloudFormation: change NumberOfBrokerNodes on the AWS::MSK::Cluster and update the stack\n\
         # (a change set shows an in-place update, no replacement). Keep it in the template after\n\
         # msk-autoheal has scaled the cluster, or the next stack update takes it back to {from} brokers.\n\
         Resources:\n  \
           {logical_id}:\n    \
             Type: AWS::MSK::Cluster\n    \
             Properties:\n      \
               ClusterName: {name}\n      \
               # ...your other properties, unchanged\n      \
               NumberOfBrokerNodes: {to} # was {from}\n",
        logical_id = names::pascal(name),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::request;
    use super::*;

    #[test]
    fn sets_number_of_broker_nodes() {
        let text = render(&request(2, 4));
        assert!(text.contains("  DemoCluster:\n    Type: AWS::MSK::Cluster\n"));
        assert!(text.contains("      NumberOfBrokerNodes: 4 # was 2\n"));
    }
}
