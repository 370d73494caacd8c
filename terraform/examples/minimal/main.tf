# The smallest stack: this repository's root configuration with its three required inputs and
# every default (standard queues with SSE-SQS, batch 100, window 5 s, maximum concurrency 5,
# alarms and the dashboard, no token).

provider "aws" {
  region = var.region
}

module "sqs_batch_consumer" {
  source = "../.."

  name           = var.name
  package_path   = var.package_path
  entity_api_url = var.entity_api_url
}
