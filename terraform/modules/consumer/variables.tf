# ---- Function --------------------------------------------------------------------------------

variable "function_name" {
  description = "Name of the Lambda function; the execution role is named `<function_name>-consumer` and the log group `/aws/lambda/<function_name>`. 1-55 characters of letters, digits, `-` and `_` (an IAM role name is at most 64 characters)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,55}$", var.function_name))
    error_message = "function_name: must be 1-55 characters of A-Z, a-z, 0-9, '-' and '_' (Lambda function names allow 64, and the IAM role adds '-consumer' to a 64-character limit)."
  }
}

variable "package_path" {
  description = "Path of the function zip built by `make package` (relative to the directory Terraform runs in, or absolute). Exactly one code source: this, or `s3_bucket` with `s3_key`."
  type        = string
  default     = null

  validation {
    condition     = (var.package_path == null) != (var.s3_bucket == null)
    error_message = "package_path: give exactly one code source, package_path (a local zip) or s3_bucket with s3_key (a zip in S3), not both and not neither."
  }

  validation {
    condition     = var.package_path == null ? true : fileexists(var.package_path)
    error_message = "package_path: no file at this path; build the zip with `make package` (it writes dist/function.zip) and pass its path, relative to the directory Terraform runs in."
  }
}

variable "s3_bucket" {
  description = "S3 bucket that holds the function zip (in the function's region); with `s3_key`, instead of `package_path`."
  type        = string
  default     = null

  validation {
    condition     = var.s3_bucket == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.s3_bucket))
    error_message = "s3_bucket: must be null or an S3 bucket name (3-63 characters of a-z, 0-9, '.' and '-'; a name, not an ARN or URL)."
  }
}

variable "s3_key" {
  description = "Object key of the function zip in `s3_bucket`; required with `s3_bucket`, and only with it."
  type        = string
  default     = null

  validation {
    condition     = (var.s3_key == null) == (var.s3_bucket == null) && (var.s3_key == null ? true : length(var.s3_key) >= 1 && length(var.s3_key) <= 1024)
    error_message = "s3_key: give s3_key (1-1024 characters) together with s3_bucket, and neither with package_path."
  }
}

variable "s3_object_version" {
  description = "Version of the zip object in a versioned bucket, so that a new upload under the same key updates the function; only with `s3_bucket`. Null: the function is updated when `s3_key` changes."
  type        = string
  default     = null

  validation {
    condition     = var.s3_object_version == null || var.s3_bucket != null
    error_message = "s3_object_version: only with s3_bucket and s3_key (a version of the zip object in S3)."
  }
}

variable "runtime" {
  description = "Lambda runtime; the zip must be built for the same Python version (`make package PYTHON_VERSION=...`)."
  type        = string
  default     = "python3.12"

  validation {
    condition     = contains(["python3.12", "python3.13"], var.runtime)
    error_message = "runtime: must be one of python3.12, python3.13 (the Python versions the package is built and tested for)."
  }
}

variable "architecture" {
  description = "Instruction set of the function; the zip must be built for it (`make package ARCH=...`)."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture: must be arm64 or x86_64."
  }
}

variable "memory_size" {
  description = "Memory of the function in MB (128-10240). CPU scales with memory; one full vCPU at 1769 MB."
  type        = number
  default     = 512

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size: must be a whole number of MB from 128 to 10240."
  }
}

variable "function_timeout" {
  description = "Function timeout in seconds (1-900). The queue's visibility timeout must be at least this."
  type        = number
  default     = 60

  validation {
    condition     = var.function_timeout >= 1 && var.function_timeout <= 900 && floor(var.function_timeout) == var.function_timeout
    error_message = "function_timeout: must be a whole number of seconds from 1 to 900."
  }
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency of the function; null leaves it unreserved. When set it must be at least `maximum_concurrency` (otherwise the mapping's invocations are throttled)."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= 0 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions, false)
    error_message = "reserved_concurrent_executions: must be null (unreserved) or a whole number >= 0."
  }

  validation {
    condition     = var.reserved_concurrent_executions == null || try(var.reserved_concurrent_executions >= var.maximum_concurrency, false)
    error_message = "reserved_concurrent_executions: must be at least maximum_concurrency when set (a lower reservation throttles the event source mapping's invocations)."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode: `PassThrough` (default; no traces started here) or `Active` (adds the AWSXRayDaemonWriteAccess managed policy to the role)."
  type        = string
  default     = "PassThrough"

  validation {
    condition     = contains(["PassThrough", "Active"], var.tracing_mode)
    error_message = "tracing_mode: must be PassThrough or Active."
  }
}

variable "application_log_level" {
  description = "Lambda application log level (JSON log format): TRACE, DEBUG or INFO. WARN, ERROR and FATAL are refused: Lambda would drop the handler's INFO summary line, which carries the Embedded Metric Format metrics the alarms and the dashboard read."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level: must be one of TRACE, DEBUG, INFO (WARN, ERROR and FATAL are refused too, see the next rule)."
  }

  validation {
    condition     = !contains(["WARN", "ERROR", "FATAL"], var.application_log_level)
    error_message = "application_log_level: WARN, ERROR and FATAL would drop the EMF summary (the handler's one INFO line per invocation that carries its CloudWatch metrics), leaving the alarms and the dashboard blind; use INFO, DEBUG or TRACE."
  }
}

variable "system_log_level" {
  description = "Lambda system log level (JSON log format): DEBUG, INFO or WARN. INFO keeps the platform's REPORT lines (duration, billed duration, memory used, init time)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN"], var.system_log_level)
    error_message = "system_log_level: must be one of DEBUG, INFO, WARN (WARN drops the REPORT lines with duration, memory and init time)."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the function's log group in days; one of the values CloudWatch Logs allows."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "log_retention_in_days: must be one of CloudWatch Logs' values 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 (0, never expire, is not accepted)."
  }
}

# ---- Handler settings (environment, contract section 3) --------------------------------------

variable "entity_api_url" {
  description = "Full URL of the entity API's batch endpoint (ENTITY_API_URL). With a token (`entity_api_token_parameter_name`) it must be https://, unless its host is a loopback address (127.0.0.0/8, ::1, localhost) for local use."
  type        = string

  validation {
    condition     = can(regex("^https?://[^\\s/?#@]+([/?#][^\\s]*)?$", var.entity_api_url))
    error_message = "entity_api_url: must be an http:// or https:// URL with a host, without spaces and without user:password@ (credentials belong in the SSM token parameter, not in the environment)."
  }

  # After the scheme and the host (a name, an IPv4 address or a bracketed IPv6 address), a ':'
  # must be followed by a port from 1 to 65535 without leading zeros.
  validation {
    condition = (
      !can(regex("^[A-Za-z]+://(\\[[^\\]/]*\\]|[^:/?#\\[\\]]*):", var.entity_api_url)) ||
      can(regex("^[A-Za-z]+://(\\[[^\\]/]*\\]|[^:/?#\\[\\]]*):(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})([/?#]|$)", var.entity_api_url))
    )
    error_message = "entity_api_url: the port, when given, must be a number from 1 to 65535 (for example https://entities.example.com:8443/v1/operations:batch)."
  }

  validation {
    condition = var.entity_api_token_parameter_name == null || can(regex("^(?i)https://", var.entity_api_url)) || can(regex(
      "^(?i)http://(localhost|127\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}|\\[::1\\])(:[0-9]*)?([/?#]|$)", var.entity_api_url
    ))
    error_message = "entity_api_url: a bearer token (entity_api_token_parameter_name) must not travel over plain http://; use https://, or a loopback host (127.0.0.1, ::1, localhost) for local use."
  }
}

variable "entity_api_token_parameter_name" {
  description = "Name of the SSM SecureString parameter that holds the API bearer token (ENTITY_API_TOKEN_PARAMETER); null when the API needs no token. The role gets ssm:GetParameter on exactly this parameter."
  type        = string
  default     = null

  validation {
    # A conditional, not ||: Terraform evaluates both sides of || and length(null) fails.
    condition     = var.entity_api_token_parameter_name == null ? true : can(regex("^/?[A-Za-z0-9_.\\-/]+$", var.entity_api_token_parameter_name)) && length(coalesce(var.entity_api_token_parameter_name, "x")) <= 1011
    error_message = "entity_api_token_parameter_name: must be null or an SSM parameter name (letters, digits, '_', '.', '-', '/'; a name, not an ARN)."
  }
}

variable "entity_api_token_kms_key_arn" {
  description = "ARN of the customer-managed KMS key that encrypts the token parameter; the role gets kms:Decrypt on it, only for that parameter (condition on the SSM encryption context `PARAMETER_ARN`). Null for the AWS-managed `aws/ssm` key, which needs no grant. Needs `entity_api_token_parameter_name`."
  type        = string
  default     = null

  validation {
    condition     = var.entity_api_token_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.entity_api_token_kms_key_arn))
    error_message = "entity_api_token_kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)."
  }

  validation {
    condition     = var.entity_api_token_kms_key_arn == null || var.entity_api_token_parameter_name != null
    error_message = "entity_api_token_kms_key_arn: needs entity_api_token_parameter_name (the key is granted only for decrypting that parameter)."
  }
}

variable "entity_api_timeout_seconds" {
  description = "Timeout of one API request in seconds (ENTITY_API_TIMEOUT_SECONDS); null keeps the handler's default. Must be less than `function_timeout`."
  type        = number
  default     = null

  validation {
    condition     = var.entity_api_timeout_seconds == null || try(var.entity_api_timeout_seconds >= 0.1 && var.entity_api_timeout_seconds < var.function_timeout, false)
    error_message = "entity_api_timeout_seconds: must be null or at least 0.1 and less than function_timeout (a request must fit in one invocation)."
  }

  # The handler's budget (consumer/settings.py, terms.py, time_budget.py): one API request at
  # its floor timeout (1 s, or entity_api_timeout_seconds when shorter) + 0.25 s margin, one
  # SQS call (0.5 s connect + 1.5 s read), building the SQS client (0.5 s) and the 0.5 s kept
  # to return. tests/unit/test_settings.py reads the 3.25 below to keep the two equal. (On this
  # variable, not function_timeout: the rule above already ties the two the other way round.)
  validation {
    condition     = var.function_timeout >= min(coalesce(var.entity_api_timeout_seconds, 10), 1) + 3.25
    error_message = "function_timeout (with entity_api_timeout_seconds): function_timeout must leave room for one entity API request at its floor timeout (1 s, or entity_api_timeout_seconds when shorter) plus 3.25 s for the SQS calls that settle a batch and the return: at least 5 s with entity_api_timeout_seconds null (10 s) or >= 1."
  }
}

variable "max_operations_per_request" {
  description = "Most operations in one API request (MAX_OPERATIONS_PER_REQUEST), 1-10000."
  type        = number
  default     = 100

  validation {
    condition     = var.max_operations_per_request >= 1 && var.max_operations_per_request <= 10000 && floor(var.max_operations_per_request) == var.max_operations_per_request
    error_message = "max_operations_per_request: must be a whole number from 1 to 10000."
  }
}

variable "max_request_bytes" {
  description = "Largest API request body in bytes (MAX_REQUEST_BYTES), 1024-6291456."
  type        = number
  default     = 1048576

  validation {
    condition     = var.max_request_bytes >= 1024 && var.max_request_bytes <= 6291456 && floor(var.max_request_bytes) == var.max_request_bytes
    error_message = "max_request_bytes: must be a whole number of bytes from 1024 to 6291456 (6 MiB)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the handler's Embedded Metric Format metrics (METRICS_NAMESPACE); null keeps the handler's default."
  type        = string
  default     = null

  validation {
    condition     = var.metrics_namespace == null || can(regex("^[A-Za-z0-9._/#: -]{1,255}$", var.metrics_namespace)) && !startswith(coalesce(var.metrics_namespace, "x"), "AWS/")
    error_message = "metrics_namespace: must be null or 1-255 characters of letters, digits, '.', '_', '/', '#', ':', '-' and space (CloudWatch's rule, the handler's too), and must not start with 'AWS/' (reserved)."
  }
}

variable "max_receive_count" {
  description = "The source queue's maxReceiveCount, passed to the handler as SOURCE_MAX_RECEIVE_COUNT so that it knows the redrive limit without reading the queue; null: the handler reads the queue's RedrivePolicy when it needs it. Required with a FIFO queue, where it must be at least 2 and (max_receive_count - 1) x 42000 s must reach `retry_horizon_seconds`."
  type        = number
  default     = null

  validation {
    condition     = var.max_receive_count == null || try(var.max_receive_count >= 2 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count, false)
    error_message = "max_receive_count: must be null or a whole number from 2 to 1000 (SQS's maxReceiveCount, at least 2: the handler makes a retried change's delayed copy one receive before the redrive limit, so a copy SQS refuses still has a receive left)."
  }

  # A FIFO group is never copied: its receives must last until the horizon, each wait at most
  # 42000 s (SQS's 12 hours from the receive, less the batching window and an invocation).
  validation {
    condition     = !endswith(var.queue_arn, ".fifo") || try(var.max_receive_count >= 2 && (var.max_receive_count - 1) * 42000 >= var.retry_horizon_seconds, false)
    error_message = "max_receive_count: with a FIFO queue it must be set, at least 2, and (max_receive_count - 1) x 42000 s (the longest wait between a message group's receives) must reach retry_horizon_seconds; otherwise SQS's redrive moves valid changes to the DLQ inside the retry horizon."
  }
}

variable "retry_horizon_seconds" {
  description = "How long after its first send a valid change is retried before the handler sends it to the DLQ as `expired` (RETRY_HORIZON_SECONDS), 60-1209600 seconds. Keep it within the source queue's retention."
  type        = number
  default     = 3600

  validation {
    condition     = var.retry_horizon_seconds >= 60 && var.retry_horizon_seconds <= 1209600 && floor(var.retry_horizon_seconds) == var.retry_horizon_seconds
    error_message = "retry_horizon_seconds: must be a whole number of seconds from 60 to 1209600 (14 days, the longest SQS retention)."
  }
}

variable "retry_backoff_base_seconds" {
  description = "Base of the exponential visibility backoff of transiently failed records (RETRY_BACKOFF_BASE_SECONDS): above 0 and at most `retry_backoff_max_seconds`."
  type        = number
  default     = 2

  validation {
    condition     = var.retry_backoff_base_seconds > 0 && var.retry_backoff_base_seconds <= var.retry_backoff_max_seconds
    error_message = "retry_backoff_base_seconds: must be above 0 and at most retry_backoff_max_seconds."
  }
}

variable "entity_api_rate_share" {
  description = "Requests/s each execution environment starts paced at (ENTITY_API_RATE_SHARE): a known API limit over the most concurrent invocations; null (the default): unpaced until the API's first 429. Above 0, at most 100000."
  type        = number
  default     = null

  validation {
    condition     = var.entity_api_rate_share == null || try(var.entity_api_rate_share > 0 && var.entity_api_rate_share <= 100000, false)
    error_message = "entity_api_rate_share: must be null or requests per second above 0 and at most 100000."
  }
}

variable "retry_backoff_max_seconds" {
  description = "Cap of the visibility backoff, Retry-After included (RETRY_BACKOFF_MAX_SECONDS), 1-43200 seconds (SQS's visibility maximum). A record's own cap is also at most a quarter of how long it has been failing."
  type        = number
  default     = 900

  validation {
    condition     = var.retry_backoff_max_seconds >= 1 && var.retry_backoff_max_seconds <= 43200 && floor(var.retry_backoff_max_seconds) == var.retry_backoff_max_seconds
    error_message = "retry_backoff_max_seconds: must be a whole number of seconds from 1 to 43200 (12 hours, the longest visibility timeout SQS accepts)."
  }
}

# ---- Queues (from the queue module) ----------------------------------------------------------

variable "queue_arn" {
  description = "ARN of the source queue the event source mapping reads."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:([A-Za-z0-9_-]{1,75}\\.fifo|[A-Za-z0-9_-]{1,80})$", var.queue_arn))
    error_message = "queue_arn: must be an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<name>, <name> ending in .fifo for a FIFO queue)."
  }
}

variable "queue_visibility_timeout_seconds" {
  description = "Visibility timeout of the source queue; checked against `function_timeout`: at least it + `maximum_batching_window_in_seconds` + 10 s (a batch stays invisible from its receive to its invocation's end, the function's init included), and at least 6 x it on a FIFO queue (order across batches holds only while a batch stays invisible until it is settled)."
  type        = number

  validation {
    condition     = try(var.queue_visibility_timeout_seconds >= var.function_timeout + var.maximum_batching_window_in_seconds + 10, false)
    error_message = "queue_visibility_timeout_seconds: must be at least function_timeout + maximum_batching_window_in_seconds + 10 s (AWS recommends 6 x function_timeout + maximum_batching_window_in_seconds). A batch is in flight from its receive, through the batching window and the function's start (Lambda allows its init 10 s), to its invocation's end; a shorter visibility timeout lets it come back while it runs: its changes are applied twice, and each return spends one of the queue's receives before the DLQ."
  }

  validation {
    condition     = !endswith(var.queue_arn, ".fifo") || var.queue_visibility_timeout_seconds >= 6 * var.function_timeout
    error_message = "queue_visibility_timeout_seconds: on a FIFO queue, must be at least 6 x function_timeout (AWS's recommendation). A FIFO batch that becomes visible again before its invocation settles it is received by a second invocation, which applies the message group's changes again, out of order."
  }
}

variable "dlq_arn" {
  description = "ARN of the dead-letter queue the handler sends invalid records to (sqs:SendMessage is granted on it)."
  type        = string

  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sqs:[a-z0-9-]+:[0-9]{12}:([A-Za-z0-9_-]{1,75}\\.fifo|[A-Za-z0-9_-]{1,80})$", var.dlq_arn))
    error_message = "dlq_arn: must be an SQS queue ARN (arn:<partition>:sqs:<region>:<account>:<name>)."
  }
}

variable "dlq_url" {
  description = "URL of the dead-letter queue (DLQ_URL)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^\\s]+$", var.dlq_url))
    error_message = "dlq_url: must be the queue's http(s) URL."
  }
}

variable "queue_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the queues, or null for SSE-SQS. The role gets kms:Decrypt (receive) and kms:GenerateDataKey (send to the DLQ) on it."
  type        = string
  default     = null

  validation {
    condition     = var.queue_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.queue_kms_key_arn))
    error_message = "queue_kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)."
  }
}

variable "function_kms_key_arn" {
  description = "ARN of a KMS key for the function's log group and environment variables; null uses the service-managed keys. The key policy must allow CloudWatch Logs (logs.<region>.amazonaws.com) to use it."
  type        = string
  default     = null

  validation {
    condition     = var.function_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.function_kms_key_arn))
    error_message = "function_kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)."
  }
}

# ---- Event source mapping --------------------------------------------------------------------

variable "batch_size" {
  description = "Most records per invocation (1-10000). Above 10 needs `maximum_batching_window_in_seconds` >= 1."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000 && floor(var.batch_size) == var.batch_size
    error_message = "batch_size: must be a whole number from 1 to 10000 (standard SQS queue)."
  }

  validation {
    condition     = var.batch_size <= 10 || var.maximum_batching_window_in_seconds >= 1
    error_message = "batch_size: a batch size above 10 needs maximum_batching_window_in_seconds of at least 1 (the Lambda API rejects it otherwise)."
  }

  validation {
    condition     = !endswith(var.queue_arn, ".fifo") || var.batch_size <= 10
    error_message = "batch_size: a FIFO queue's event source mapping takes at most 10 records per batch."
  }
}

variable "maximum_batching_window_in_seconds" {
  description = "Longest time the mapping gathers records before invoking, in seconds (0-300)."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_batching_window_in_seconds >= 0 && var.maximum_batching_window_in_seconds <= 300 && floor(var.maximum_batching_window_in_seconds) == var.maximum_batching_window_in_seconds
    error_message = "maximum_batching_window_in_seconds: must be a whole number of seconds from 0 to 300."
  }

  validation {
    condition     = !endswith(var.queue_arn, ".fifo") || var.maximum_batching_window_in_seconds == 0
    error_message = "maximum_batching_window_in_seconds: must be 0 with a FIFO queue (Lambda offers no batching window on FIFO event source mappings)."
  }
}

variable "maximum_concurrency" {
  description = "Most concurrent invocations the mapping starts (2-1000): the cap that protects the entity API's rate limit."
  type        = number
  default     = 5

  validation {
    condition     = var.maximum_concurrency >= 2 && var.maximum_concurrency <= 1000 && floor(var.maximum_concurrency) == var.maximum_concurrency
    error_message = "maximum_concurrency: must be a whole number from 2 to 1000 (the SQS event source mapping's ScalingConfig range)."
  }
}

variable "maximum_concurrency_owned_by_governor" {
  description = "True when a concurrency governor (the governor module) sets the mapping's MaximumConcurrency: the mapping is then created at `maximum_concurrency` and Terraform ignores later changes of its scaling_config. Switching it replaces the mapping (see README: adaptive concurrency)."
  type        = bool
  default     = false
}

variable "filter_patterns" {
  description = "Event filter patterns on the message `body` (JSON strings, at most 5). Messages that match none are DELETED from the queue without invoking the function. Empty: no filter."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.filter_patterns) <= 5 && length(distinct(var.filter_patterns)) == length(var.filter_patterns) && alltrue([for p in var.filter_patterns : can(jsondecode(p))])
    error_message = "filter_patterns: must be at most 5 distinct JSON documents (Lambda event filter patterns)."
  }
}

variable "enable_esm_metrics" {
  description = "Turn on the mapping's `EventCount` metrics (metrics_config)."
  type        = bool
  default     = true
}

variable "event_source_mapping_enabled" {
  description = "Whether the mapping polls the queue; false pauses consumption (messages wait in the queue)."
  type        = bool
  default     = true
}

# ---- Tags ------------------------------------------------------------------------------------

variable "tags" {
  description = "Tags for the role, log group, function and event source mapping."
  type        = map(string)
  default     = {}
}
