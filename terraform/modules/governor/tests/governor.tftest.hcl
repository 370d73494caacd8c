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

run "function_schedule_and_logs" {
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
    })
    error_message = "the governor's environment must hold exactly its eight settings"
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
}

run "role_is_scoped_to_the_mapping" {
  command = plan

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
    }
    error_message = "the role may get and update exactly the one mapping, read metrics (GetMetricData takes only '*') and write its own logs; nothing else"
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => try(s.Condition, null)
      } == {
      ReadMappingConcurrency = null
      SetMappingConcurrency  = { ArnEquals = { "lambda:FunctionArn" = "arn:aws:lambda:us-east-1:123456789012:function:orders" } }
      ReadMetrics            = null
      WriteOwnLogs           = null
    }
    error_message = "only UpdateEventSourceMapping is conditioned, on lambda:FunctionArn = the consumer function's ARN"
  }
}

run "the_update_condition_follows_the_mapping_partition_region_and_account" {
  command = plan

  variables {
    event_source_mapping_arn = "arn:aws-cn:lambda:cn-north-1:210987654321:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"
    consumer_function_name   = "orders_v2"
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
}

run "settings_follow_inputs" {
  command = plan

  variables {
    minimum_concurrency   = 5
    maximum_concurrency   = 1000
    target_throttle_ratio = 0.2
    period_seconds        = 300
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
}

run "minimum_equal_to_maximum_is_accepted" {
  command = plan

  variables {
    minimum_concurrency = 7
    maximum_concurrency = 7
  }

  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MAXIMUM_CONCURRENCY"] == "7"
    error_message = "equal bounds must be accepted"
  }
}

run "minimum_rejects_1" {
  command = plan
  variables {
    minimum_concurrency = 1
  }
  expect_failures = [var.minimum_concurrency]
}

run "maximum_rejects_below_minimum" {
  command = plan
  variables {
    minimum_concurrency = 10
    maximum_concurrency = 9
  }
  expect_failures = [var.maximum_concurrency]
}

run "maximum_rejects_1001" {
  command = plan
  variables {
    maximum_concurrency = 1001
  }
  expect_failures = [var.maximum_concurrency]
}

run "target_rejects_1" {
  command = plan
  variables {
    target_throttle_ratio = 1
  }
  expect_failures = [var.target_throttle_ratio]
}

run "target_rejects_0" {
  command = plan
  variables {
    target_throttle_ratio = 0
  }
  expect_failures = [var.target_throttle_ratio]
}

run "period_rejects_90" {
  command = plan
  variables {
    period_seconds = 90
  }
  expect_failures = [var.period_seconds]
}

run "period_rejects_30" {
  command = plan
  variables {
    period_seconds = 30
  }
  expect_failures = [var.period_seconds]
}

run "period_rejects_3660" {
  command = plan
  variables {
    period_seconds = 3660
  }
  expect_failures = [var.period_seconds]
}

run "mapping_arn_rejects_a_function_arn" {
  command = plan
  variables {
    event_source_mapping_arn = "arn:aws:lambda:us-east-1:123456789012:function:orders"
  }
  expect_failures = [var.event_source_mapping_arn]
}

run "code_from_s3" {
  command = plan
  variables {
    package_path      = null
    s3_bucket         = "orders-artifacts"
    s3_key            = "function.zip"
    s3_object_version = "v1"
  }
  assert {
    condition     = aws_lambda_function.this.s3_bucket == "orders-artifacts" && aws_lambda_function.this.s3_key == "function.zip" && aws_lambda_function.this.filename == null
    error_message = "the governor must take the zip from S3 when the consumer does"
  }
}

run "code_rejects_two_sources" {
  command = plan
  variables {
    s3_bucket = "orders-artifacts"
    s3_key    = "function.zip"
  }
  expect_failures = [var.package_path]
}
