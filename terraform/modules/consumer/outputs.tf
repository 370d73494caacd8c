output "function_name" {
  description = "Name of the Lambda function."
  value       = module.function.lambda.function_name
}

output "function_arn" {
  description = "ARN of the Lambda function."
  value       = module.function.lambda.arn
}

output "role_arn" {
  description = "ARN of the function's execution role."
  value       = module.function.role.arn
}

output "role_name" {
  description = "Name of the function's execution role."
  value       = module.function.role.name
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = module.function.log_group.name
}

output "event_source_mapping_uuid" {
  description = "UUID of the SQS event source mapping."
  value       = local.mapping.uuid
}

output "event_source_mapping_arn" {
  description = "ARN of the SQS event source mapping."
  value       = local.mapping.arn
}

output "environment_variables" {
  description = "The function's environment (the handler settings of contract section 3; no secrets: the token stays in SSM)."
  value       = module.function.lambda.environment[0].variables
}

output "log_levels" {
  description = "The function's application and system log levels."
  value = {
    application = module.function.lambda.logging_config[0].application_log_level
    system      = module.function.lambda.logging_config[0].system_log_level
  }
}

output "filter_patterns" {
  description = "The event source mapping's filter patterns (empty: no filter)."
  value       = flatten([for criteria in local.mapping.filter_criteria : [for f in criteria.filter : f.pattern]])
}

output "code_source" {
  description = "Where the function's code comes from: the local zip's path, or `s3://<bucket>/<key>` (with `?versionId=<version>` when pinned)."
  value = module.function.lambda.s3_bucket == null ? module.function.lambda.filename : format(
    "s3://%s/%s%s", module.function.lambda.s3_bucket, module.function.lambda.s3_key,
    module.function.lambda.s3_object_version == null ? "" : "?versionId=${module.function.lambda.s3_object_version}",
  )
}

output "configured_maximum_concurrency" {
  description = "MaximumConcurrency as Terraform sets it on the mapping (with a governor: the starting value, which the governor then moves)."
  value       = local.mapping.scaling_config[0].maximum_concurrency
}

output "maximum_concurrency_owner" {
  description = "Who sets the mapping's MaximumConcurrency: `terraform` (the maximum_concurrency input) or `governor`."
  value       = length(aws_lambda_event_source_mapping.governed) > 0 ? "governor" : "terraform"
}
