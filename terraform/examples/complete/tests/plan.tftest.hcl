# Plans the example offline with a mocked AWS provider (scripts/tf/test.sh runs it):
# the example stays valid against the modules it composes. The zip need not exist here:
# package_path is replaced by a file that does.

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  package_path = "main.tf"
}

run "complete_example_plans" {
  command = plan

  assert {
    condition     = output.function_name == "entity-sync-complete" && output.dashboard_name == "entity-sync-complete"
    error_message = "the complete example must plan the consumer and its dashboard under its default name"
  }

  assert {
    condition     = module.queue.visibility_timeout_seconds == 6 * 60 + 10
    error_message = "the example's queue must get 6 x timeout + window"
  }

  assert {
    condition     = module.consumer.environment_variables["ENTITY_API_TOKEN_PARAMETER"] == "/entity-sync-complete/entity-api-token" && module.consumer.environment_variables["METRICS_NAMESPACE"] == "EntitySync/Complete"
    error_message = "the token parameter and the metrics namespace must reach the consumer"
  }

  assert {
    condition     = module.alarms.alarm_metrics.batch_failed == "EntitySync/Complete batch_failed"
    error_message = "the alarms must read the namespace the consumer writes"
  }

  assert {
    condition     = output.governor_function_name == "entity-sync-complete-governor" && module.consumer.maximum_concurrency_owner == "governor"
    error_message = "the complete example must run the governor and hand it MaximumConcurrency"
  }

  assert {
    condition     = aws_kms_key.stack.enable_key_rotation
    error_message = "the example's key must rotate"
  }
}
