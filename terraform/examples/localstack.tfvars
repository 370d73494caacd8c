# The stack in LocalStack on this machine (see docs/local-cloud.md). Apply from terraform/ with
#   AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
#   AWS_REGION=us-east-1 ../scripts/tf/tf.sh apply -var-file=examples/localstack.tfvars
# and override what the run decides with -var (for example the entity API's port).

name           = "sqs-batch-consumer-local"
package_path   = "../dist/function-local.zip" # make package-local: this machine's architecture
entity_api_url = "http://127.0.0.1:8080/v1/operations:batch"

# The local executor runs the zip natively: match `make package-local`.
architecture = "x86_64"
runtime      = "python3.12"

# Short timings so failures reach the DLQ within a test run. The visibility timeout is the least
# plan accepts: function_timeout + the batching window + 10 s.
function_timeout                   = 10
visibility_timeout_seconds         = 21
max_receive_count                  = 2
batch_size                         = 100
maximum_batching_window_in_seconds = 1
maximum_concurrency                = 2
memory_size                        = 256
log_retention_in_days              = 1
max_message_age_seconds            = 300

tags = {
  project     = "sqs-batch-consumer"
  environment = "local"
}
