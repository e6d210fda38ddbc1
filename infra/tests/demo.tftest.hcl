# Plan-level tests of the demo environment against a mocked AWS provider (offline: `terraform test`
# needs only the provider schema, which the local mirror has). They check what `validate` cannot:
# variable rules, per-broker monitoring, least-open security groups, and the outputs operators paste.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }

  mock_data "aws_ec2_instance_type" {
    defaults = {
      supported_architectures = ["i386", "x86_64"]
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_data "aws_ssm_parameter" {
    defaults = {
      insecure_value = "ami-0123456789abcdef0"
    }
  }

  # IAM policy documents must render to JSON for the roles that embed them.
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_resource "aws_msk_cluster" {
    defaults = {
      arn                   = "arn:aws:kafka:us-east-1:123456789012:cluster/msk-autoheal-demo/6f3c1e2a-0000-4000-8000-000000000000-2"
      bootstrap_brokers     = "b-1.demo.kafka.us-east-1.amazonaws.com:9092,b-2.demo.kafka.us-east-1.amazonaws.com:9092"
      bootstrap_brokers_tls = "b-1.demo.kafka.us-east-1.amazonaws.com:9094,b-2.demo.kafka.us-east-1.amazonaws.com:9094"
      current_version       = "K3AEGXETSR30VB"
    }
  }

  mock_resource "aws_msk_configuration" {
    defaults = {
      arn             = "arn:aws:kafka:us-east-1:123456789012:configuration/msk-autoheal-demo-3-9-x/6f3c1e2a-0000-4000-8000-000000000000-3"
      latest_revision = 1
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      id  = "msk-autoheal-demo-artifacts-20261125"
      arn = "arn:aws:s3:::msk-autoheal-demo-artifacts-20261125"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn  = "arn:aws:iam::123456789012:role/msk-autoheal-demo-client-20261125"
      name = "msk-autoheal-demo-client-20261125"
    }
  }

  mock_resource "aws_instance" {
    defaults = {
      id = "i-0123456789abcdef0"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:123456789012:log-group:/msk-autoheal/msk-autoheal-demo/vpc-flow-logs"
    }
  }
}

run "defaults_reproduce_the_original_demo" {
  command = apply

  assert {
    condition     = aws_msk_cluster.this.number_of_broker_nodes == 2
    error_message = "the demo cluster must start with 2 brokers"
  }

  assert {
    condition     = aws_msk_cluster.this.broker_node_group_info[0].instance_type == "kafka.t3.small"
    error_message = "brokers must be kafka.t3.small by default"
  }

  assert {
    condition     = aws_msk_cluster.this.enhanced_monitoring == "PER_BROKER"
    error_message = "UnderReplicatedPartitions per broker needs PER_BROKER enhanced monitoring"
  }

  assert {
    condition     = length(aws_msk_cluster.this.broker_node_group_info[0].client_subnets) == 2
    error_message = "brokers must spread over exactly 2 AZs"
  }

  assert {
    condition     = aws_instance.client.instance_type == "c5.9xlarge"
    error_message = "the client must be c5.9xlarge by default"
  }

  assert {
    condition     = aws_instance.client.metadata_options[0].http_tokens == "required"
    error_message = "the client must require IMDSv2"
  }

  assert {
    condition     = strcontains(aws_instance.client.user_data, "kafka_2.13-$KAFKA_VERSION.tgz") && strcontains(aws_instance.client.user_data, "KAFKA_VERSION='3.9.1'")
    error_message = "the client must install the Kafka CLI release matching MSK 3.9.x"
  }

  assert {
    condition     = aws_iam_role_policy_attachment.client_ssm.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
    error_message = "the client role must carry AmazonSSMManagedInstanceCore"
  }

  assert {
    condition     = toset(keys(aws_vpc_security_group_ingress_rule.msk_from_client)) == toset(["9092", "9094"])
    error_message = "brokers must admit only the plaintext and TLS listeners"
  }

  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.msk_from_client : r.cidr_ipv4 == null && r.referenced_security_group_id == aws_security_group.client.id])
    error_message = "broker ingress must come from the client's security group only, never a CIDR"
  }

  assert {
    condition     = strcontains(output.fix_step1_add_brokers, "--target-number-of-broker-nodes 4") && strcontains(output.fix_step1_add_brokers, "--cluster-arn arn:aws:kafka:us-east-1:123456789012:cluster/msk-autoheal-demo/")
    error_message = "step 1 must add one broker per AZ (2 -> 4) on this cluster"
  }

  assert {
    condition     = strcontains(output.fix_step2_rebalance, "--broker-list 1,2,3,4 --generate") && strcontains(output.fix_step2_rebalance, "--bootstrap-server b-1.demo.kafka.us-east-1.amazonaws.com:9092,")
    error_message = "step 2 must rebalance onto brokers 1-4 through the plaintext listener"
  }

  assert {
    condition     = !strcontains(output.fix_step2_rebalance, "--command-config")
    error_message = "the plaintext listener needs no client properties"
  }

  assert {
    condition     = strcontains(output.sam_deploy_command, "ClientInstanceId=i-0123456789abcdef0") && strcontains(output.sam_deploy_command, "KafkaBinDir=/opt/kafka/bin")
    error_message = "sam_deploy_command must carry the client instance and the Kafka bin directory"
  }

  assert {
    condition     = length(aws_s3_object.stress_producer) == 0
    error_message = "nothing is uploaded when no stress producer path is given"
  }
}

run "tls_only_uses_the_tls_listener_everywhere" {
  command = apply

  variables {
    client_broker_encryption = "TLS"
    kafka_version            = "4.1.x.kraft"
    broker_count             = 4
    client_instance_type     = "c7g.4xlarge"
  }

  override_data {
    target = data.aws_ec2_instance_type.client
    values = {
      supported_architectures = ["arm64"]
    }
  }

  assert {
    condition     = toset(keys(aws_vpc_security_group_ingress_rule.msk_from_client)) == toset(["9094"])
    error_message = "a TLS-only cluster must not open the plaintext port"
  }

  assert {
    condition     = strcontains(output.fix_step2_rebalance, ":9094") && strcontains(output.fix_step2_rebalance, "--command-config /opt/kafka/config/client-tls.properties")
    error_message = "the TLS listener needs the client TLS properties"
  }

  assert {
    condition     = strcontains(output.fix_step1_add_brokers, "--target-number-of-broker-nodes 6") && strcontains(output.fix_step2_rebalance, "--broker-list 1,2,3,4,5,6 ")
    error_message = "4 brokers grow to 6"
  }

  assert {
    condition     = strcontains(aws_instance.client.user_data, "KAFKA_VERSION='4.1.0'") && strcontains(aws_instance.client.user_data, "query=BootstrapBrokerStringTls")
    error_message = "MSK 4.1.x gets the 4.1 CLI and the TLS bootstrap helper"
  }

  assert {
    condition     = strcontains(output.stress_producer_s3_uri, "/stress-producer/arm64/stress-producer")
    error_message = "a Graviton client needs the arm64 stress producer"
  }

  assert {
    condition     = strcontains(output.sam_deploy_command, "CommandConfigPath=/opt/kafka/config/client-tls.properties")
    error_message = "sam deploy must pass the TLS client properties"
  }
}

run "odd_broker_count_is_rejected" {
  command = plan

  variables {
    broker_count = 3
  }

  expect_failures = [var.broker_count]
}

run "unknown_kafka_version_is_rejected" {
  command = plan

  variables {
    kafka_version = "2.8.1"
  }

  expect_failures = [var.kafka_version]
}
