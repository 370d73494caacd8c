output "function_name" {
  description = "Name of the governor function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the governor function."
  value       = aws_lambda_function.this.arn
}

output "role_arn" {
  description = "ARN of the governor's execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "Name of the governor's log group (one JSON decision line per run)."
  value       = aws_cloudwatch_log_group.this.name
}

output "schedule_rule_name" {
  description = "Name of the EventBridge rule that runs the governor every minute."
  value       = aws_cloudwatch_event_rule.this.name
}

output "environment_variables" {
  description = "The governor's environment (its settings; no secrets)."
  value       = aws_lambda_function.this.environment[0].variables
}

output "governed_event_source_mapping_arn" {
  description = "The one event source mapping the role may read and update."
  value       = one([for s in local.policy_statements : one(s.Resource) if s.Sid == "SetMappingConcurrency"])
}

output "governed_function_arn" {
  description = "The function the mapping must feed for the role to update it (the condition lambda:FunctionArn)."
  value       = local.consumer_function_arn
}
