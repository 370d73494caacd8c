# CloudWatch alarms of the consumer: a non-empty DLQ, a source queue older than the delivery SLA,
# function errors and throttles, the handler's own failure signals (batch_failed, expired and
# DLQ'd records, the throttled share of API requests), the governor's errors when it runs;
# optionally an encrypted SNS topic that receives them. The dashboard is in dashboard.tf.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  create_topic_key = var.create_sns_topic && var.sns_kms_key_arn == null
  topic_arns       = var.create_sns_topic ? [aws_sns_topic.this[0].arn] : []
  actions          = concat(local.topic_arns, var.alarm_actions)

  throttled_share_datapoints = coalesce(var.throttled_share_datapoints, min(3, var.evaluation_periods))
}

# ---- Notifications ---------------------------------------------------------------------------

# CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed aws/sns key, so the
# topic gets its own key whose policy admits the CloudWatch service from this account only.
resource "aws_kms_key" "topic" {
  count = local.create_topic_key ? 1 : 0

  description             = "Encrypts the ${var.name}-alarms SNS topic."
  enable_key_rotation     = true
  deletion_window_in_days = 30

  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministersKey"
        Effect    = "Allow"
        Principal = { AWS = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "CloudWatchAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = ["kms:Decrypt", "kms:GenerateDataKey*"]
        Resource  = "*"
        Condition = { StringEquals = { "aws:SourceAccount" = data.aws_caller_identity.current.account_id } }
      },
    ]
  })

  tags = var.tags
}

resource "aws_sns_topic" "this" {
  count = var.create_sns_topic ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = local.create_topic_key ? aws_kms_key.topic[0].arn : var.sns_kms_key_arn

  tags = var.tags
}

# ---- Alarms ----------------------------------------------------------------------------------

locals {
  # One entry per alarm; every alarm notifies on ALARM and on OK and treats missing data as fine
  # (no messages and no invocations produce no data points).
  alarms = {
    dlq_not_empty = {
      description         = "Messages are waiting in the dead-letter queue ${var.dlq_name}: records the handler rejected (message attribute error_code) or that failed max_receive_count times. Inspect them, fix the cause, then redrive."
      namespace           = "AWS/SQS"
      metric_name         = "ApproximateNumberOfMessagesVisible"
      dimensions          = { QueueName = var.dlq_name }
      statistic           = "Maximum"
      threshold           = 0
      evaluation_periods  = 1
      datapoints_to_alarm = 1
    }
    oldest_message_age = {
      description         = "The oldest message in ${var.queue_name} is older than the delivery SLA of ${var.max_message_age_seconds} s: the consumer is not keeping up (API throttling, low maximum_concurrency) or is not running (mapping disabled, function failing)."
      namespace           = "AWS/SQS"
      metric_name         = "ApproximateAgeOfOldestMessage"
      dimensions          = { QueueName = var.queue_name }
      statistic           = "Maximum"
      threshold           = var.max_message_age_seconds
      evaluation_periods  = 1
      datapoints_to_alarm = 1
    }
    function_errors = {
      description         = "The function ${var.function_name} raised, crashed or timed out (the handler itself never raises for bad records or API failures): the whole batch returns to the queue. Read the function's log group for the error."
      namespace           = "AWS/Lambda"
      metric_name         = "Errors"
      dimensions          = { FunctionName = var.function_name }
      statistic           = "Sum"
      threshold           = var.function_errors_threshold
      evaluation_periods  = var.evaluation_periods
      datapoints_to_alarm = 1
    }
    function_throttles = {
      description         = "Invocations of ${var.function_name} were throttled: reserved concurrency below maximum_concurrency, or the account's concurrency limit reached. Messages are retried and may reach the DLQ."
      namespace           = "AWS/Lambda"
      metric_name         = "Throttles"
      dimensions          = { FunctionName = var.function_name }
      statistic           = "Sum"
      threshold           = var.function_throttles_threshold
      evaluation_periods  = var.evaluation_periods
      datapoints_to_alarm = 1
    }
    batch_failed = {
      description         = "Invocations of ${var.function_name} failed as a whole (the handler's catch-all path) or failed every record (handler metric batch_failed in ${var.metrics_namespace}): nothing gets through. Read the function's ERROR log lines: API unreachable or refusing auth, DLQ unreachable, a bug."
      namespace           = var.metrics_namespace
      metric_name         = "batch_failed"
      dimensions          = { FunctionName = var.function_name }
      statistic           = "Sum"
      threshold           = var.batch_failed_threshold
      evaluation_periods  = var.evaluation_periods
      datapoints_to_alarm = 1
    }
    expired = {
      description         = "The handler sent valid changes to the DLQ ${var.dlq_name} as expired (handler metric expired): they were retried for the whole retry horizon without being applied. The API was down or throttling for longer than the horizon; fix it, then redrive."
      namespace           = var.metrics_namespace
      metric_name         = "expired"
      dimensions          = { FunctionName = var.function_name }
      statistic           = "Sum"
      threshold           = var.expired_threshold
      evaluation_periods  = 1
      datapoints_to_alarm = 1
    }
    dlq_records = {
      description         = "The handler sent records to the DLQ ${var.dlq_name} in the last period (handler metric dlq: invalid_json, schema_violation, rejected_by_api or expired). Unlike dlq-not-empty, which stays in ALARM while messages wait, this one fires again for each new burst."
      namespace           = var.metrics_namespace
      metric_name         = "dlq"
      dimensions          = { FunctionName = var.function_name }
      statistic           = "Sum"
      threshold           = var.dlq_records_threshold
      evaluation_periods  = 1
      datapoints_to_alarm = 1
    }
  }

  # The governor's errors, only when it runs: a failing governor leaves MaximumConcurrency where
  # it last set it.
  governor_alarms = var.governor_function_name == null ? {} : {
    governor_errors = {
      description         = "The concurrency governor ${coalesce(var.governor_function_name, "-")} failed: the mapping's MaximumConcurrency stays where it last set it. Read the governor's log group."
      namespace           = "AWS/Lambda"
      metric_name         = "Errors"
      dimensions          = { FunctionName = coalesce(var.governor_function_name, "-") }
      statistic           = "Sum"
      threshold           = 0
      evaluation_periods  = var.evaluation_periods
      datapoints_to_alarm = 1
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = merge(local.alarms, local.governor_alarms)

  alarm_name          = "${var.name}-${replace(each.key, "_", "-")}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = var.period_seconds
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  comparison_operator = "GreaterThanThreshold"
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"

  alarm_actions = local.actions
  ok_actions    = local.actions

  tags = var.tags
}

# The share of API requests answered with a throttle (429/503), from the handler's EMF metrics:
# throttled / requests per period. A period without requests counts as 0, not as missing data.
resource "aws_cloudwatch_metric_alarm" "throttled_share" {
  alarm_name          = "${var.name}-throttled-share"
  alarm_description   = "More than ${var.throttled_share_threshold * 100}% of ${var.function_name}'s API requests were throttled (429/503) in ${local.throttled_share_datapoints} of ${var.evaluation_periods} periods: the entity API's rate limit is reached. Lower maximum_concurrency (or enable adaptive_concurrency), or raise the API's limit."
  evaluation_periods  = var.evaluation_periods
  datapoints_to_alarm = local.throttled_share_datapoints
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.throttled_share_threshold
  treat_missing_data  = "notBreaching"

  metric_query {
    id          = "share"
    expression  = "IF(requests > 0, throttled / requests, 0)"
    label       = "Throttled share of API requests"
    return_data = true
  }

  dynamic "metric_query" {
    for_each = ["throttled", "requests"]
    content {
      id = metric_query.value
      metric {
        namespace   = var.metrics_namespace
        metric_name = metric_query.value
        dimensions  = { FunctionName = var.function_name }
        stat        = "Sum"
        period      = var.period_seconds
      }
    }
  }

  alarm_actions = local.actions
  ok_actions    = local.actions

  tags = var.tags
}
