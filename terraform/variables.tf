# Inputs of the stack (contract section 4). Rules that belong to one module are validated there,
# with messages that name the same input; this file validates what only the root knows.

# ---- Required --------------------------------------------------------------------------------

variable "name" {
  description = "Base name of every resource: queue `<name>`, dead-letter queue `<name>-dlq`, function `<name>`, role `<name>-consumer`, log group `/aws/lambda/<name>`, alarms `<name>-...`. 1-55 characters of letters, digits, `-` and `_`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,55}$", var.name))
    error_message = "name: must be 1-55 characters of A-Z, a-z, 0-9, '-' and '_' (it names the SQS queues, the Lambda function and its IAM role '<name>-consumer', which may have at most 64 characters)."
  }
}

variable "package_path" {
  description = "Path of the function zip from `make package` (`dist/function.zip`), relative to the directory Terraform runs in (`../dist/function.zip` from `terraform/`). The file must exist at plan time. Exactly one code source: this, or `s3_bucket` with `s3_key`."
  type        = string
  default     = null
}

variable "s3_bucket" {
  description = "S3 bucket holding the function zip (same region as the stack), instead of `package_path`; with `s3_key`."
  type        = string
  default     = null
}

variable "s3_key" {
  description = "Object key of the function zip in `s3_bucket`."
  type        = string
  default     = null
}

variable "s3_object_version" {
  description = "Version of the zip object in a versioned bucket (a new upload under the same key then updates the function); null: updates follow `s3_key`."
  type        = string
  default     = null
}

variable "entity_api_url" {
  description = "Full http(s) URL of the entity API's batch endpoint (ENTITY_API_URL); a port, when given, 1-65535. With `entity_api_token_parameter_name` it must be https://, unless the host is a loopback address (local use)."
  type        = string
}

# ---- Event source mapping (see README: choosing batch size, window and concurrency) ----------

variable "batch_size" {
  description = "Most records per invocation, 1-10000; above 10 needs `maximum_batching_window_in_seconds` >= 1. With `fifo_queue`, at most 10."
  type        = number
  default     = 100

  validation {
    condition     = !var.fifo_queue || var.batch_size <= 10
    error_message = "batch_size: with fifo_queue, at most 10 (Lambda's limit for FIFO event source mappings)."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time records are gathered before an invocation, 0-300 seconds. With `fifo_queue`, 0."
  type        = number
  default     = 5

  validation {
    condition     = !var.fifo_queue || var.maximum_batching_window_in_seconds == 0
    error_message = "maximum_batching_window_in_seconds: with fifo_queue, must be 0 (Lambda offers no batching window on FIFO event source mappings)."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations (2-1000): the cap that keeps the entity API under its rate limit."
  type        = number
  default     = 5
}

variable "filter_patterns" {
  description = "Event filter patterns on the message body (JSON strings, at most 5). Non-matching messages are deleted unprocessed. Empty: no filter."
  type        = list(string)
  default     = []
}

variable "enable_esm_metrics" {
  description = "Turn on the event source mapping's EventCount metrics."
  type        = bool
  default     = true
}

variable "event_source_mapping_enabled" {
  description = "Whether the mapping consumes the queue; false pauses consumption."
  type        = bool
  default     = true
}

variable "adaptive_concurrency" {
  description = "The concurrency governor (off by default): a function from the same zip, run every minute, that moves the mapping's MaximumConcurrency between `minimum` and `maximum` (2 <= minimum <= maximum <= 1000) from the consumer's throttled share of requests (target `target_throttle_ratio`, in (0, 1)) and the queue's backlog, deciding every `period_seconds` (10, 20 or 30 from the consumer's high-resolution metrics, several decisions a minute; or a multiple of 60 up to 3600, one a minute). While enabled, Terraform ignores the mapping's scaling_config; switching it on or off replaces the mapping (README: adaptive concurrency)."
  type = object({
    enabled               = optional(bool, false)
    minimum               = optional(number, 2)
    maximum               = optional(number, 20)
    target_throttle_ratio = optional(number, 0.05)
    period_seconds        = optional(number, 10)
  })
  default  = {}
  nullable = false

  validation {
    condition = (
      var.adaptive_concurrency.minimum >= 2 && var.adaptive_concurrency.minimum <= var.adaptive_concurrency.maximum &&
      var.adaptive_concurrency.maximum <= 1000 &&
      floor(var.adaptive_concurrency.minimum) == var.adaptive_concurrency.minimum && floor(var.adaptive_concurrency.maximum) == var.adaptive_concurrency.maximum
    )
    error_message = "adaptive_concurrency: minimum and maximum must be whole numbers with 2 <= minimum <= maximum <= 1000 (the event source mapping's MaximumConcurrency range)."
  }

  validation {
    condition     = var.adaptive_concurrency.target_throttle_ratio > 0 && var.adaptive_concurrency.target_throttle_ratio < 1
    error_message = "adaptive_concurrency: target_throttle_ratio must be above 0 and below 1 (the share of API requests throttled that the governor aims at)."
  }

  validation {
    condition     = contains([10, 20, 30], var.adaptive_concurrency.period_seconds) || (var.adaptive_concurrency.period_seconds >= 60 && var.adaptive_concurrency.period_seconds <= 3600 && var.adaptive_concurrency.period_seconds % 60 == 0)
    error_message = "adaptive_concurrency: period_seconds must be 10, 20 or 30 (high-resolution periods that divide the schedule's minute) or a multiple of 60 from 60 to 3600 (GetMetricData periods)."
  }

  validation {
    condition     = !var.adaptive_concurrency.enabled || var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= var.adaptive_concurrency.maximum, false)
    error_message = "adaptive_concurrency: maximum must not exceed reserved_concurrent_executions when that is set (the governor could otherwise raise the mapping past the reservation, and invocations would be throttled)."
  }
}

# ---- Queues ----------------------------------------------------------------------------------

variable "fifo_queue" {
  description = "FIFO queues (`<name>.fifo`, `<name>-dlq.fifo`): each entity's changes applied in order across batches. Needs `batch_size` <= 10 and `maximum_batching_window_in_seconds` = 0. Producers set `MessageGroupId` (the entity) and `MessageDeduplicationId` (`event_id`)."
  type        = bool
  default     = false
}

variable "fifo_high_throughput" {
  description = "With `fifo_queue`: high-throughput mode (deduplication and the throughput limit per message group, not per queue)."
  type        = bool
  default     = true
}

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the source queue in seconds; null derives AWS's recommendation, 6 x `function_timeout` + `maximum_batching_window_in_seconds`. When set: at least `function_timeout` + `maximum_batching_window_in_seconds` + 10 (a batch is in flight from its receive through the window and the function's start, whose init Lambda allows 10 s, to the invocation's end), at least 6 x `function_timeout` with `fifo_queue`, at most 43200."
  type        = number
  default     = null

  validation {
    condition     = var.visibility_timeout_seconds == null || try(var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds, false)
    error_message = "visibility_timeout_seconds: must be null (derived: 6 x function_timeout + maximum_batching_window_in_seconds) or a whole number of seconds up to 43200 (12 hours, SQS's maximum)."
  }

  validation {
    condition     = var.visibility_timeout_seconds == null || try(var.visibility_timeout_seconds >= var.function_timeout + var.maximum_batching_window_in_seconds + 10, false)
    error_message = "visibility_timeout_seconds: must be null (derived) or at least function_timeout + maximum_batching_window_in_seconds + 10 s. A batch is in flight from its receive, through the batching window and the function's start (Lambda allows its init 10 s), to its invocation's end; a shorter visibility timeout lets it come back while it runs: its changes are applied twice, and each return spends one of max_receive_count's receives."
  }

  validation {
    condition     = var.visibility_timeout_seconds == null || !var.fifo_queue || try(var.visibility_timeout_seconds >= 6 * var.function_timeout, false)
    error_message = "visibility_timeout_seconds: with fifo_queue, must be null (derived) or at least 6 x function_timeout (AWS's recommendation). A FIFO batch that becomes visible again before its invocation settles it (a cold start or a throttled retry delays the invocation) is received by a second invocation, which applies the message group's changes again, out of order."
  }
}

variable "max_receive_count" {
  description = "Receives before a message moves to the dead-letter queue (maxReceiveCount), 2-1000; the handler gets it too (SOURCE_MAX_RECEIVE_COUNT). Keep 5 or more in production; small values suit tests. With `fifo_queue`: at least 2, and (max_receive_count - 1) x 42000 s must reach the retry horizon."
  type        = number
  default     = 5

  validation {
    condition     = try(var.max_receive_count >= 2 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count, false)
    error_message = "max_receive_count: must be a whole number from 2 to 1000 (SQS's maxReceiveCount, at least 2: the handler makes a retried change's delayed copy one receive before the redrive limit, so a copy SQS refuses still has a receive left; with 1 one refused call would dead-letter a valid change)."
  }

  validation {
    condition     = !var.fifo_queue || try(var.max_receive_count >= 2 && (var.max_receive_count - 1) * 42000 >= coalesce(var.retry_horizon_seconds, var.max_message_age_seconds), false)
    error_message = "max_receive_count: with fifo_queue it must be at least 2, and (max_receive_count - 1) x 42000 s (the longest wait between a message group's receives) must reach the retry horizon (retry_horizon_seconds, or max_message_age_seconds when null); otherwise SQS's redrive moves valid changes to the DLQ inside the horizon."
  }
}

variable "message_retention_seconds" {
  description = "Retention of the source queue, 60-1209600 seconds; shorter than `dlq_message_retention_seconds`."
  type        = number
  default     = 345600
}

variable "dlq_message_retention_seconds" {
  description = "Retention of the dead-letter queue, 60-1209600 seconds; longer than `message_retention_seconds`."
  type        = number
  default     = 1209600
}

variable "kms_key_arn" {
  description = "Customer-managed KMS key ARN that encrypts the queues, the log group and the function's environment; null uses SSE-SQS and service-managed keys. The key policy must admit the CloudWatch Logs service (logs.<region>.amazonaws.com)."
  type        = string
  default     = null
}

# ---- Function --------------------------------------------------------------------------------

variable "runtime" {
  description = "Lambda runtime, python3.12 or python3.13; the zip must be built for it."
  type        = string
  default     = "python3.12"
}

variable "architecture" {
  description = "arm64 or x86_64; the zip must be built for it."
  type        = string
  default     = "arm64"
}

variable "memory_size" {
  description = "Memory in MB, 128-10240."
  type        = number
  default     = 512
}

variable "function_timeout" {
  description = "Function timeout in seconds, 1-900; at least 5 (one API request at its 1 s floor timeout and the SQS calls that settle a batch)."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout >= min(coalesce(var.entity_api_timeout_seconds, 10), 1) + 3.25
    error_message = "function_timeout: must leave room for one entity API request at its floor timeout (1 s, or entity_api_timeout_seconds when shorter) plus 3.25 s for the SQS calls that settle a batch and the return: at least 5 s with entity_api_timeout_seconds null (10 s) or >= 1."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; null leaves the function unreserved. When set, at least `maximum_concurrency`."
  type        = number
  default     = null
}

variable "tracing_mode" {
  description = "X-Ray tracing: PassThrough or Active."
  type        = string
  default     = "PassThrough"
}

variable "application_log_level" {
  description = "Application log level of the JSON logs: TRACE, DEBUG or INFO. WARN, ERROR and FATAL are refused at plan: they would drop the handler's INFO summary line that carries its EMF metrics (alarms and dashboard)."
  type        = string
  default     = "INFO"
}

variable "system_log_level" {
  description = "Lambda system log level: DEBUG, INFO or WARN. INFO keeps the REPORT lines (duration, memory, init time)."
  type        = string
  default     = "INFO"
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group; one of CloudWatch Logs' values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  type        = number
  default     = 30
}

# ---- Handler settings ------------------------------------------------------------------------

variable "entity_api_token_parameter_name" {
  description = "SSM SecureString parameter that holds the API token (ENTITY_API_TOKEN_PARAMETER); null when the API needs no token."
  type        = string
  default     = null
}

variable "entity_api_token_kms_key_arn" {
  description = "Customer-managed KMS key of the token parameter (kms:Decrypt is granted on it); null for the AWS-managed aws/ssm key."
  type        = string
  default     = null
}

variable "entity_api_rate_limit" {
  description = "The entity API's rate limit in requests/s when it is known; null (the default): unknown, each execution environment paces itself from the API's first 429. When set (0.01-100000), the invocations share it from their first request: every execution environment starts paced at this limit over the most concurrent invocations (`maximum_concurrency`, or the governor's `maximum`), ENTITY_API_RATE_SHARE, and adapts from there."
  type        = number
  default     = null

  validation {
    condition     = var.entity_api_rate_limit == null || try(var.entity_api_rate_limit >= 0.01 && var.entity_api_rate_limit <= 100000, false)
    error_message = "entity_api_rate_limit: must be null (unknown) or the API's limit in requests per second, from 0.01 to 100000."
  }
}

variable "entity_api_timeout_seconds" {
  description = "Timeout of one API request (ENTITY_API_TIMEOUT_SECONDS); null keeps the handler's default. Less than `function_timeout`."
  type        = number
  default     = null
}

variable "max_operations_per_request" {
  description = "Most operations per API request (MAX_OPERATIONS_PER_REQUEST), 1-10000."
  type        = number
  default     = 100
}

variable "max_request_bytes" {
  description = "Largest API request body in bytes (MAX_REQUEST_BYTES), 1024-6291456."
  type        = number
  default     = 1048576
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the handler's metrics (METRICS_NAMESPACE), read by the alarms and the dashboard; null: the handler's default `SqsBatchConsumer`."
  type        = string
  default     = null
}

# ---- Retries (visibility backoff and retry horizon) -----------------------------------------

variable "retry_horizon_seconds" {
  description = "How long after its first send a valid change is retried before the handler sends it to the DLQ as `expired` (RETRY_HORIZON_SECONDS), 60-1209600 seconds; null: `max_message_age_seconds`. At most `message_retention_seconds`."
  type        = number
  default     = null

  validation {
    condition     = coalesce(var.retry_horizon_seconds, var.max_message_age_seconds) <= var.message_retention_seconds
    error_message = "retry_horizon_seconds: the retry horizon (when null, max_message_age_seconds) must be at most message_retention_seconds: SQS deletes a message at the end of its retention, before the handler could send it to the DLQ as expired."
  }
}

variable "retry_backoff_base_seconds" {
  description = "Base of the exponential visibility backoff of transiently failed records (RETRY_BACKOFF_BASE_SECONDS), above 0 and at most `retry_backoff_max_seconds`."
  type        = number
  default     = 2
}

variable "retry_backoff_max_seconds" {
  description = "Cap of the visibility backoff, Retry-After included (RETRY_BACKOFF_MAX_SECONDS), 1-43200 seconds. A record's own cap is also at most a quarter of how long it has been failing (since its first send), so after an outage records return within a quarter of its length."
  type        = number
  default     = 900
}

# ---- Alarms ----------------------------------------------------------------------------------

variable "max_message_age_seconds" {
  description = "Delivery SLA in seconds (60-1209600): alarm when the source queue's oldest message is older."
  type        = number
  default     = 3600
}

variable "create_alarm_topic" {
  description = "Create an encrypted SNS topic `<name>-alarms` that receives every alarm and recovery."
  type        = bool
  default     = false
}

variable "alarm_topic_kms_key_arn" {
  description = "Customer-managed KMS key ARN for the alarm topic (its policy must let cloudwatch.amazonaws.com use kms:GenerateDataKey* and kms:Decrypt); null creates a dedicated key with rotation when create_alarm_topic is true."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_topic_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.alarm_topic_kms_key_arn))
    error_message = "alarm_topic_kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>); CloudWatch cannot use an alias or the AWS-managed aws/sns key."
  }
}

variable "alarm_actions" {
  description = "Further ARNs (SNS topics) notified on alarm and recovery."
  type        = list(string)
  default     = []
}

variable "throttled_share_alarm_threshold" {
  description = "Share of API requests answered with a throttle (429/503) above which a period breaches the `<name>-throttled-share` alarm (3 of 5 periods fire it); above 0, below 1."
  type        = number
  default     = 0.1
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard `<name>` (queue depth and age, the event source mapping, the function's errors, throttles, duration and concurrency, the handler's metrics)."
  type        = bool
  default     = true
}

# ---- Tags ------------------------------------------------------------------------------------

variable "tags" {
  description = "Tags for every resource that takes tags (at most 45: Lambda's limit of 50 less headroom for tags added by your organisation's tooling)."
  type        = map(string)
  default     = {}

  validation {
    condition = length(var.tags) <= 45 && alltrue([
      for key, value in var.tags :
      length(key) >= 1 && length(key) <= 128 && length(value) <= 256 && !startswith(lower(key), "aws:")
    ])
    error_message = "tags: at most 45 tags; each key 1-128 characters and not starting with 'aws:' (reserved), each value at most 256 characters."
  }
}
