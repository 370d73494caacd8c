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
  queue_url                 = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
  queue_arn                 = "arn:aws:sqs:us-east-1:123456789012:orders"
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
      module.function.lambda.function_name == "orders-governor" &&
      module.function.lambda.handler == "consumer.governor.lambda_handler" &&
      module.function.lambda.source_code_hash == filebase64sha256("main.tf") &&
      module.function.lambda.timeout == 80
    )
    error_message = "the governor must run consumer.governor.lambda_handler from the consumer's zip, with time for its last decision of the minute (at 50 s with 10-s periods) and 30 s beyond it"
  }

  # The shared function module's optional settings stay as the governor always had them.
  assert {
    condition = (
      module.function.lambda.memory_size == 128 &&
      module.function.lambda.reserved_concurrent_executions == -1 &&
      module.function.lambda.kms_key_arn == null &&
      module.function.lambda.logging_config[0].application_log_level == "INFO" &&
      module.function.lambda.logging_config[0].system_log_level == "INFO" &&
      module.function.log_group.retention_in_days == 30
    )
    error_message = "the governor's function must have 128 MB (it mostly sleeps), no reserved concurrency, no customer key, INFO logs and 30 days' retention"
  }

  assert {
    condition = module.function.lambda.environment[0].variables == tomap({
      EVENT_SOURCE_MAPPING_UUID = "2f5e3f1e-0000-4000-8000-000000000000"
      CONSUMER_FUNCTION_NAME    = "orders"
      QUEUE_URL                 = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      METRICS_NAMESPACE         = "SqsBatchConsumer"
      MINIMUM_CONCURRENCY       = "2"
      MAXIMUM_CONCURRENCY       = "50"
      TARGET_THROTTLE_RATIO     = "0.05"
      PERIOD_SECONDS            = "10"
      GOVERNOR_STATE_PARAMETER  = "/orders-governor/state"
    })
    error_message = "the governor's environment must hold exactly its nine settings"
  }

  assert {
    condition     = aws_cloudwatch_event_rule.this.schedule_expression == "rate(1 minute)" && aws_cloudwatch_event_target.this.rule == "orders-governor"
    error_message = "an EventBridge rule must run the governor every minute"
  }

  assert {
    condition     = jsondecode(aws_cloudwatch_event_target.this.input) == { run_seconds = 60 }
    error_message = "each scheduled run must be given the schedule's minute to decide in (run_seconds = 60)"
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
    condition     = module.function.log_group.name == "/aws/lambda/orders-governor" && module.function.lambda.logging_config[0].log_group == "/aws/lambda/orders-governor"
    error_message = "the governor must log to its own log group"
  }

  assert {
    condition     = module.function.role.name == "orders-governor" && jsondecode(module.function.role.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com"
    error_message = "the governor must have its own role, assumable by Lambda"
  }

  assert {
    condition = {
      for s in jsondecode(module.function.role_policy.policy).Statement : s.Sid => [s.Effect, s.Action, s.Resource]
      } == {
      ReadMappingConcurrency = ["Allow", ["lambda:GetEventSourceMapping"], ["arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"]]
      SetMappingConcurrency  = ["Allow", ["lambda:UpdateEventSourceMapping"], ["arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"]]
      ReadMetrics            = ["Allow", ["cloudwatch:GetMetricData"], ["*"]]
      ReadQueueBacklog       = ["Allow", ["sqs:GetQueueAttributes"], ["arn:aws:sqs:us-east-1:123456789012:orders"]]
      WriteOwnLogs           = ["Allow", ["logs:CreateLogStream", "logs:PutLogEvents"], ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders-governor:*"]]
      KeepOwnState           = ["Allow", ["ssm:GetParameter", "ssm:PutParameter"], ["arn:aws:ssm:us-east-1:123456789012:parameter/orders-governor/state"]]
    }
    error_message = "the role may get and update exactly the one mapping, read metrics (GetMetricData takes only '*'), read the one queue's attributes, read and write its own state parameter and write its own logs; nothing else"
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
      for s in jsondecode(module.function.role_policy.policy).Statement : s.Sid => try(s.Condition, null)
      } == {
      ReadMappingConcurrency = null
      SetMappingConcurrency  = { ArnEquals = { "lambda:FunctionArn" = "arn:aws:lambda:us-east-1:123456789012:function:orders" } }
      ReadMetrics            = null
      ReadQueueBacklog       = null
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
      for s in jsondecode(module.function.role_policy.policy).Statement : s.Condition.ArnEquals["lambda:FunctionArn"] if s.Sid == "SetMappingConcurrency"
    ]) == "arn:aws-cn:lambda:cn-north-1:210987654321:function:orders_v2"
    error_message = "the policy's condition must carry that ARN"
  }

  assert {
    condition     = module.function.lambda.environment[0].variables["MAXIMUM_CONCURRENCY"] == "7"
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
      module.function.lambda.environment[0].variables["MINIMUM_CONCURRENCY"] == "5" &&
      module.function.lambda.environment[0].variables["MAXIMUM_CONCURRENCY"] == "1000" &&
      module.function.lambda.environment[0].variables["TARGET_THROTTLE_RATIO"] == "0.2" &&
      module.function.lambda.environment[0].variables["PERIOD_SECONDS"] == "300"
    )
    error_message = "the bounds, the target and the period must reach the governor"
  }

  assert {
    condition     = module.function.lambda.timeout == 30
    error_message = "a period of a minute or more makes one decision a run: 30 s"
  }

  assert {
    condition     = module.function.lambda.s3_bucket == "orders-artifacts" && module.function.lambda.s3_key == "function.zip" && module.function.lambda.filename == null
    error_message = "the governor must take the zip from S3 when the consumer does"
  }
}

# Each high-resolution period the module accepts fits its timeout: 20 s, three decisions (the last
# at 40 s), 70 s; 30 s, two (the last at 30 s), 60 s.
run "a_20_s_period_decides_three_times_a_run" {
  command = plan

  variables {
    period_seconds = 20
  }

  assert {
    condition     = module.function.lambda.timeout == 70 && module.function.lambda.environment[0].variables["PERIOD_SECONDS"] == "20"
    error_message = "20-s periods: the last of three decisions at 40 s, a 70-s timeout"
  }
}

run "a_30_s_period_decides_twice_a_run" {
  command = plan

  variables {
    period_seconds = 30
  }

  assert {
    condition     = module.function.lambda.timeout == 60
    error_message = "30-s periods: the last of two decisions at 30 s, a 60-s timeout"
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

# maximum_concurrency: 1001. target_throttle_ratio: 0. period_seconds: 15 (not a period
# GetMetricData accepts for high-resolution metrics). queue_url: a queue name. queue_arn: the
# mapping's ARN.
run "rejects_bad_values_maximum_1001" {
  command = plan

  variables {
    maximum_concurrency   = 1001
    target_throttle_ratio = 0
    period_seconds        = 15
    queue_url             = "orders"
    queue_arn             = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"
  }

  expect_failures = [
    var.maximum_concurrency, var.target_throttle_ratio, var.period_seconds, var.queue_url,
    var.queue_arn,
  ]
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
