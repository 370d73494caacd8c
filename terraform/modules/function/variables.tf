# Inputs of the shared function. The consumer and governor modules validate each of them under
# their own variable names (an error then names the input a user gave); none is validated twice.

variable "function_name" {
  description = "Name of the function; its log group is `/aws/lambda/<function_name>`."
  type        = string
}

variable "description" {
  description = "Description of the function."
  type        = string
}

variable "handler" {
  description = "Handler of the function in the zip (consumer.handler.lambda_handler, consumer.governor.lambda_handler)."
  type        = string
}

variable "role_name" {
  description = "Name of the execution role."
  type        = string
}

variable "role_description" {
  description = "Description of the execution role."
  type        = string
}

variable "policy_name" {
  description = "Name of the role's inline policy."
  type        = string
}

variable "policy" {
  description = "The role's inline policy document (JSON), written by the caller."
  type        = string
}

variable "runtime" {
  description = "Lambda runtime; the zip must be built for it."
  type        = string
}

variable "architecture" {
  description = "Instruction set of the function (arm64 or x86_64); the zip must be built for it."
  type        = string
}

variable "memory_size" {
  description = "Memory of the function in MB."
  type        = number
}

variable "timeout" {
  description = "Timeout of the function in seconds."
  type        = number
}

variable "package_path" {
  description = "Local path of the zip; null when the code is in S3 (exactly one source)."
  type        = string
  default     = null
}

variable "s3_bucket" {
  description = "Bucket of the zip; null with `package_path`."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "Object key of the zip in `s3_bucket`."
  type        = string
  default     = null
}

variable "s3_object_version" {
  description = "Version of the zip object in a versioned bucket."
  type        = string
  default     = null
}

variable "kms_key_arn" {
  description = "Customer-managed key of the function's environment and of its log group; null: service-managed keys."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment variables of the function."
  type        = map(string)
}

variable "application_log_level" {
  description = "Lowest application log level sent to CloudWatch (JSON logs)."
  type        = string
  default     = "INFO"
}

variable "system_log_level" {
  description = "Lowest Lambda platform log level sent to CloudWatch."
  type        = string
  default     = "INFO"
}

variable "tracing_mode" {
  description = "X-Ray tracing mode (PassThrough or Active); null leaves the tracing block out (Lambda's default, PassThrough)."
  type        = string
  default     = null
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the function; null reserves none."
  type        = number
  default     = null
}

variable "log_retention_in_days" {
  description = "Retention of the log group in days."
  type        = number
}

variable "tags" {
  description = "Tags on every resource."
  type        = map(string)
  default     = {}
}
