#!/usr/bin/env bash
# make bench-fanout: real fan-out through LocalStack (the local cloud's mapping poller runs up to
#   MaximumConcurrency invocations at once) against the local entity API as a token bucket of
#   20 requests/s (burst 20): 6,000 changes, batch 50, 20 operations per request, at K = 1, 4
#   and 12 concurrent invocations, then with the governor on (bounds 2-12, Terraform's target).
#   Its own LocalStack instance ("bench-fanout", free ports) and stack, destroyed afterwards.
#   FANOUT_COUNT (6000), FANOUT_ROWS ("1,4,12,governor"), FANOUT_INSTANCE ("bench-fanout"),
#   FANOUT_CALIBRATION (a TOML file to write the figures to, e.g.
#   scripts/sim/calibration_fanout.toml).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
# shellcheck source=scripts/localcloud/instance.sh
source scripts/localcloud/instance.sh
INSTANCE="${FANOUT_INSTANCE:-bench-fanout}"
COUNT="${FANOUT_COUNT:-6000}"
ROWS="${FANOUT_ROWS:-1,4,12,governor}"
started=$(date +%s)
step() { echo "==> [$(( $(date +%s) - started ))s] $*"; }

teardown_on_exit "$INSTANCE"
fresh_instance "$INSTANCE"
step "starting LocalStack (mappings polled by the project's poller) and a token-bucket API"
start_bench_cloud "$INSTANCE" --rate 20 --burst 20
step "applying the stack: batch 50, window 1 s, 20 operations per request, governor 2-12"
"$PY" -m localcloud.deploy apply --instance "$INSTANCE" --name sbc-fanout \
  --var batch_size=50 --var maximum_batching_window_in_seconds=1 \
  --var max_operations_per_request=20 \
  --var function_timeout=30 --var entity_api_timeout_seconds=3 --var log_retention_in_days=1 \
  --var 'adaptive_concurrency={"enabled": true, "minimum": 2, "maximum": 12}'
step "running the rows: $ROWS ($COUNT changes each)"
"$PY" -m bench.fanout --instance "$INSTANCE" --count "$COUNT" --rows "$ROWS" \
  ${FANOUT_CALIBRATION:+--calibration "$FANOUT_CALIBRATION"}
