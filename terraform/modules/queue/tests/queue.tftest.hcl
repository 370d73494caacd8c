# Plan- and apply-level tests of the queue module with a mocked AWS provider (no credentials,
# no network). Run: ../../../scripts/tf/tf.sh test (from terraform/modules/queue).

mock_provider "aws" {
  source = "../../tests/mocks" # account 123456789012, us-east-1
}

variables {
  name = "orders"
}

# ---- Behaviour with the defaults -------------------------------------------------------------

# The apply runs keep states of their own: the plan runs below then plan from nothing, as a first
# apply would (the mock provider does not know which changes replace a queue).
run "defaults_redrive_encryption_and_tls" {
  command   = apply
  state_key = "defaults"

  # ARNs and URLs the mock would otherwise fill with random strings.
  override_resource {
    target = aws_sqs_queue.this
    values = {
      arn = "arn:aws:sqs:us-east-1:123456789012:orders"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders"
    }
  }

  override_resource {
    target = aws_sqs_queue.dlq
    values = {
      arn = "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
      url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
    }
  }

  assert {
    condition     = aws_sqs_queue.this.name == "orders" && aws_sqs_queue.dlq.name == "orders-dlq"
    error_message = "the queues must be named <name> and <name>-dlq"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).deadLetterTargetArn == "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
    error_message = "the source queue must redrive to the DLQ"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 5
    error_message = "maxReceiveCount must default to 5"
  }

  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 1209600 && aws_sqs_queue.this.message_retention_seconds == 345600
    error_message = "the DLQ must keep messages 14 days and the source 4 days by default"
  }

  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds > aws_sqs_queue.this.message_retention_seconds
    error_message = "the DLQ must keep messages longer than the source queue"
  }

  assert {
    condition     = aws_sqs_queue.this.sqs_managed_sse_enabled && aws_sqs_queue.dlq.sqs_managed_sse_enabled
    error_message = "both queues must use SSE-SQS without a KMS key"
  }

  assert {
    condition     = aws_sqs_queue.this.kms_master_key_id == null && aws_sqs_queue.dlq.kms_master_key_id == null
    error_message = "no KMS key may be set when none is given"
  }

  assert {
    condition = jsondecode(aws_sqs_queue.dlq.redrive_allow_policy) == {
      redrivePermission = "byQueue"
      sourceQueueArns   = ["arn:aws:sqs:us-east-1:123456789012:orders"]
    }
    error_message = "only the source queue may use the DLQ"
  }

  assert {
    condition = alltrue([
      for queue in [aws_sqs_queue.this, aws_sqs_queue.dlq] :
      jsondecode(queue.policy).Statement[0].Effect == "Deny" &&
      jsondecode(queue.policy).Statement[0].Principal == "*" &&
      jsondecode(queue.policy).Statement[0].Action == "sqs:*" &&
      jsondecode(queue.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false"
    ])
    error_message = "both queue policies must deny every request without TLS"
  }

  assert {
    condition = (
      jsondecode(aws_sqs_queue.this.policy).Statement[0].Resource == "arn:aws:sqs:us-east-1:123456789012:orders" &&
      jsondecode(aws_sqs_queue.dlq.policy).Statement[0].Resource == "arn:aws:sqs:us-east-1:123456789012:orders-dlq"
    )
    error_message = "each TLS policy must name its own queue"
  }

  assert {
    condition     = output.queue_arn == "arn:aws:sqs:us-east-1:123456789012:orders" && output.dlq_url == "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq"
    error_message = "the outputs must expose the queues"
  }
}

run "arn_mismatch_is_caught" {
  command   = apply
  state_key = "arn_mismatch" # a fresh state: the queue is created here with the wrong ARN

  override_resource {
    target = aws_sqs_queue.dlq
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:orders-dlq" }
  }

  override_resource {
    target = aws_sqs_queue.this
    values = { arn = "arn:aws:sqs:eu-west-1:123456789012:orders" }
  }

  expect_failures = [aws_sqs_queue.this]
}

run "kms_key_replaces_sse_sqs" {
  command = plan

  variables {
    kms_key_arn       = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    max_receive_count = 3
  }

  assert {
    condition = alltrue([
      for queue in [aws_sqs_queue.this, aws_sqs_queue.dlq] :
      queue.kms_master_key_id == var.kms_key_arn && queue.kms_data_key_reuse_period_seconds == 300
    ])
    error_message = "with a KMS key both queues must be encrypted with it"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 3
    error_message = "maxReceiveCount must follow max_receive_count"
  }

  # Standard queues unless fifo_queue is set (this run leaves name and fifo_queue alone).
  assert {
    condition = (
      aws_sqs_queue.this.fifo_queue != true && aws_sqs_queue.dlq.fifo_queue != true &&
      aws_sqs_queue.this.name == "orders" && aws_sqs_queue.dlq.name == "orders-dlq"
    )
    error_message = "both queues must be standard queues, named without .fifo, by default"
  }
}

# ---- Input rules -------------------------------------------------------------------------------
# Each `run` plans anew (~1.5 s of CPU), so one run checks several rules: `expect_failures` lists
# every variable given a bad value (Terraform fails the run if a listed one does not fail, or an
# unlisted one does). dlq_message_retention_seconds's rule reads message_retention_seconds, and
# a rule that reads an invalid variable is skipped: no run makes both bad. Accept-runs set
# several edge values that do not interact, one assert each.

# A 76-character name (an 80-character DLQ name); visibility timeout 0; max_receive_count 1;
# the shortest source retention and the longest DLQ retention.
run "accepts_the_low_edges" {
  command = plan

  variables {
    name                          = "a234567890b234567890c234567890d234567890e234567890f234567890g234567890h23456"
    visibility_timeout_seconds    = 0
    max_receive_count             = 1
    message_retention_seconds     = 60
    dlq_message_retention_seconds = 1209600
  }

  assert {
    condition     = length(aws_sqs_queue.dlq.name) == 80
    error_message = "a 76-character name must give an 80-character DLQ name"
  }

  assert {
    condition     = aws_sqs_queue.this.visibility_timeout_seconds == 0
    error_message = "visibility timeout 0 must be accepted"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 1
    error_message = "max_receive_count 1 must be accepted"
  }

  assert {
    condition     = aws_sqs_queue.this.message_retention_seconds == 60 && aws_sqs_queue.dlq.message_retention_seconds == 1209600
    error_message = "retention 60 (source) and 1209600 (DLQ) must be accepted"
  }
}

# Visibility timeout 43200; max_receive_count 1000; a DLQ retention one second longer than the
# source's; a reuse period of 86400 s with a multi-region key in another partition.
run "accepts_the_high_edges" {
  command = plan

  variables {
    visibility_timeout_seconds        = 43200
    max_receive_count                 = 1000
    message_retention_seconds         = 86400
    dlq_message_retention_seconds     = 86401
    kms_key_arn                       = "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    kms_data_key_reuse_period_seconds = 86400
  }

  assert {
    condition     = aws_sqs_queue.this.visibility_timeout_seconds == 43200
    error_message = "visibility timeout 43200 must be accepted"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).maxReceiveCount == 1000
    error_message = "max_receive_count 1000 must be accepted"
  }

  assert {
    condition     = aws_sqs_queue.dlq.message_retention_seconds == 86401
    error_message = "a DLQ retention one second longer than the source's must be accepted"
  }

  assert {
    condition     = aws_sqs_queue.this.kms_data_key_reuse_period_seconds == 86400
    error_message = "a reuse period of 86400 s and a multi-region key in another partition must be accepted"
  }
}

# name: 77 characters. visibility_timeout_seconds: 43201. max_receive_count: 0.
# message_retention_seconds: 59. kms_key_arn: an alias, not a key ARN.
# kms_data_key_reuse_period_seconds: 59.
run "rejects_bad_values_77_character_name" {
  command = plan

  variables {
    name                              = "a234567890b234567890c234567890d234567890e234567890f234567890g234567890h234567"
    visibility_timeout_seconds        = 43201
    max_receive_count                 = 0
    message_retention_seconds         = 59
    kms_key_arn                       = "alias/aws/sqs"
    kms_data_key_reuse_period_seconds = 59
  }

  expect_failures = [
    var.name, var.visibility_timeout_seconds, var.max_receive_count, var.message_retention_seconds,
    var.kms_key_arn, var.kms_data_key_reuse_period_seconds,
  ]
}

# name: ends in .fifo (the module adds it). visibility_timeout_seconds: negative.
# max_receive_count: 1001. dlq_message_retention_seconds: 1209601.
run "rejects_bad_values_fifo_suffix" {
  command = plan

  variables {
    name                          = "orders.fifo"
    visibility_timeout_seconds    = -1
    max_receive_count             = 1001
    dlq_message_retention_seconds = 1209601
  }

  expect_failures = [
    var.name, var.visibility_timeout_seconds, var.max_receive_count,
    var.dlq_message_retention_seconds,
  ]
}

# name: 72 characters with fifo_queue (".fifo" and "-dlq" exceed 80). max_receive_count: 2.5.
# dlq_message_retention_seconds: equal to the source's.
run "rejects_bad_values_72_character_fifo_name" {
  command = plan

  variables {
    name                          = "a234567890b234567890c234567890d234567890e234567890f234567890g234567890h2"
    fifo_queue                    = true
    max_receive_count             = 2.5
    message_retention_seconds     = 86400
    dlq_message_retention_seconds = 86400
  }

  expect_failures = [var.name, var.max_receive_count, var.dlq_message_retention_seconds]
}

# name: empty.
run "rejects_an_empty_name" {
  command = plan

  variables {
    name = ""
  }

  expect_failures = [var.name]
}

# ---- FIFO ------------------------------------------------------------------------------------

# A 71-character FIFO name (an 80-character FIFO DLQ name), without high throughput.
run "fifo_71_character_name_per_queue_throughput" {
  command = plan

  variables {
    name                 = "a234567890b234567890c234567890d234567890e234567890f234567890g234567890h"
    fifo_queue           = true
    fifo_high_throughput = false
  }

  assert {
    condition     = length(aws_sqs_queue.dlq.name) == 80
    error_message = "a 71-character name must give an 80-character FIFO DLQ name"
  }

  assert {
    condition = alltrue([
      for q in [aws_sqs_queue.this, aws_sqs_queue.dlq] : q.deduplication_scope == "queue" && q.fifo_throughput_limit == "perQueue"
    ])
    error_message = "without high throughput, deduplication and the throughput limit must be per queue"
  }
}

run "fifo_queues_high_throughput" {
  command   = apply
  state_key = "fifo"

  variables {
    fifo_queue = true
  }

  override_resource {
    target = aws_sqs_queue.this
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:orders.fifo", url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo" }
  }

  override_resource {
    target = aws_sqs_queue.dlq
    values = { arn = "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo", url = "https://sqs.us-east-1.amazonaws.com/123456789012/orders-dlq.fifo" }
  }

  assert {
    condition     = aws_sqs_queue.this.name == "orders.fifo" && aws_sqs_queue.dlq.name == "orders-dlq.fifo" && output.queue_name == "orders.fifo" && output.dlq_name == "orders-dlq.fifo"
    error_message = "FIFO queues must be named <name>.fifo and <name>-dlq.fifo"
  }

  assert {
    condition = alltrue([
      for q in [aws_sqs_queue.this, aws_sqs_queue.dlq] :
      q.fifo_queue && !q.content_based_deduplication && q.deduplication_scope == "messageGroup" && q.fifo_throughput_limit == "perMessageGroupId"
    ])
    error_message = "both queues FIFO, content-based deduplication off, high-throughput mode (per message group) by default"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.this.redrive_policy).deadLetterTargetArn == "arn:aws:sqs:us-east-1:123456789012:orders-dlq.fifo"
    error_message = "the FIFO source queue must redrive to the FIFO DLQ"
  }

  assert {
    condition     = jsondecode(aws_sqs_queue.dlq.redrive_allow_policy).sourceQueueArns == ["arn:aws:sqs:us-east-1:123456789012:orders.fifo"] && jsondecode(aws_sqs_queue.this.policy).Statement[0].Resource == "arn:aws:sqs:us-east-1:123456789012:orders.fifo"
    error_message = "the redrive-allow and TLS policies must name the FIFO queues"
  }
}
