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

# ---- Role, logs, function (shared with the governor: modules/function) -----------------------

module "function" {
  source = "../function"

  function_name    = var.function_name
  description      = "SQS batch consumer: validates, aggregates and delivers entity changes."
  handler          = "consumer.handler.lambda_handler"
  role_name        = local.role_name
  role_description = "Execution role of the ${var.function_name} SQS batch consumer."
  policy_name      = "consume-${var.function_name}"
  policy           = jsonencode({ Version = "2012-10-17", Statement = local.policy_statements })

  runtime      = var.runtime
  architecture = var.architecture
  memory_size  = var.memory_size
  timeout      = var.function_timeout

  package_path      = var.package_path
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version

  kms_key_arn                    = var.function_kms_key_arn
  environment                    = local.environment
  application_log_level          = var.application_log_level
  system_log_level               = var.system_log_level
  tracing_mode                   = var.tracing_mode
  reserved_concurrent_executions = var.reserved_concurrent_executions
  log_retention_in_days          = var.log_retention_in_days

  tags = var.tags
}

# X-Ray's write actions support no resource-level permissions; attached only with Active tracing.
resource "aws_iam_role_policy_attachment" "xray" {
  count = var.tracing_mode == "Active" ? 1 : 0

  role       = module.function.role.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AWSXRayDaemonWriteAccess"
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
  function_name                      = module.function.lambda.arn
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
  depends_on = [module.function.role_policy]
}

# The same mapping while the governor owns MaximumConcurrency (keep both blocks in step).
resource "aws_lambda_event_source_mapping" "governed" {
  count = var.maximum_concurrency_owned_by_governor ? 1 : 0

  event_source_arn                   = var.queue_arn
  function_name                      = module.function.lambda.arn
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
  depends_on = [module.function.role_policy, aws_lambda_event_source_mapping.this]
}

# State written before the governor existed held the mapping without an index.
moved {
  from = aws_lambda_event_source_mapping.this
  to   = aws_lambda_event_source_mapping.this[0]
}

# State written before modules/function held these resources in this module.
moved {
  from = aws_iam_role.this
  to   = module.function.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.this
  to   = module.function.aws_iam_role_policy.this
}

moved {
  from = aws_cloudwatch_log_group.this
  to   = module.function.aws_cloudwatch_log_group.this
}

moved {
  from = aws_lambda_function.this
  to   = module.function.aws_lambda_function.this
}
