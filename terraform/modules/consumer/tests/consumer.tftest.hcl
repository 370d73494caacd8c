# Tests of the consumer module with a mocked AWS provider (no credentials, no network): what the
# plan creates (event source mapping, function, IAM, logs) and every input rule.
# package_path points at main.tf: any existing file will do, Terraform only hashes it.

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  function_name                    = "orders"
  package_path                     = "main.tf"
  entity_api_url                   = "https://entities.example.com/v1/operations:batch"
  queue_arn                        = "arn:aws:sqs:us-east-1:123456789012:orders"
  queue_visibility_timeout_seconds = 365
  dlq_arn                          = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
  dlq_url                          = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
}

# ---- What the defaults create ----------------------------------------------------------------

# The mapping, the function, its log group and least-privilege IAM; Terraform owns the
# mapping's MaximumConcurrency.
run "defaults" {
  command = plan

  assert {
    condition     = aws_lambda_event_source_mapping.this[0].function_response_types == toset(["ReportBatchItemFailures"])
    error_message = "the mapping must report batch item failures (otherwise a returned failure list is ignored)"
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.this[0].batch_size == 100 &&
      aws_lambda_event_source_mapping.this[0].maximum_batching_window_in_seconds == 5 &&
      aws_lambda_event_source_mapping.this[0].scaling_config[0].maximum_concurrency == 5
    )
    error_message = "default batch size 100, window 5 s, maximum concurrency 5"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this[0].event_source_arn == var.queue_arn && aws_lambda_event_source_mapping.this[0].enabled
    error_message = "the mapping must read the source queue and be enabled"
  }

  assert {
    condition     = aws_lambda_event_source_mapping.this[0].metrics_config[0].metrics == toset(["EventCount"]) && length(aws_lambda_event_source_mapping.this[0].filter_criteria) == 0
    error_message = "EventCount metrics on and no filter by default"
  }

  assert {
    condition = (
      aws_lambda_function.this.handler == "consumer.handler.lambda_handler" &&
      aws_lambda_function.this.runtime == "python3.12" &&
      aws_lambda_function.this.architectures == tolist(["arm64"]) &&
      aws_lambda_function.this.memory_size == 512 &&
      aws_lambda_function.this.timeout == 60
    )
    error_message = "handler consumer.handler.lambda_handler on python3.12/arm64, 512 MB, 60 s by default"
  }

  assert {
    condition = aws_lambda_function.this.environment[0].variables == tomap({
      ENTITY_API_URL             = "https://entities.example.com/v1/operations:batch"
      DLQ_URL                    = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      MAX_OPERATIONS_PER_REQUEST = "100"
      MAX_REQUEST_BYTES          = "1048576"
      RETRY_HORIZON_SECONDS      = "3600"
      RETRY_BACKOFF_BASE_SECONDS = "2"
      RETRY_BACKOFF_MAX_SECONDS  = "900"
    })
    error_message = "the environment must hold exactly the required handler settings and the retry defaults when no optional one is given"
  }

  assert {
    condition     = aws_lambda_function.this.logging_config[0].application_log_level == "INFO" && aws_lambda_function.this.logging_config[0].system_log_level == "INFO"
    error_message = "application and system log level INFO by default (the REPORT lines carry duration, memory and init time)"
  }

  assert {
    condition     = aws_lambda_function.this.logging_config[0].log_format == "JSON" && aws_lambda_function.this.logging_config[0].log_group == "/aws/lambda/orders"
    error_message = "the function must log JSON to its own log group"
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == -1 && aws_lambda_function.this.tracing_config[0].mode == "PassThrough"
    error_message = "unreserved concurrency and PassThrough tracing by default"
  }

  assert {
    condition     = aws_lambda_function.this.source_code_hash == filebase64sha256("main.tf")
    error_message = "source_code_hash must be the hash of package_path"
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.xray) == 0
    error_message = "no X-Ray policy without Active tracing"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.name == "/aws/lambda/orders" && aws_cloudwatch_log_group.this.retention_in_days == 30
    error_message = "the log group must be /aws/lambda/<name> with 30 days' retention by default"
  }

  assert {
    condition     = jsondecode(aws_iam_role.this.assume_role_policy).Statement[0].Principal.Service == "lambda.amazonaws.com" && aws_iam_role.this.name == "orders-consumer"
    error_message = "the role orders-consumer must be assumable by Lambda"
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for a in s.Action : !strcontains(a, "*")
      ]
    ]))
    error_message = "no action in the role policy may contain a wildcard"
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [
        for r in s.Resource : r != "*" && !startswith(r, "arn:aws:sqs:*")
      ]
    ]))
    error_message = "no resource in the role policy may be '*'"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "ConsumeSourceQueue"
      ][0] == {
      Sid      = "ConsumeSourceQueue"
      Effect   = "Allow"
      Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
      Resource = ["arn:aws:sqs:us-east-1:123456789012:orders"]
    }
    error_message = "receive/delete/visibility/attributes only, on the source queue only"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "RequeueRetriesAtRedriveLimit"
      ][0] == {
      Sid      = "RequeueRetriesAtRedriveLimit"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = ["arn:aws:sqs:us-east-1:123456789012:orders"]
    }
    error_message = "sqs:SendMessage on the source queue (delayed copies at the redrive limit), nothing else"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s if s.Sid == "RouteInvalidRecordsToDlq"
      ][0] == {
      Sid      = "RouteInvalidRecordsToDlq"
      Effect   = "Allow"
      Action   = ["sqs:SendMessage"]
      Resource = ["arn:aws:sqs:us-east-1:123456789012:orders-dlq"]
    }
    error_message = "sqs:SendMessage only, on the DLQ only"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "WriteOwnLogs"
    ][0] == ["arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/orders:*"]
    error_message = "log writes only to the function's own log group"
  }

  assert {
    condition     = toset([for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid]) == toset(["ConsumeSourceQueue", "RequeueRetriesAtRedriveLimit", "RouteInvalidRecordsToDlq", "WriteOwnLogs"])
    error_message = "no SSM or KMS statement without a token parameter or key"
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.this) == 1 && length(aws_lambda_event_source_mapping.governed) == 0 && output.maximum_concurrency_owner == "terraform"
    error_message = "without a governor, the mapping whose scaling_config Terraform manages must be the only one"
  }
}

run "token_parameter_and_keys" {
  command = plan

  variables {
    entity_api_token_parameter_name = "/orders/entity-api-token"
    entity_api_token_kms_key_arn    = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
    queue_kms_key_arn               = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"
    function_kms_key_arn            = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"
    entity_api_timeout_seconds      = 5
    metrics_namespace               = "OrdersSync"
    retry_horizon_seconds           = 7200
    retry_backoff_base_seconds      = 0.5
    retry_backoff_max_seconds       = 43200
    application_log_level           = "DEBUG"
    system_log_level                = "WARN"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [s.Action, s.Resource] if s.Sid == "ReadApiTokenParameter"
    ][0] == [["ssm:GetParameter"], ["arn:aws:ssm:us-east-1:123456789012:parameter/orders/entity-api-token"]]
    error_message = "ssm:GetParameter on exactly the token parameter"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [s.Action, s.Resource, s.Condition] if s.Sid == "DecryptApiTokenParameter"
      ][0] == [
      ["kms:Decrypt"],
      ["arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"],
      { StringEquals = { "kms:EncryptionContext:PARAMETER_ARN" = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/entity-api-token" } },
    ]
    error_message = "kms:Decrypt on exactly the token parameter's key, and only for that parameter (SSM encryption context PARAMETER_ARN)"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : [s.Action, s.Resource] if s.Sid == "UseQueueKey"
    ][0] == [["kms:Decrypt", "kms:GenerateDataKey"], ["arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"]]
    error_message = "kms:Decrypt and kms:GenerateDataKey on exactly the queue key"
  }

  assert {
    condition = (
      aws_lambda_function.this.environment[0].variables["ENTITY_API_TOKEN_PARAMETER"] == "/orders/entity-api-token" &&
      aws_lambda_function.this.environment[0].variables["ENTITY_API_TIMEOUT_SECONDS"] == "5" &&
      aws_lambda_function.this.environment[0].variables["METRICS_NAMESPACE"] == "OrdersSync" &&
      aws_lambda_function.this.environment[0].variables["RETRY_HORIZON_SECONDS"] == "7200" &&
      aws_lambda_function.this.environment[0].variables["RETRY_BACKOFF_BASE_SECONDS"] == "0.5" &&
      aws_lambda_function.this.environment[0].variables["RETRY_BACKOFF_MAX_SECONDS"] == "43200" &&
      !contains(keys(aws_lambda_function.this.environment[0].variables), "ENTITY_API_TOKEN")
    )
    error_message = "optional settings must reach the environment, and the token itself never"
  }

  assert {
    condition     = aws_cloudwatch_log_group.this.kms_key_id == var.function_kms_key_arn && aws_lambda_function.this.kms_key_arn == var.function_kms_key_arn
    error_message = "the function key must encrypt the log group and the environment"
  }

  assert {
    condition     = aws_lambda_function.this.logging_config[0].application_log_level == "DEBUG" && aws_lambda_function.this.logging_config[0].system_log_level == "WARN"
    error_message = "the application and system log levels must follow their inputs"
  }
}

run "options_reach_the_resources" {
  command = plan

  variables {
    filter_patterns                = ["{\"body\":{\"entity_type\":[\"order\"]}}"]
    enable_esm_metrics             = false
    event_source_mapping_enabled   = false
    tracing_mode                   = "Active"
    reserved_concurrent_executions = 10
    maximum_concurrency            = 10
    # A name without a leading slash.
    entity_api_token_parameter_name = "orders-token"
  }

  assert {
    condition     = [for f in aws_lambda_event_source_mapping.this[0].filter_criteria[0].filter : f.pattern] == ["{\"body\":{\"entity_type\":[\"order\"]}}"]
    error_message = "filter patterns must become the mapping's filter criteria"
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.this[0].metrics_config) == 0 && !aws_lambda_event_source_mapping.this[0].enabled
    error_message = "metrics and the mapping itself must be switchable off"
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.xray) == 1 && aws_lambda_function.this.tracing_config[0].mode == "Active"
    error_message = "Active tracing must attach the X-Ray write policy"
  }

  assert {
    condition     = aws_lambda_function.this.reserved_concurrent_executions == 10
    error_message = "reserved concurrency must reach the function"
  }

  assert {
    condition = [
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Resource if s.Sid == "ReadApiTokenParameter"
    ][0] == ["arn:aws:ssm:us-east-1:123456789012:parameter/orders-token"]
    error_message = "a name without a leading slash must give parameter/<name>"
  }
}

# ---- MaximumConcurrency owned by the governor (by default Terraform owns it: see "defaults") -

run "governor_owns_maximum_concurrency" {
  command = plan

  variables {
    maximum_concurrency_owned_by_governor = true
    maximum_concurrency                   = 7
    filter_patterns                       = ["{\"body\":{\"op\":[\"delete\"]}}"]
  }

  assert {
    condition     = length(aws_lambda_event_source_mapping.this) == 0 && length(aws_lambda_event_source_mapping.governed) == 1 && output.maximum_concurrency_owner == "governor"
    error_message = "with a governor, only the mapping whose scaling_config Terraform ignores may exist"
  }

  assert {
    condition = (
      aws_lambda_event_source_mapping.governed[0].scaling_config[0].maximum_concurrency == 7 &&
      aws_lambda_event_source_mapping.governed[0].function_response_types == toset(["ReportBatchItemFailures"]) &&
      aws_lambda_event_source_mapping.governed[0].batch_size == 100 &&
      aws_lambda_event_source_mapping.governed[0].maximum_batching_window_in_seconds == 5 &&
      aws_lambda_event_source_mapping.governed[0].event_source_arn == var.queue_arn &&
      aws_lambda_event_source_mapping.governed[0].metrics_config[0].metrics == toset(["EventCount"]) &&
      output.filter_patterns == ["{\"body\":{\"op\":[\"delete\"]}}"]
    )
    error_message = "the governed mapping must start at maximum_concurrency and otherwise match the plain one"
  }
}
