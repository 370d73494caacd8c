# Tests of the alarms module with a mocked AWS provider: what each alarm watches, its threshold,
# its notifications, the optional encrypted topic, and every input rule.

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  name          = "orders"
  queue_name    = "orders"
  dlq_name      = "orders-dlq"
  function_name = "orders"
}

# Seven alarms and the throttled-share alarm on the defaults, and the dashboard (with the
# mapping's UUID and a concurrency annotation).
run "defaults_alarms_and_dashboard" {
  command = plan

  variables {
    event_source_mapping_uuid  = "2f5e3f1e-0000-4000-8000-000000000000"
    max_concurrency_annotation = 5
  }

  assert {
    condition = {
      for key, alarm in aws_cloudwatch_metric_alarm.this :
      key => [alarm.alarm_name, alarm.namespace, alarm.metric_name, alarm.statistic, alarm.comparison_operator, alarm.threshold, alarm.dimensions]
      } == {
      dlq_not_empty      = ["orders-dlq-not-empty", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "GreaterThanThreshold", 0, tomap({ QueueName = "orders-dlq" })]
      oldest_message_age = ["orders-oldest-message-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", "GreaterThanThreshold", 3600, tomap({ QueueName = "orders" })]
      function_errors    = ["orders-function-errors", "AWS/Lambda", "Errors", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
      function_throttles = ["orders-function-throttles", "AWS/Lambda", "Throttles", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
      batch_failed       = ["orders-batch-failed", "SqsBatchConsumer", "batch_failed", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
      expired            = ["orders-expired", "SqsBatchConsumer", "expired", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
      dlq_records        = ["orders-dlq-records", "SqsBatchConsumer", "dlq", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
    }
    error_message = "seven metric alarms: DLQ not empty, oldest message over the 3600 s SLA, any function error, any throttle, any batch_failed, any expired record, any record sent to the DLQ (no governor alarm without a governor)"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.throttled_share.alarm_name == "orders-throttled-share" &&
      aws_cloudwatch_metric_alarm.throttled_share.threshold == 0.1 &&
      aws_cloudwatch_metric_alarm.throttled_share.evaluation_periods == 5 &&
      aws_cloudwatch_metric_alarm.throttled_share.datapoints_to_alarm == 3 &&
      aws_cloudwatch_metric_alarm.throttled_share.treat_missing_data == "notBreaching"
    )
    error_message = "the throttled-share alarm fires above 10% in 3 of 5 periods"
  }

  assert {
    condition = (
      [for q in aws_cloudwatch_metric_alarm.throttled_share.metric_query : [q.id, q.expression] if q.return_data == true] == [["share", "IF(requests > 0, throttled / requests, 0)"]] &&
      {
        for q in aws_cloudwatch_metric_alarm.throttled_share.metric_query :
        q.id => [q.metric[0].namespace, q.metric[0].metric_name, q.metric[0].stat, q.metric[0].dimensions.FunctionName] if length(q.metric) > 0
        } == {
        throttled = ["SqsBatchConsumer", "throttled", "Sum", "orders"]
        requests  = ["SqsBatchConsumer", "requests", "Sum", "orders"]
      }
    )
    error_message = "the throttled share must be the handler's throttled / requests sums, 0 in a period without requests"
  }

  assert {
    condition     = alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.treat_missing_data == "notBreaching" && alarm.period == 60])
    error_message = "an idle queue or function (no data points) must not alarm; 60 s periods by default"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dlq_not_empty"].evaluation_periods == 1 && aws_cloudwatch_metric_alarm.this["function_errors"].evaluation_periods == 5 && aws_cloudwatch_metric_alarm.this["function_errors"].datapoints_to_alarm == 1
    error_message = "the DLQ alarm fires on the first period; errors on 1 of 5 periods"
  }

  assert {
    condition     = length(aws_sns_topic.this) == 0 && length(aws_kms_key.topic) == 0 && alltrue([for alarm in aws_cloudwatch_metric_alarm.this : length(alarm.alarm_actions) == 0])
    error_message = "no topic, no key and no actions unless asked for"
  }

  assert {
    condition     = aws_cloudwatch_dashboard.this[0].dashboard_name == "orders" && output.dashboard_name == "orders"
    error_message = "a dashboard named after the stack must be created by default"
  }

  assert {
    condition = [for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.title] == [
      "Queue depth", "Oldest message age (s)", "Invocations, errors and throttles", "Duration (ms)", "Concurrency",
      "Event source mapping (records)", "Handler: records", "Handler: API requests and outcomes", "Handler: throttled share of API requests",
    ]
    error_message = "the dashboard must show queue depth and age, the function, the mapping and the handler's metrics, in that order"
  }

  assert {
    condition = toset(flatten([
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : [
        for m in w.properties.metrics : "${m[0]} ${m[1]} ${m[3]}" if can(m[3])
      ]
      ])) == toset([
      "AWS/SQS ApproximateNumberOfMessagesVisible orders",
      "AWS/SQS ApproximateNumberOfMessagesNotVisible orders",
      "AWS/SQS ApproximateNumberOfMessagesVisible orders-dlq",
      "AWS/SQS ApproximateAgeOfOldestMessage orders",
      "AWS/Lambda Invocations orders",
      "AWS/Lambda Errors orders",
      "AWS/Lambda Throttles orders",
      "AWS/Lambda Duration orders",
      "AWS/Lambda ConcurrentExecutions orders",
      "AWS/Lambda PolledEventCount 2f5e3f1e-0000-4000-8000-000000000000",
      "AWS/Lambda InvokedEventCount 2f5e3f1e-0000-4000-8000-000000000000",
      "AWS/Lambda FailedInvokeEventCount 2f5e3f1e-0000-4000-8000-000000000000",
      "AWS/Lambda FilteredOutEventCount 2f5e3f1e-0000-4000-8000-000000000000",
      "AWS/Lambda DroppedEventCount 2f5e3f1e-0000-4000-8000-000000000000",
      "AWS/Lambda DeletedEventCount 2f5e3f1e-0000-4000-8000-000000000000",
      "SqsBatchConsumer received orders",
      "SqsBatchConsumer invalid orders",
      "SqsBatchConsumer duplicates orders",
      "SqsBatchConsumer coalesced orders",
      "SqsBatchConsumer dlq orders",
      "SqsBatchConsumer expired orders",
      "SqsBatchConsumer operations orders",
      "SqsBatchConsumer requests orders",
      "SqsBatchConsumer throttled orders",
      "SqsBatchConsumer permanent orders",
      "SqsBatchConsumer transient orders",
      "SqsBatchConsumer batch_failed orders",
    ])
    error_message = "the dashboard's metrics must be the queues', the function's, the mapping's and every handler metric, on this stack's resources"
  }

  assert {
    condition = alltrue([
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.region == "us-east-1" && w.properties.period == 60
    ])
    error_message = "every widget must read this region at the alarm period"
  }

  assert {
    condition = [
      for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets : w.properties.annotations.horizontal[0].value if w.properties.title == "Concurrency"
    ] == [5] && !strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "governor_concurrency")
    error_message = "the concurrency widget must draw the maximum concurrency, and no governor line without a governor"
  }
}

run "sla_and_thresholds_follow_inputs" {
  command = plan

  variables {
    max_message_age_seconds      = 900
    function_errors_threshold    = 3
    function_throttles_threshold = 10
    batch_failed_threshold       = 4
    expired_threshold            = 5
    dlq_records_threshold        = 6
    throttled_share_threshold    = 0.25
    throttled_share_datapoints   = 2
    period_seconds               = 300
    evaluation_periods           = 2
    metrics_namespace            = "Orders Sync/Consumer"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["oldest_message_age"].threshold == 900 &&
      aws_cloudwatch_metric_alarm.this["function_errors"].threshold == 3 &&
      aws_cloudwatch_metric_alarm.this["function_throttles"].threshold == 10 &&
      aws_cloudwatch_metric_alarm.this["batch_failed"].threshold == 4 &&
      aws_cloudwatch_metric_alarm.this["expired"].threshold == 5 &&
      aws_cloudwatch_metric_alarm.this["dlq_records"].threshold == 6 &&
      aws_cloudwatch_metric_alarm.this["function_throttles"].evaluation_periods == 2 &&
      alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.period == 300])
    )
    error_message = "thresholds, period and evaluation periods must follow the inputs"
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.throttled_share.threshold == 0.25 &&
      aws_cloudwatch_metric_alarm.throttled_share.datapoints_to_alarm == 2 &&
      alltrue([for q in aws_cloudwatch_metric_alarm.throttled_share.metric_query : q.metric[0].period == 300 && q.metric[0].namespace == "Orders Sync/Consumer" if length(q.metric) > 0])
    )
    error_message = "the throttled-share alarm must follow its threshold, datapoints, the period and the namespace"
  }

  assert {
    condition     = alltrue([for key in ["batch_failed", "expired", "dlq_records"] : aws_cloudwatch_metric_alarm.this[key].namespace == "Orders Sync/Consumer"])
    error_message = "the handler's alarms must read the given metrics namespace"
  }
}

# A governor's Errors alarm and dashboard line; a given topic key (none created); the longest
# SLA (14 days); 100 evaluation periods of 840 s (84,000 s in all).
run "governor_topic_key_and_long_windows" {
  command = plan

  variables {
    governor_function_name  = "orders-governor"
    create_sns_topic        = true
    sns_kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"
    max_message_age_seconds = 1209600
    evaluation_periods      = 100
    period_seconds          = 840
  }

  assert {
    condition = [
      for key, alarm in aws_cloudwatch_metric_alarm.this :
      [alarm.alarm_name, alarm.namespace, alarm.metric_name, alarm.dimensions] if key == "governor_errors"
    ] == [["orders-governor-errors", "AWS/Lambda", "Errors", tomap({ FunctionName = "orders-governor" })]]
    error_message = "with a governor, its Errors must be alarmed on"
  }

  assert {
    condition     = strcontains(aws_cloudwatch_dashboard.this[0].dashboard_body, "governor_concurrency")
    error_message = "with a governor, the dashboard must show its decisions"
  }

  assert {
    condition     = length(aws_kms_key.topic) == 0 && aws_sns_topic.this[0].kms_master_key_id == var.sns_kms_key_arn
    error_message = "a given key must be used and none created"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["oldest_message_age"].threshold == 1209600
    error_message = "an SLA of 14 days must be accepted"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["function_errors"].evaluation_periods == 100 && aws_cloudwatch_metric_alarm.this["function_errors"].period == 840
    error_message = "100 periods of 840 s (84,000 s in all) must be accepted"
  }
}

# ---- Dashboard and topic ---------------------------------------------------------------------

# No dashboard; the shortest SLA (60 s); one evaluation period of a day.
run "dashboard_off_and_short_windows" {
  command = plan

  variables {
    create_dashboard        = false
    max_message_age_seconds = 60
    evaluation_periods      = 1
    period_seconds          = 86400
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0 && output.dashboard_name == null
    error_message = "create_dashboard = false must create no dashboard"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["oldest_message_age"].threshold == 60
    error_message = "an SLA of 60 s must be accepted"
  }

  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dlq_not_empty"].period == 86400
    error_message = "a one-day period with one evaluation period must be accepted"
  }
}

run "created_topic_is_encrypted_with_its_own_key" {
  command = apply

  variables {
    create_sns_topic = true
    alarm_actions    = ["arn:aws:sns:us-east-1:123456789012:on-call"]
  }

  override_resource {
    target = aws_kms_key.topic[0]
    values = { arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555" }
  }

  override_resource {
    target = aws_sns_topic.this[0]
    values = { arn = "arn:aws:sns:us-east-1:123456789012:orders-alarms" }
  }

  assert {
    condition     = aws_sns_topic.this[0].name == "orders-alarms" && aws_sns_topic.this[0].kms_master_key_id == "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    error_message = "the topic must be encrypted with the key created for it"
  }

  assert {
    condition     = aws_kms_key.topic[0].enable_key_rotation
    error_message = "the topic key must rotate"
  }

  assert {
    condition = [
      for s in jsondecode(aws_kms_key.topic[0].policy).Statement : [s.Principal, s.Action, s.Condition] if s.Sid == "CloudWatchAlarmsPublish"
      ][0] == [
      { Service = "cloudwatch.amazonaws.com" },
      ["kms:Decrypt", "kms:GenerateDataKey*"],
      { StringEquals = { "aws:SourceAccount" = "123456789012" } },
    ]
    error_message = "the key policy must let CloudWatch of this account (only) encrypt for the topic"
  }

  assert {
    condition = alltrue([
      for alarm in aws_cloudwatch_metric_alarm.this :
      alarm.alarm_actions == toset(["arn:aws:sns:us-east-1:123456789012:orders-alarms", "arn:aws:sns:us-east-1:123456789012:on-call"]) && alarm.ok_actions == alarm.alarm_actions
    ])
    error_message = "every alarm must notify the created topic and the given actions, on alarm and on recovery"
  }

  assert {
    condition     = output.sns_topic_arn == "arn:aws:sns:us-east-1:123456789012:orders-alarms"
    error_message = "the topic ARN must be an output"
  }
}

# ---- Input rules -----------------------------------------------------------------------------
# Each `run` plans anew (~1.5 s of CPU), so one run checks several rules: `expect_failures` lists
# every variable given a bad value (Terraform fails the run if a listed one does not fail, or an
# unlisted one does). evaluation_periods's rule reads period_seconds and
# throttled_share_datapoints's reads evaluation_periods; a rule that reads an invalid variable is
# skipped, so those pairs never share a run.

# max_message_age_seconds: 59. The five count thresholds: negative. throttled_share_threshold: 0.
# metrics_namespace: the reserved AWS/ prefix. governor_function_name: an ARN, not a name.
# alarm_actions: not an ARN. sns_kms_key_arn: an alias. name, queue_name, dlq_name,
# function_name: a space, a dot, empty, a colon. evaluation_periods: 0.
run "rejects_bad_values_short_sla" {
  command = plan

  variables {
    max_message_age_seconds      = 59
    function_errors_threshold    = -1
    function_throttles_threshold = -1
    batch_failed_threshold       = -1
    expired_threshold            = -1
    dlq_records_threshold        = -1
    throttled_share_threshold    = 0
    metrics_namespace            = "AWS/Lambda"
    governor_function_name       = "arn:aws:lambda:us-east-1:123456789012:function:orders-governor"
    alarm_actions                = ["on-call@example.com"]
    sns_kms_key_arn              = "alias/aws/sns"
    name                         = "orders alarms"
    queue_name                   = "orders.v2"
    dlq_name                     = ""
    function_name                = "orders:prod"
    evaluation_periods           = 0
  }

  expect_failures = [
    var.max_message_age_seconds, var.function_errors_threshold, var.function_throttles_threshold,
    var.batch_failed_threshold, var.expired_threshold, var.dlq_records_threshold,
    var.throttled_share_threshold, var.metrics_namespace, var.governor_function_name,
    var.alarm_actions, var.sns_kms_key_arn, var.name, var.queue_name, var.dlq_name,
    var.function_name, var.evaluation_periods,
  ]
}

# max_message_age_seconds: 1209601. evaluation_periods: 25 of 3600 s (more than a day).
# throttled_share_threshold: 1. metrics_namespace: a comma.
run "rejects_bad_values_long_sla" {
  command = plan

  variables {
    max_message_age_seconds   = 1209601
    evaluation_periods        = 25
    period_seconds            = 3600
    throttled_share_threshold = 1
    metrics_namespace         = "Orders,Sync"
  }

  expect_failures = [
    var.max_message_age_seconds, var.evaluation_periods, var.throttled_share_threshold,
    var.metrics_namespace,
  ]
}

# period_seconds: 90 (not a multiple of 60).
run "period_rejects_90" {
  command = plan

  variables {
    period_seconds = 90
  }

  expect_failures = [var.period_seconds]
}

# throttled_share_datapoints: 3 of 2 evaluation periods.
run "throttled_share_datapoints_reject_more_than_evaluation_periods" {
  command = plan

  variables {
    evaluation_periods         = 2
    throttled_share_datapoints = 3
  }

  expect_failures = [var.throttled_share_datapoints]
}
