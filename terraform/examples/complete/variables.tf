variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "eu-west-1"
}

variable "name" {
  description = "Base name of every resource of the stack."
  type        = string
  default     = "entity-sync-complete"
}

variable "package_path" {
  description = "Path of the function zip from `make package`, relative to this folder."
  type        = string
  default     = "../../../dist/function.zip"
}

variable "entity_api_url" {
  description = "Full https URL of the entity API's batch endpoint."
  type        = string
  default     = "https://entities.example.com/v1/operations:batch"
}

variable "entity_api_token_parameter_name" {
  description = "SSM SecureString parameter holding the API token (create it outside Terraform, so the token stays out of the state)."
  type        = string
  default     = "/entity-sync-complete/entity-api-token"
}

variable "entity_api_token_kms_key_arn" {
  description = "Customer-managed KMS key ARN of the token parameter; null for the AWS-managed aws/ssm key."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the handler's metrics, read by the alarms and the dashboard."
  type        = string
  default     = "EntitySync/Complete"
}

variable "function_timeout" {
  description = "Function timeout in seconds."
  type        = number
  default     = 60
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time records are gathered before an invocation, in seconds."
  type        = number
  default     = 10
}

variable "message_retention_seconds" {
  description = "Retention of the source queue in seconds (the DLQ keeps messages 14 days)."
  type        = number
  default     = 345600
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default = {
    project     = "sqs-batch-consumer"
    environment = "example-complete"
  }
}
