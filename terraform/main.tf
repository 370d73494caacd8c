# The sqs-batch-consumer stack: queue and DLQ, the consumer function with its event source
# mapping, the alarms and the dashboard. Region and credentials come from the usual AWS environment.

locals {
  # AWS's recommendation for an SQS event source: 6 x the function timeout plus the window.
  visibility_timeout_seconds = coalesce(
    var.visibility_timeout_seconds,
    6 * var.function_timeout + var.maximum_batching_window_in_seconds,
  )

  # The handler's metrics namespace, set explicitly so that the alarms and the dashboard read
  # exactly where the handler writes (null: the handler's DEFAULT_METRICS_NAMESPACE).
  metrics_namespace = coalesce(var.metrics_namespace, "SqsBatchConsumer")

  # With the governor, the mapping starts at maximum_concurrency held within its bounds.
  governor                    = var.adaptive_concurrency
  initial_maximum_concurrency = local.governor.enabled ? max(local.governor.minimum, min(local.governor.maximum, var.maximum_concurrency)) : var.maximum_concurrency

  # A known API limit, shared by the most invocations that may run at once.
  most_concurrent       = local.governor.enabled ? local.governor.maximum : var.maximum_concurrency
  entity_api_rate_share = var.entity_api_rate_limit == null ? null : var.entity_api_rate_limit / local.most_concurrent
}

module "queue" {
  source = "./modules/queue"

  name                          = var.name
  visibility_timeout_seconds    = local.visibility_timeout_seconds
  message_retention_seconds     = var.message_retention_seconds
  dlq_message_retention_seconds = var.dlq_message_retention_seconds
  max_receive_count             = var.max_receive_count
  kms_key_arn                   = var.kms_key_arn
  fifo_queue                    = var.fifo_queue
  fifo_high_throughput          = var.fifo_high_throughput

  tags = var.tags
}

module "consumer" {
  source = "./modules/consumer"

  function_name                  = var.name
  package_path                   = var.package_path
  s3_bucket                      = var.s3_bucket
  s3_key                         = var.s3_key
  s3_object_version              = var.s3_object_version
  runtime                        = var.runtime
  architecture                   = var.architecture
  memory_size                    = var.memory_size
  function_timeout               = var.function_timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  tracing_mode                   = var.tracing_mode
  application_log_level          = var.application_log_level
  system_log_level               = var.system_log_level
  log_retention_in_days          = var.log_retention_in_days
  function_kms_key_arn           = var.kms_key_arn

  entity_api_url                  = var.entity_api_url
  entity_api_token_parameter_name = var.entity_api_token_parameter_name
  entity_api_token_kms_key_arn    = var.entity_api_token_kms_key_arn
  entity_api_timeout_seconds      = var.entity_api_timeout_seconds
  entity_api_rate_share           = local.entity_api_rate_share
  max_operations_per_request      = var.max_operations_per_request
  max_request_bytes               = var.max_request_bytes
  metrics_namespace               = local.metrics_namespace

  retry_horizon_seconds      = coalesce(var.retry_horizon_seconds, var.max_message_age_seconds)
  max_receive_count          = var.max_receive_count
  retry_backoff_base_seconds = var.retry_backoff_base_seconds
  retry_backoff_max_seconds  = var.retry_backoff_max_seconds

  queue_arn                        = module.queue.queue_arn
  queue_visibility_timeout_seconds = local.visibility_timeout_seconds
  dlq_arn                          = module.queue.dlq_arn
  dlq_url                          = module.queue.dlq_url
  queue_kms_key_arn                = var.kms_key_arn

  batch_size                            = var.batch_size
  maximum_batching_window_in_seconds    = var.maximum_batching_window_in_seconds
  maximum_concurrency                   = local.initial_maximum_concurrency
  maximum_concurrency_owned_by_governor = local.governor.enabled
  filter_patterns                       = var.filter_patterns
  enable_esm_metrics                    = var.enable_esm_metrics
  event_source_mapping_enabled          = var.event_source_mapping_enabled

  tags = var.tags
}

module "alarms" {
  source = "./modules/alarms"

  name                    = var.name
  queue_name              = module.queue.queue_name
  dlq_name                = module.queue.dlq_name
  function_name           = module.consumer.function_name
  max_message_age_seconds = var.max_message_age_seconds

  metrics_namespace          = local.metrics_namespace
  event_source_mapping_uuid  = var.enable_esm_metrics ? module.consumer.event_source_mapping_uuid : null
  throttled_share_threshold  = var.throttled_share_alarm_threshold
  create_dashboard           = var.create_dashboard
  max_concurrency_annotation = local.governor.enabled ? local.governor.maximum : var.maximum_concurrency
  governor_function_name     = local.governor.enabled ? module.governor[0].function_name : null

  create_sns_topic = var.create_alarm_topic
  sns_kms_key_arn  = var.alarm_topic_kms_key_arn
  alarm_actions    = var.alarm_actions

  tags = var.tags
}

# The concurrency governor: nothing of it exists unless adaptive_concurrency.enabled.
module "governor" {
  source = "./modules/governor"
  count  = local.governor.enabled ? 1 : 0

  function_name     = "${var.name}-governor"
  package_path      = var.package_path
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version
  runtime           = var.runtime
  architecture      = var.architecture

  log_retention_in_days = var.log_retention_in_days
  kms_key_arn           = var.kms_key_arn

  event_source_mapping_uuid = module.consumer.event_source_mapping_uuid
  event_source_mapping_arn  = module.consumer.event_source_mapping_arn
  consumer_function_name    = module.consumer.function_name
  queue_url                 = module.queue.queue_url
  queue_arn                 = module.queue.queue_arn
  metrics_namespace         = local.metrics_namespace

  minimum_concurrency   = local.governor.minimum
  maximum_concurrency   = local.governor.maximum
  target_throttle_ratio = local.governor.target_throttle_ratio
  period_seconds        = local.governor.period_seconds

  tags = var.tags
}
