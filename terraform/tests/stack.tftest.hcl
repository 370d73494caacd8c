# Tests of the root configuration with a mocked AWS provider: the modules wired together, the
# derived visibility timeout, the outputs of contract section 4 and the root's own input rules.
# package_path points at main.tf: any existing file will do, Terraform only hashes it.

mock_provider "aws" {
  source = "tests/mocks" # account 123456789012, us-east-1
}

variables {
  name           = "orders"
  package_path   = "main.tf"
  entity_api_url = "https://entities.example.com/v1/operations:batch"
}

# The apply run keeps a state of its own, so the plan runs below plan from nothing (the mock
# provider does not know which changes replace a resource).
run "stack_wiring_and_outputs" {
  command   = apply
  state_key = "applied"

  override_resource {
    target = module.queue.aws_sqs_queue.this
    values = {
      arn  = "arn:aws:sqs:us-east-1:123456789012:orders"
      url  = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      id   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      name = "orders"
    }
  }

  override_resource {
    target = module.queue.aws_sqs_queue.dlq
    values = {
      arn  = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
      url  = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      id   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      name = "orders-dlq"
    }
  }

  override_resource {
    target = module.consumer.aws_lambda_event_source_mapping.this[0]
    values = { uuid = "2f5e3f1e-0000-4000-8000-000000000000" }
  }

  override_resource {
    target = module.consumer.module.function.aws_lambda_function.this
    values = { function_name = "orders", arn = "arn:aws:lambda:us-east-1:123456789012:function:orders" }
  }

  assert {
    condition     = output.visibility_timeout_seconds == 6 * 60 + 5
    error_message = "the visibility timeout must default to 6 x function_timeout + window (365 s)"
  }

  assert {
    condition = (
      output.queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/orders" &&
      output.queue_arn == "arn:aws:sqs:us-east-1:123456789012:orders" &&
      output.dlq_url == "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq" &&
      output.dlq_arn == "arn:aws:sqs:us-east-1:123456789012:orders-dlq" &&
      output.function_name == "orders" &&
      output.event_source_mapping_uuid == "2f5e3f1e-0000-4000-8000-000000000000"
    )
    error_message = "the outputs of contract section 4 must come from the created resources"
  }

  assert {
    condition     = output.alarm_names.dlq_not_empty == "orders-dlq-not-empty" && output.alarm_names.oldest_message_age == "orders-oldest-message-age" && output.alarm_topic_arn == null
    error_message = "the alarms must be named after the stack, without a topic by default"
  }
}

# The defaults: no filter, the handler's namespace in the handler and the alarms, the retry
# defaults, INFO logs, a dashboard; no governor; no rate share without a known rate limit.
run "defaults_reach_the_consumer_and_the_alarms" {
  command = plan

  assert {
    condition     = module.consumer.filter_patterns == []
    error_message = "no filter by default"
  }

  assert {
    condition     = module.consumer.environment_variables["METRICS_NAMESPACE"] == "SqsBatchConsumer" && module.alarms.alarm_metrics.batch_failed == "SqsBatchConsumer batch_failed"
    error_message = "without metrics_namespace the handler and the alarms must use the same namespace, the handler's default"
  }

  assert {
    condition = (
      module.consumer.environment_variables["RETRY_HORIZON_SECONDS"] == "3600" &&
      module.consumer.environment_variables["RETRY_BACKOFF_BASE_SECONDS"] == "2" &&
      module.consumer.environment_variables["RETRY_BACKOFF_MAX_SECONDS"] == "900"
    )
    error_message = "the retry horizon must default to max_message_age_seconds (3600), the backoff to 2 s base and 900 s cap"
  }

  assert {
    condition     = module.consumer.log_levels.system == "INFO" && module.consumer.log_levels.application == "INFO"
    error_message = "system and application log level INFO by default"
  }

  assert {
    condition     = output.dashboard_name == "orders"
    error_message = "the dashboard must be part of the stack by default"
  }

  assert {
    condition     = length(module.governor) == 0 && output.governor_function_name == null
    error_message = "without adaptive_concurrency.enabled no part of the governor may exist"
  }

  assert {
    condition     = output.maximum_concurrency_owner == "terraform" && !contains(keys(output.alarm_names), "governor_errors")
    error_message = "without the governor Terraform owns MaximumConcurrency, and there is no governor alarm"
  }

  assert {
    condition     = !contains(keys(module.consumer.environment_variables), "ENTITY_API_RATE_SHARE")
    error_message = "without entity_api_rate_limit the handler paces from the first 429"
  }
}

# LocalStack-style overrides (a given visibility timeout replaces the derived one); a
# 55-character name; 45 tags with a 128-character key and a 256-character value.
run "localstack_style_overrides_a_55_character_name_and_45_tags" {
  command = plan

  variables {
    function_timeout                   = 5
    visibility_timeout_seconds         = 16
    max_receive_count                  = 2
    batch_size                         = 25
    maximum_batching_window_in_seconds = 1
    architecture                       = "x86_64"
    log_retention_in_days              = 1
    name                               = "a234567890b234567890c234567890d234567890e234567890f2345"
    tags = merge(
      { for i in range(44) : "tag-${i}" => "v" },
      { (join("", [for i in range(128) : "k"])) = join("", [for i in range(256) : "v"]) },
    )
  }

  assert {
    condition     = output.visibility_timeout_seconds == 16
    error_message = "a given visibility timeout must replace the derived one"
  }

  assert {
    condition     = output.function_name == var.name
    error_message = "a 55-character name must be accepted"
  }

  assert {
    condition     = length(module.queue.queue_name) > 0 && length(var.tags) == 45
    error_message = "45 tags with a 128-character key and a 256-character value must be accepted"
  }
}

# ---- Inputs the root passes to the modules ---------------------------------------------------

# The least visibility timeout (30 s + the default 5-s window + 10 s); filter patterns and a
# metrics namespace; an S3 code source; a retry horizon equal to the queue's retention.
run "inputs_reach_the_consumer_and_the_alarms" {
  command = plan

  variables {
    function_timeout           = 30
    visibility_timeout_seconds = 45
    filter_patterns            = ["{\"body\":{\"entity_type\":[\"order\"]}}", "{\"body\":{\"op\":[\"delete\"]}}"]
    metrics_namespace          = "Orders/EntitySync"
    package_path               = null
    s3_bucket                  = "orders-artifacts"
    s3_key                     = "sqs-batch-consumer/function-arm64.zip"
    s3_object_version          = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    message_retention_seconds  = 86400
    retry_horizon_seconds      = 86400
  }

  assert {
    condition     = output.visibility_timeout_seconds == 45
    error_message = "function_timeout + window + 10 s must be accepted as the visibility timeout"
  }

  assert {
    condition     = module.consumer.filter_patterns == ["{\"body\":{\"entity_type\":[\"order\"]}}", "{\"body\":{\"op\":[\"delete\"]}}"]
    error_message = "filter_patterns must reach the mapping's filter criteria unchanged"
  }

  assert {
    condition     = module.consumer.environment_variables["METRICS_NAMESPACE"] == "Orders/EntitySync"
    error_message = "metrics_namespace must reach the handler's environment"
  }

  assert {
    condition     = module.alarms.alarm_metrics.batch_failed == "Orders/EntitySync batch_failed" && module.alarms.alarm_metrics.expired == "Orders/EntitySync expired" && module.alarms.alarm_metrics.throttled_share == "Orders/EntitySync"
    error_message = "the alarms on the handler's metrics must read the same namespace"
  }

  assert {
    condition     = module.consumer.code_source == "s3://orders-artifacts/sqs-batch-consumer/function-arm64.zip?versionId=3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
    error_message = "an S3 code source given to the root must reach the function"
  }

  assert {
    condition     = module.consumer.environment_variables["RETRY_HORIZON_SECONDS"] == "86400"
    error_message = "a horizon equal to the queue's retention must be accepted"
  }
}

# The derived visibility timeout at the largest timeout and window; a known rate limit shared
# by maximum_concurrency.
run "derived_visibility_timeout_at_the_maximums_and_a_rate_share" {
  command = plan

  variables {
    function_timeout                   = 900
    maximum_batching_window_in_seconds = 300
    batch_size                         = 10000
    entity_api_rate_limit              = 20
    maximum_concurrency                = 8
    create_dashboard                   = false
  }

  assert {
    condition     = output.visibility_timeout_seconds == 5700
    error_message = "the derived visibility timeout at the largest timeout and window must be 6 x 900 + 300"
  }

  assert {
    condition     = module.consumer.environment_variables["ENTITY_API_RATE_SHARE"] == "2.5"
    error_message = "each execution environment starts at the limit over maximum_concurrency"
  }
}

# Retry settings and log levels reach the consumer, no dashboard; the governed mapping starts
# within the governor's bounds.
run "retry_settings_log_levels_and_the_governors_starting_point" {
  command = plan

  variables {
    max_message_age_seconds    = 900
    retry_horizon_seconds      = 7200
    retry_backoff_base_seconds = 1
    retry_backoff_max_seconds  = 120
    application_log_level      = "DEBUG"
    system_log_level           = "WARN"
    create_dashboard           = false
    maximum_concurrency        = 100
    adaptive_concurrency       = { enabled = true, minimum = 3, maximum = 40 }
  }

  assert {
    condition = (
      module.consumer.environment_variables["RETRY_HORIZON_SECONDS"] == "7200" &&
      module.consumer.environment_variables["RETRY_BACKOFF_BASE_SECONDS"] == "1" &&
      module.consumer.environment_variables["RETRY_BACKOFF_MAX_SECONDS"] == "120"
    )
    error_message = "a given horizon replaces max_message_age_seconds; the backoff settings reach the environment"
  }

  assert {
    condition     = module.consumer.log_levels.application == "DEBUG" && module.consumer.log_levels.system == "WARN"
    error_message = "the log levels must reach the function"
  }

  assert {
    condition     = output.dashboard_name == null
    error_message = "create_dashboard = false must create no dashboard"
  }

  assert {
    condition     = module.consumer.maximum_concurrency_owner == "governor" && module.consumer.configured_maximum_concurrency == 40
    error_message = "the governed mapping must start at maximum_concurrency held within the governor's bounds"
  }
}

# With the governor, a known rate limit is shared by its maximum (not maximum_concurrency);
# function_timeout 10 with the handler's default API timeout.
run "a_rate_limit_shared_by_the_governors_maximum_and_function_timeout_10" {
  command = plan

  variables {
    entity_api_rate_limit = 20
    maximum_concurrency   = 5
    adaptive_concurrency  = { enabled = true, maximum = 40 }
    create_dashboard      = false
    function_timeout      = 10
  }

  assert {
    condition     = module.consumer.environment_variables["ENTITY_API_RATE_SHARE"] == "0.5"
    error_message = "with the governor, the limit is shared by its maximum"
  }

  assert {
    condition     = module.consumer.environment_variables["SOURCE_MAX_RECEIVE_COUNT"] == "5"
    error_message = "function_timeout 10 with the handler's default API timeout must be accepted, and max_receive_count reach the handler"
  }
}

# ---- Adaptive concurrency (the governor) -----------------------------------------------------

run "governor_on" {
  command   = apply
  state_key = "governed"

  variables {
    maximum_concurrency = 100
    adaptive_concurrency = {
      enabled = true
      minimum = 3
      maximum = 40
    }
  }

  override_resource {
    target = module.consumer.aws_lambda_event_source_mapping.governed[0]
    values = {
      uuid = "2f5e3f1e-0000-4000-8000-000000000000"
      arn  = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"
    }
  }

  override_resource {
    target = module.consumer.module.function.aws_lambda_function.this
    values = { function_name = "orders", arn = "arn:aws:lambda:us-east-1:123456789012:function:orders" }
  }

  override_resource {
    target = module.governor[0].module.function.aws_lambda_function.this
    values = { function_name = "orders-governor", arn = "arn:aws:lambda:us-east-1:123456789012:function:orders-governor" }
  }

  override_resource {
    target = module.queue.aws_sqs_queue.this
    values = {
      arn  = "arn:aws:sqs:us-east-1:123456789012:orders"
      url  = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      id   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      name = "orders"
    }
  }

  override_resource {
    target = module.queue.aws_sqs_queue.dlq
    values = {
      arn  = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
      url  = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      id   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      name = "orders-dlq"
    }
  }

  assert {
    condition     = output.governor_function_name == "orders-governor" && output.maximum_concurrency_owner == "governor"
    error_message = "enabled, the governor must exist and own MaximumConcurrency"
  }

  assert {
    condition     = module.governor[0].governed_event_source_mapping_arn == "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:2f5e3f1e-0000-4000-8000-000000000000"
    error_message = "the governor's role must be scoped to this stack's mapping"
  }

  assert {
    condition = (
      module.governor[0].environment_variables["EVENT_SOURCE_MAPPING_UUID"] == "2f5e3f1e-0000-4000-8000-000000000000" &&
      module.governor[0].environment_variables["CONSUMER_FUNCTION_NAME"] == "orders" &&
      module.governor[0].environment_variables["QUEUE_URL"] == "https://sqs.us-east-1.amazonaws.com/123456789012/orders" &&
      module.governor[0].environment_variables["PERIOD_SECONDS"] == "10" &&
      module.governor[0].environment_variables["METRICS_NAMESPACE"] == "SqsBatchConsumer" &&
      module.governor[0].environment_variables["MINIMUM_CONCURRENCY"] == "3" &&
      module.governor[0].environment_variables["MAXIMUM_CONCURRENCY"] == "40"
    )
    error_message = "the governor must govern this stack's mapping, function and queue within the given bounds"
  }

  assert {
    condition     = output.alarm_names.governor_errors == "orders-governor-errors"
    error_message = "the governor's errors must be alarmed on"
  }
}

# ---- FIFO ------------------------------------------------------------------------------------

# Both queues FIFO, 6 x the function timeout without a window; receives that reach a 3-day
# horizon (7 x 42000 s).
run "fifo_stack" {
  command = plan

  variables {
    fifo_queue                         = true
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    retry_horizon_seconds              = 259200
    max_receive_count                  = 8
  }

  assert {
    condition     = module.queue.queue_name == "orders.fifo" && module.queue.dlq_name == "orders-dlq.fifo"
    error_message = "fifo_queue must make both queues FIFO, named <name>.fifo and <name>-dlq.fifo"
  }

  assert {
    condition     = output.visibility_timeout_seconds == 6 * 60
    error_message = "a FIFO stack without a window gets 6 x the function timeout"
  }

  assert {
    condition     = module.consumer.environment_variables["SOURCE_MAX_RECEIVE_COUNT"] == "8"
    error_message = "7 x 42000 s reach a 3-day horizon: accepted"
  }
}

# A FIFO stack given exactly 6 x the function timeout: accepted (the least a FIFO queue takes).
run "fifo_stack_at_the_least_visibility_timeout" {
  command = plan

  variables {
    fifo_queue                         = true
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    function_timeout                   = 10
    visibility_timeout_seconds         = 60
  }

  assert {
    condition     = output.visibility_timeout_seconds == 60
    error_message = "6 x the function timeout must be accepted on a FIFO queue"
  }
}

# One second less on a FIFO queue is refused, naming the variable; the same value on a standard
# queue (above function_timeout + window + 10 s) is accepted.
run "rejects_a_fifo_visibility_timeout_below_6_x_the_function_timeout" {
  command = plan

  variables {
    fifo_queue                         = true
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    function_timeout                   = 10
    visibility_timeout_seconds         = 59
  }

  expect_failures = [var.visibility_timeout_seconds]
}

# A standard queue: one second short of function_timeout + window + 10 s is refused.
run "rejects_a_visibility_timeout_shorter_than_a_batchs_time_in_flight" {
  command = plan

  variables {
    function_timeout           = 30
    visibility_timeout_seconds = 44
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "a_standard_queue_takes_a_visibility_timeout_below_6_x" {
  command = plan

  variables {
    function_timeout           = 10
    visibility_timeout_seconds = 59
  }

  assert {
    condition     = output.visibility_timeout_seconds == 59
    error_message = "a standard queue must take any visibility timeout from the function timeout up"
  }
}

# ---- Input rules -----------------------------------------------------------------------------
# Each `run` plans anew, so one run checks several rules: `expect_failures` lists every variable
# given a bad value (Terraform fails the run if a listed one does not fail, or an unlisted one
# does). A rule that reads an invalid variable is skipped, so no run makes bad both a variable
# and one its rules read (visibility_timeout_seconds reads function_timeout; max_receive_count
# reads retry_horizon_seconds and max_message_age_seconds; retry_horizon_seconds reads
# max_message_age_seconds and message_retention_seconds). adaptive_concurrency has the most bad
# values, one per run.

# adaptive_concurrency: minimum 1. name: 56 characters. visibility_timeout_seconds: above 12
# hours. tags: the reserved aws: prefix. alarm_topic_kms_key_arn: an alias.
# entity_api_rate_limit: 0. max_receive_count: 1 on a standard queue.
run "rejects_bad_values_governor_minimum_1" {
  command = plan

  variables {
    adaptive_concurrency       = { enabled = true, minimum = 1 }
    name                       = "a234567890b234567890c234567890d234567890e234567890f23456"
    visibility_timeout_seconds = 43201
    tags                       = { "aws:createdBy" = "me" }
    alarm_topic_kms_key_arn    = "alias/aws/sns"
    entity_api_rate_limit      = 0
    max_receive_count          = 1
  }

  expect_failures = [
    var.adaptive_concurrency, var.name, var.visibility_timeout_seconds, var.tags,
    var.alarm_topic_kms_key_arn, var.entity_api_rate_limit, var.max_receive_count,
  ]
}

# adaptive_concurrency: minimum above maximum. name: a slash. visibility_timeout_seconds: below
# function_timeout. tags: 46. retry_horizon_seconds: beyond the queue's retention.
run "rejects_bad_values_governor_minimum_above_maximum" {
  command = plan

  variables {
    adaptive_concurrency       = { enabled = true, minimum = 30, maximum = 20 }
    name                       = "team/orders"
    function_timeout           = 30
    visibility_timeout_seconds = 29
    tags                       = { for i in range(46) : "tag-${i}" => "v" }
    message_retention_seconds  = 86400
    retry_horizon_seconds      = 86401
  }

  expect_failures = [
    var.adaptive_concurrency, var.name, var.visibility_timeout_seconds, var.tags,
    var.retry_horizon_seconds,
  ]
}

# adaptive_concurrency: maximum 1001. tags: a 257-character value. retry_horizon_seconds (null):
# the default, max_message_age_seconds, beyond the queue's retention. function_timeout: 4 leaves
# no room for the default API timeout.
run "rejects_bad_values_governor_maximum_1001" {
  command = plan

  variables {
    adaptive_concurrency      = { enabled = true, maximum = 1001 }
    tags                      = { team = join("", [for i in range(257) : "v"]) }
    message_retention_seconds = 600
    max_message_age_seconds   = 900
    function_timeout          = 4
  }

  expect_failures = [
    var.adaptive_concurrency, var.tags, var.retry_horizon_seconds, var.function_timeout,
  ]
}

# adaptive_concurrency: target_throttle_ratio 1. batch_size: 11 on a FIFO queue.
run "rejects_bad_values_governor_ratio_1" {
  command = plan

  variables {
    adaptive_concurrency               = { enabled = true, target_throttle_ratio = 1 }
    fifo_queue                         = true
    batch_size                         = 11
    maximum_batching_window_in_seconds = 0
  }

  expect_failures = [
    var.adaptive_concurrency, var.batch_size,
  ]
}

# adaptive_concurrency: target_throttle_ratio 0. The batching window: 1 s on a FIFO queue.
run "rejects_bad_values_governor_ratio_0" {
  command = plan

  variables {
    adaptive_concurrency               = { enabled = true, target_throttle_ratio = 0 }
    fifo_queue                         = true
    batch_size                         = 10
    maximum_batching_window_in_seconds = 1
  }

  expect_failures = [
    var.adaptive_concurrency, var.maximum_batching_window_in_seconds,
  ]
}

# adaptive_concurrency: period_seconds 15 (GetMetricData takes 10, 20, 30 or multiples of 60).
# max_receive_count: 1 on a FIFO queue.
run "rejects_bad_values_governor_period_15" {
  command = plan

  variables {
    adaptive_concurrency               = { enabled = true, period_seconds = 15 }
    fifo_queue                         = true
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    max_receive_count                  = 1
  }

  expect_failures = [
    var.adaptive_concurrency, var.max_receive_count,
  ]
}

# adaptive_concurrency: maximum above reserved_concurrent_executions. max_receive_count: the
# default 5 on a FIFO queue cannot reach a 3-day horizon (4 x 42000 s).
run "rejects_bad_values_governor_maximum_above_reservation" {
  command = plan

  variables {
    reserved_concurrent_executions     = 10
    adaptive_concurrency               = { enabled = true, maximum = 11 }
    fifo_queue                         = true
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    retry_horizon_seconds              = 259200
  }

  expect_failures = [
    var.adaptive_concurrency, var.max_receive_count,
  ]
}
