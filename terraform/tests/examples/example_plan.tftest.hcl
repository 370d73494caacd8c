# Plans the root with an example variable file and a mocked AWS provider, so an example that
# breaks an input rule fails the tests. Run from terraform/ (scripts/test_terraform.sh does):
#   terraform test -test-directory=tests/examples -var-file=examples/<example>.tfvars
# The zip named in the example need not exist: package_path is replaced by an existing file.

mock_provider "aws" {
  override_data {
    target = module.consumer.data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }
  override_data {
    target = module.queue.data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }
  override_data {
    target = module.alarms.data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }
}

variables {
  package_path = "main.tf"
}

run "example_plans" {
  command = plan

  assert {
    condition     = output.visibility_timeout_seconds >= var.function_timeout
    error_message = "the example's queue visibility timeout must cover the function timeout"
  }

  assert {
    condition     = module.consumer.function_name == var.name
    error_message = "the example's function must be named after the stack"
  }
}
