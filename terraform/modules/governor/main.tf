# The concurrency governor: a small function from the consumer's zip, run every minute by an
# EventBridge rule, that decides every period_seconds of that minute from the consumer's
# throttle metrics and the queue's backlog and moves the event source mapping's
# MaximumConcurrency between bounds. Its own role may read and update that one mapping, read
# metrics and the one queue's attributes, read and write its own state parameter and write its
# own logs, nothing else.

data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  # The region of the mapping it governs (no aws_region data source: hashicorp/aws 6 deprecates
  # its `name`, 5.x lacks its `region`).
  region = split(":", var.event_source_mapping_arn)[3]

  log_group_name = "/aws/lambda/${var.function_name}"
  log_group_arn  = "arn:${data.aws_partition.current.partition}:logs:${local.region}:${data.aws_caller_identity.current.account_id}:log-group:${local.log_group_name}"

  # The law's memory of its last change (consumer.governor.run): one JSON object, the governor's own.
  state_parameter_name = "/${var.function_name}/state"
  state_parameter_arn  = "arn:${data.aws_partition.current.partition}:ssm:${local.region}:${data.aws_caller_identity.current.account_id}:parameter${local.state_parameter_name}"

  # The settings of consumer.governor (same names as the handler reads).
  environment = {
    EVENT_SOURCE_MAPPING_UUID = var.event_source_mapping_uuid
    CONSUMER_FUNCTION_NAME    = var.consumer_function_name
    QUEUE_URL                 = var.queue_url
    METRICS_NAMESPACE         = var.metrics_namespace
    MINIMUM_CONCURRENCY       = tostring(var.minimum_concurrency)
    MAXIMUM_CONCURRENCY       = tostring(var.maximum_concurrency)
    TARGET_THROTTLE_RATIO     = tostring(var.target_throttle_ratio)
    PERIOD_SECONDS            = tostring(var.period_seconds)
    GOVERNOR_STATE_PARAMETER  = local.state_parameter_name
  }

  # A run decides every period of the schedule's minute (consumer.governor.schedule): its last
  # decision starts (decisions - 1) periods after the run's, and the function has 30 s beyond
  # that (the handler keeps 15 s for a decision). 10-s periods: 6 decisions, 80 s.
  run_seconds       = 60
  decisions_per_run = max(1, ceil(local.run_seconds / var.period_seconds))
  timeout_seconds   = (local.decisions_per_run - 1) * var.period_seconds + 30

  # The consumer function's unqualified ARN, in the mapping's partition, region and account (the
  # consumer module creates the mapping with that ARN, so it is the mapping's FunctionArn).
  mapping_arn_parts     = split(":", var.event_source_mapping_arn)
  consumer_function_arn = "arn:${local.mapping_arn_parts[1]}:lambda:${local.mapping_arn_parts[3]}:${local.mapping_arn_parts[4]}:function:${var.consumer_function_name}"

  policy_statements = [
    {
      Sid      = "ReadMappingConcurrency"
      Effect   = "Allow"
      Action   = ["lambda:GetEventSourceMapping"]
      Resource = [var.event_source_mapping_arn]
    },
    {
      # lambda:FunctionArn on UpdateEventSourceMapping is the function the mapping invokes: the
      # role may change the one mapping only while it feeds the consumer (an update that points
      # it at another function is refused too, since that function is in the request).
      Sid       = "SetMappingConcurrency"
      Effect    = "Allow"
      Action    = ["lambda:UpdateEventSourceMapping"]
      Resource  = [var.event_source_mapping_arn]
      Condition = { ArnEquals = { "lambda:FunctionArn" = local.consumer_function_arn } }
    },
    {
      # cloudwatch:GetMetricData supports no resource-level permissions: AWS accepts only "*".
      # It reads metrics, it cannot change anything.
      Sid      = "ReadMetrics"
      Effect   = "Allow"
      Action   = ["cloudwatch:GetMetricData"]
      Resource = ["*"]
    },
    {
      # The backlog, read when deciding (no metric lag): ApproximateNumberOfMessages.
      Sid      = "ReadQueueBacklog"
      Effect   = "Allow"
      Action   = ["sqs:GetQueueAttributes"]
      Resource = [var.queue_arn]
    },
    {
      Sid      = "WriteOwnLogs"
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = ["${local.log_group_arn}:*"]
    },
    {
      Sid      = "KeepOwnState"
      Effect   = "Allow"
      Action   = ["ssm:GetParameter", "ssm:PutParameter"]
      Resource = [local.state_parameter_arn]
    },
  ]
}

# ---- Role, logs, function (shared with the consumer: modules/function) -----------------------

module "function" {
  source = "../function"

  function_name    = var.function_name
  description      = "Concurrency governor: moves the SQS mapping's MaximumConcurrency of ${var.consumer_function_name} between ${var.minimum_concurrency} and ${var.maximum_concurrency}."
  handler          = "consumer.governor.lambda_handler"
  role_name        = var.function_name
  role_description = "Execution role of the ${var.function_name} concurrency governor."
  policy_name      = "govern-${var.function_name}"
  policy           = jsonencode({ Version = "2012-10-17", Statement = local.policy_statements })

  runtime      = var.runtime
  architecture = var.architecture
  # A run mostly sleeps between decisions: the smallest memory keeps its minute cheap.
  memory_size = 128
  timeout     = local.timeout_seconds

  # The consumer's zip: a local file (hashed) or an S3 object (validated: exactly one).
  package_path      = var.package_path
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version

  kms_key_arn           = var.kms_key_arn
  environment           = local.environment
  log_retention_in_days = var.log_retention_in_days

  tags = var.tags
}

# ---- State -----------------------------------------------------------------------------------

# What the control law remembers of its own last change between runs (the setting before it
# and the end of the data it was based on): written by the governor after each change, so
# Terraform sets only the empty start and never resets it.
resource "aws_ssm_parameter" "state" {
  #checkov:skip=CKV2_AWS_34:The value is no secret (a few settings and times, also in the governor's log); a SecureString would need kms:Decrypt for the governor and a key policy for no gain.
  name        = local.state_parameter_name
  description = "State of the ${var.function_name} concurrency governor between runs (written by the governor)."
  type        = "String"
  value       = "{}"

  lifecycle {
    ignore_changes = [value]
  }

  tags = var.tags
}

# ---- Schedule --------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "this" {
  name                = var.function_name
  description         = "Runs the ${var.function_name} concurrency governor every minute (a decision every ${var.period_seconds} s)."
  schedule_expression = "rate(1 minute)"

  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  rule = aws_cloudwatch_event_rule.this.name
  arn  = module.function.lambda.arn
  # The run's span: it decides every period_seconds of it (consumer.governor.schedule).
  input = jsonencode({ run_seconds = local.run_seconds })

  # A run that cannot start within the minute is stale: the next one reads fresher metrics.
  retry_policy {
    maximum_event_age_in_seconds = 60
    maximum_retry_attempts       = 0
  }
}

resource "aws_lambda_permission" "events" {
  statement_id  = "AllowEventBridgeSchedule"
  action        = "lambda:InvokeFunction"
  function_name = module.function.lambda.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.this.arn
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
