output "alarm_arns" {
  description = "ARNs of the alarms by purpose: dlq_not_empty, oldest_message_age, function_errors, function_throttles."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.arn }
}

output "alarm_names" {
  description = "Names of the alarms by purpose: dlq_not_empty, oldest_message_age, function_errors, function_throttles."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.this : key => alarm.alarm_name }
}

output "sns_topic_arn" {
  description = "ARN of the created SNS topic, or null when create_sns_topic is false."
  value       = var.create_sns_topic ? aws_sns_topic.this[0].arn : null
}
