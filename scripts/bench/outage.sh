#!/usr/bin/env bash
# make bench-outage: recovery after a 3-minute entity API outage (503 to everything) through
#   LocalStack: 2,000 changes, max_receive_count 2, the default backoff cap (900 s); the drain
#   once the API is back against the same changes' normal drain in the same run, and the
#   requests and receives during the outage. Its own LocalStack instance and stack, destroyed
#   afterwards. OUTAGE_COUNT (2000), OUTAGE_SECONDS (180), OUTAGE_INSTANCE ("bench-outage").
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
# shellcheck source=scripts/localcloud/instance.sh
source scripts/localcloud/instance.sh
INSTANCE="${OUTAGE_INSTANCE:-bench-outage}"
started=$(date +%s)
step() { echo "==> [$(( $(date +%s) - started ))s] $*"; }

teardown_on_exit "$INSTANCE"
fresh_instance "$INSTANCE"
step "starting LocalStack (mappings polled by the project's poller) and the entity API"
start_bench_cloud "$INSTANCE"
step "applying the stack: batch 50, window 1 s, 20 operations per request, max_receive_count 2"
"$PY" -m localcloud.deploy apply --instance "$INSTANCE" --name sbc-outage \
  --var batch_size=50 --var maximum_batching_window_in_seconds=1 \
  --var max_operations_per_request=20 --var max_receive_count=2 \
  --var function_timeout=30 --var entity_api_timeout_seconds=3 --var log_retention_in_days=1
step "normal drain, then a ${OUTAGE_SECONDS:-180}-s outage (${OUTAGE_COUNT:-2000} changes each)"
"$PY" -m bench.outage --instance "$INSTANCE" --count "${OUTAGE_COUNT:-2000}" \
  --outage "${OUTAGE_SECONDS:-180}"
