output "queue_url" {
  description = "URL of the source queue (producers send entity changes here)."
  value       = module.sqs_batch_consumer.queue_url
}

output "dlq_url" {
  description = "URL of the dead-letter queue."
  value       = module.sqs_batch_consumer.dlq_url
}

output "function_name" {
  description = "Name of the consumer function."
  value       = module.sqs_batch_consumer.function_name
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard."
  value       = module.sqs_batch_consumer.dashboard_name
}
