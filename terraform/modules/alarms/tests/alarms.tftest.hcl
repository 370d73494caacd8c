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

run "alarms_watch_the_right_metrics" {
  command = plan

  assert {
    condition = {
      for key, alarm in aws_cloudwatch_metric_alarm.this :
      key => [alarm.alarm_name, alarm.namespace, alarm.metric_name, alarm.statistic, alarm.comparison_operator, alarm.threshold, alarm.dimensions]
      } == {
      dlq_not_empty      = ["orders-dlq-not-empty", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum", "GreaterThanThreshold", 0, tomap({ QueueName = "orders-dlq" })]
      oldest_message_age = ["orders-oldest-message-age", "AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum", "GreaterThanThreshold", 3600, tomap({ QueueName = "orders" })]
      function_errors    = ["orders-function-errors", "AWS/Lambda", "Errors", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
      function_throttles = ["orders-function-throttles", "AWS/Lambda", "Throttles", "Sum", "GreaterThanThreshold", 0, tomap({ FunctionName = "orders" })]
    }
    error_message = "four alarms: DLQ not empty, oldest message over the 3600 s SLA, any function error, any throttle"
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
}

run "sla_and_thresholds_follow_inputs" {
  command = plan

  variables {
    max_message_age_seconds      = 900
    function_errors_threshold    = 3
    function_throttles_threshold = 10
    period_seconds               = 300
    evaluation_periods           = 2
  }

  assert {
    condition = (
      aws_cloudwatch_metric_alarm.this["oldest_message_age"].threshold == 900 &&
      aws_cloudwatch_metric_alarm.this["function_errors"].threshold == 3 &&
      aws_cloudwatch_metric_alarm.this["function_throttles"].threshold == 10 &&
      aws_cloudwatch_metric_alarm.this["function_throttles"].evaluation_periods == 2 &&
      alltrue([for alarm in aws_cloudwatch_metric_alarm.this : alarm.period == 300])
    )
    error_message = "thresholds, period and evaluation periods must follow the inputs"
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

run "given_topic_key_is_used" {
  command = plan

  variables {
    create_sns_topic = true
    sns_kms_key_arn  = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"
  }

  assert {
    condition     = length(aws_kms_key.topic) == 0 && aws_sns_topic.this[0].kms_master_key_id == var.sns_kms_key_arn
    error_message = "a given key must be used and none created"
  }
}

# ---- Input rules -----------------------------------------------------------------------------

run "max_message_age_accepts_60" {
  command = plan
  variables {
    max_message_age_seconds = 60
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["oldest_message_age"].threshold == 60
    error_message = "an SLA of 60 s must be accepted"
  }
}

run "max_message_age_accepts_1209600" {
  command = plan
  variables {
    max_message_age_seconds = 1209600
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["oldest_message_age"].threshold == 1209600
    error_message = "an SLA of 14 days must be accepted"
  }
}

run "max_message_age_rejects_59" {
  command = plan
  variables {
    max_message_age_seconds = 59
  }
  expect_failures = [var.max_message_age_seconds]
}

run "max_message_age_rejects_1209601" {
  command = plan
  variables {
    max_message_age_seconds = 1209601
  }
  expect_failures = [var.max_message_age_seconds]
}

run "period_rejects_90" {
  command = plan
  variables {
    period_seconds = 90
  }
  expect_failures = [var.period_seconds]
}

run "evaluation_periods_accept_100_periods_of_840_s" {
  command = plan
  variables {
    evaluation_periods = 100
    period_seconds     = 840
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["function_errors"].evaluation_periods == 100 && aws_cloudwatch_metric_alarm.this["function_errors"].period == 840
    error_message = "100 periods of 840 s (84,000 s in all) must be accepted"
  }
}

run "period_accepts_one_day" {
  command = plan
  variables {
    evaluation_periods = 1
    period_seconds     = 86400
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.this["dlq_not_empty"].period == 86400
    error_message = "a one-day period with one evaluation period must be accepted"
  }
}

run "evaluation_rejects_more_than_one_day" {
  command = plan
  variables {
    evaluation_periods = 25
    period_seconds     = 3600
  }
  expect_failures = [var.evaluation_periods]
}

run "evaluation_periods_rejects_0" {
  command = plan
  variables {
    evaluation_periods = 0
  }
  expect_failures = [var.evaluation_periods]
}

run "thresholds_reject_negative" {
  command = plan
  variables {
    function_errors_threshold    = -1
    function_throttles_threshold = -1
  }
  expect_failures = [var.function_errors_threshold, var.function_throttles_threshold]
}

run "alarm_actions_reject_non_arn" {
  command = plan
  variables {
    alarm_actions = ["on-call@example.com"]
  }
  expect_failures = [var.alarm_actions]
}

run "sns_kms_key_rejects_alias" {
  command = plan
  variables {
    sns_kms_key_arn = "alias/aws/sns"
  }
  expect_failures = [var.sns_kms_key_arn]
}

run "names_reject_invalid_characters" {
  command = plan
  variables {
    name          = "orders alarms"
    queue_name    = "orders.fifo"
    dlq_name      = ""
    function_name = "orders:prod"
  }
  expect_failures = [var.name, var.queue_name, var.dlq_name, var.function_name]
}
