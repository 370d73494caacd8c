output "function_name" {
  description = "Name of the governor function."
  value       = module.function.lambda.function_name
}

output "function_arn" {
  description = "ARN of the governor function."
  value       = module.function.lambda.arn
}

output "role_arn" {
  description = "ARN of the governor's execution role."
  value       = module.function.role.arn
}

output "log_group_name" {
  description = "Name of the governor's log group (one JSON decision line per run)."
  value       = module.function.log_group.name
}

output "schedule_rule_name" {
  description = "Name of the EventBridge rule that runs the governor every minute."
  value       = aws_cloudwatch_event_rule.this.name
}

output "environment_variables" {
  description = "The governor's environment (its settings; no secrets)."
  value       = module.function.lambda.environment[0].variables
}

output "governed_event_source_mapping_arn" {
  description = "The one event source mapping the role may read and update."
  value       = one([for s in local.policy_statements : one(s.Resource) if s.Sid == "SetMappingConcurrency"])
}

output "governed_function_arn" {
  description = "The function the mapping must feed for the role to update it (the condition lambda:FunctionArn)."
  value       = local.consumer_function_arn
}

output "state_parameter_name" {
  description = "Name of the SSM parameter where the governor keeps its state between runs."
  value       = aws_ssm_parameter.state.name
}
