# ---- Names -----------------------------------------------------------------------------------

variable "name" {
  description = "Name of the source queue. The dead-letter queue is named `<name>-dlq`; with `fifo_queue` both names end in `.fifo` (added here, do not include it). 1-76 characters of letters, digits, `-` and `_` (SQS allows 80; the suffix takes 4), 1-71 with `fifo_queue`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,76}$", var.name))
    error_message = "name: must be 1-76 characters of A-Z, a-z, 0-9, '-' and '_' (an SQS queue name is at most 80 characters and the dead-letter queue adds '-dlq'); for FIFO queues set fifo_queue = true instead of writing '.fifo'."
  }

  validation {
    condition     = !var.fifo_queue || length(var.name) <= 71
    error_message = "name: with fifo_queue, at most 71 characters (the dead-letter queue's name '<name>-dlq.fifo' must fit SQS's 80)."
  }
}

variable "fifo_queue" {
  description = "Make both queues FIFO (`<name>.fifo`, `<name>-dlq.fifo`): order kept per message group, exactly-once within the 5-minute deduplication interval. Content-based deduplication stays off: producers set `MessageDeduplicationId` (the change's `event_id`) and `MessageGroupId` (the entity)."
  type        = bool
  default     = false
}

variable "fifo_high_throughput" {
  description = "With `fifo_queue`: high-throughput mode (`deduplication_scope = \"messageGroup\"`, `fifo_throughput_limit = \"perMessageGroupId\"`), so the throughput limit applies per message group instead of per queue. False: deduplication and the limit per queue."
  type        = bool
  default     = true
}

# ---- Source queue ----------------------------------------------------------------------------

variable "visibility_timeout_seconds" {
  description = "Visibility timeout of the source queue in seconds (0-43200). Lambda requires it to be at least the function timeout; AWS recommends 6 x the function timeout plus the batching window."
  type        = number
  default     = 30

  validation {
    condition     = var.visibility_timeout_seconds >= 0 && var.visibility_timeout_seconds <= 43200 && floor(var.visibility_timeout_seconds) == var.visibility_timeout_seconds
    error_message = "visibility_timeout_seconds: must be a whole number of seconds from 0 to 43200 (12 hours)."
  }
}

variable "message_retention_seconds" {
  description = "How long the source queue keeps a message, in seconds (60-1209600). Must be shorter than `dlq_message_retention_seconds`."
  type        = number
  default     = 345600

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && floor(var.message_retention_seconds) == var.message_retention_seconds
    error_message = "message_retention_seconds: must be a whole number of seconds from 60 (1 minute) to 1209600 (14 days)."
  }
}

variable "max_receive_count" {
  description = "Receives of a message before SQS moves it to the dead-letter queue (`maxReceiveCount` of the redrive policy, 1-1000). Keep it at 5 or more so throttles and transient API errors are retried first."
  type        = number
  default     = 5

  validation {
    condition     = var.max_receive_count >= 1 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count: must be a whole number from 1 to 1000 (SQS maxReceiveCount)."
  }
}

# ---- Dead-letter queue -----------------------------------------------------------------------

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message, in seconds (60-1209600). Must be longer than the source queue's retention: a message's age counts from its first enqueue, so an equal retention can expire it on arrival."
  type        = number
  default     = 1209600

  validation {
    condition     = var.dlq_message_retention_seconds >= 60 && var.dlq_message_retention_seconds <= 1209600 && floor(var.dlq_message_retention_seconds) == var.dlq_message_retention_seconds
    error_message = "dlq_message_retention_seconds: must be a whole number of seconds from 60 (1 minute) to 1209600 (14 days)."
  }

  validation {
    condition     = var.dlq_message_retention_seconds > var.message_retention_seconds
    error_message = "dlq_message_retention_seconds: must be longer than message_retention_seconds (a message's age counts from its first enqueue, so the dead-letter queue must keep it longer than the source queue)."
  }
}

# ---- Encryption ------------------------------------------------------------------------------

variable "kms_key_arn" {
  description = "ARN of a KMS key that encrypts both queues. When null, both queues use SSE-SQS (SQS-managed keys). The consumer's role needs kms:Decrypt and kms:GenerateDataKey on it (the consumer module grants them)."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.kms_key_arn))
    error_message = "kms_key_arn: must be null or a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>); aliases are not accepted because IAM grants need the key ARN."
  }
}

variable "kms_data_key_reuse_period_seconds" {
  description = "How long SQS reuses a data key before calling KMS again, in seconds (60-86400). Only used with `kms_key_arn`."
  type        = number
  default     = 300

  validation {
    condition     = var.kms_data_key_reuse_period_seconds >= 60 && var.kms_data_key_reuse_period_seconds <= 86400 && floor(var.kms_data_key_reuse_period_seconds) == var.kms_data_key_reuse_period_seconds
    error_message = "kms_data_key_reuse_period_seconds: must be a whole number of seconds from 60 to 86400 (24 hours)."
  }
}

# ---- Tags ------------------------------------------------------------------------------------

variable "tags" {
  description = "Tags for both queues."
  type        = map(string)
  default     = {}
}
