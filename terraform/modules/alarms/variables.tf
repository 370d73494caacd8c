# ---- What is watched -------------------------------------------------------------------------

variable "name" {
  description = "Prefix of the alarm names (`<name>-dlq-not-empty`, ...) and of the SNS topic (`<name>-alarms`). 1-200 characters of letters, digits, `-` and `_`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "name: must be 1-200 characters of A-Z, a-z, 0-9, '-' and '_'."
  }
}

variable "queue_name" {
  description = "Name of the source queue (its oldest message's age is alarmed on)."
  type        = string

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,75}\\.fifo|[A-Za-z0-9_-]{1,80})$", var.queue_name))
    error_message = "queue_name: must be an SQS queue name (1-80 characters of A-Z, a-z, 0-9, '-' and '_'; a FIFO queue's ends in .fifo)."
  }
}

variable "dlq_name" {
  description = "Name of the dead-letter queue (any visible message raises an alarm)."
  type        = string

  validation {
    condition     = can(regex("^([A-Za-z0-9_-]{1,75}\\.fifo|[A-Za-z0-9_-]{1,80})$", var.dlq_name))
    error_message = "dlq_name: must be an SQS queue name (1-80 characters of A-Z, a-z, 0-9, '-' and '_'; a FIFO queue's ends in .fifo)."
  }
}

variable "function_name" {
  description = "Name of the consumer function (its errors and throttles are alarmed on)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,64}$", var.function_name))
    error_message = "function_name: must be a Lambda function name (1-64 characters of A-Z, a-z, 0-9, '-' and '_')."
  }
}

variable "event_source_mapping_uuid" {
  description = "UUID of the consumer's event source mapping (the dashboard shows its EventCount metrics); null leaves that widget out."
  type        = string
  default     = null
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the handler's Embedded Metric Format metrics (the consumer's METRICS_NAMESPACE; the handler's default is `SqsBatchConsumer`)."
  type        = string
  default     = "SqsBatchConsumer"

  validation {
    condition     = can(regex("^[A-Za-z0-9._/#: -]{1,255}$", var.metrics_namespace)) && !startswith(var.metrics_namespace, "AWS/")
    error_message = "metrics_namespace: must be 1-255 characters of letters, digits, '.', '_', '/', '#', ':', '-' and space, and must not start with 'AWS/' (reserved)."
  }
}

variable "governor_function_name" {
  description = "Name of the concurrency governor function when it runs (its errors are alarmed on, its decisions shown on the dashboard); null when there is none."
  type        = string
  default     = null

  validation {
    condition     = var.governor_function_name == null || can(regex("^[A-Za-z0-9_-]{1,64}$", var.governor_function_name))
    error_message = "governor_function_name: must be null or a Lambda function name (1-64 characters of A-Z, a-z, 0-9, '-' and '_')."
  }
}

# ---- Thresholds ------------------------------------------------------------------------------

variable "max_message_age_seconds" {
  description = "Delivery SLA in seconds: the alarm fires when the source queue's oldest message is older (60-1209600)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_message_age_seconds >= 60 && var.max_message_age_seconds <= 1209600 && floor(var.max_message_age_seconds) == var.max_message_age_seconds
    error_message = "max_message_age_seconds: must be a whole number of seconds from 60 to 1209600 (14 days, the longest SQS retention)."
  }
}

variable "function_errors_threshold" {
  description = "Function errors (invocations that raised, crashed or timed out) per `period_seconds` above which the errors alarm fires. The handler never raises for a bad record or a failing API, so the default is 0."
  type        = number
  default     = 0

  validation {
    condition     = var.function_errors_threshold >= 0 && floor(var.function_errors_threshold) == var.function_errors_threshold
    error_message = "function_errors_threshold: must be a whole number >= 0."
  }
}

variable "function_throttles_threshold" {
  description = "Throttled invocations per `period_seconds` above which the throttles alarm fires."
  type        = number
  default     = 0

  validation {
    condition     = var.function_throttles_threshold >= 0 && floor(var.function_throttles_threshold) == var.function_throttles_threshold
    error_message = "function_throttles_threshold: must be a whole number >= 0."
  }
}

variable "batch_failed_threshold" {
  description = "Invocations per `period_seconds` that failed as a whole or failed every record (handler metric `batch_failed`) above which its alarm fires (in 1 of `evaluation_periods` periods)."
  type        = number
  default     = 0

  validation {
    condition     = var.batch_failed_threshold >= 0 && floor(var.batch_failed_threshold) == var.batch_failed_threshold
    error_message = "batch_failed_threshold: must be a whole number >= 0."
  }
}

variable "expired_threshold" {
  description = "Records sent to the DLQ as `expired` per `period_seconds` (handler metric `expired`) above which its alarm fires."
  type        = number
  default     = 0

  validation {
    condition     = var.expired_threshold >= 0 && floor(var.expired_threshold) == var.expired_threshold
    error_message = "expired_threshold: must be a whole number >= 0."
  }
}

variable "dlq_records_threshold" {
  description = "Records the handler sent to the DLQ per `period_seconds` (handler metric `dlq`, any error code) above which its alarm fires."
  type        = number
  default     = 0

  validation {
    condition     = var.dlq_records_threshold >= 0 && floor(var.dlq_records_threshold) == var.dlq_records_threshold
    error_message = "dlq_records_threshold: must be a whole number >= 0."
  }
}

variable "throttled_share_threshold" {
  description = "Share of API requests answered with a throttle (handler metrics throttled / requests), above which a period breaches; from 0 to 1 (exclusive). Some throttling is normal against a rate-limited API: the handler backs off."
  type        = number
  default     = 0.1

  validation {
    condition     = var.throttled_share_threshold > 0 && var.throttled_share_threshold < 1
    error_message = "throttled_share_threshold: must be above 0 and below 1 (a share of requests)."
  }
}

variable "throttled_share_datapoints" {
  description = "Breaching periods out of `evaluation_periods` that fire the throttled-share alarm (1 to `evaluation_periods`); null: 3, or `evaluation_periods` when fewer."
  type        = number
  default     = null

  validation {
    condition     = var.throttled_share_datapoints == null || try(var.throttled_share_datapoints >= 1 && var.throttled_share_datapoints <= var.evaluation_periods && floor(var.throttled_share_datapoints) == var.throttled_share_datapoints, false)
    error_message = "throttled_share_datapoints: must be null or a whole number from 1 to evaluation_periods."
  }
}

variable "period_seconds" {
  description = "Period of every alarm's metric in seconds: 60 or a multiple of 60 up to 86400."
  type        = number
  default     = 60

  validation {
    condition     = var.period_seconds >= 60 && var.period_seconds <= 86400 && var.period_seconds % 60 == 0
    error_message = "period_seconds: must be a multiple of 60 from 60 to 86400."
  }
}

variable "evaluation_periods" {
  description = "Consecutive breaching periods before the function errors and throttles alarms fire (1-100). The DLQ and message-age alarms fire on the first breaching period."
  type        = number
  default     = 5

  validation {
    condition     = var.evaluation_periods >= 1 && var.evaluation_periods <= 100 && floor(var.evaluation_periods) == var.evaluation_periods
    error_message = "evaluation_periods: must be a whole number from 1 to 100."
  }

  validation {
    condition     = var.evaluation_periods * var.period_seconds <= 86400
    error_message = "evaluation_periods: evaluation_periods x period_seconds must be at most 86400 (CloudWatch evaluates an alarm over one day at most)."
  }
}

# ---- Notifications ---------------------------------------------------------------------------

variable "create_sns_topic" {
  description = "Create an encrypted SNS topic `<name>-alarms` and notify it on alarm and on recovery."
  type        = bool
  default     = false
}

variable "sns_kms_key_arn" {
  description = "ARN of a customer-managed KMS key for the created SNS topic; its policy must let cloudwatch.amazonaws.com use kms:GenerateDataKey* and kms:Decrypt. Null: the module creates a key with rotation for the topic (the AWS-managed `alias/aws/sns` key cannot be used by CloudWatch alarms)."
  type        = string
  default     = null

  validation {
    condition     = var.sns_kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.sns_kms_key_arn))
    error_message = "sns_kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)."
  }
}

variable "alarm_actions" {
  description = "ARNs (SNS topics, for example) notified when an alarm fires and when it recovers, besides the created topic."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for arn in var.alarm_actions : can(regex("^arn:aws[a-z-]*:[a-z0-9-]+:", arn))])
    error_message = "alarm_actions: every entry must be an ARN (arn:<partition>:<service>:...)."
  }
}

# ---- Dashboard -------------------------------------------------------------------------------

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard `<name>`: queue depth and age, the event source mapping, the function's invocations, errors, throttles, duration and concurrency, and the handler's metrics."
  type        = bool
  default     = true
}

variable "max_concurrency_annotation" {
  description = "Maximum concurrency drawn as a line on the dashboard's concurrency widget (the mapping's maximum_concurrency, or the governor's maximum); null draws none."
  type        = number
  default     = null
}

variable "tags" {
  description = "Tags for the alarms and the SNS topic."
  type        = map(string)
  default     = {}
}
