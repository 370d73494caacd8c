# Tests of the root configuration with a mocked AWS provider: the modules wired together, the
# derived visibility timeout, the outputs of contract section 4 and the root's own input rules.
# package_path points at main.tf: any existing file will do, Terraform only hashes it.

mock_provider "aws" {
  source = "tests/mocks" # account 123456789012, us-east-1
}

variables {
  name           = "orders"
  package_path   = "main.tf"
  entity_api_url = "https://entities.example.com/v1/operations:batch"
}

# The apply run keeps a state of its own, so the plan runs below plan from nothing (the mock
# provider does not know which changes replace a resource).
run "stack_wiring_and_outputs" {
  command   = apply
  state_key = "applied"

  override_resource {
    target = module.queue.aws_sqs_queue.this
    values = {
      arn  = "arn:aws:sqs:us-east-1:123456789012:orders"
      url  = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      id   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
      name = "orders"
    }
  }

  override_resource {
    target = module.queue.aws_sqs_queue.dlq
    values = {
      arn  = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
      url  = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      id   = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
      name = "orders-dlq"
    }
  }

  override_resource {
    target = module.consumer.aws_lambda_event_source_mapping.this
    values = { uuid = "2f5e3f1e-0000-4000-8000-000000000000" }
  }

  override_resource {
    target = module.consumer.aws_lambda_function.this
    values = { function_name = "orders", arn = "arn:aws:lambda:us-east-1:123456789012:function:orders" }
  }

  assert {
    condition     = output.visibility_timeout_seconds == 6 * 60 + 5
    error_message = "the visibility timeout must default to 6 x function_timeout + window (365 s)"
  }

  assert {
    condition = (
      output.queue_url == "https://sqs.us-east-1.amazonaws.com/123456789012/orders" &&
      output.queue_arn == "arn:aws:sqs:us-east-1:123456789012:orders" &&
      output.dlq_url == "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq" &&
      output.dlq_arn == "arn:aws:sqs:us-east-1:123456789012:orders-dlq" &&
      output.function_name == "orders" &&
      output.event_source_mapping_uuid == "2f5e3f1e-0000-4000-8000-000000000000"
    )
    error_message = "the outputs of contract section 4 must come from the created resources"
  }

  assert {
    condition     = output.alarm_names.dlq_not_empty == "orders-dlq-not-empty" && output.alarm_names.oldest_message_age == "orders-oldest-message-age" && output.alarm_topic_arn == null
    error_message = "the alarms must be named after the stack, without a topic by default"
  }
}

run "localstack_style_overrides" {
  command = plan

  variables {
    function_timeout                   = 5
    visibility_timeout_seconds         = 8
    max_receive_count                  = 1
    batch_size                         = 25
    maximum_batching_window_in_seconds = 1
    architecture                       = "x86_64"
    log_retention_in_days              = 1
  }

  assert {
    condition     = output.visibility_timeout_seconds == 8
    error_message = "a given visibility timeout must replace the derived one"
  }
}

run "visibility_timeout_accepts_function_timeout" {
  command = plan

  variables {
    function_timeout           = 30
    visibility_timeout_seconds = 30
  }

  assert {
    condition     = output.visibility_timeout_seconds == 30
    error_message = "a visibility timeout equal to the function timeout must be accepted"
  }
}

run "visibility_timeout_rejects_below_function_timeout" {
  command = plan

  variables {
    function_timeout           = 30
    visibility_timeout_seconds = 29
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "visibility_timeout_rejects_above_12_hours" {
  command = plan

  variables {
    visibility_timeout_seconds = 43201
  }

  expect_failures = [var.visibility_timeout_seconds]
}

run "derived_visibility_timeout_at_the_maximums" {
  command = plan

  variables {
    function_timeout                   = 900
    maximum_batching_window_in_seconds = 300
    batch_size                         = 10000
  }

  assert {
    condition     = output.visibility_timeout_seconds == 5700
    error_message = "the derived visibility timeout at the largest timeout and window must be 6 x 900 + 300"
  }
}

run "name_accepts_55_characters" {
  command = plan

  variables {
    name = "a234567890b234567890c234567890d234567890e234567890f2345"
  }

  assert {
    condition     = output.function_name == var.name
    error_message = "a 55-character name must be accepted"
  }
}

run "name_rejects_56_characters" {
  command = plan

  variables {
    name = "a234567890b234567890c234567890d234567890e234567890f23456"
  }

  expect_failures = [var.name]
}

run "name_rejects_slash" {
  command = plan

  variables {
    name = "team/orders"
  }

  expect_failures = [var.name]
}

run "alarm_topic_key_rejects_alias" {
  command = plan

  variables {
    alarm_topic_kms_key_arn = "alias/aws/sns"
  }

  expect_failures = [var.alarm_topic_kms_key_arn]
}

run "tags_accept_edges" {
  command = plan

  variables {
    tags = merge(
      { for i in range(44) : "tag-${i}" => "v" },
      { (join("", [for i in range(128) : "k"])) = join("", [for i in range(256) : "v"]) },
    )
  }

  assert {
    condition     = length(module.queue.queue_name) > 0 && length(var.tags) == 45
    error_message = "45 tags with a 128-character key and a 256-character value must be accepted"
  }
}

run "tags_reject_aws_prefix" {
  command = plan

  variables {
    tags = { "aws:createdBy" = "me" }
  }

  expect_failures = [var.tags]
}

run "tags_reject_46_tags" {
  command = plan

  variables {
    tags = { for i in range(46) : "tag-${i}" => "v" }
  }

  expect_failures = [var.tags]
}

run "tags_reject_long_value" {
  command = plan

  variables {
    tags = { team = join("", [for i in range(257) : "v"]) }
  }

  expect_failures = [var.tags]
}
