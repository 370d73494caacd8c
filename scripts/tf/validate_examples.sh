#!/usr/bin/env bash
# terraform validate of each runnable example root (terraform/examples/<scenario>/), for the
# pre-commit hook: init without a backend (providers from the machine's mirror when tf.sh finds
# one, else the registry: the only hook that may need the network), then validate. Offline
# with a mirror; a few seconds once each example is inited.
set -euo pipefail
cd "$(dirname "$0")/../.."
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
status=0
for example in terraform/examples/*/; do
  [ -f "$example/main.tf" ] || continue
  if ! out=$(scripts/tf/tf.sh -chdir="$example" init -input=false -backend=false -no-color 2>&1) ||
    ! out=$(scripts/tf/tf.sh -chdir="$example" validate -no-color 2>&1); then
    echo "$example: terraform validate failed" >&2
    echo "$out" >&2
    status=1
  fi
done
exit "$status"
