terraform {
  # 1.9: validation conditions that refer to other variables (the modules use them too).
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The exact version is pinned by the committed .terraform.lock.hcl.
      version = ">= 5.100, < 7.0"
    }
  }
}
