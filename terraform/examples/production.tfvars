# An example for a real account. Copy it, adjust the values, and apply from terraform/ with
#   make package && ../scripts/tf/tf.sh apply -var-file=examples/production.tfvars
# How to size batch_size, the window and maximum_concurrency: terraform/README.md.

name           = "orders-entity-sync"
package_path   = "../dist/function.zip" # make package (arm64, Python 3.12)
entity_api_url = "https://entities.example.com/v1/operations:batch"

# The token lives in SSM Parameter Store as a SecureString; only its name goes here.
entity_api_token_parameter_name = "/orders-entity-sync/entity-api-token"

architecture     = "arm64"
runtime          = "python3.12"
memory_size      = 1024
function_timeout = 60
# visibility_timeout_seconds is derived: 6 x 60 + 10 = 370 s.

# API limit R = 200 requests/s, latency L = 0.25 s, 4 requests in flight per invocation (q):
# maximum_concurrency = floor(0.8 x R x L / q) = floor(0.8 x 200 x 0.25 / 4) = 10.
# batch_size = 4 x 100 fills the 4 requests; sustained ~ 10 x 4 x 100 / 0.25 = 16,000 records/s.
batch_size                         = 400
maximum_batching_window_in_seconds = 10
maximum_concurrency                = 10
max_operations_per_request         = 100

max_receive_count     = 5
log_retention_in_days = 90

# Encrypt queues, logs and environment with a customer-managed key (its policy must admit
# logs.<region>.amazonaws.com); leave null for SSE-SQS and service-managed keys.
# kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"

max_message_age_seconds = 900
create_alarm_topic      = true

tags = {
  project     = "sqs-batch-consumer"
  environment = "production"
  owner       = "platform-team"
}
