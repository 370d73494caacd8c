# Source queue and dead-letter queue: redrive after max_receive_count receives, a DLQ that keeps
# messages longer than the source, encryption at rest, and policies that refuse non-TLS access.

locals {
  dlq_name = "${var.name}-dlq"

  # SSE-SQS unless a KMS key is given (the two are mutually exclusive in the SQS API).
  # The provider rejects sqs_managed_sse_enabled = false beside a key: leave it unset then.
  sqs_managed_sse_enabled = var.kms_key_arn == null ? true : null
}

resource "aws_sqs_queue" "dlq" {
  name                              = local.dlq_name
  message_retention_seconds         = var.dlq_message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_managed_sse_enabled
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds

  tags = var.tags
}

resource "aws_sqs_queue" "this" {
  name                              = var.name
  visibility_timeout_seconds        = var.visibility_timeout_seconds
  message_retention_seconds         = var.message_retention_seconds
  sqs_managed_sse_enabled           = local.sqs_managed_sse_enabled
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = var.kms_key_arn == null ? null : var.kms_data_key_reuse_period_seconds

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })

  tags = var.tags
}

# Only the source queue may use this DLQ (a redrive back to the source is still allowed: the
# allow policy governs which queues may send their failures here).
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}

# Deny every request that does not use TLS. Written with jsonencode (not a policy-document data
# source) so the plan shows the policy and `terraform test` can assert on it with mock providers.
locals {
  tls_only_policies = {
    for key, arn in { this = aws_sqs_queue.this.arn, dlq = aws_sqs_queue.dlq.arn } : key => jsonencode({
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

resource "aws_sqs_queue_policy" "this" {
  queue_url = aws_sqs_queue.this.id
  policy    = local.tls_only_policies["this"]
}

resource "aws_sqs_queue_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id
  policy    = local.tls_only_policies["dlq"]
}
