# Values of the mocked AWS provider shared by every test file (`mock_provider "aws" { source =
# ... }`): one account, region and partition, so ARNs built from them are predictable.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
  }
}

mock_data "aws_region" {
  defaults = {
    name = "us-east-1"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition = "aws"
  }
}

# The function's role must look like an ARN: the provider validates aws_lambda_function.role.
mock_resource "aws_iam_role" {
  defaults = {
    arn = "arn:aws:iam::123456789012:role/mocked"
  }
}

# The governor's invoke permission names the rule: the provider validates source_arn.
mock_resource "aws_cloudwatch_event_rule" {
  defaults = {
    arn = "arn:aws:events:us-east-1:123456789012:rule/mocked"
  }
}
