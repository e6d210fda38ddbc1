# Inputs of the demo environment. Defaults reproduce the original demo: an undersized 2-broker
# kafka.t3.small cluster and a big c5.9xlarge client that can overload it.

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Name prefix for every resource; also the MSK cluster name."
  type        = string
  default     = "msk-autoheal-demo"

  validation {
    # MSK cluster names: letters, digits and hyphens, starting with a letter, at most 64 characters.
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,40}$", var.name))
    error_message = "name must start with a letter and hold only letters, digits and hyphens (at most 41 characters)."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "vpc_cidr" {
  description = "CIDR of the demo VPC; split into two public (client) and two private (brokers) subnets."
  type        = string
  default     = "10.42.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 22
    error_message = "vpc_cidr must be an IPv4 CIDR of /22 or larger."
  }
}

variable "kafka_version" {
  description = "MSK Kafka version (MSK spelling, e.g. 3.9.x or 4.1.x.kraft). The client's Kafka CLI follows it."
  type        = string
  default     = "3.9.x"

  validation {
    condition     = contains(["3.6.0", "3.7.x", "3.7.x.kraft", "3.8.x", "3.8.x.kraft", "3.9.x", "3.9.x.kraft", "4.0.x.kraft", "4.1.x.kraft"], var.kafka_version)
    error_message = "kafka_version must be one of the MSK versions this environment knows a matching Kafka CLI for: 3.6.0, 3.7.x[.kraft], 3.8.x[.kraft], 3.9.x[.kraft], 4.0.x.kraft, 4.1.x.kraft."
  }
}

variable "kafka_cli_version" {
  description = "Apache Kafka release installed on the client into /opt/kafka. Empty: the release matching kafka_version."
  type        = string
  default     = ""

  validation {
    condition     = var.kafka_cli_version == "" || can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kafka_cli_version))
    error_message = "kafka_cli_version must be empty or an Apache Kafka release number such as 3.9.1."
  }
}

variable "broker_count" {
  description = "Number of broker nodes; a multiple of the 2 AZs. The demo starts undersized at 2."
  type        = number
  default     = 2

  validation {
    condition     = var.broker_count >= 2 && var.broker_count <= 30 && var.broker_count % 2 == 0
    error_message = "broker_count must be an even number between 2 and 30 (MSK spreads brokers evenly over the 2 AZs)."
  }
}

variable "broker_instance_type" {
  description = "MSK broker instance type."
  type        = string
  default     = "kafka.t3.small"

  validation {
    condition     = can(regex("^kafka\\.[a-z0-9]+\\.[a-z0-9]+$", var.broker_instance_type))
    error_message = "broker_instance_type must be an MSK instance type such as kafka.t3.small or kafka.m7g.large."
  }
}

variable "broker_volume_size" {
  description = "EBS storage per broker, GiB."
  type        = number
  default     = 100

  validation {
    condition     = var.broker_volume_size >= 1 && var.broker_volume_size <= 16384
    error_message = "broker_volume_size must be between 1 and 16384 GiB."
  }
}

variable "client_broker_encryption" {
  description = "Client-to-broker encryption: TLS_PLAINTEXT (both listeners; the demo's producer may use either) or TLS."
  type        = string
  default     = "TLS_PLAINTEXT"

  validation {
    condition     = contains(["TLS", "TLS_PLAINTEXT"], var.client_broker_encryption)
    error_message = "client_broker_encryption must be TLS or TLS_PLAINTEXT."
  }
}

variable "client_instance_type" {
  description = "EC2 instance type of the Kafka client that runs the stress producer and the Kafka CLI."
  type        = string
  default     = "c5.9xlarge"
}

variable "client_volume_size" {
  description = "Root volume of the client, GiB."
  type        = number
  default     = 30
}

variable "stress_producer_path" {
  description = "Local path of a stress-producer binary built for the client's architecture and glibc (Amazon Linux 2023: glibc 2.34). Empty: not uploaded (scripts/run_demo.sh can upload it later)."
  type        = string
  default     = ""

  validation {
    # HCL does not short-circuit ||: fileexists("") would fail on the directory "."
    condition     = var.stress_producer_path == "" ? true : fileexists(var.stress_producer_path)
    error_message = "stress_producer_path must be empty or name an existing file."
  }
}

variable "log_retention_days" {
  description = "Retention of the broker and VPC flow log groups, days."
  type        = number
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a retention CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}
