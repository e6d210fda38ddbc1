//! The fix as a change to a Pulumi program (TypeScript and Python): `numberOfBrokerNodes` /
//! `number_of_broker_nodes` on the `aws.msk.Cluster`.

use super::{FixRequest, names};

pub fn render_typescript(req: &FixRequest) -> String {
    let name = req.cluster_arn.name();
    let (from, to) = (req.brokers.from(), req.brokers.to());
    format!(
        "// Pulumi (TypeScript): set numberOfBrokerNodes on the cluster resource, then `pulumi up`.\n\
         // Keep it in the program after msk-autoheal has scaled the cluster, or the next `pulumi up`\n\
         // tries to take the cluster back to {from} brokers. Not managed by Pulumi yet? Adopt it first:\n\
         //   pulumi import aws:msk/cluster:Cluster {name} {arn}\n\
         import * as aws from \"@pulumi/aws\";\n\
         \n\
         const {var} = new aws.msk.Cluster(\"{name}\", {{\n    \
             clusterName: \"{name}\",\n    \
             // ...your other arguments, unchanged\n    \
             numberOfBrokerNodes: {to}, // was {from}\n\
         }});\n",
        arn = req.cluster_arn.as_str(),
        var = names::camel(name),
    )
}

pub fn render_python(req: &FixRequest) -> String {
    let name = req.cluster_arn.name();
    let (from, to) = (req.brokers.from(), req.brokers.to());
    format!(
        "# Pulumi (Python): set number_of_broker_nodes on the cluster resource, then `pulumi up`.\n\
         # Keep it in the program after msk-autoheal has scaled the cluster, or the next `pulumi up`\n\
         # tries to take the cluster back to {from} brokers. Not managed by Pulumi yet? Adopt it first:\n\
         #   pulumi import aws:msk/cluster:Cluster {name} {arn}\n\
         import pulumi_aws as aws\n\
         \n\
         {var} = aws.msk.Cluster(\n    \
             \"{name}\",\n    \
             cluster_name=\"{name}\",\n    \
             # ...your other arguments, unchanged\n    \
             number_of_broker_nodes={to},  # was {from}\n\
         )\n",
        arn = req.cluster_arn.as_str(),
        var = names::snake(name),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::request;
    use super::*;
    use std::io::Write;
    use std::process::{Command, Stdio};

    #[test]
    fn typescript_sets_the_count() {
        let text = render_typescript(&request(2, 4));
        assert!(text.contains("const demoCluster = new aws.msk.Cluster(\"demo\", {"));
        assert!(text.contains("    numberOfBrokerNodes: 4, // was 2\n"));
    }

    #[test]
    fn python_sets_the_count_and_is_valid_python() {
        let text = render_python(&request(2, 4));
        assert!(text.contains("    number_of_broker_nodes=4,  # was 2\n"));
        // The snippet must at least parse; python3 is part of every machine this project runs on.
        let mut child = Command::new("python3")
            .args(["-c", "import ast, sys; ast.parse(sys.stdin.read())"])
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
