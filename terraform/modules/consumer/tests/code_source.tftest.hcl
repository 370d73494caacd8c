# The function's code comes from exactly one source: a local zip (package_path) or an object in
# S3 (s3_bucket + s3_key, optionally s3_object_version), checked at plan.

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

run "local_zip_by_default" {
  command = plan

  assert {
    condition = (
      aws_lambda_function.this.filename == "main.tf" &&
      aws_lambda_function.this.source_code_hash == filebase64sha256("main.tf") &&
      aws_lambda_function.this.s3_bucket == null && aws_lambda_function.this.s3_key == null
    )
    error_message = "a local zip must be uploaded with its hash, and no S3 source set"
  }
}

run "zip_from_s3" {
  command = plan

  variables {
    package_path      = null
    s3_bucket         = "orders-artifacts.eu-west-1"
    s3_key            = "sqs-batch-consumer/0.2.0/function-arm64.zip"
    s3_object_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  }

  assert {
    condition = (
      aws_lambda_function.this.s3_bucket == "orders-artifacts.eu-west-1" &&
      aws_lambda_function.this.s3_key == "sqs-batch-consumer/0.2.0/function-arm64.zip" &&
      aws_lambda_function.this.s3_object_version == "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY" &&
      aws_lambda_function.this.filename == null
    )
    error_message = "the S3 bucket, key and version must reach the function, and no local file"
  }
}

run "zip_from_s3_without_version" {
  command = plan

  variables {
    package_path = null
    s3_bucket    = "orders-artifacts"
    s3_key       = "function.zip"
  }

  assert {
    condition     = aws_lambda_function.this.s3_key == "function.zip" && aws_lambda_function.this.s3_object_version == null
    error_message = "an S3 source without a version must be accepted"
  }
}

run "rejects_both_sources" {
  command = plan

  variables {
    s3_bucket = "orders-artifacts"
    s3_key    = "function.zip"
  }

  expect_failures = [var.package_path]
}

# No source at all: package_path (neither a zip nor a bucket). A key without a bucket: s3_key.
# A version without a bucket: s3_object_version. (All three rules read s3_bucket, valid here.)
run "rejects_no_source_and_a_key_or_version_without_bucket" {
  command = plan

  variables {
    package_path      = null
    s3_key            = "function.zip"
    s3_object_version = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
  }

  expect_failures = [var.package_path, var.s3_key, var.s3_object_version]
}

run "rejects_bucket_without_key" {
  command = plan

  variables {
    package_path = null
    s3_bucket    = "orders-artifacts"
  }

  expect_failures = [var.s3_key]
}

# A bucket ARN: s3_bucket (every other code-source rule reads it, so this one runs alone).
run "rejects_bucket_arn" {
  command = plan

  variables {
    package_path = null
    s3_bucket    = "arn:aws:s3:::orders-artifacts"
    s3_key       = "function.zip"
  }

  expect_failures = [var.s3_bucket]
}
