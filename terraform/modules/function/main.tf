# A Lambda function from the consumer's zip with its execution role, inline role policy and log
# group: the part the consumer and governor modules share. Internal: the calling module
# validates every input and names it in its messages, and writes the role policy.

# ---- Role ------------------------------------------------------------------------------------

resource "aws_iam_role" "this" {
  name        = var.role_name
  description = var.role_description

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
  name   = var.policy_name
  role   = aws_iam_role.this.id
  policy = var.policy
}

# ---- Logs ------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:CloudWatch Logs encrypts every log group at rest with service-managed keys; a customer-managed key is used when the caller's key (consumer: function_kms_key_arn, governor: kms_key_arn) is set (its key policy must admit the logs service).
  #checkov:skip=CKV_AWS_338:Retention is a cost and compliance choice exposed as log_retention_in_days (validated to CloudWatch's values); the default 30 days suits the consumer's operational logs without payloads and the governor's decision lines (six a minute).
  name              = "/aws/lambda/${var.function_name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

# ---- Function --------------------------------------------------------------------------------

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Consumer: invoked synchronously by the SQS event source mapping, where a function DLQ never applies; failed records go to the source queue's redrive DLQ and invalid ones are sent there by the handler. Governor: invoked asynchronously by EventBridge every minute; a lost run is replaced by the next one a minute later, so a DLQ would hold nothing worth replaying (the target's retry policy drops stale events on purpose).
  #checkov:skip=CKV_AWS_117:Consumer: reaches only the entity API, SQS, SSM and CloudWatch; no private resource needs a VPC, and attaching one would add NAT or endpoints for no isolation gain (teams with a private API can wrap the module). Governor: calls only the Lambda and CloudWatch APIs; no private resource needs a VPC.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile that this stack does not own; the zip (the governor runs the consumer's) is built reproducibly by `make package` and its hash is pinned through source_code_hash.
  #checkov:skip=CKV_AWS_173:The environment holds no secrets (consumer: URLs, sizes, a parameter name, the token stays in SSM; governor: names, bounds, a ratio). Lambda encrypts environment variables at rest with a service key; the caller's key (consumer: function_kms_key_arn, governor: kms_key_arn) switches to a customer-managed key.
  #checkov:skip=CKV_AWS_50:Consumer: X-Ray tracing is optional (tracing_mode = "Active"), off by default because its write actions need a policy on Resource "*" and it adds cost per trace. Governor: tracing adds nothing to a function of a few calls every 10 s and needs a policy on Resource "*".
  #checkov:skip=CKV_AWS_115:Consumer: concurrency is limited where it matters, by the event source mapping's maximum_concurrency; reserved_concurrent_executions is available but unset by default so it does not carve capacity out of the account pool. Governor: a reservation would fail in accounts at the 10-execution unreserved minimum; runs cannot overlap anyway (timeout 30 s, one run a minute).
  function_name = var.function_name
  description   = var.description
  role          = aws_iam_role.this.arn
  handler       = var.handler
  runtime       = var.runtime
  architectures = [var.architecture]
  memory_size   = var.memory_size
  timeout       = var.timeout

  # One code source (validated by the caller): a local zip, hashed so that a rebuild updates
  # the function, or an S3 object, updated through its key or version.
  filename          = var.package_path
  source_code_hash  = var.package_path == null ? null : filebase64sha256(var.package_path)
  s3_bucket         = var.s3_bucket
  s3_key            = var.s3_key
  s3_object_version = var.s3_object_version

  reserved_concurrent_executions = var.reserved_concurrent_executions == null ? -1 : var.reserved_concurrent_executions
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = var.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.application_log_level
    system_log_level      = var.system_log_level
  }

  # Without a mode the block is left out, as the governor always had it (Lambda: PassThrough).
  dynamic "tracing_config" {
    for_each = var.tracing_mode == null ? [] : [var.tracing_mode]
    content {
      mode = tracing_config.value
    }
  }

  tags = var.tags

  # The role's permissions must exist before the function can write logs.
  depends_on = [aws_iam_role_policy.this]
}
