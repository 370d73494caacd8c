# Every option of the stack, composing the modules directly (as the repository's root does):
# a customer-managed key for the queues, logs and environment; the API token from an SSM
# SecureString encrypted with its own key; an encrypted alarm topic; the dashboard; sizing for a
# rate-limited API with the concurrency governor; a shorter retry horizon than the SLA-derived
# default.

provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"

  # AWS's recommendation for an SQS event source: 6 x the function timeout plus the window.
  visibility_timeout_seconds = 6 * var.function_timeout + var.maximum_batching_window_in_seconds
}

# ---- Encryption key for the queues, the log group and the function's environment ------------

resource "aws_kms_key" "stack" {
  description             = "Encrypts the ${var.name} queues, log group and function environment."
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKey"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        # The log group's encryption: CloudWatch Logs of this region, for this account's logs.
        Sid       = "CloudWatchLogsEncrypt"
        Effect    = "Allow"
        Principal = { Service = "logs.${var.region}.amazonaws.com" }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = {
          ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:${data.aws_partition.current.partition}:logs:${var.region}:${data.aws_caller_identity.current.account_id}:log-group:*" }
        }
      },
    ]
  })

  tags = var.tags
}

# ---- The stack -------------------------------------------------------------------------------

module "queue" {
  source = "../../modules/queue"

  name                          = var.name
  visibility_timeout_seconds    = local.visibility_timeout_seconds
  message_retention_seconds     = var.message_retention_seconds
  dlq_message_retention_seconds = 1209600
  max_receive_count             = 5
  kms_key_arn                   = aws_kms_key.stack.arn

  tags = var.tags
}

module "consumer" {
  source = "../../modules/consumer"

  function_name         = var.name
  package_path          = var.package_path
  architecture          = "arm64"
  runtime               = "python3.12"
  memory_size           = 1024
  function_timeout      = var.function_timeout
  log_retention_in_days = 90
  function_kms_key_arn  = aws_kms_key.stack.arn

  entity_api_url                  = var.entity_api_url
  entity_api_token_parameter_name = var.entity_api_token_parameter_name
  entity_api_token_kms_key_arn    = var.entity_api_token_kms_key_arn
  max_operations_per_request      = 100
  metrics_namespace               = var.metrics_namespace
  retry_horizon_seconds           = 1800
  retry_backoff_base_seconds      = 2
  retry_backoff_max_seconds       = 600

  queue_arn                        = module.queue.queue_arn
  queue_visibility_timeout_seconds = module.queue.visibility_timeout_seconds
  dlq_arn                          = module.queue.dlq_arn
  dlq_url                          = module.queue.dlq_url
  queue_kms_key_arn                = aws_kms_key.stack.arn

  # API limit R = 200 requests/s, latency 0.25 s, 4 requests in flight per invocation:
  # floor(0.8 x 200 x 0.25 / 4) = 10 (terraform/README.md, "Choosing batch size...").
  batch_size                         = 400
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds
  maximum_concurrency                = 10
  # The governor below owns MaximumConcurrency: the mapping starts at 10, Terraform then
  # ignores its scaling_config.
  maximum_concurrency_owned_by_governor = true
  filter_patterns                       = ["{\"body\":{\"entity_type\":[\"order\",\"customer\"]}}"]

  tags = var.tags
}

module "alarms" {
  source = "../../modules/alarms"

  name                    = var.name
  queue_name              = module.queue.queue_name
  dlq_name                = module.queue.dlq_name
  function_name           = module.consumer.function_name
  max_message_age_seconds = 900

  metrics_namespace          = var.metrics_namespace
  event_source_mapping_uuid  = module.consumer.event_source_mapping_uuid
  throttled_share_threshold  = 0.2
  max_concurrency_annotation = 40
  governor_function_name     = module.governor.function_name
  create_dashboard           = true
  create_sns_topic           = true

  tags = var.tags
}

# ---- Concurrency governor --------------------------------------------------------------------

module "governor" {
  source = "../../modules/governor"

  function_name         = "${var.name}-governor"
  package_path          = var.package_path
  architecture          = "arm64"
  runtime               = "python3.12"
  log_retention_in_days = 90
  kms_key_arn           = aws_kms_key.stack.arn

  event_source_mapping_uuid = module.consumer.event_source_mapping_uuid
  event_source_mapping_arn  = module.consumer.event_source_mapping_arn
  consumer_function_name    = module.consumer.function_name
  queue_url                 = module.queue.queue_url
  queue_arn                 = module.queue.queue_arn
  metrics_namespace         = var.metrics_namespace

  # Between 2 and 40 concurrent invocations, aiming at under 5% throttled requests.
  minimum_concurrency   = 2
  maximum_concurrency   = 40
  target_throttle_ratio = 0.05

  tags = var.tags
}
