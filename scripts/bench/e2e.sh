#!/usr/bin/env bash
# make bench-e2e: publish-to-applied throughput and latency through LocalStack, then the chaos
#   scenario's drain time with visibility backoff on and off (bench.chaos), printed.
#   Its own LocalStack instance (BENCH_INSTANCE, default "bench"; free ports) and stack,
#   destroyed afterwards.
#   BENCH_BATCH_SIZE (default 100), BENCH_WINDOW (default 1 s), BENCH_COUNT (default 2000).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
# shellcheck source=scripts/localcloud/instance.sh
source scripts/localcloud/instance.sh
INSTANCE="${BENCH_INSTANCE:-bench}"
BATCH_SIZE="${BENCH_BATCH_SIZE:-100}"
WINDOW="${BENCH_WINDOW:-1}"
COUNT="${BENCH_COUNT:-2000}"

teardown_on_exit "$INSTANCE"
fresh_instance "$INSTANCE"
echo "==> bench stack: batch size $BATCH_SIZE, window ${WINDOW} s, $COUNT changes"
start_bench_cloud "$INSTANCE"
# function_timeout 10 gives the derived visibility timeout of 61 s (6 x 10 + 1): what a record
# waits with visibility backoff off, as in issue 9's measurement.
"$PY" -m localcloud.deploy apply --instance "$INSTANCE" --name sbc-bench \
  --var batch_size="$BATCH_SIZE" --var maximum_batching_window_in_seconds="$WINDOW" \
  --var function_timeout=10 --var entity_api_timeout_seconds=3 --var log_retention_in_days=1
"$PY" -m bench.e2e --instance "$INSTANCE" --count "$COUNT"
echo "==> chaos scenario: 15% 429 (Retry-After 1), 5% 500, 3% per-operation 503; backoff on, then off"
"$PY" -m bench.chaos --instance "$INSTANCE" --count "$COUNT"
