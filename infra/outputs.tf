# What the original demo printed after apply, plus what `sam deploy` needs: the cluster, the client,
# and the two-step fix (add brokers, then rebalance) ready to paste.

locals {
  bootstrap      = local.plaintext ? aws_msk_cluster.this.bootstrap_brokers : aws_msk_cluster.this.bootstrap_brokers_tls
  command_config = local.plaintext ? "" : " --command-config ${local.tls_properties}"
  # One broker per AZ per remediation, as msk-autoheal's default step (BROKER_STEP_PER_AZ=1).
  target_brokers = var.broker_count + length(local.azs)
  broker_list    = join(",", [for id in range(1, local.target_brokers + 1) : tostring(id)])
}

output "bootstrap_brokers" {
  description = "Bootstrap brokers of the listener the demo uses (plaintext when enabled, else TLS)."
  value       = local.bootstrap
}

output "bootstrap_brokers_tls" {
  description = "Bootstrap brokers of the TLS listener."
  value       = aws_msk_cluster.this.bootstrap_brokers_tls
}

output "cluster_arn" {
  description = "ARN of the MSK cluster (template.yaml parameter ClusterArn)."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster."
  value       = aws_msk_cluster.this.cluster_name
}

output "current_version" {
  description = "Cluster version at apply time (changes after every update; the fix below reads it live)."
  value       = aws_msk_cluster.this.current_version
}

output "client_instance_id" {
  description = "EC2 Kafka client (template.yaml parameter ClientInstanceId)."
  value       = aws_instance.client.id
}

output "client_role_name" {
  description = "IAM role of the client (template.yaml parameter ClientInstanceRoleName: the stack grants it the plan bucket)."
  value       = aws_iam_role.client.name
}

output "kafka_bin_dir" {
  description = "Kafka CLI directory on the client (template.yaml parameter KafkaBinDir)."
  value       = local.kafka_bin_dir
}

output "artifacts_bucket" {
  description = "Bucket the client fetches the stress producer from."
  value       = aws_s3_bucket.artifacts.id
}

output "stress_producer_s3_uri" {
  description = "Where the client expects the stress producer binary for its architecture."
  value       = "s3://${aws_s3_bucket.artifacts.id}/${local.stress_producer_key}"
}

output "ssm_session_command" {
  description = "Open a shell on the client (no SSH: Session Manager)."
  value       = "aws ssm start-session --region ${var.region} --target ${aws_instance.client.id}"
}

output "sam_deploy_command" {
  description = "Deploy msk-autoheal against this environment."
  value = join(" ", [
    "sam deploy --region ${var.region} --parameter-overrides",
    "ClusterArn=${aws_msk_cluster.this.arn}",
    "ClientInstanceId=${aws_instance.client.id}",
    "ClientInstanceRoleName=${aws_iam_role.client.name}",
    "KafkaBinDir=${local.kafka_bin_dir}",
    local.plaintext ? "" : "CommandConfigPath=${local.tls_properties}",
  ])
}

output "fix_step1_add_brokers" {
  description = "Step 1 of the fix: add one broker per AZ (AWS CLI; the current version is read live)."
  value       = <<-EOT
    aws kafka update-broker-count --region ${var.region} \
      --cluster-arn ${aws_msk_cluster.this.arn} \
      --current-version "$(aws kafka describe-cluster-v2 --region ${var.region} --cluster-arn ${aws_msk_cluster.this.arn} --query ClusterInfo.CurrentVersion --output text)" \
      --target-number-of-broker-nodes ${local.target_brokers}
    # then keep Terraform in step: terraform apply -var broker_count=${local.target_brokers}
  EOT
}

output "fix_step2_rebalance" {
  description = "Step 2 of the fix, on the client (ssm_session_command): spread the partitions over all brokers."
  value       = <<-EOT
    echo '{"version":1,"topics":[{"topic":"stress-test"}]}' > /tmp/topics.json
    ${local.kafka_bin_dir}/kafka-reassign-partitions.sh --bootstrap-server ${local.bootstrap}${local.command_config} \
      --topics-to-move-json-file /tmp/topics.json --broker-list ${local.broker_list} --generate \
      | sed -n '/Proposed partition reassignment configuration/{n;p}' > /tmp/reassignment.json
    ${local.kafka_bin_dir}/kafka-reassign-partitions.sh --bootstrap-server ${local.bootstrap}${local.command_config} \
      --reassignment-json-file /tmp/reassignment.json --execute --throttle 50000000
    ${local.kafka_bin_dir}/kafka-reassign-partitions.sh --bootstrap-server ${local.bootstrap}${local.command_config} \
      --reassignment-json-file /tmp/reassignment.json --verify
  EOT
}
