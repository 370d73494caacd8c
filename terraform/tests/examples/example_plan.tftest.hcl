# Plans the root with an example variable file and a mocked AWS provider, so an example that
# breaks an input rule fails the tests. Run from terraform/ (scripts/tf/test.sh does):
#   terraform test -test-directory=tests/examples -var-file=examples/<example>.tfvars
# The zip named in the example need not exist: package_path is replaced by an existing file.

mock_provider "aws" {
  source = "tests/mocks" # account 123456789012, us-east-1
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
