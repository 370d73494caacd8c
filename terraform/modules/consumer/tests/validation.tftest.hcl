# Every input rule of the consumer module: a value that breaks it fails the plan naming the
# variable, and the edge values are accepted and reach the resources.
#
# Each `run` plans anew (~1.5 s of CPU with the aws provider's schema), so one run checks many
# rules at once: `expect_failures` lists every variable given a bad value, and Terraform fails
# the run if a listed variable does not fail, or if one not listed does. A rule that reads
# another variable is skipped when that variable is itself invalid (checked with Terraform 1.11),
# so no run gives a bad value both to a variable and to one its rules read; such cross-variable
# rules get runs of their own. Accept-runs set several edge values that do not interact, one
# assert each. The comment above each run says what each value breaks or checks.

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

# ---- Accepted: the edge values reach the resources ---------------------------------------------

# The low edges (and a few values that must pass through unchanged). function_name: 55
# characters (the role adds "-consumer" up to IAM's 64); memory 128 MB; retention 1 day; one
# operation and 1024 bytes per request; every character a namespace may hold; a 60 s horizon;
# a backoff base equal to its cap; maximum_concurrency 2 with an equal reservation; batches of
# 1 without a window; 5 filter patterns; a max_receive_count that reaches the handler; the
# smallest rate share; a plain-http loopback URL with a port and a token (local use: accepted
# with a token, so without one too); function_timeout 10 with the handler's default API timeout.
run "accepts_the_low_edges" {
  command = plan
  variables {
    function_name                      = "a234567890b234567890c234567890d234567890e234567890f2345"
    runtime                            = "python3.13"
    architecture                       = "x86_64"
    memory_size                        = 128
    function_timeout                   = 10
    queue_visibility_timeout_seconds   = 60
    application_log_level              = "DEBUG"
    system_log_level                   = "DEBUG"
    log_retention_in_days              = 1
    entity_api_url                     = "http://127.0.0.1:8080/v1/operations:batch"
    entity_api_token_parameter_name    = "/orders/entity-api-token"
    max_operations_per_request         = 1
    max_request_bytes                  = 1024
    metrics_namespace                  = "Team_1/Orders-Sync.v2 #prod:eu"
    max_receive_count                  = 7
    retry_horizon_seconds              = 60
    retry_backoff_base_seconds         = 30
    retry_backoff_max_seconds          = 30
    entity_api_rate_share              = 0.00001
    reserved_concurrent_executions     = 2
    maximum_concurrency                = 2
    batch_size                         = 1
    maximum_batching_window_in_seconds = 0
    filter_patterns                    = ["{\"body\":{\"op\":[\"create\"]}}", "{\"body\":{\"op\":[\"update\"]}}", "{\"body\":{\"op\":[\"delete\"]}}", "{\"body\":{\"entity_type\":[\"order\"]}}", "{\"body\":{\"entity_type\":[\"customer\"]}}"]
  }
  assert {
    condition     = length(module.function.lambda.function_name) == 55 && length(module.function.role.name) == 64
    error_message = "function name accepts 55: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.runtime == "python3.13"
    error_message = "runtime accepts python313: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.architectures == tolist(["x86_64"])
    error_message = "architecture accepts x86 64: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.memory_size == 128
    error_message = "memory size accepts 128: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.timeout == 10 && !contains(keys(module.function.lambda.environment[0].variables), "ENTITY_API_TIMEOUT_SECONDS")
    error_message = "function timeout 10 with the handler's default 10 s API timeout must be accepted (issue 15: the handler caps the request's timeout)"
  }
  assert {
    condition     = module.function.lambda.logging_config[0].application_log_level == "DEBUG"
    error_message = "application log level accepts debug: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.logging_config[0].system_log_level == "DEBUG"
    error_message = "system log level DEBUG must be accepted and reach the function"
  }
  assert {
    condition     = module.function.log_group.retention_in_days == 1
    error_message = "log retention accepts 1: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_URL"] == "http://127.0.0.1:8080/v1/operations:batch"
    error_message = "an http:// URL with a port to a loopback host, with a token (local use), must be accepted and reach the environment"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["MAX_OPERATIONS_PER_REQUEST"] == "1"
    error_message = "max operations accepts 1: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["MAX_REQUEST_BYTES"] == "1024"
    error_message = "max request bytes accepts edges low: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["METRICS_NAMESPACE"] == "Team_1/Orders-Sync.v2 #prod:eu"
    error_message = "letters, digits, '.', '_', '/', '#', ':', '-' and space must be accepted and reach the environment"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["SOURCE_MAX_RECEIVE_COUNT"] == "7"
    error_message = "max_receive_count must reach the handler as SOURCE_MAX_RECEIVE_COUNT"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["RETRY_HORIZON_SECONDS"] == "60"
    error_message = "a 60 s horizon must be accepted and reach the environment"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["RETRY_BACKOFF_BASE_SECONDS"] == "30" && module.function.lambda.environment[0].variables["RETRY_BACKOFF_MAX_SECONDS"] == "30"
    error_message = "a base equal to the cap must be accepted"
  }
  assert {
    condition     = local.environment["ENTITY_API_RATE_SHARE"] == "0.00001" || local.environment["ENTITY_API_RATE_SHARE"] == "1e-05"
    error_message = "the share reaches the environment"
  }
  assert {
    condition     = module.function.lambda.reserved_concurrent_executions == 2
    error_message = "reserved concurrency accepts maximum concurrency: the value must be accepted and reach the resource"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 2
    error_message = "maximum concurrency accepts 2: the value must be accepted and reach the resource"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 1 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 0
    error_message = "batch size accepts 1 without window: the value must be accepted and reach the resource"
  }
  assert {
    condition     = length(aws_lambda_event_source_mapping.this[0].filter_criteria[0].filter) == 5
    error_message = "filter patterns accept 5: the value must be accepted and reach the resource"
  }
}

# The high edges: memory 10240 MB; retention 3653 days; TRACE (keeps the INFO summary); port
# 65535; 10000 operations and 6 MiB per request; a 255-character namespace; maximum_concurrency
# 1000; batches of 10000 with a 300 s window; function_timeout 900; the shortest API timeout
# (0.1 s); no max_receive_count (the handler reads the redrive policy itself).
run "accepts_the_high_edges" {
  command = plan
  variables {
    memory_size                        = 10240
    function_timeout                   = 900
    queue_visibility_timeout_seconds   = 5700
    entity_api_timeout_seconds         = 0.1
    application_log_level              = "TRACE"
    log_retention_in_days              = 3653
    entity_api_url                     = "https://entities.example.com:65535/v1/operations:batch"
    max_operations_per_request         = 10000
    max_request_bytes                  = 6291456
    metrics_namespace                  = join("", [for i in range(255) : "n"])
    maximum_concurrency                = 1000
    batch_size                         = 10000
    maximum_batching_window_in_seconds = 300
  }
  assert {
    condition     = module.function.lambda.memory_size == 10240
    error_message = "memory size accepts 10240: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.timeout == 900
    error_message = "function timeout accepts 900: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_TIMEOUT_SECONDS"] == "0.1"
    error_message = "api timeout accepts 0.1: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.logging_config[0].application_log_level == "TRACE"
    error_message = "TRACE keeps the INFO summary and must be accepted"
  }
  assert {
    condition     = module.function.log_group.retention_in_days == 3653
    error_message = "log retention accepts 3653: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_URL"] == "https://entities.example.com:65535/v1/operations:batch"
    error_message = "port 65535 must be accepted"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["MAX_OPERATIONS_PER_REQUEST"] == "10000"
    error_message = "max operations accepts 10000: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["MAX_REQUEST_BYTES"] == "6291456"
    error_message = "max request bytes accepts edges high: the value must be accepted and reach the resource"
  }
  assert {
    condition     = length(module.function.lambda.environment[0].variables["METRICS_NAMESPACE"]) == 255
    error_message = "a 255-character namespace must be accepted"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 1000
    error_message = "maximum concurrency accepts 1000: the value must be accepted and reach the resource"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 10000 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 300
    error_message = "batch size accepts 10000 with 300s window: the value must be accepted and reach the resource"
  }
  assert {
    condition     = !contains(keys(module.function.lambda.environment[0].variables), "SOURCE_MAX_RECEIVE_COUNT")
    error_message = "without max_receive_count the handler reads the queue's redrive policy"
  }
}

# function_timeout 5 (the least the default API timeout allows) with the least visibility
# timeout (5 + no window + 10 s); a URL with only a host; 10 records without a window.
run "accepts_function_timeout_5_with_the_least_visibility_timeout" {
  command = plan
  variables {
    function_timeout                   = 5
    queue_visibility_timeout_seconds   = 15
    entity_api_url                     = "https://entities.example.com"
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
  }
  assert {
    condition     = module.function.lambda.timeout == 5
    error_message = "function timeout accepts 5 with the default API timeout and a visibility timeout of 5 + 10 s"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_URL"] == "https://entities.example.com"
    error_message = "a URL with only a host must be accepted"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 10
    error_message = "batch size accepts 10 without window: the value must be accepted and reach the resource"
  }
}

# function_timeout 4 with a 0.5 s API timeout (0.5 + 3.25 s fit); an IPv6 loopback host with a
# port; 11 records with a 1 s window.
run "accepts_function_timeout_4_with_a_half_second_api_timeout" {
  command = plan
  variables {
    function_timeout                   = 4
    entity_api_timeout_seconds         = 0.5
    queue_visibility_timeout_seconds   = 30
    entity_api_url                     = "http://[::1]:8080/v1/operations:batch"
    batch_size                         = 11
    maximum_batching_window_in_seconds = 1
  }
  assert {
    condition     = module.function.lambda.timeout == 4
    error_message = "function timeout accepts 4 with a 0.5 s API timeout (0.5 + 3.25 s fit)"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_URL"] == "http://[::1]:8080/v1/operations:batch"
    error_message = "an IPv6 host with a port must be accepted"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].batch_size == 11 && aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 1
    error_message = "batch size accepts 11 with 1s window: the value must be accepted and reach the resource"
  }
}

# An API timeout just below function_timeout; a token over http://localhost (any case).
run "accepts_an_api_timeout_just_below_function_timeout" {
  command = plan
  variables {
    function_timeout                = 10
    entity_api_timeout_seconds      = 9.5
    entity_api_url                  = "http://LocalHost:8080/v1/operations:batch"
    entity_api_token_parameter_name = "/orders/entity-api-token"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_TIMEOUT_SECONDS"] == "9.5"
    error_message = "api timeout accepts just below function timeout: the value must be accepted and reach the resource"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_URL"] == "http://LocalHost:8080/v1/operations:batch"
    error_message = "a token to http://localhost (any case) must be accepted"
  }
}

# A FIFO queue: 10 records without a window, a visibility timeout of exactly 6 x the function
# timeout (900 s), and a max_receive_count whose waits reach a 7-day horizon (15 x 42000 s); a
# token over https://.
run "accepts_a_fifo_queue" {
  command = plan
  variables {
    function_timeout                   = 150
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    max_receive_count                  = 16
    retry_horizon_seconds              = 604800
    maximum_batching_window_in_seconds = 0
    entity_api_token_parameter_name    = "/orders/entity-api-token"
  }
  assert {
    condition     = aws_lambda_event_source_mapping.this[0].event_source_arn == "arn:aws:sqs:us-east-1:123456789012:orders.fifo" && aws_lambda_event_source_mapping.this[0].batch_size == 10
    error_message = "a FIFO queue with 10 records per batch and no window must be accepted"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["SOURCE_MAX_RECEIVE_COUNT"] == "16"
    error_message = "15 x 42000 s reach a 7-day horizon: accepted"
  }
  assert {
    condition     = module.function.lambda.environment[0].variables["ENTITY_API_TOKEN_PARAMETER"] == "/orders/entity-api-token"
    error_message = "a token over https:// must be accepted"
  }
}

# ---- Refused: each bad value fails the plan naming its variable ---------------------------------
# entity_api_url has the most bad values, one per run; the other variables' bad values share
# those runs. No run gives a bad value to a variable another bad one's rules read.

# entity_api_url: ftp:// is neither http nor https. function_name: 56 characters. package_path:
# no file there. runtime: python3.11. architecture: amd64. memory_size: 127. function_timeout:
# 0. tracing_mode: Off. application_log_level: lowercase. system_log_level: ERROR.
# log_retention_in_days: 2 (not a CloudWatch value). max_operations_per_request: 0.
# max_request_bytes: 1023. metrics_namespace: the reserved AWS/ prefix. max_receive_count: 1001
# (its FIFO rule reads retry_horizon_seconds: valid here). retry_backoff_max_seconds: 43201. entity_api_rate_share: 0.
# dlq_arn: a wildcard. dlq_url: not a URL. queue_kms_key_arn and function_kms_key_arn: an alias
# and a key id, not key ARNs. batch_size: 0. maximum_concurrency: 1. filter_patterns: 6.
run "rejects_bad_values_ftp_url" {
  command = plan
  variables {
    entity_api_url             = "ftp://entities.example.com/batch"
    function_name              = "a234567890b234567890c234567890d234567890e234567890f23456"
    package_path               = "no-such-dir/function.zip"
    runtime                    = "python3.11"
    architecture               = "amd64"
    memory_size                = 127
    function_timeout           = 0
    tracing_mode               = "Off"
    application_log_level      = "info"
    system_log_level           = "ERROR"
    log_retention_in_days      = 2
    max_operations_per_request = 0
    max_request_bytes          = 1023
    metrics_namespace          = "AWS/Lambda"
    max_receive_count          = 1001
    retry_backoff_max_seconds  = 43201
    entity_api_rate_share      = 0
    dlq_arn                    = "arn:aws:sqs:us-east-1:123456789012:*"
    dlq_url                    = "orders-dlq"
    queue_kms_key_arn          = "alias/aws/sqs"
    function_kms_key_arn       = "1234abcd-12ab-34cd-56ef-1234567890ab"
    batch_size                 = 0
    maximum_concurrency        = 1
    # Six distinct, valid patterns: only the count rule can refuse them.
    filter_patterns = ["{\"body\":{\"op\":[\"create\"]}}", "{\"body\":{\"op\":[\"update\"]}}", "{\"body\":{\"op\":[\"delete\"]}}", "{\"body\":{\"entity_type\":[\"order\"]}}", "{\"body\":{\"entity_type\":[\"customer\"]}}", "{\"body\":{\"entity_type\":[\"invoice\"]}}"]
  }
  expect_failures = [
    var.entity_api_url, var.function_name, var.package_path, var.runtime, var.architecture,
    var.memory_size, var.function_timeout, var.tracing_mode, var.application_log_level,
    var.system_log_level, var.log_retention_in_days, var.max_operations_per_request,
    var.max_request_bytes, var.metrics_namespace, var.max_receive_count,
    var.retry_backoff_max_seconds, var.entity_api_rate_share, var.dlq_arn, var.dlq_url,
    var.queue_kms_key_arn, var.function_kms_key_arn, var.batch_size, var.maximum_concurrency,
    var.filter_patterns,
  ]
}

# entity_api_url: no scheme. function_name: a dot. memory_size: 10241. function_timeout: 901
# (with a visibility timeout above it). application_log_level: WARN (would drop the INFO summary
# with its EMF metrics). log_retention_in_days: 0 (never expire). max_operations_per_request:
# 10001. max_request_bytes: 6291457. metrics_namespace: a comma (the character rule alone).
# max_receive_count: 1 on a standard queue. retry_backoff_max_seconds: 0. entity_api_rate_share: 100001. batch_size: 10001.
# maximum_concurrency: 1001. filter_patterns: a duplicate.
run "rejects_bad_values_url_without_scheme" {
  command = plan
  variables {
    entity_api_url                   = "entities.example.com/batch"
    function_name                    = "orders.v2"
    memory_size                      = 10241
    function_timeout                 = 901
    queue_visibility_timeout_seconds = 1000
    application_log_level            = "WARN"
    log_retention_in_days            = 0
    max_operations_per_request       = 10001
    max_request_bytes                = 6291457
    metrics_namespace                = "Orders,Sync"
    max_receive_count                = 1
    retry_backoff_max_seconds        = 0
    entity_api_rate_share            = 100001
    batch_size                       = 10001
    maximum_concurrency              = 1001
    filter_patterns                  = ["{\"body\":{\"op\":[\"delete\"]}}", "{\"body\":{\"op\":[\"delete\"]}}"]
  }
  expect_failures = [
    var.entity_api_url, var.function_name, var.memory_size, var.function_timeout,
    var.application_log_level, var.log_retention_in_days, var.max_operations_per_request,
    var.max_request_bytes, var.metrics_namespace, var.max_receive_count,
    var.retry_backoff_max_seconds, var.entity_api_rate_share, var.batch_size,
    var.maximum_concurrency, var.filter_patterns,
  ]
}

# entity_api_url: user:password@ (credentials belong in SSM). application_log_level: ERROR.
# metrics_namespace: non-ASCII (the character rule alone). filter_patterns: not JSON.
# queue_arn: an SNS topic (max_receive_count, batch_size and the window read it: all valid
# here). retry_backoff_base_seconds: 0.
run "rejects_bad_values_url_with_credentials" {
  command = plan
  variables {
    entity_api_url             = "https://user:secret@entities.example.com/batch"
    application_log_level      = "ERROR"
    metrics_namespace          = "Bestellungen-Übersicht"
    filter_patterns            = ["body.op = delete"]
    queue_arn                  = "arn:aws:sns:us-east-1:123456789012:orders"
    retry_backoff_base_seconds = 0
  }
  expect_failures = [
    var.entity_api_url, var.application_log_level, var.metrics_namespace, var.filter_patterns,
    var.queue_arn, var.retry_backoff_base_seconds,
  ]
}

# entity_api_url: a space. application_log_level: FATAL. metrics_namespace: empty. The window:
# 301. entity_api_token_kms_key_arn: an alias, not a key ARN. retry_horizon_seconds: 59.
run "rejects_bad_values_url_with_space" {
  command = plan
  variables {
    entity_api_url                     = "https://entities.example.com/a b"
    application_log_level              = "FATAL"
    metrics_namespace                  = ""
    maximum_batching_window_in_seconds = 301
    entity_api_token_kms_key_arn       = "alias/aws/ssm"
    retry_horizon_seconds              = 59
  }
  expect_failures = [
    var.entity_api_url, var.application_log_level, var.metrics_namespace,
    var.maximum_batching_window_in_seconds, var.entity_api_token_kms_key_arn,
    var.retry_horizon_seconds,
  ]
}

# entity_api_url: port 0. metrics_namespace: 256 characters. reserved_concurrent_executions:
# negative. The window: negative (with 10 records, which need none). retry_horizon_seconds:
# 1209601 (above 14 days).
run "rejects_bad_values_url_port_0" {
  command = plan
  variables {
    entity_api_url                     = "https://entities.example.com:0/v1/operations:batch"
    metrics_namespace                  = join("", [for i in range(256) : "n"])
    reserved_concurrent_executions     = -1
    batch_size                         = 10
    maximum_batching_window_in_seconds = -1
    retry_horizon_seconds              = 1209601
  }
  expect_failures = [
    var.entity_api_url, var.metrics_namespace, var.reserved_concurrent_executions,
    var.maximum_batching_window_in_seconds, var.retry_horizon_seconds,
  ]
}

# entity_api_url: port 65536. entity_api_timeout_seconds: 0.09 (below 0.1).
# entity_api_token_kms_key_arn: a key ARN without a token parameter to grant it for.
run "rejects_bad_values_url_port_65536" {
  command = plan
  variables {
    entity_api_url               = "https://entities.example.com:65536/v1/operations:batch"
    entity_api_timeout_seconds   = 0.09
    entity_api_token_kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }
  expect_failures = [
    var.entity_api_url, var.entity_api_timeout_seconds, var.entity_api_token_kms_key_arn,
  ]
}

# entity_api_url: a port with a letter. entity_api_timeout_seconds: equal to function_timeout.
# reserved_concurrent_executions: below maximum_concurrency.
run "rejects_bad_values_url_non_numeric_port" {
  command = plan
  variables {
    entity_api_url                 = "https://entities.example.com:84x3/v1/operations:batch"
    function_timeout               = 10
    entity_api_timeout_seconds     = 10
    reserved_concurrent_executions = 4
    maximum_concurrency            = 5
  }
  expect_failures = [
    var.entity_api_url, var.entity_api_timeout_seconds, var.reserved_concurrent_executions,
  ]
}

# entity_api_url: ':' with no port. retry_backoff_base_seconds: above the cap.
# queue_visibility_timeout_seconds: below function_timeout.
run "rejects_bad_values_url_empty_port" {
  command = plan
  variables {
    entity_api_url                   = "https://entities.example.com:/v1/operations:batch"
    retry_backoff_base_seconds       = 31
    retry_backoff_max_seconds        = 30
    function_timeout                 = 30
    queue_visibility_timeout_seconds = 29
  }
  expect_failures = [
    var.entity_api_url, var.retry_backoff_base_seconds, var.queue_visibility_timeout_seconds,
  ]
}

# entity_api_url: a bearer token over plain http:// to a host that is not loopback. On a FIFO
# queue: max_receive_count null (required there); batch_size 11 (FIFO takes at most 10).
# entity_api_timeout_seconds: function_timeout 3 leaves no room for a 0.1 s request + 3.25 s.
run "rejects_bad_values_http_url_with_a_token" {
  command = plan
  variables {
    entity_api_url                     = "http://entities.example.com/v1/operations:batch"
    entity_api_token_parameter_name    = "/orders/entity-api-token"
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 11
    maximum_batching_window_in_seconds = 0
    function_timeout                   = 3
    entity_api_timeout_seconds         = 0.1
    queue_visibility_timeout_seconds   = 30
  }
  expect_failures = [
    var.entity_api_url, var.max_receive_count, var.batch_size, var.entity_api_timeout_seconds,
  ]
}

# entity_api_url: a token over http:// to a loopback lookalike (127.0.0.1.example.com). On a
# FIFO queue: max_receive_count 1; a 1 s window (none on FIFO).
# entity_api_timeout_seconds: function_timeout 4 leaves no room for the default API timeout.
run "rejects_bad_values_http_url_with_a_token_to_a_loopback_lookalike" {
  command = plan
  variables {
    entity_api_url                     = "http://127.0.0.1.example.com/v1/operations:batch"
    entity_api_token_parameter_name    = "/orders/entity-api-token"
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    max_receive_count                  = 1
    batch_size                         = 10
    maximum_batching_window_in_seconds = 1
    function_timeout                   = 4
    queue_visibility_timeout_seconds   = 30
  }
  expect_failures = [
    var.entity_api_url, var.max_receive_count, var.maximum_batching_window_in_seconds,
    var.entity_api_timeout_seconds,
  ]
}

# On a FIFO queue: max_receive_count 5, whose waits (4 x 42000 s) cannot reach a 7-day horizon.
# entity_api_token_parameter_name: an ARN, not a name.
run "rejects_a_fifo_horizon_its_receives_cannot_reach" {
  command = plan
  variables {
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    max_receive_count                  = 5
    retry_horizon_seconds              = 604800
    maximum_batching_window_in_seconds = 0
    entity_api_token_parameter_name    = "arn:aws:ssm:us-east-1:123456789012:parameter/token"
  }
  expect_failures = [var.max_receive_count, var.entity_api_token_parameter_name]
}

# A FIFO queue whose visibility timeout is one second short of 6 x the function timeout: a late
# batch would be received again while its invocation runs, and its group applied out of order.
run "rejects_a_fifo_visibility_timeout_below_6_x_the_function_timeout" {
  command = plan
  variables {
    function_timeout                   = 150
    queue_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    dlq_arn                            = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    dlq_url                            = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo"
    batch_size                         = 10
    maximum_batching_window_in_seconds = 0
    max_receive_count                  = 16
    retry_horizon_seconds              = 604800
    queue_visibility_timeout_seconds   = 899
  }
  expect_failures = [var.queue_visibility_timeout_seconds]
}

# A visibility timeout one second short of function_timeout + window + 10 s: a batch could come
# back while its invocation runs (its receive, the window and the function's init came first).
run "rejects_a_visibility_timeout_shorter_than_a_batchs_time_in_flight" {
  command = plan
  variables {
    function_timeout                   = 30
    maximum_batching_window_in_seconds = 5
    queue_visibility_timeout_seconds   = 44
  }
  expect_failures = [var.queue_visibility_timeout_seconds]
}
