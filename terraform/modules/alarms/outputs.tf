locals {
  all_alarms = merge(aws_cloudwatch_metric_alarm.this, { throttled_share = aws_cloudwatch_metric_alarm.throttled_share })
}

output "alarm_arns" {
  description = "ARNs of the alarms by purpose: dlq_not_empty, oldest_message_age, function_errors, function_throttles, batch_failed, expired, dlq_records, throttled_share, and governor_errors when the governor runs."
  value       = { for key, alarm in local.all_alarms : key => alarm.arn }
}

output "alarm_names" {
  description = "Names of the alarms by purpose: dlq_not_empty, oldest_message_age, function_errors, function_throttles, batch_failed, expired, dlq_records, throttled_share, and governor_errors when the governor runs."
  value       = { for key, alarm in local.all_alarms : key => alarm.alarm_name }
}

output "sns_topic_arn" {
  description = "ARN of the created SNS topic, or null when create_sns_topic is false."
  value       = var.create_sns_topic ? aws_sns_topic.this[0].arn : null
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null when create_dashboard is false."
  value       = var.create_dashboard ? aws_cloudwatch_dashboard.this[0].dashboard_name : null
}

output "alarm_metrics" {
  description = "What each metric alarm watches, by purpose: `<namespace> <metric name>` (the throttled share: its expression)."
  value = merge(
    { for key, alarm in aws_cloudwatch_metric_alarm.this : key => "${alarm.namespace} ${alarm.metric_name}" },
    { throttled_share = join(" ", [for q in aws_cloudwatch_metric_alarm.throttled_share.metric_query : q.metric[0].namespace if length(q.metric) > 0 && q.id == "throttled"]) },
  )
}
