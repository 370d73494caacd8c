# Every input rule of the consumer module: a value that breaks it fails the plan naming the
# variable, and the edge values are accepted and reach the resources.
# (Written out in full; generated once from a table, then edited by hand like any test file.)

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  function_name                    = "orders"
  package_path                     = "main.tf"
  entity_api_url                   = "https://entities.example.com/v1/operations:batch"
  queue_arn                        = "arn:aws:sqs:us-east-1:123456789012:orders"
  queue_visibility_timeout_seconds = 900
  dlq_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
  dlq_url                          = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
}


run "function_name_accepts_55" {
  command = plan
  variables {
    function_name = "a234567890b234567890c234567890d234567890e234567890f2345"
  }
  assert {
    condition     = length(aws_lambda_function.this.function_name) == 55 && length(aws_iam_role.this.name) == 64
    error_message = "function name accepts 55: the value must be accepted and reach the resource"
  }
}

run "function_name_rejects_56" {
  command = plan
  variables {
    function_name = "a234567890b234567890c234567890d234567890e234567890f23456"
  }
  expect_failures = [var.function_name]
}

run "function_name_rejects_dot" {
  command = plan
  variables {
    function_name = "orders.v2"
  }
  expect_failures = [var.function_name]
}

run "package_path_rejects_missing_file" {
  command = plan
  variables {
    package_path = "no-such-dir/function.zip"
  }
  expect_failures = [var.package_path]
}

run "runtime_accepts_python313" {
  command = plan
  variables {
    runtime = "python3.13"
  }
  assert {
    condition     = aws_lambda_function.this.runtime == "python3.13"
    error_message = "runtime accepts python313: the value must be accepted and reach the resource"
  }
}

run "runtime_rejects_python311" {
  command = plan
  variables {
    runtime = "python3.11"
  }
  expect_failures = [var.runtime]
}

run "architecture_accepts_x86_64" {
  command = plan
  variables {
    architecture = "x86_64"
  }
  assert {
    condition     = aws_lambda_function.this.architectures == tolist(["x86_64"])
    error_message = "architecture accepts x86 64: the value must be accepted and reach the resource"
  }
}

run "architecture_rejects_amd64" {
  command = plan
  variables {
    architecture = "amd64"
  }
  expect_failures = [var.architecture]
}

run "memory_size_accepts_128" {
  command = plan
  variables {
    memory_size = 128
  }
  assert {
    condition     = aws_lambda_function.this.memory_size == 128
    error_message = "memory size accepts 128: the value must be accepted and reach the resource"
  }
}

run "memory_size_accepts_10240" {
  command = plan
  variables {
    memory_size = 10240
  }
  assert {
    condition     = aws_lambda_function.this.memory_size == 10240
    error_message = "memory size accepts 10240: the value must be accepted and reach the resource"
  }
}

run "memory_size_rejects_127" {
  command = plan
  variables {
    memory_size = 127
  }
  expect_failures = [var.memory_size]
}

run "memory_size_rejects_10241" {
  command = plan
  variables {
    memory_size = 10241
  }
  expect_failures = [var.memory_size]
}

run "function_timeout_accepts_5_with_the_default_api_timeout" {
  command = plan
  variables {
    function_timeout                 = 5
    queue_visibility_timeout_seconds = 30
  }
  assert {
    condition     = aws_lambda_function.this.timeout == 5
    error_message = "function timeout accepts 5: the value must be accepted and reach the resource"
  }
}

run "function_timeout_rejects_4_with_the_default_api_timeout" {
  command = plan
  variables {
    function_timeout                 = 4
    queue_visibility_timeout_seconds = 30
  }
  expect_failures = [var.entity_api_timeout_seconds]
}

run "function_timeout_accepts_4_with_a_half_second_api_timeout" {
  command = plan
  variables {
    function_timeout                 = 4
    entity_api_timeout_seconds       = 0.5
    queue_visibility_timeout_seconds = 30
  }
  assert {
    condition     = aws_lambda_function.this.timeout == 4
    error_message = "function timeout accepts 4 with a 0.5 s API timeout (0.5 + 3.25 s fit)"
  }
}

run "function_timeout_rejects_3_with_a_short_api_timeout" {
  command = plan
  variables {
    function_timeout                 = 3
    entity_api_timeout_seconds       = 0.1
    queue_visibility_timeout_seconds = 30
  }
  expect_failures = [var.entity_api_timeout_seconds]
}

run "function_timeout_accepts_10_with_the_default_api_timeout" {
  command = plan
  variables {
    function_timeout                 = 10
    queue_visibility_timeout_seconds = 60
  }
  assert {
    condition     = aws_lambda_function.this.timeout == 10 && !contains(keys(aws_lambda_function.this.environment[0].variables), "ENTITY_API_TIMEOUT_SECONDS")
    error_message = "function timeout 10 with the handler's default 10 s API timeout must be accepted (issue 15: the handler caps the request's timeout)"
  }
}

run "max_receive_count_reaches_the_handler" {
  command = plan
  variables {
    max_receive_count = 7
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["SOURCE_MAX_RECEIVE_COUNT"] == "7"
    error_message = "max_receive_count must reach the handler as SOURCE_MAX_RECEIVE_COUNT"
  }
}

run "max_receive_count_null_leaves_the_handler_to_read_it" {
  command = plan
  assert {
    condition     = !contains(keys(aws_lambda_function.this.environment[0].variables), "SOURCE_MAX_RECEIVE_COUNT")
    error_message = "without max_receive_count the handler reads the queue's redrive policy"
  }
}

run "max_receive_count_rejects_1001" {
  command = plan
  variables {
    max_receive_count = 1001
  }
  expect_failures = [var.max_receive_count]
}

run "fifo_max_receive_count_rejects_null" {
  command = plan
  variables {
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
  }
  expect_failures = [var.max_receive_count]
}

run "fifo_max_receive_count_rejects_1" {
  command = plan
  variables {
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    max_receive_count                  = 1
    maximum_batching_window_in_seconds = 0
  }
  expect_failures = [var.max_receive_count]
}

run "fifo_max_receive_count_rejects_a_horizon_its_waits_cannot_reach" {
  command = plan
  variables {
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    max_receive_count                  = 5
    retry_horizon_seconds              = 604800
    maximum_batching_window_in_seconds = 0
  }
  expect_failures = [var.max_receive_count]
}

run "fifo_max_receive_count_accepts_one_that_reaches_the_horizon" {
  command = plan
  variables {
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    max_receive_count                  = 16
    retry_horizon_seconds              = 604800
    maximum_batching_window_in_seconds = 0
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["SOURCE_MAX_RECEIVE_COUNT"] == "16"
    error_message = "15 x 42000 s reach a 7-day horizon: accepted"
  }
}

run "function_timeout_accepts_900" {
  command = plan
  variables {
    function_timeout = 900
  }
  assert {
    condition     = aws_lambda_function.this.timeout == 900
    error_message = "function timeout accepts 900: the value must be accepted and reach the resource"
  }
}

run "function_timeout_rejects_0" {
  command = plan
  variables {
    function_timeout = 0
  }
  expect_failures = [var.function_timeout]
}

run "function_timeout_rejects_901" {
  command = plan
  variables {
    function_timeout                 = 901
    queue_visibility_timeout_seconds = 1000
  }
  expect_failures = [var.function_timeout]
}

run "visibility_accepts_equal_to_timeout" {
  command = plan
  variables {
    function_timeout                 = 30
    queue_visibility_timeout_seconds = 30
  }
  assert {
    condition     = aws_lambda_function.this.timeout == 30
    error_message = "visibility accepts equal to timeout: the value must be accepted and reach the resource"
  }
}

run "visibility_rejects_below_timeout" {
  command = plan
  variables {
    function_timeout                 = 30
    queue_visibility_timeout_seconds = 29
  }
  expect_failures = [var.queue_visibility_timeout_seconds]
}

run "reserved_concurrency_accepts_maximum_concurrency" {
  command = plan
  variables {
    reserved_concurrent_executions = 2
    maximum_concurrency            = 2
  }
  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 2
    error_message = "reserved concurrency accepts maximum concurrency: the value must be accepted and reach the resource"
  }
}

run "reserved_concurrency_rejects_below_maximum_concurrency" {
  command = plan
  variables {
    reserved_concurrent_executions = 4
    maximum_concurrency            = 5
  }
  expect_failures = [var.reserved_concurrent_executions]
}

run "reserved_concurrency_rejects_negative" {
  command = plan
  variables {
    reserved_concurrent_executions = -1
  }
  expect_failures = [var.reserved_concurrent_executions]
}

run "tracing_mode_rejects_off" {
  command = plan
  variables {
    tracing_mode = "Off"
  }
  expect_failures = [var.tracing_mode]
}

run "application_log_level_accepts_debug" {
  command = plan
  variables {
    application_log_level = "DEBUG"
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].application_log_level == "DEBUG"
    error_message = "application log level accepts debug: the value must be accepted and reach the resource"
  }
}

run "application_log_level_rejects_lowercase" {
  command = plan
  variables {
    application_log_level = "info"
  }
  expect_failures = [var.application_log_level]
}

run "application_log_level_accepts_trace" {
  command = plan
  variables {
    application_log_level = "TRACE"
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].application_log_level == "TRACE"
    error_message = "TRACE keeps the INFO summary and must be accepted"
  }
}

# WARN and above would make Lambda drop the handler's INFO summary line with its EMF metrics.
run "application_log_level_rejects_warn" {
  command = plan
  variables {
    application_log_level = "WARN"
  }
  expect_failures = [var.application_log_level]
}

run "application_log_level_rejects_error" {
  command = plan
  variables {
    application_log_level = "ERROR"
  }
  expect_failures = [var.application_log_level]
}

run "application_log_level_rejects_fatal" {
  command = plan
  variables {
    application_log_level = "FATAL"
  }
  expect_failures = [var.application_log_level]
}

run "system_log_level_accepts_debug" {
  command = plan
  variables {
    system_log_level = "DEBUG"
  }
  assert {
    condition     = aws_lambda_function.this.logging_config[0].system_log_level == "DEBUG"
    error_message = "system log level DEBUG must be accepted and reach the function"
  }
}

run "system_log_level_rejects_error" {
  command = plan
  variables {
    system_log_level = "ERROR"
  }
  expect_failures = [var.system_log_level]
}

run "log_retention_accepts_1" {
  command = plan
  variables {
    log_retention_in_days = 1
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 1
    error_message = "log retention accepts 1: the value must be accepted and reach the resource"
  }
}

run "log_retention_accepts_3653" {
  command = plan
  variables {
    log_retention_in_days = 3653
  }
  assert {
    condition     = aws_cloudwatch_log_group.this.retention_in_days == 3653
    error_message = "log retention accepts 3653: the value must be accepted and reach the resource"
  }
}

run "log_retention_rejects_2" {
  command = plan
  variables {
    log_retention_in_days = 2
  }
  expect_failures = [var.log_retention_in_days]
}

run "log_retention_rejects_0" {
  command = plan
  variables {
    log_retention_in_days = 0
  }
  expect_failures = [var.log_retention_in_days]
}

run "entity_api_url_accepts_http_with_port" {
  command = plan
  variables {
    entity_api_url = "http://127.0.0.1:8080/v1/operations:batch"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_URL"] == "http://127.0.0.1:8080/v1/operations:batch"
    error_message = "entity api url accepts http with port: the value must be accepted and reach the resource"
  }
}

run "entity_api_url_rejects_ftp" {
  command = plan
  variables {
    entity_api_url = "ftp://entities.example.com/batch"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_rejects_missing_scheme" {
  command = plan
  variables {
    entity_api_url = "entities.example.com/batch"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_rejects_credentials" {
  command = plan
  variables {
    entity_api_url = "https://user:secret@entities.example.com/batch"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_accepts_host_only" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_URL"] == "https://entities.example.com"
    error_message = "a URL with only a host must be accepted"
  }
}

run "entity_api_url_rejects_space" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com/a b"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_accepts_port_65535" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com:65535/v1/operations:batch"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_URL"] == "https://entities.example.com:65535/v1/operations:batch"
    error_message = "port 65535 must be accepted"
  }
}

run "entity_api_url_accepts_ipv6_loopback_with_port" {
  command = plan
  variables {
    entity_api_url = "http://[::1]:8080/v1/operations:batch"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_URL"] == "http://[::1]:8080/v1/operations:batch"
    error_message = "an IPv6 host with a port must be accepted"
  }
}

run "entity_api_url_rejects_port_0" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com:0/v1/operations:batch"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_rejects_port_65536" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com:65536/v1/operations:batch"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_rejects_non_numeric_port" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com:84x3/v1/operations:batch"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_rejects_empty_port" {
  command = plan
  variables {
    entity_api_url = "https://entities.example.com:/v1/operations:batch"
  }
  expect_failures = [var.entity_api_url]
}

# A bearer token over plain http:// only to a loopback host (local use).
run "entity_api_url_rejects_http_with_token" {
  command = plan
  variables {
    entity_api_url                  = "http://entities.example.com/v1/operations:batch"
    entity_api_token_parameter_name = "/orders/entity-api-token"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_rejects_http_with_token_to_a_loopback_lookalike" {
  command = plan
  variables {
    entity_api_url                  = "http://127.0.0.1.example.com/v1/operations:batch"
    entity_api_token_parameter_name = "/orders/entity-api-token"
  }
  expect_failures = [var.entity_api_url]
}

run "entity_api_url_accepts_http_with_token_to_loopback" {
  command = plan
  variables {
    entity_api_url                  = "http://127.0.0.1:8080/v1/operations:batch"
    entity_api_token_parameter_name = "/orders/entity-api-token"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_URL"] == "http://127.0.0.1:8080/v1/operations:batch"
    error_message = "a token to a loopback http:// URL (local use) must be accepted"
  }
}

run "entity_api_url_accepts_http_with_token_to_localhost" {
  command = plan
  variables {
    entity_api_url                  = "http://LocalHost:8080/v1/operations:batch"
    entity_api_token_parameter_name = "/orders/entity-api-token"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_URL"] == "http://LocalHost:8080/v1/operations:batch"
    error_message = "a token to http://localhost (any case) must be accepted"
  }
}

run "entity_api_url_accepts_https_with_token" {
  command = plan
  variables {
    entity_api_url                  = "https://entities.example.com/v1/operations:batch"
    entity_api_token_parameter_name = "/orders/entity-api-token"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_TOKEN_PARAMETER"] == "/orders/entity-api-token"
    error_message = "a token over https:// must be accepted"
  }
}

run "token_parameter_rejects_arn" {
  command = plan
  variables {
    entity_api_token_parameter_name = "arn:aws:ssm:us-east-1:123456789012:parameter/token"
  }
  expect_failures = [var.entity_api_token_parameter_name]
}

run "token_key_rejects_alias" {
  command = plan
  variables {
    entity_api_token_kms_key_arn = "alias/aws/ssm"
  }
  expect_failures = [var.entity_api_token_kms_key_arn]
}

run "token_key_rejects_without_parameter" {
  command = plan
  variables {
    entity_api_token_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }
  expect_failures = [var.entity_api_token_kms_key_arn]
}

run "api_timeout_accepts_just_below_function_timeout" {
  command = plan
  variables {
    function_timeout           = 10
    entity_api_timeout_seconds = 9.5
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_TIMEOUT_SECONDS"] == "9.5"
    error_message = "api timeout accepts just below function timeout: the value must be accepted and reach the resource"
  }
}

run "api_timeout_rejects_function_timeout" {
  command = plan
  variables {
    function_timeout           = 10
    entity_api_timeout_seconds = 10
  }
  expect_failures = [var.entity_api_timeout_seconds]
}

run "api_timeout_accepts_0_1" {
  command = plan
  variables {
    entity_api_timeout_seconds = 0.1
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["ENTITY_API_TIMEOUT_SECONDS"] == "0.1"
    error_message = "api timeout accepts 0.1: the value must be accepted and reach the resource"
  }
}

run "api_timeout_rejects_0_09" {
  command = plan
  variables {
    entity_api_timeout_seconds = 0.09
  }
  expect_failures = [var.entity_api_timeout_seconds]
}

run "max_operations_accepts_1" {
  command = plan
  variables {
    max_operations_per_request = 1
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MAX_OPERATIONS_PER_REQUEST"] == "1"
    error_message = "max operations accepts 1: the value must be accepted and reach the resource"
  }
}

run "max_operations_accepts_10000" {
  command = plan
  variables {
    max_operations_per_request = 10000
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MAX_OPERATIONS_PER_REQUEST"] == "10000"
    error_message = "max operations accepts 10000: the value must be accepted and reach the resource"
  }
}

run "max_operations_rejects_0" {
  command = plan
  variables {
    max_operations_per_request = 0
  }
  expect_failures = [var.max_operations_per_request]
}

run "max_operations_rejects_10001" {
  command = plan
  variables {
    max_operations_per_request = 10001
  }
  expect_failures = [var.max_operations_per_request]
}

run "max_request_bytes_accepts_edges_low" {
  command = plan
  variables {
    max_request_bytes = 1024
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MAX_REQUEST_BYTES"] == "1024"
    error_message = "max request bytes accepts edges low: the value must be accepted and reach the resource"
  }
}

run "max_request_bytes_accepts_edges_high" {
  command = plan
  variables {
    max_request_bytes = 6291456
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["MAX_REQUEST_BYTES"] == "6291456"
    error_message = "max request bytes accepts edges high: the value must be accepted and reach the resource"
  }
}

run "max_request_bytes_rejects_1023" {
  command = plan
  variables {
    max_request_bytes = 1023
  }
  expect_failures = [var.max_request_bytes]
}

run "max_request_bytes_rejects_6291457" {
  command = plan
  variables {
    max_request_bytes = 6291457
  }
  expect_failures = [var.max_request_bytes]
}

run "metrics_namespace_rejects_aws_prefix" {
  command = plan
  variables {
    metrics_namespace = "AWS/Lambda"
  }
  expect_failures = [var.metrics_namespace]
}

run "metrics_namespace_accepts_every_allowed_character" {
  command = plan
  variables {
    metrics_namespace = "Team_1/Orders-Sync.v2 #prod:eu"
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["METRICS_NAMESPACE"] == "Team_1/Orders-Sync.v2 #prod:eu"
    error_message = "letters, digits, '.', '_', '/', '#', ':', '-' and space must be accepted and reach the environment"
  }
}

run "metrics_namespace_accepts_255_characters" {
  command = plan
  variables {
    metrics_namespace = join("", [for i in range(255) : "n"])
  }
  assert {
    condition     = length(aws_lambda_function.this.environment[0].variables["METRICS_NAMESPACE"]) == 255
    error_message = "a 255-character namespace must be accepted"
  }
}

# Each of these is refused by the character rule alone (no AWS/ prefix).
run "metrics_namespace_rejects_comma" {
  command = plan
  variables {
    metrics_namespace = "Orders,Sync"
  }
  expect_failures = [var.metrics_namespace]
}

run "metrics_namespace_rejects_non_ascii" {
  command = plan
  variables {
    metrics_namespace = "Bestellungen-Übersicht"
  }
  expect_failures = [var.metrics_namespace]
}

run "metrics_namespace_rejects_empty" {
  command = plan
  variables {
    metrics_namespace = ""
  }
  expect_failures = [var.metrics_namespace]
}

run "metrics_namespace_rejects_256_characters" {
  command = plan
  variables {
    metrics_namespace = join("", [for i in range(256) : "n"])
  }
  expect_failures = [var.metrics_namespace]
}

run "retry_horizon_accepts_60" {
  command = plan
  variables {
    retry_horizon_seconds = 60
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["RETRY_HORIZON_SECONDS"] == "60"
    error_message = "a 60 s horizon must be accepted and reach the environment"
  }
}

run "retry_horizon_rejects_59" {
  command = plan
  variables {
    retry_horizon_seconds = 59
  }
  expect_failures = [var.retry_horizon_seconds]
}

run "retry_horizon_rejects_1209601" {
  command = plan
  variables {
    retry_horizon_seconds = 1209601
  }
  expect_failures = [var.retry_horizon_seconds]
}

run "retry_backoff_max_rejects_43201" {
  command = plan
  variables {
    retry_backoff_max_seconds = 43201
  }
  expect_failures = [var.retry_backoff_max_seconds]
}

run "retry_backoff_max_rejects_0" {
  command = plan
  variables {
    retry_backoff_max_seconds = 0
  }
  expect_failures = [var.retry_backoff_max_seconds]
}

run "retry_backoff_base_rejects_0" {
  command = plan
  variables {
    retry_backoff_base_seconds = 0
  }
  expect_failures = [var.retry_backoff_base_seconds]
}

run "retry_backoff_base_rejects_above_max" {
  command = plan
  variables {
    retry_backoff_base_seconds = 31
    retry_backoff_max_seconds  = 30
  }
  expect_failures = [var.retry_backoff_base_seconds]
}

run "retry_backoff_base_accepts_equal_to_max" {
  command = plan
  variables {
    retry_backoff_base_seconds = 30
    retry_backoff_max_seconds  = 30
  }
  assert {
    condition     = aws_lambda_function.this.environment[0].variables["RETRY_BACKOFF_BASE_SECONDS"] == "30" && aws_lambda_function.this.environment[0].variables["RETRY_BACKOFF_MAX_SECONDS"] == "30"
    error_message = "a base equal to the cap must be accepted"
  }
}

run "queue_arn_rejects_non_sqs" {
  command = plan
  variables {
    queue_arn = "arn:aws:sns:us-east-1:123456789012:orders"
  }
  expect_failures = [var.queue_arn]
}

run "dlq_arn_rejects_wildcard" {
  command = plan
  variables {
    dlq_arn = "arn:aws:sqs:us-east-1:123456789012:*"
  }
  expect_failures = [var.dlq_arn]
}

run "dlq_url_rejects_non_url" {
  command = plan
  variables {
    dlq_url = "orders-dlq"
  }
  expect_failures = [var.dlq_url]
}

run "queue_kms_key_rejects_alias" {
  command = plan
  variables {
    queue_kms_key_arn = "alias/aws/sqs"
  }
  expect_failures = [var.queue_kms_key_arn]
}

run "function_kms_key_rejects_key_id" {
  command = plan
  variables {
    function_kms_key_arn = "1234abcd-12ab-34cd-56ef-1234567890ab"
  }
  expect_failures = [var.function_kms_key_arn]
}

run "batch_size_accepts_1_without_window" {
  command = plan
  variables {
    batch_size                         = 1
    maximum_batching_window_in_seconds = 0
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 1 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 0
    error_message = "batch size accepts 1 without window: the value must be accepted and reach the resource"
  }
}

run "batch_size_accepts_10_without_window" {
  command = plan
  variables {
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 10
    error_message = "batch size accepts 10 without window: the value must be accepted and reach the resource"
  }
}

run "batch_size_rejects_11_without_window" {
  command = plan
  variables {
    batch_size                         = 11
    maximum_batching_window_in_seconds = 0
  }
  expect_failures = [var.batch_size]
}

run "batch_size_accepts_11_with_1s_window" {
  command = plan
  variables {
    batch_size                         = 11
    maximum_batching_window_in_seconds = 1
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 11 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 1
    error_message = "batch size accepts 11 with 1s window: the value must be accepted and reach the resource"
  }
}

run "batch_size_accepts_10000_with_300s_window" {
  command = plan
  variables {
    batch_size                         = 10000
    maximum_batching_window_in_seconds = 300
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 10000 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 300
    error_message = "batch size accepts 10000 with 300s window: the value must be accepted and reach the resource"
  }
}

run "batch_size_rejects_0" {
  command = plan
  variables {
    batch_size = 0
  }
  expect_failures = [var.batch_size]
}

run "batch_size_rejects_10001" {
  command = plan
  variables {
    batch_size = 10001
  }
  expect_failures = [var.batch_size]
}

run "window_rejects_301" {
  command = plan
  variables {
    maximum_batching_window_in_seconds = 301
  }
  expect_failures = [var.maximum_batching_window_in_seconds]
}

run "window_rejects_negative" {
  command = plan
  variables {
    batch_size                         = 10
    maximum_batching_window_in_seconds = -1
  }
  expect_failures = [var.maximum_batching_window_in_seconds]
}

run "maximum_concurrency_accepts_2" {
  command = plan
  variables {
    maximum_concurrency = 2
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 2
    error_message = "maximum concurrency accepts 2: the value must be accepted and reach the resource"
  }
}

run "maximum_concurrency_accepts_1000" {
  command = plan
  variables {
    maximum_concurrency = 1000
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 1000
    error_message = "maximum concurrency accepts 1000: the value must be accepted and reach the resource"
  }
}

run "maximum_concurrency_rejects_1" {
  command = plan
  variables {
    maximum_concurrency = 1
  }
  expect_failures = [var.maximum_concurrency]
}

run "maximum_concurrency_rejects_1001" {
  command = plan
  variables {
    maximum_concurrency = 1001
  }
  expect_failures = [var.maximum_concurrency]
}

run "filter_patterns_accept_5" {
  command = plan
  variables {
    filter_patterns = ["{\"body\":{\"op\":[\"create\"]}}", "{\"body\":{\"op\":[\"update\"]}}", "{\"body\":{\"op\":[\"delete\"]}}", "{\"body\":{\"entity_type\":[\"order\"]}}", "{\"body\":{\"entity_type\":[\"customer\"]}}"]
  }
  assert {
    condition     = length(aws_lambda_event_source_mapping.this[0].filter_criteria[0].filter) == 5
    error_message = "filter patterns accept 5: the value must be accepted and reach the resource"
  }
}

# Six distinct, valid patterns: only the count rule can refuse them.
run "filter_patterns_reject_6" {
  command = plan
  variables {
    filter_patterns = ["{\"body\":{\"op\":[\"create\"]}}", "{\"body\":{\"op\":[\"update\"]}}", "{\"body\":{\"op\":[\"delete\"]}}", "{\"body\":{\"entity_type\":[\"order\"]}}", "{\"body\":{\"entity_type\":[\"customer\"]}}", "{\"body\":{\"entity_type\":[\"invoice\"]}}"]
  }
  expect_failures = [var.filter_patterns]
}

run "filter_patterns_reject_duplicates" {
  command = plan
  variables {
    filter_patterns = ["{\"body\":{\"op\":[\"delete\"]}}", "{\"body\":{\"op\":[\"delete\"]}}"]
  }
  expect_failures = [var.filter_patterns]
}

run "filter_patterns_reject_non_json" {
  command = plan
  variables {
    filter_patterns = ["body.op = delete"]
  }
  expect_failures = [var.filter_patterns]
}

# ---- FIFO queue --------------------------------------------------------------------------------

run "fifo_accepts_10_records_without_window" {
  command = plan
  variables {
    max_receive_count                  = 5
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].event_source_arn == "arn:aws:sqs:us-east-1:123456789012:orders.fifo" && aws_lambda_event_source_mapping.this[0].batch_size == 10
    error_message = "a FIFO queue with 10 records per batch and no window must be accepted"
  }
}

run "fifo_rejects_11_records" {
  command = plan
  variables {
    max_receive_count                  = 5
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    batch_size                         = 11
    maximum_batching_window_in_seconds = 0
  }
  expect_failures = [var.batch_size]
}

run "fifo_rejects_a_window" {
  command = plan
  variables {
    max_receive_count                  = 5
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    batch_size                         = 10
    maximum_batching_window_in_seconds = 1
  }
  expect_failures = [var.maximum_batching_window_in_seconds]
}

run "entity_api_rate_share_rejects_0" {
  command = plan
  variables {
    entity_api_rate_share = 0
  }
  expect_failures = [var.entity_api_rate_share]
}

run "entity_api_rate_share_rejects_above_100000" {
  command = plan
  variables {
    entity_api_rate_share = 100001
  }
  expect_failures = [var.entity_api_rate_share]
}

run "entity_api_rate_share_accepts_a_fraction" {
  command = plan
  variables {
    entity_api_rate_share = 0.00001
  }
  assert {
    condition     = local.environment["ENTITY_API_RATE_SHARE"] == "0.00001" || local.environment["ENTITY_API_RATE_SHARE"] == "1e-05"
    error_message = "the share reaches the environment"
  }
}

run "max_receive_count_rejects_1_on_a_standard_queue" {
  command = plan
  variables {
    max_receive_count = 1
  }
  expect_failures = [var.max_receive_count]
}
