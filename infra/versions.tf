# Terraform and provider constraints. The AWS provider is held below 6.0 (its MSK and S3 schemas
# changed there); 5.100, the version of the offline mirror the tests validate against, satisfies it.
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.60.0, < 6.0.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = merge(var.tags, {
      Project   = "msk-autoheal"
      Component = "demo-environment"
      ManagedBy = "terraform"
    })
  }
}
