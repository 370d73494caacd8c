#!/usr/bin/env bash
# make integration: the whole stack in LocalStack on this machine, then everything torn down.
#   start LocalStack + the local entity API server (instance "integration", free ports, strict),
#   make package-local (beside the start), terraform apply of terraform/ into LocalStack (token
#   in SSM), beside it a second stack with a 1-minute retry horizon (`deploy --stack short`, for
#   the outage test) and a third on FIFO queues (`deploy --stack fifo`, with its own entity API
#   server), pytest tests/integration (through the real event source mapping) and, beside it,
#   the FIFO tests against the third stack (one LocalStack for both phases), then stop
#   (LocalStack keeps nothing), also when a step fails or the run is interrupted. Each step's
#   time is printed at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
# shellcheck source=scripts/localcloud/instance.sh
source scripts/localcloud/instance.sh
INSTANCE=integration
export LOCALCLOUD_INSTANCE=$INSTANCE
started=$(date +%s)
# step MESSAGE: print it with the time since the start; the time each step took is listed at
# the end (where the time goes).
step_names=() step_starts=()
step() {
  echo "==> [$(( $(date +%s) - started ))s] $*"
  step_names+=("$*") step_starts+=("$(date +%s)")
}
step_times() {
  local i end
  echo "==> integration steps (seconds)"
  for i in "${!step_names[@]}"; do
    end=${step_starts[$((i + 1))]:-$(date +%s)}
    printf '  %5s  %s\n' "$(( end - step_starts[i] ))" "${step_names[$i]:0:90}"
  done
}

cleanup() {
  local code=$?
  trap - EXIT INT TERM
  set +e
  # A failed or interrupted run stops the FIFO phase still running beside it (its pytest and
  # terraform are the job's children) and shows its output; a run that got to the end has
  # already waited for it, shown it and forgotten the job.
  if [ -n "${fifo_job:-}" ]; then
    pkill -TERM -P "$fifo_job"
    kill "$fifo_job" 2>/dev/null
  fi
  wait  # a stack still being applied in the background (a step failed beside it)
  if [ -n "${fifo_job:-}" ]; then
    echo "==> the FIFO phase's output (stopped: the run failed beside it)"
    cat "$fifo_log"
  fi
  step "tearing down (stop)"
  # Fails when a function runtime process outlived LocalStack (they must die with it).
  if ! teardown_instance "$INSTANCE" && [ "$code" = 0 ]; then
    code=1
  fi
  teardown_instance "$FIFO_API"
  step_times
  step "integration run finished in $(( $(date +%s) - started )) s (exit $code)"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The FIFO tests reset and fault their own entity API server (started under this instance
# name; `deploy --api-instance`), so they run beside the standard phase's tests.
FIFO_API="$INSTANCE-fifo-api"
# A clean slate: a previous run that was killed may have left its instances behind.
fresh_instance "$INSTANCE"
fresh_instance "$FIFO_API"

# The token travels in the environment (api-start and deploy read it), never on a command line.
ENTITY_API_TOKEN="it-$(date +%s)-$RANDOM$RANDOM"
export ENTITY_API_TOKEN
step "starting LocalStack and the entity API server (strict: repeated op_ids are checked); beside it, building the function zip for this machine"
package_log=.cache/integration-package.log
mkdir -p .cache
make --no-print-directory package-local >"$package_log" 2>&1 &
package_build=$!
if ! { "$PY" -m localcloud --instance "$INSTANCE" start --port 0 &&
  "$PY" -m localcloud --instance "$INSTANCE" api-start --port 0 --strict &&
  "$PY" -m localcloud --instance "$FIFO_API" api-start --port 0 --strict; }; then
  wait "$package_build" || true
  exit 1
fi
if ! wait "$package_build"; then
  cat "$package_log" >&2
  echo "building the function zip failed; its output is above" >&2
  exit 1
fi

# INTEGRATION_PHASES: "standard" (the stack on standard queues), "fifo" (the same stack with
# fifo_queue = true, a further stack in the same LocalStack), or both (the default).
PHASES="${INTEGRATION_PHASES:-standard fifo}"
# What both phases apply: function_timeout 10 with the handler's default API timeout (10 s; a
# request's timeout is capped by the time left, issue 15), as a team would configure it. Small
# timeouts keep redelivery fast: a record the handler never settled is visible again after
# 21 s (function timeout + the main stack's 1-s window + 10 s, the least plan accepts: with
# 10 s, batches came back while their invocations ran, up to 13.9 s from receive to end on a
# busy machine); a transiently failed one comes back after a visibility backoff of at most
# 8 s, until its 10-minute retry horizon.
STACK=(--instance "$INSTANCE" --name sbc-integration
  --var function_timeout=10 --var visibility_timeout_seconds=21
  --var retry_horizon_seconds=600 --var retry_backoff_max_seconds=8
  --var memory_size=256 --var log_retention_in_days=1)

# The FIFO phase: a further stack in the same LocalStack (`--stack fifo`) with its own entity
# API server, applied and then tested beside the standard phase (mostly waiting on LocalStack;
# no second start). Its apply and test output go to a log, shown when the standard phase ends.
FIFO_STACK=("${STACK[@]}" --stack fifo --name sbc-integration-fifo --api-instance "$FIFO_API")
fifo_log=".localcloud/$INSTANCE/fifo-phase.log"
fifo_phase() {
  # A failed record holds its message group until it comes back; every receive of a group's
  # batch counts for each of its records, and on FIFO the handler spreads a group's receives
  # over the retry horizon (10 minutes / 1,000 receives: waits of at least 0.6 s).
  # A FIFO queue takes a visibility timeout of at least 6 x the function timeout (plan refuses
  # less): with 10 s, a batch whose invocation started late (10.9 s from its receive to its
  # invocation's end on a busy machine) came back while its first invocation still ran, and a
  # second invocation applied its group's changes again.
  if ! "$PY" -m localcloud.deploy apply "${FIFO_STACK[@]}" \
    --var visibility_timeout_seconds=60 \
    --var fifo_queue=true \
    --var batch_size=10 \
    --var maximum_batching_window_in_seconds=0 \
    --var max_receive_count=1000; then
    echo "the FIFO stack failed to apply; its output is above"
    return 1
  fi
  echo "==> [$(( $(date +%s) - started ))s] FIFO stack applied; running the integration tests on FIFO queues"
  INTEGRATION_STACK=fifo \
    "$PY" -m pytest tests/integration -m "integration and fifo" -p no:cacheprovider -rfEsP "$@"
}
if [[ " $PHASES " == *" fifo "* ]]; then
  mkdir -p "$(dirname "$fifo_log")"
  fifo_phase "$@" >"$fifo_log" 2>&1 &
  fifo_job=$!
fi

standard_code=0
if [[ " $PHASES " == *" standard "* ]]; then
  # A second stack in the same LocalStack, talking to the same entity API server: a 1-minute
  # retry horizon and max_receive_count 2, for the outage test (its changes expire during the
  # outage). Small and fast: no governor, no dashboard, batch 10, window 1 s. It is
  # applied beside the first (its own state and data folder; mostly waiting on LocalStack), its
  # output kept in a log that is shown when it fails.
  step "applying terraform/ into LocalStack, and beside it a second stack (retry horizon 60 s)"
  short_log=".localcloud/$INSTANCE/short-stack-apply.log"
  mkdir -p "$(dirname "$short_log")"
  "$PY" -m localcloud.deploy apply --instance "$INSTANCE" --stack short \
    --name sbc-integration-short \
    --var function_timeout=5 --var entity_api_timeout_seconds=1 --var visibility_timeout_seconds=16 \
    --var retry_horizon_seconds=60 --var retry_backoff_max_seconds=8 \
    --var memory_size=256 --var log_retention_in_days=1 \
    --var batch_size=10 \
    --var maximum_batching_window_in_seconds=1 \
    --var max_receive_count=2 \
    --var create_dashboard=false >"$short_log" 2>&1 &
  short_apply=$!

  # A record the handler never settled goes to the DLQ after 2 receives (issue 15: no valid
  # change in the DLQ whatever max_receive_count is; the chaos and outage tests check it).
  # max_operations_per_request=10 makes the aggregation bound (ceil(operations / 10) requests
  # per invocation) visible with batches of 25. The concurrency governor is deployed too.
  if ! "$PY" -m localcloud.deploy apply "${STACK[@]}" \
    --var batch_size=25 \
    --var maximum_batching_window_in_seconds=1 \
    --var max_receive_count=2 \
    --var 'adaptive_concurrency={"enabled": true, "minimum": 2, "maximum": 20}' \
    --var max_operations_per_request=10; then
    wait "$short_apply" || true
    exit 1
  fi
  if ! wait "$short_apply"; then
    cat "$short_log" >&2
    echo "the second stack (retry horizon 60 s) failed to apply; its output is above" >&2
    exit 1
  fi
  step "second stack applied ($(tail -n 1 "$short_log"))"

  step "running the integration tests"
  "$PY" -m pytest tests/integration -m "integration and not fifo" -p no:cacheprovider -rfEsP "$@" ||
    standard_code=$?
fi

if [[ " $PHASES " == *" fifo "* ]]; then
  step "FIFO: the stack on FIFO queues (fifo_queue = true, batch size 10), applied and tested beside the standard phase"
  fifo_code=0
  wait "$fifo_job" || fifo_code=$?
  cat "$fifo_log"
  fifo_job=""
  if [ "$fifo_code" != 0 ]; then
    echo "the FIFO phase failed (exit $fifo_code); its output is above" >&2
    exit "$fifo_code"
  fi
fi
exit "$standard_code"
