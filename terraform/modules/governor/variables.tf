# ---- Function --------------------------------------------------------------------------------

variable "function_name" {
  description = "Name of the governor function, of its role, of its EventBridge rule and (as `/aws/lambda/<function_name>`) of its log group. 1-64 characters of letters, digits, `-` and `_`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name: must be 1-64 characters of A-Z, a-z, 0-9, '-' and '_' (it also names the IAM role, at most 64 characters)."
  }
}

variable "package_path" {
  description = "Path of the consumer's zip (`make package`), which holds the governor too. Exactly one code source: this, or `s3_bucket` with `s3_key`."
  type        = string
  default     = null

  validation {
    condition     = (var.package_path == null) != (var.s3_bucket == null)
    error_message = "package_path: give exactly one code source, package_path (a local zip) or s3_bucket with s3_key (a zip in S3), not both and not neither."
  }

  validation {
    condition     = var.package_path == null ? true : fileexists(var.package_path)
    error_message = "package_path: no file at this path; build the zip with `make package` and pass its path, relative to the directory Terraform runs in."
  }
}

variable "s3_bucket" {
  description = "S3 bucket that holds the zip; with `s3_key`, instead of `package_path`."
  type        = string
  default     = null

  validation {
    condition     = var.s3_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.s3_bucket))
    error_message = "s3_bucket: must be null or an S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-')."
  }
}

variable "s3_key" {
  description = "Object key of the zip in `s3_bucket`; required with it, and only with it."
  type        = string
  default     = null

  validation {
    condition     = (var.s3_key == null) == (var.s3_bucket == null)
    error_message = "s3_key: give s3_key together with s3_bucket, and neither with package_path."
  }
}

variable "s3_object_version" {
  description = "Version of the zip object in a versioned bucket; only with `s3_bucket`."
  type        = string
  default     = null

  validation {
    condition     = var.s3_object_version == null || var.s3_bucket != null
    error_message = "s3_object_version: only with s3_bucket and s3_key."
  }
}

variable "runtime" {
  description = "Lambda runtime; the zip must be built for it."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime: must be one of python3.12, python3.13."
  }
}

variable "architecture" {
  description = "Instruction set; the zip must be built for it."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture: must be arm64 or x86_64."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the governor's log group in days; one of the values CloudWatch Logs allows."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days: must be one of CloudWatch Logs' values 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "kms_key_arn" {
  description = "ARN of a KMS key for the log group and the environment; null uses the service-managed keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)."
  }
}

# ---- What it governs -------------------------------------------------------------------------

variable "event_source_mapping_uuid" {
  description = "UUID of the consumer's SQS event source mapping (EVENT_SOURCE_MAPPING_UUID)."
  type        = string
}

variable "event_source_mapping_arn" {
  description = "ARN of that mapping: the only resource the role may read and update."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:lambda:[a-z0-9-]+:[0-9]{12}:event-source-mapping:[A-Za-z0-9-]+$", var.event_source_mapping_arn))
    error_message = "event_source_mapping_arn: must be an event source mapping ARN (arn:<partition>:lambda:<region>:<account>:event-source-mapping:<uuid>)."
  }
}

variable "consumer_function_name" {
  description = "Name of the consumer function whose metrics it reads (CONSUMER_FUNCTION_NAME)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.consumer_function_name))
    error_message = "consumer_function_name: must be a Lambda function name (1-64 characters of A-Z, a-z, 0-9, '-' and '_')."
  }
}

variable "queue_url" {
  description = "URL of the source queue whose backlog it reads with GetQueueAttributes (QUEUE_URL)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^\\s/]+(/[^\\s/]+)*/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\\.fifo)?$", var.queue_url))
    error_message = "queue_url: must be an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue name>)."
  }
}

variable "queue_arn" {
  description = "ARN of the source queue: the only queue whose attributes the role may read."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,80}(\\.fifo)?$", var.queue_arn))
    error_message = "queue_arn: must be an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<queue name>)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the consumer's EMF metrics (METRICS_NAMESPACE)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#: -]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace: must be 1-255 characters of letters, digits, '.', '_', '/', '#', ':', '-' and space, and must not start with 'AWS/'."
  }
}

# ---- Control law -----------------------------------------------------------------------------

variable "minimum_concurrency" {
  description = "Lowest MaximumConcurrency the governor sets (MINIMUM_CONCURRENCY), 2-1000 (the mapping's range)."
  type        = number
  default     = 2

  validation {
    condition     = var.minimum_concurrency >= 2 && var.minimum_concurrency <= 1000 && floor(var.minimum_concurrency) == var.minimum_concurrency
    error_message = "minimum_concurrency: must be a whole number from 2 to 1000 (the event source mapping's MaximumConcurrency range)."
  }
}

variable "maximum_concurrency" {
  description = "Highest MaximumConcurrency the governor sets (MAXIMUM_CONCURRENCY), from `minimum_concurrency` to 1000."
  type        = number

  validation {
    condition     = var.maximum_concurrency >= var.minimum_concurrency && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency
    error_message = "maximum_concurrency: must be a whole number from minimum_concurrency to 1000."
  }
}

variable "target_throttle_ratio" {
  description = "Share of API requests throttled above which the governor lowers concurrency (TARGET_THROTTLE_RATIO), above 0 and below 1."
  type        = number
  default     = 0.05

  validation {
    condition     = var.target_throttle_ratio > 0 && var.target_throttle_ratio < 1
    error_message = "target_throttle_ratio: must be above 0 and below 1 (a share of requests)."
  }
}

variable "period_seconds" {
  description = "Metric period of each decision and time between decisions (PERIOD_SECONDS): 10, 20 or 30 (the consumer's high-resolution metrics; each scheduled run decides every period of its minute) or a multiple of 60 up to 3600 (one decision a minute)."
  type        = number
  default     = 10

  validation {
    condition     = contains([10, 20, 30], var.period_seconds) || (var.period_seconds >= 60 && var.period_seconds <= 3600 && var.period_seconds % 60 == 0)
    error_message = "period_seconds: must be 10, 20 or 30 (high-resolution periods that divide the schedule's minute) or a multiple of 60 from 60 to 3600 (GetMetricData periods)."
  }
}

variable "tags" {
  description = "Tags for the role, log group, function and rule."
  type        = map(string)
  default     = {}
}
