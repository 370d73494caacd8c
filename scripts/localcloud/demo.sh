#!/usr/bin/env bash
# make demo: the whole product on this machine, from nothing, in a few minutes.
#   LocalStack + the local entity API server, the function zip, terraform apply of terraform/
#   with batch size 20 and a 2 s window (the classic setup), 2,000 messages with 2% poison,
#   wait until the queue drains, print the report. The stack stays up to look around.
# make demo FIFO=1: the same on FIFO queues (fifo_queue = true: batch size 10, no window),
#   the 2,000 changes spread over 50 entities, each entity one message group.
# make demo CONCURRENCY=N: up to N invocations at once (the mapping's MaximumConcurrency; default
#   Terraform's maximum_concurrency, 5). The local cloud's mapping poller runs them as Lambda
#   does, and the report says how many really overlapped (measured).
# make down (scripts/localcloud/demo.sh down): destroy the stack, stop LocalStack and the API.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
# shellcheck source=scripts/localcloud/instance.sh
source scripts/localcloud/instance.sh
INSTANCE=default
COUNT="${DEMO_MESSAGES:-2000}"
if [ "${FIFO:-0}" = 1 ]; then
  SHAPE="FIFO queues (fifo_queue = true): batch size 10, no batching window"
  STACK_VARS=(--var fifo_queue=true --var batch_size=10 --var maximum_batching_window_in_seconds=0
    --var max_receive_count=1000)
  SPREAD=(--entities "${DEMO_ENTITIES:-50}")
else
  SHAPE="batch size 20, batching window 2 s"
  STACK_VARS=(--var batch_size=20 --var maximum_batching_window_in_seconds=2)
  SPREAD=()
fi
CONCURRENCY="${CONCURRENCY:-}"
if [ -n "$CONCURRENCY" ]; then
  if ! [[ "$CONCURRENCY" =~ ^[0-9]+$ ]] || [ "$CONCURRENCY" -lt 1 ] || [ "$CONCURRENCY" -gt 1000 ]; then
    echo "CONCURRENCY must be a whole number from 1 to 1000 (concurrent invocations), got '$CONCURRENCY'" >&2
    exit 2
  fi
  # AWS's MaximumConcurrency is 2-1000: 1 is the local poller's own cap on top of 2.
  STACK_VARS+=(--var maximum_concurrency="$(( CONCURRENCY < 2 ? 2 : CONCURRENCY ))")
fi
started=$(date +%s)
step() { printf '\n\033[1m==> [%ss] %s\033[0m\n' "$(( $(date +%s) - started ))" "$*"; }

if [ "${1:-}" = "down" ]; then
  step "stopping the local cloud (the demo stack lives in its memory and goes with it)"
  teardown_instance "$INSTANCE"
  echo "the demo is down (the environments in .localcloud/ stay, for a fast next start)"
  exit 0
fi

on_error() {
  echo
  echo "The demo stopped at the step above. What is running stays up for a look:"
  echo "  make status   ·   make logs   ·   make down (stops everything)"
}
trap on_error ERR

step "1/6 starting the local cloud (LocalStack on 127.0.0.1, the local entity API server)"
"$PY" -m localcloud --instance "$INSTANCE" start
"$PY" -m localcloud --instance "$INSTANCE" api-start --port "${DEMO_API_PORT:-8080}"

step "2/6 building the function zip for this machine (make package-local)"
make --no-print-directory package-local | tail -n 4

step "3/6 terraform apply of terraform/ into LocalStack: $SHAPE"
"$PY" -m localcloud.deploy apply --instance "$INSTANCE" --name demo "${STACK_VARS[@]}" \
  --var function_timeout=30 --var log_retention_in_days=1

# A repeated demo starts from empty queues and a fresh API count.
"$PY" -m localcloud.reset --instance "$INSTANCE"
"$PY" -m localcloud.poller_admin --instance "$INSTANCE" --reset
if [ "$CONCURRENCY" = 1 ]; then
  "$PY" -m localcloud.poller_admin --instance "$INSTANCE" --cap 1
else
  "$PY" -m localcloud.poller_admin --instance "$INSTANCE" --no-cap
fi
since=$(date +%s)

step "4/6 publishing $COUNT messages (2% poison)"
"$PY" -m sbc_tools.ops.publish --instance "$INSTANCE" --count "$COUNT" --poison-percent 2 "${SPREAD[@]}"

step "5/6 the mapping's poller invokes the handler, up to MaximumConcurrency at once; waiting for the queue to drain"
"$PY" -m sbc_tools.ops.drain --instance "$INSTANCE" --expect "$COUNT" --timeout 300

step "6/6 report"
sleep 2  # the last invocations' log lines reach CloudWatch Logs
"$PY" -m sbc_tools.ops.report --instance "$INSTANCE" --since "$since"
"$PY" -m localcloud.poller_admin --instance "$INSTANCE"

endpoint=$("$PY" -c 'import json; print(json.load(open(".localcloud/default/stack.json"))["endpoint_url"])')
api=$("$PY" -c 'import json; print(json.load(open(".localcloud/default/stack.json"))["entity_api_base_url"])')
cat <<TEXT

Demo finished in $(( $(date +%s) - started )) s. The stack is still up; look around:
  make report                          the report again (batch sizes, aggregation, DLQ)
  make status                          what is running, ports, logs
  make publish ARGS="--count 500"      publish more (--duplicate-percent 5 ...)
  make redrive ERROR_CODE=schema_violation   move DLQ messages back to the queue
  make logs ARGS=-f                    the function's CloudWatch Logs
  make localcloud ARGS="logs -f"       LocalStack's own log
  curl $api/_admin/stats     the entity API's counters
  eval "\$(make -s localcloud ARGS=env)"  then boto3 / the AWS CLI use $endpoint
Stop everything with: make down
TEXT
