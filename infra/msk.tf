# The undersized MSK cluster the demo overloads: 2 brokers over 2 AZs, per-broker enhanced monitoring
# so AWS/Kafka UnderReplicatedPartitions exists for every broker (the alarm the stack watches).

locals {
  plaintext = var.client_broker_encryption == "TLS_PLAINTEXT"

  # Listener ports MSK opens for unauthenticated clients: 9092 plaintext, 9094 TLS.
  kafka_ports = local.plaintext ? [9092, 9094] : [9094]
}

resource "aws_security_group" "msk" {
  name_prefix = "${var.name}-brokers-"
  description = "MSK brokers of ${var.name}: Kafka listeners reachable from the demo client only"
  vpc_id      = aws_vpc.this.id

  # No egress rule: brokers only answer connections (security groups are stateful).
  tags = { Name = "${var.name}-brokers" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_client" {
  for_each = toset([for p in local.kafka_ports : tostring(p)])

  security_group_id            = aws_security_group.msk.id
  description                  = "Kafka ${each.key} from the demo client"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.client.id
}

resource "aws_msk_configuration" "this" {
  # The name carries the version: a configuration is tied to the Kafka versions it lists.
  name           = "${var.name}-${replace(var.kafka_version, ".", "-")}"
  kafka_versions = [var.kafka_version]
  description    = "msk-autoheal demo: RF 2 over 2 AZs, acks=all producers keep writing while a follower lags"

  # min.insync.replicas=1: with RF 2 a lagging follower leaves the ISR and the partition shows as
  # under-replicated instead of producers failing with NotEnoughReplicas, which is the symptom the
  # demo reproduces. No automatic topic creation: the demo creates its topic with 12 partitions.
  server_properties = <<-PROPERTIES
    auto.create.topics.enable=false
    default.replication.factor=2
    min.insync.replicas=1
    num.partitions=12
    unclean.leader.election.enable=false
  PROPERTIES

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "broker_logs" {
  #checkov:skip=CKV_AWS_158:Demo broker logs hold no payloads; encrypted at rest by CloudWatch Logs
  #checkov:skip=CKV_AWS_338:Demo environment: retention is a variable (log_retention_days)
  name              = "/msk-autoheal/${var.name}/broker-logs"
  retention_in_days = var.log_retention_days
}

resource "aws_msk_cluster" "this" {
  #checkov:skip=CKV_AWS_81:Encrypted at rest and between brokers; client plaintext is opt-in (client_broker_encryption) inside a VPC closed to all but the client
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = var.broker_count
  # PER_BROKER publishes UnderReplicatedPartitions per broker (DEFAULT has no per-broker metric).
  enhanced_monitoring = "PER_BROKER"

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = aws_subnet.private[*].id
    security_groups = [aws_security_group.msk.id]

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_size
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  encryption_info {
    encryption_in_transit {
      client_broker = var.client_broker_encryption
      in_cluster    = true
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker_logs.name
      }
    }
  }

  # number_of_broker_nodes is deliberately NOT ignored: after msk-autoheal adds brokers, set
  # broker_count to the new size (the fix msk-autoheal renders says so) or the next apply will try
  # to shrink the cluster back.
  tags = { Name = var.name }
}
