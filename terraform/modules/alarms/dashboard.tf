# The stack's CloudWatch dashboard: one page an on-call engineer reads top to bottom. Queue depth
# and age first (is work waiting?), then the event source mapping and the function (is it
# running, failing, throttled, slow, how wide?), then the handler's own metrics (what happened to
# the records and the API requests).

data "aws_region" "current" {}

locals {
  # The provider's region on hashicorp/aws 5.x (`name`) and 6.x (`region`; `name` deprecated):
  # read from the whole object, so neither version sees a reference it lacks or deprecates.
  region   = lookup(data.aws_region.current, "region", null) != null ? lookup(data.aws_region.current, "region", null) : lookup(data.aws_region.current, "name", null)
  function = { FunctionName = var.function_name }

  # One CloudWatch metric line: [namespace, metric, dimension name, value, ..., {options}].
  handler_metric = { for metric in ["received", "invalid", "duplicates", "coalesced", "operations", "requests", "throttled", "permanent", "transient", "dlq", "expired", "batch_failed"] :
    metric => [var.metrics_namespace, metric, "FunctionName", var.function_name, { stat = "Sum", label = metric }]
  }

  widgets = concat(
    [
      {
        title = "Queue depth"
        metrics = [
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.queue_name, { label = "visible (waiting)" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", var.queue_name, { label = "in flight or backing off" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", var.dlq_name, { label = "in the DLQ" }],
        ]
        stat        = "Maximum"
        annotations = {}
      },
      {
        title       = "Oldest message age (s)"
        metrics     = [["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", var.queue_name, { label = "oldest message" }]]
        stat        = "Maximum"
        annotations = { horizontal = [{ label = "delivery SLA", value = var.max_message_age_seconds }] }
      },
      {
        title = "Invocations, errors and throttles"
        metrics = [
          ["AWS/Lambda", "Invocations", "FunctionName", var.function_name],
          ["AWS/Lambda", "Errors", "FunctionName", var.function_name],
          ["AWS/Lambda", "Throttles", "FunctionName", var.function_name],
        ]
        stat        = "Sum"
        annotations = {}
      },
      {
        title = "Duration (ms)"
        metrics = [
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "Average", label = "average" }],
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "p99", label = "p99" }],
          ["AWS/Lambda", "Duration", "FunctionName", var.function_name, { stat = "Maximum", label = "maximum" }],
        ]
        stat        = "Average"
        annotations = {}
      },
      {
        title = "Concurrency"
        metrics = concat(
          [["AWS/Lambda", "ConcurrentExecutions", "FunctionName", var.function_name, { label = "concurrent executions" }]],
          # The governor's decisions, whatever dimensions its EMF line carries.
          var.governor_function_name == null ? [] : [[{ expression = "SEARCH('{${var.metrics_namespace}} MetricName=\"governor_concurrency\"', 'Maximum', ${var.period_seconds})", label = "governor: MaximumConcurrency", id = "governor" }]],
        )
        stat        = "Maximum"
        annotations = var.max_concurrency_annotation == null ? {} : { horizontal = [{ label = "maximum concurrency", value = var.max_concurrency_annotation }] }
      },
    ],
    var.event_source_mapping_uuid == null ? [] : [
      {
        title = "Event source mapping (records)"
        metrics = [for metric in ["PolledEventCount", "InvokedEventCount", "FailedInvokeEventCount", "FilteredOutEventCount", "DroppedEventCount", "DeletedEventCount"] :
          ["AWS/Lambda", metric, "EventSourceMappingUUID", var.event_source_mapping_uuid]
        ]
        stat        = "Sum"
        annotations = {}
      },
    ],
    [
      {
        title       = "Handler: records"
        metrics     = [for metric in ["received", "invalid", "duplicates", "coalesced", "dlq", "expired"] : local.handler_metric[metric]]
        stat        = "Sum"
        annotations = {}
      },
      {
        title       = "Handler: API requests and outcomes"
        metrics     = [for metric in ["operations", "requests", "throttled", "permanent", "transient", "batch_failed"] : local.handler_metric[metric]]
        stat        = "Sum"
        annotations = {}
      },
      {
        title = "Handler: throttled share of API requests"
        metrics = [
          [{ expression = "IF(requests > 0, throttled / requests, 0)", label = "throttled / requests", id = "share" }],
          [var.metrics_namespace, "throttled", "FunctionName", var.function_name, { id = "throttled", visible = false }],
          [var.metrics_namespace, "requests", "FunctionName", var.function_name, { id = "requests", visible = false }],
        ]
        stat        = "Sum"
        annotations = { horizontal = [{ label = "alarm threshold", value = var.throttled_share_threshold }] }
      },
    ],
  )
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = [
      for index, widget in local.widgets : {
        type   = "metric"
        x      = (index % 2) * 12
        y      = floor(index / 2) * 6
        width  = 12
        height = 6
        properties = {
          title       = widget.title
          region      = local.region
          view        = "timeSeries"
          stacked     = false
          stat        = widget.stat
          period      = var.period_seconds
          metrics     = widget.metrics
          annotations = widget.annotations
        }
      }
    ]
  })
}
