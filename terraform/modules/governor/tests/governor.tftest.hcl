# Tests of the governor module with a mocked AWS provider: what it creates (function from the
# consumer's zip, schedule, permission, log group), a role scoped to the one mapping, and every
# input rule.

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  function_name             = "orders-governor"
  package_path              = "main.tf"
  event_source_mapping_uuid = "2f5e3f1e-0000-4000-8000-000000000000"
  event_source_mapping_arn  = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"
  consumer_function_name    = "orders"
  queue_name                = "orders"
  metrics_namespace         = "SqsBatchConsumer"
  minimum_concurrency       = 2
  maximum_concurrency       = 50
}

# The function (from the consumer's zip), its schedule, permission and logs; a role scoped to
# the one mapping; the state parameter, created empty.
run "function_schedule_logs_role_and_state" {
  command = plan

  assert {
    condition = (
      aws_lambda_function.this.function_name == "orders-governor" &&
      aws_lambda_function.this.handler == "consumer.governor.lambda_handler" &&
      aws_lambda_function.this.source_code_hash == filebase64sha256("main.tf") &&
      aws_lambda_function.this.timeout < 60
    )
    error_message = "the governor must run consumer.governor.lambda_handler from the consumer's zip, with a timeout under the schedule's minute"
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      EVENT_SOURCE_MAPPING_UUID = "2f5e3f1e-0000-4000-8000-000000000000"
      CONSUMER_FUNCTION_NAME    = "orders"
      QUEUE_NAME                = "orders"
      METRICS_NAMESPACE         = "SqsBatchConsumer"
      MINIMUM_CONCURRENCY       = "2"
      MAXIMUM_CONCURRENCY       = "50"
      TARGET_THROTTLE_RATIO     = "0.05"
      PERIOD_SECONDS            = "60"
      GOVERNOR_STATE_PARAMETER  = "/orders-governor/state"
    })
    error_message = "the governor's environment must hold exactly its nine settings"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.this.schedule_expression == "rate(1 minute)" && aws_cloudwatch_event_target.this.rule == "orders-governor"
    error_message = "an EventBridge rule must run the governor every minute"
  }

  assert {
    condition = (
      aws_lambda_permission.events.principal == "events.amazonaws.com" &&
      aws_lambda_permission.events.action == "lambda:InvokeFunction" &&
      aws_lambda_permission.events.function_name == "orders-governor"
    )
    error_message = "EventBridge must be allowed to invoke the governor"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/orders-governor" && aws_lambda_function.this.logging_config[0].log_group == "/aws/lambda/orders-governor"
    error_message = "the governor must log to its own log group"
  }

  assert {
    condition     = aws_iam_role.this.name == "orders-governor" && jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "the governor must have its own role, assumable by Lambda"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => [s.Effect, s.Action, s.Resource]
      } == {
      ReadMappingConcurrency = ["Allow", ["lambda:GetEventSourceMapping"], ["arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"]]
      SetMappingConcurrency  = ["Allow", ["lambda:UpdateEventSourceMapping"], ["arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"]]
      ReadMetrics            = ["Allow", ["cloudwatch:GetMetricData"], ["*"]]
      WriteOwnLogs           = ["Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders-governor:*"]]
      KeepOwnState           = ["Allow", ["ssm:GetParameter", "ssm:PutParameter"], ["arn:aws:ssm:us-east-1:123456789012:parameter/orders-governor/state"]]
    }
    error_message = "the role may get and update exactly the one mapping, read metrics (GetMetricData takes only '*'), read and write its own state parameter and write its own logs; nothing else"
  }

  assert {
    condition = (
      aws_ssm_parameter.state.name == "/orders-governor/state" &&
      aws_ssm_parameter.state.type == "String" &&
      aws_ssm_parameter.state.value == "{}" &&
      output.state_parameter_name == "/orders-governor/state"
    )
    error_message = "the governor's state parameter must be created holding '{}' (the governor writes it after each change)"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => try(s.Condition, null)
      } == {
      ReadMappingConcurrency = null
      SetMappingConcurrency  = { ArnEquals = { "lambda:FunctionArn" = "arn:aws:lambda:us-east-1:123456789012:function:orders" } }
      ReadMetrics            = null
      WriteOwnLogs           = null
      KeepOwnState           = null
    }
    error_message = "only UpdateEventSourceMapping is conditioned, on lambda:FunctionArn = the consumer function's ARN"
  }
}

# The update condition follows the mapping's partition, region and account; equal bounds are
# accepted.
run "the_update_condition_follows_the_mapping_partition_region_and_account" {
  command = plan

  variables {
    event_source_mapping_arn = "arn:aws-cn:lambda:cn-north-1:210987654321:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"
    consumer_function_name   = "orders_v2"
    minimum_concurrency      = 7
    maximum_concurrency      = 7
  }

  assert {
    condition     = output.governed_function_arn == "arn:aws-cn:lambda:cn-north-1:210987654321:function:orders_v2"
    error_message = "the condition must name the consumer function in the mapping's partition, region and account"
  }

  assert {
    condition = one([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Condition.ArnEquals["lambda:FunctionArn"] if s.Sid == "SetMappingConcurrency"
    ]) == "arn:aws-cn:lambda:cn-north-1:210987654321:function:orders_v2"
    error_message = "the policy's condition must carry that ARN"
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MAXIMUM_CONCURRENCY"] == "7"
    error_message = "equal bounds must be accepted"
  }
}

# The bounds, target and period reach the governor; its code comes from S3 when the consumer's
# does.
run "settings_and_code_from_s3_follow_inputs" {
  command = plan

  variables {
    minimum_concurrency   = 5
    maximum_concurrency   = 1000
    target_throttle_ratio = 0.2
    period_seconds        = 300
    package_path          = null
    s3_bucket             = "orders-artifacts"
    s3_key                = "function.zip"
    s3_object_version     = "v1"
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables["MINIMUM_CONCURRENCY"] == "5" &&
      aws_lambda_function.this.environment[0].variables["MAXIMUM_CONCURRENCY"] == "1000" &&
      aws_lambda_function.this.environment[0].variables["TARGET_THROTTLE_RATIO"] == "0.2" &&
      aws_lambda_function.this.environment[0].variables["PERIOD_SECONDS"] == "300"
    )
    error_message = "the bounds, the target and the period must reach the governor"
  }

  assert {
    condition     = aws_lambda_function.this.s3_bucket == "orders-artifacts" && aws_lambda_function.this.s3_key == "function.zip" && aws_lambda_function.this.filename == null
    error_message = "the governor must take the zip from S3 when the consumer does"
  }
}

# ---- Input rules -----------------------------------------------------------------------------
# One run checks several rules: `expect_failures` lists every variable given a bad value
# (Terraform fails the run if a listed one does not fail, or an unlisted one does).
# maximum_concurrency's rule reads minimum_concurrency, and a rule that reads an invalid variable
# is skipped: the two are never bad in the same run.

# minimum_concurrency: 1. target_throttle_ratio: 1. period_seconds: 90 (not a multiple of 60).
# event_source_mapping_arn: a function ARN. package_path: given beside an S3 bucket and key.
run "rejects_bad_values_minimum_1" {
  command = plan

  variables {
    minimum_concurrency      = 1
    target_throttle_ratio    = 1
    period_seconds           = 90
    event_source_mapping_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders"
    s3_bucket                = "orders-artifacts"
    s3_key                   = "function.zip"
  }

  expect_failures = [
    var.minimum_concurrency, var.target_throttle_ratio, var.period_seconds,
    var.event_source_mapping_arn, var.package_path,
  ]
}

# maximum_concurrency: 1001. target_throttle_ratio: 0. period_seconds: 30.
run "rejects_bad_values_maximum_1001" {
  command = plan

  variables {
    maximum_concurrency   = 1001
    target_throttle_ratio = 0
    period_seconds        = 30
  }

  expect_failures = [var.maximum_concurrency, var.target_throttle_ratio, var.period_seconds]
}

# maximum_concurrency: below minimum_concurrency. period_seconds: 3660 (above an hour).
run "rejects_bad_values_maximum_below_minimum" {
  command = plan

  variables {
    minimum_concurrency = 10
    maximum_concurrency = 9
    period_seconds      = 3660
  }

  expect_failures = [var.maximum_concurrency, var.period_seconds]
}
