output "queue_url" {
  description = "URL of the source queue (producers send entity changes here; they need kms:GenerateDataKey on the key)."
  value       = module.queue.queue_url
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.queue.dlq_url
}

output "function_name" {
  description = "Name of the consumer function."
  value       = module.consumer.function_name
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = module.consumer.event_source_mapping_uuid
}

output "kms_key_arn" {
  description = "ARN of the key that encrypts the queues, the log group and the environment."
  value       = aws_kms_key.stack.arn
}

output "alarm_names" {
  description = "CloudWatch alarm names by purpose."
  value       = module.alarms.alarm_names
}

output "alarm_topic_arn" {
  description = "ARN of the encrypted alarm topic (subscribe to it)."
  value       = module.alarms.sns_topic_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.alarms.dashboard_name
}

output "governor_function_name" {
  description = "Name of the concurrency governor function."
  value       = module.governor.function_name
}
