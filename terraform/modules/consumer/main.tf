# The consumer: execution role with a policy scoped to exact ARNs, log group with retention, the
# function (handler settings from contract section 3) and the SQS event source mapping.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # The region of the queue the mapping reads (Lambda maps queues of its own region only): no
  # aws_region data source, whose `name` hashicorp/aws 6 deprecates and whose `region` 5.x lacks.
  region = split(":", var.queue_arn)[3]

  role_name      = "${var.function_name}-consumer"
  log_group_name = "/aws/lambda/${var.function_name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"

  token_parameter_arn = var.entity_api_token_parameter_name == null ? null : format(
    "arn:%s:ssm:%s:%s:parameter/%s",
    data.aws_partition.current.partition,
    local.region,
    data.aws_caller_identity.current.account_id,
    trimprefix(var.entity_api_token_parameter_name, "/"),
  )

  # Handler settings (contract section 3); optional ones only when given.
  environment = merge(
    {
      ENTITY_API_URL             = var.entity_api_url
      DLQ_URL                    = var.dlq_url
      MAX_OPERATIONS_PER_REQUEST = tostring(var.max_operations_per_request)
      MAX_REQUEST_BYTES          = tostring(var.max_request_bytes)
      RETRY_HORIZON_SECONDS      = tostring(var.retry_horizon_seconds)
      RETRY_BACKOFF_BASE_SECONDS = tostring(var.retry_backoff_base_seconds)
      RETRY_BACKOFF_MAX_SECONDS  = tostring(var.retry_backoff_max_seconds)
    },
    var.entity_api_token_parameter_name == null ? {} : { ENTITY_API_TOKEN_PARAMETER = var.entity_api_token_parameter_name },
    var.entity_api_timeout_seconds == null ? {} : { ENTITY_API_TIMEOUT_SECONDS = tostring(var.entity_api_timeout_seconds) },
    var.metrics_namespace == null ? {} : { METRICS_NAMESPACE = var.metrics_namespace },
    var.entity_api_rate_share == null ? {} : { ENTITY_API_RATE_SHARE = tostring(var.entity_api_rate_share) },
    var.max_receive_count == null ? {} : { SOURCE_MAX_RECEIVE_COUNT = tostring(var.max_receive_count) },
  )

  # One statement per concern, each on exact ARNs; optional ones only when their input is set.
  policy_statements = concat(
    [
      {
        Sid      = "ConsumeSourceQueue"
        Effect   = "Allow"
        Action   = ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
        Resource = [var.queue_arn]
      },
      {
        # A record whose next receive would pass the redrive limit is re-sent as a delayed copy
        # (retry horizon, docs/flow-control.md) before the original is acknowledged.
        Sid      = "RequeueRetriesAtRedriveLimit"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [var.queue_arn]
      },
      {
        Sid      = "RouteInvalidRecordsToDlq"
        Effect   = "Allow"
        Action   = ["sqs:SendMessage"]
        Resource = [var.dlq_arn]
      },
      {
        Sid      = "WriteOwnLogs"
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = ["${local.log_group_arn}:*"]
      },
    ],
    local.token_parameter_arn == null ? [] : [{
      Sid      = "ReadApiTokenParameter"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter"]
      Resource = [local.token_parameter_arn]
    }],
    # SSM passes the parameter's ARN as encryption context: the key decrypts that parameter only.
    var.entity_api_token_kms_key_arn == null ? [] : [{
      Sid       = "DecryptApiTokenParameter"
      Effect    = "Allow"
      Action    = ["kms:Decrypt"]
      Resource  = [var.entity_api_token_kms_key_arn]
      Condition = { StringEquals = { "kms:EncryptionContext:PARAMETER_ARN" = local.token_parameter_arn } }
    }],
    var.queue_kms_key_arn == null ? [] : [{
      Sid      = "UseQueueKey"
      Effect   = "Allow"
      Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
      Resource = [var.queue_kms_key_arn]
    }],
  )
}

# ---- Role ------------------------------------------------------------------------------------

resource "aws_iam_role" "this" {
  name        = local.role_name
  description = "Execution role of the ${var.function_name} SQS batch consumer."

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "consume-${var.function_name}"
  role   = aws_iam_role.this.id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.policy_statements })
}

# X-Ray's write actions support no resource-level permissions; attached only with Active tracing.
resource "aws_iam_role_policy_attachment" "xray" {
  count = var.tracing_mode == "Active" ? 1 : 0

  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
}

# ---- Logs ------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest with service-managed keys; a customer-managed key is used when function_kms_key_arn is set (its key policy must admit the logs service).
  #checkov:skip=CKV_AWS_338:Retention is a cost and compliance choice exposed as log_retention_in_days (validated to CloudWatch's values); the default 30 days suits operational logs without payloads.
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.function_kms_key_arn

  tags = var.tags
}

# ---- Function --------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:The function is invoked synchronously by the SQS event source mapping, where a function DLQ never applies; failed records go to the source queue's redrive DLQ and invalid ones are sent there by the handler.
  #checkov:skip=CKV_AWS_117:The function reaches only the entity API, SQS, SSM and CloudWatch; no private resource needs a VPC, and attaching one would add NAT or endpoints for no isolation gain. Teams with a private API can wrap the module.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile that this stack does not own; the zip is built reproducibly by `make package` and its hash is pinned through source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (URLs, sizes, a parameter name; the token stays in SSM). Lambda encrypts environment variables at rest with a service key; function_kms_key_arn switches to a customer-managed key.
  #checkov:skip=CKV_AWS_50:X-Ray tracing is optional (tracing_mode = "Active"); off by default because its write actions need a policy on Resource "*" and it adds cost per trace.
  #checkov:skip=CKV_AWS_115:Concurrency is limited where it matters, by the event source mapping's maximum_concurrency; reserved_concurrent_executions is available but unset by default so it does not carve capacity out of the account pool.
  function_name = var.function_name
  description   = "SQS batch consumer: validates, aggregates and delivers entity changes."
  role          = aws_iam_role.this.arn
  handler       = "consumer.handler.lambda_handler"
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.function_timeout

  # One code source (validated): a local zip, hashed so that a rebuild updates the function, or
  # an S3 object, updated through its key or version.
  filename          = var.package_path
  source_code_hash  = var.package_path == null ? null : filebase64sha256(var.package_path)
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version

  reserved_concurrent_executions = var.reserved_concurrent_executions == null ? -1 : var.reserved_concurrent_executions
  kms_key_arn                    = var.function_kms_key_arn

  environment {
    variables = local.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.application_log_level
    system_log_level      = var.system_log_level
  }

  tracing_config {
    mode = var.tracing_mode
  }

  tags = var.tags

  # The role's permissions must exist before the function can write logs.
  depends_on = [aws_iam_role_policy.this]
}

# ---- Event source mapping --------------------------------------------------------------------

# Two mutually exclusive mappings, because lifecycle.ignore_changes cannot depend on a variable:
# `this` when Terraform owns MaximumConcurrency, `governed` when the governor does (Terraform then
# ignores the scaling_config it finds). Switching between them replaces the mapping: `governed`
# depends on `this`, so Terraform destroys the old mapping before it creates the new one (SQS
# allows one mapping per queue and function). Records in flight come back after their
# visibility timeout; nothing is lost.
locals {
  mapping_filter_patterns = length(var.filter_patterns) > 0 ? [var.filter_patterns] : []
  mapping_metrics         = var.enable_esm_metrics ? [["EventCount"]] : []
  mapping                 = one(concat(aws_lambda_event_source_mapping.this, aws_lambda_event_source_mapping.governed))
}

resource "aws_lambda_event_source_mapping" "this" {
  count = var.maximum_concurrency_owned_by_governor ? 0 : 1

  event_source_arn                   = var.queue_arn
  function_name                      = aws_lambda_function.this.arn
  enabled                            = var.event_source_mapping_enabled
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds

  # Without it a returned batchItemFailures list is ignored and the whole batch is deleted.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  dynamic "filter_criteria" {
    for_each = local.mapping_filter_patterns
    content {
      dynamic "filter" {
        for_each = filter_criteria.value
        content {
          pattern = filter.value
        }
      }
    }
  }

  dynamic "metrics_config" {
    for_each = local.mapping_metrics
    content {
      metrics = metrics_config.value
    }
  }

  tags = var.tags

  # The mapping polls with the role: its SQS permissions must exist first.
  depends_on = [aws_iam_role_policy.this]
}

# The same mapping while the governor owns MaximumConcurrency (keep both blocks in step).
resource "aws_lambda_event_source_mapping" "governed" {
  count = var.maximum_concurrency_owned_by_governor ? 1 : 0

  event_source_arn                   = var.queue_arn
  function_name                      = aws_lambda_function.this.arn
  enabled                            = var.event_source_mapping_enabled
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.maximum_batching_window_in_seconds

  function_response_types = ["ReportBatchItemFailures"]

  # The starting value; from then on the governor sets it and Terraform leaves it alone.
  scaling_config {
    maximum_concurrency = var.maximum_concurrency
  }

  dynamic "filter_criteria" {
    for_each = local.mapping_filter_patterns
    content {
      dynamic "filter" {
        for_each = filter_criteria.value
        content {
          pattern = filter.value
        }
      }
    }
  }

  dynamic "metrics_config" {
    for_each = local.mapping_metrics
    content {
      metrics = metrics_config.value
    }
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [scaling_config]
  }

  # `this` first: on a switch, the old mapping is destroyed before this one is created.
  depends_on = [aws_iam_role_policy.this, aws_lambda_event_source_mapping.this]
}

# State written before the governor existed held the mapping without an index.
moved {
  from = aws_lambda_event_source_mapping.this
  to   = aws_lambda_event_source_mapping.this[0]
}
