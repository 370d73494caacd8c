# Source queue and dead-letter queue: redrive after max_receive_count receives, a DLQ that keeps
# messages longer than the source, encryption at rest, and policies that refuse non-TLS access.

data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # The provider's region on hashicorp/aws 5.x (`name`) and 6.x (`region`; `name` deprecated):
  # read from the whole object, so neither version sees a reference it lacks or deprecates.
  region = lookup(data.aws_region.current, "region", null) != null ? lookup(data.aws_region.current, "region", null) : lookup(data.aws_region.current, "name", null)

  # FIFO queues' names must end in .fifo; the DLQ of a FIFO queue must be FIFO too.
  suffix     = var.fifo_queue ? ".fifo" : ""
  queue_name = "${var.name}${local.suffix}"
  dlq_name   = "${var.name}-dlq${local.suffix}"

  # FIFO settings, null on standard queues (SQS rejects them there).
  fifo = var.fifo_queue ? {
    fifo_queue                  = true
    content_based_deduplication = false
    deduplication_scope         = var.fifo_high_throughput ? "messageGroup" : "queue"
    fifo_throughput_limit       = var.fifo_high_throughput ? "perMessageGroupId" : "perQueue"
    } : {
    fifo_queue                  = null
    content_based_deduplication = null
    deduplication_scope         = null
    fifo_throughput_limit       = null
  }

  # The ARNs are built from the names so that each queue can carry its policies inline: separate
  # aws_sqs_queue_policy / aws_sqs_queue_redrive_allow_policy resources would have to point back
  # at the queues, and their deletion waits on attribute propagation (in LocalStack it never
  # ends for the redrive-allow policy).
  arn_prefix = "arn:${data.aws_partition.current.partition}:sqs:${local.region}:${data.aws_caller_identity.current.account_id}"
  queue_arn  = "${local.arn_prefix}:${local.queue_name}"
  dlq_arn    = "${local.arn_prefix}:${local.dlq_name}"

  # SSE-SQS unless a KMS key is given (the two are mutually exclusive in the SQS API).
  # The provider rejects sqs_managed_sse_enabled = false beside a key: leave it unset then.
  sqs_managed_sse_enabled = var.kms_key_arn == null ? true : null
}

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  fifo_queue                        = local.fifo.fifo_queue
  content_based_deduplication       = local.fifo.content_based_deduplication
  deduplication_scope               = local.fifo.deduplication_scope
  fifo_throughput_limit             = local.fifo.fifo_throughput_limit
  message_retention_seconds         = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_managed_sse_enabled
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds

  policy = local.tls_only_policies.dlq

  # Only the source queue may use this DLQ.
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [local.queue_arn]
  })

  tags = var.tags

  lifecycle {
    postcondition {
      condition     = self.arn == local.dlq_arn
      error_message = "The queue's ARN ${self.arn} differs from the ARN its policies were written for (${local.dlq_arn})."
    }
  }
}

resource "aws_sqs_queue" "this" {
  name                              = local.queue_name
  fifo_queue                        = local.fifo.fifo_queue
  content_based_deduplication       = local.fifo.content_based_deduplication
  deduplication_scope               = local.fifo.deduplication_scope
  fifo_throughput_limit             = local.fifo.fifo_throughput_limit
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_managed_sse_enabled
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds

  policy = local.tls_only_policies.this

  # FIFO to FIFO, standard to standard: the DLQ is always the source queue's type.
  redrive_policy = jsonencode({
    deadLetterTargetArn = local.dlq_arn
    maxReceiveCount     = var.max_receive_count
  })

  # The redrive policy names the DLQ by its ARN string: it must exist first.
  depends_on = [aws_sqs_queue.dlq]

  tags = var.tags

  lifecycle {
    postcondition {
      condition     = self.arn == local.queue_arn
      error_message = "The queue's ARN ${self.arn} differs from the ARN its policies were written for (${local.queue_arn})."
    }
  }
}

# Deny every request that does not use TLS. Written with jsonencode (not a policy-document data
# source) so the plan shows the policy and `terraform test` can assert on it with mock providers.
locals {
  tls_only_policies = {
    for key, arn in { this = local.queue_arn, dlq = local.dlq_arn } : key => jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      }]
    })
  }
}
