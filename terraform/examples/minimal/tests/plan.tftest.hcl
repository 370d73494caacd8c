# Plans the example offline with a mocked AWS provider (scripts/tf/test.sh runs it):
# the example stays valid against the modules it composes. The zip need not exist here:
# package_path is replaced by a file that does.

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  package_path = "main.tf"
}

run "minimal_example_plans" {
  command = plan

  assert {
    condition     = output.function_name == "entity-sync-minimal" && output.dashboard_name == "entity-sync-minimal"
    error_message = "the minimal example must plan the stack named after its default name, with its dashboard"
  }

  assert {
    condition     = module.sqs_batch_consumer.visibility_timeout_seconds == 6 * 60 + 5
    error_message = "the minimal example must keep every default (derived visibility timeout 365 s)"
  }
}
