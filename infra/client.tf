# The EC2 Kafka client: runs the stress producer and the Kafka CLI that msk-autoheal drives over SSM
# (AWS-RunShellScript). Reached through SSM only: its security group admits nothing inbound.

locals {
  # Apache Kafka release installed on the client for each MSK version: the CLI's minor version must
  # match the cluster's (kafka-reassign-partitions output and options differ between releases).
  kafka_cli_for_msk = {
    "3.6.0"       = "3.6.2"
    "3.7.x"       = "3.7.2"
    "3.7.x.kraft" = "3.7.2"
    "3.8.x"       = "3.8.1"
    "3.8.x.kraft" = "3.8.1"
    "3.9.x"       = "3.9.1"
    "3.9.x.kraft" = "3.9.1"
    "4.0.x.kraft" = "4.0.0"
    "4.1.x.kraft" = "4.1.0"
  }
  kafka_cli_version = var.kafka_cli_version != "" ? var.kafka_cli_version : local.kafka_cli_for_msk[var.kafka_version]
  kafka_home        = "/opt/kafka"
  kafka_bin_dir     = "${local.kafka_home}/bin"
  # Only written on the client; the Kafka tools take it with --command-config for the TLS listener.
  tls_properties = "${local.kafka_home}/config/client-tls.properties"

  # The stress producer must match the client's CPU architecture.
  client_arch          = contains(data.aws_ec2_instance_type.client.supported_architectures, "x86_64") ? "x86_64" : "arm64"
  stress_producer_key  = "stress-producer/${local.client_arch}/stress-producer"
  upload_stress_binary = var.stress_producer_path != ""
}

data "aws_ec2_instance_type" "client" {
  instance_type = var.client_instance_type
}

data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${local.client_arch}"
}

resource "aws_security_group" "client" {
  name_prefix = "${var.name}-client-"
  description = "Kafka client of ${var.name}: no inbound (SSM only); HTTPS out, Kafka to the brokers"
  vpc_id      = aws_vpc.this.id

  tags = { Name = "${var.name}-client" }

  lifecycle {
    create_before_destroy = true
  }
}

# HTTPS out: SSM, S3, the Amazon Linux package repositories and the Apache archive (Kafka CLI).
resource "aws_vpc_security_group_egress_rule" "client_https" {
  security_group_id = aws_security_group.client.id
  description       = "HTTPS to AWS APIs, package repositories and the Apache archive"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_egress_rule" "client_to_msk" {
  for_each = toset([for p in local.kafka_ports : tostring(p)])

  security_group_id            = aws_security_group.client.id
  description                  = "Kafka ${each.key} to the brokers"
  ip_protocol                  = "tcp"
  from_port                    = tonumber(each.key)
  to_port                      = tonumber(each.key)
  referenced_security_group_id = aws_security_group.msk.id
}

# Artifacts for the client (the stress producer binary). The plan bucket belongs to the SAM stack,
# which grants this instance's role access to it (template.yaml parameter ClientInstanceRoleName).
resource "aws_s3_bucket" "artifacts" {
  #checkov:skip=CKV_AWS_18:Holds one demo binary; CloudTrail answers who fetched it
  #checkov:skip=CKV_AWS_144:Demo artifacts are rebuilt from source, replication buys nothing
  #checkov:skip=CKV2_AWS_62:Nothing reacts to uploads of the demo binary
  #checkov:skip=CKV_AWS_145:SSE-S3 is enough for a public-source binary and keeps the instance role free of KMS grants
  bucket_prefix = "${substr(var.name, 0, 30)}-artifacts-"
  # Demo environment: destroy removes the uploaded binary with the bucket.
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id

  rule {
    id     = "expire-old-binaries"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "artifacts_tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.artifacts.arn, "${aws_s3_bucket.artifacts.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  policy = data.aws_iam_policy_document.artifacts_tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.artifacts]
}

resource "aws_s3_object" "stress_producer" {
  count = local.upload_stress_binary ? 1 : 0

  bucket      = aws_s3_bucket.artifacts.id
  key         = local.stress_producer_key
  source      = var.stress_producer_path
  source_hash = filemd5(var.stress_producer_path)
}

data "aws_iam_policy_document" "client_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "client" {
  name_prefix        = "${substr(var.name, 0, 24)}-client-"
  description        = "Kafka client of ${var.name}: SSM managed instance, reads its artifacts, finds its cluster's brokers"
  assume_role_policy = data.aws_iam_policy_document.client_assume.json
}

# What the SSM agent needs to register and run AWS-RunShellScript (Session Manager included).
resource "aws_iam_role_policy_attachment" "client_ssm" {
  role       = aws_iam_role.client.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

data "aws_iam_policy_document" "client" {
  # scripts/run_demo.sh builds the producer on the client from a source tarball under
  # stress-producer/src/ and stores the binary back at stress_producer_s3_uri for the next boot.
  statement {
    sid       = "StressProducerArtifacts"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = ["${aws_s3_bucket.artifacts.arn}/stress-producer/*"]
  }

  statement {
    sid = "FindBrokers"
    actions = [
      "kafka:DescribeClusterV2",
      "kafka:GetBootstrapBrokers",
    ]
    resources = [aws_msk_cluster.this.arn]
  }
}

resource "aws_iam_role_policy" "client" {
  name   = "msk-autoheal-client"
  role   = aws_iam_role.client.id
  policy = data.aws_iam_policy_document.client.json
}

resource "aws_iam_instance_profile" "client" {
  name_prefix = "${substr(var.name, 0, 24)}-client-"
  role        = aws_iam_role.client.name
}

resource "aws_instance" "client" {
  #checkov:skip=CKV_AWS_88:Outbound-only public address instead of a NAT gateway; the security group admits nothing inbound (SSM only)
  ami                         = data.aws_ssm_parameter.al2023.insecure_value
  instance_type               = var.client_instance_type
  subnet_id                   = aws_subnet.public[0].id
  vpc_security_group_ids      = [aws_security_group.client.id]
  iam_instance_profile        = aws_iam_instance_profile.client.name
  associate_public_ip_address = true # outbound to SSM, S3 and the repositories without a NAT gateway
  monitoring                  = true
  ebs_optimized               = true

  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    region              = var.region
    cluster_arn         = aws_msk_cluster.this.arn
    kafka_version       = local.kafka_cli_version
    kafka_home          = local.kafka_home
    tls_properties      = local.tls_properties
    plaintext           = local.plaintext
    artifacts_bucket    = aws_s3_bucket.artifacts.id
    stress_producer_key = local.stress_producer_key
  })
  # A changed boot script (another Kafka version) means a new client, not a silent stop/start.
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required" # IMDSv2 only
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.client_volume_size
    encrypted   = true
  }

  tags = { Name = "${var.name}-client" }

  # A new Amazon Linux release must not replace a running client in the middle of a demo; the
  # binary is fetched at boot, so it must exist before the instance starts when it is uploaded here.
  lifecycle {
    ignore_changes = [ami]
  }

  depends_on = [aws_s3_object.stress_producer, aws_iam_role_policy.client]
}
