output "queue_url" {
  description = "URL of the source queue (producers send entity changes here)."
  value       = module.queue.queue_url
}

output "queue_arn" {
  description = "ARN of the source queue."
  value       = module.queue.queue_arn
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.queue.dlq_url
}

output "dlq_arn" {
  description = "ARN of the dead-letter queue."
  value       = module.queue.dlq_arn
}

output "function_name" {
  description = "Name of the consumer Lambda function."
  value       = module.consumer.function_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping (to pause it: aws lambda update-event-source-mapping --uuid ... --no-enabled)."
  value       = module.consumer.event_source_mapping_uuid
}

output "function_arn" {
  description = "ARN of the consumer Lambda function."
  value       = module.consumer.function_arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = module.consumer.role_arn
}

output "log_group_name" {
  description = "CloudWatch log group of the function."
  value       = module.consumer.log_group_name
}

output "visibility_timeout_seconds" {
  description = "Visibility timeout of the source queue (derived or given)."
  value       = module.queue.visibility_timeout_seconds
}

output "alarm_names" {
  description = "CloudWatch alarm names by purpose: dlq_not_empty, oldest_message_age, function_errors, function_throttles, batch_failed, expired, dlq_records, throttled_share (and governor_errors with adaptive_concurrency)."
  value       = module.alarms.alarm_names
}

output "alarm_topic_arn" {
  description = "ARN of the alarm SNS topic, or null when create_alarm_topic is false."
  value       = module.alarms.sns_topic_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard is false."
  value       = module.alarms.dashboard_name
}

output "governor_function_name" {
  description = "Name of the concurrency governor function, or null when adaptive_concurrency is not enabled."
  value       = one(module.governor[*].function_name)
}

output "maximum_concurrency_owner" {
  description = "Who sets the mapping's MaximumConcurrency: `terraform` (maximum_concurrency) or `governor` (adaptive_concurrency)."
  value       = module.consumer.maximum_concurrency_owner
}
