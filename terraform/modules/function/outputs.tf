output "lambda" {
  description = "The function (the whole aws_lambda_function resource)."
  value       = aws_lambda_function.this
}

output "role" {
  description = "The execution role (the whole aws_iam_role resource)."
  value       = aws_iam_role.this
}

output "role_policy" {
  description = "The role's inline policy (the whole aws_iam_role_policy resource)."
  value       = aws_iam_role_policy.this
}

output "log_group" {
  description = "The function's log group (the whole aws_cloudwatch_log_group resource)."
  value       = aws_cloudwatch_log_group.this
}
