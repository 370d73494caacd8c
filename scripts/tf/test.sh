#!/usr/bin/env bash
# `make test-terraform`: every Terraform check, offline and without AWS credentials.
#   fmt -check; init of each module and the root (the root with its committed lock, read-only);
#   `terraform test` with mocked providers in each (it validates the configuration first: an
#   unknown argument or reference fails it, so no separate `terraform validate` runs); the
#   runnable example roots (terraform/examples/<scenario>/) inited and planned by their tests; the example variable files
#   planned through the root's rules; a wrong value must fail the root's plan naming the input;
#   no deprecation warning in any of their output; the README tables current (python -m tf.docs
#   --check); checkov with zero failures.
# Every step runs even when an earlier one fails; a summary table follows; the exit status is
# non-zero when any step failed. Logs: .cache/test-terraform/<step>.log
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)

CHECKOV_LOCK=scripts/tf/requirements-checkov.txt  # compiled from requirements-checkov.in (make lock)
CHECKOV_VERSION=$(sed -n 's/^checkov==\([^ ]*\).*/\1/p' "$CHECKOV_LOCK")
CHECKOV_VENV=.venv-checkov
TF="$repo/scripts/tf/tf.sh"
# Init and test of each module: two lists, one per chain (see below), balanced by CPU.
MODULES_A=(modules/queue modules/consumer)
MODULES_B=(modules/alarms modules/governor)
EXAMPLES=(localstack production)
EXAMPLE_ROOTS=(examples/minimal examples/complete)  # runnable roots: init, plan (tests)
LOGS=.cache/test-terraform

# A provider mirror on this machine when there is one (tf.sh finds it); otherwise terraform
# installs providers from the registry as on any workstation.
TF_PLUGIN_DIR=$("$TF" --mirror)
export TF_PLUGIN_DIR
export TF_IN_AUTOMATION=1 TF_INPUT=0 CHECKPOINT_DISABLE=1
# Mocked providers need no credentials; keep a developer's real endpoint out of the way anyway.
unset AWS_ENDPOINT_URL AWS_PROFILE

rm -rf "$LOGS" && mkdir -p "$LOGS"
names=() results=() seconds=() notes=()
failed=0

# run_logged NAME COMMAND...: run COMMAND, its output in NAME's log, its status and seconds beside.
# start_step NAME -- COMMAND...: run_logged in the background.
# start_chain FUNCTION NAME...: FUNCTION runs the steps NAME... one after another (each through
# run_logged) in the background; the chains run side by side (2 cores, and each terraform run
# is mostly one process busy at a time).
# finish_step NAME NOTE-COMMAND: wait for its step or chain and report; NOTE-COMMAND (or "-")
# prints a short note from the log for the summary. step NAME NOTE-COMMAND -- COMMAND...: both.
declare -A step_pids
# Background steps die with the script (Ctrl-C included).
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
log_of() { echo "$LOGS/${1//[^A-Za-z0-9_.-]/_}.log"; }

run_logged() {
  local name=$1 log begin=$SECONDS
  shift
  log=$(log_of "$name")
  "$@" >"$log" 2>&1
  echo "$? $((SECONDS - begin))" >"$log.status"
}

start_step() {
  local name=$1
  shift 2
  run_logged "$name" "$@" &
  step_pids[$name]=$!
}

start_chain() {
  local fn=$1 name pid
  shift
  "$fn" &
  pid=$!
  for name in "$@"; do step_pids[$name]=$pid; done
}

finish_step() {
  local name=$1 note_cmd=$2 log status took note=""
  log=$(log_of "$name")
  wait "${step_pids[$name]}" 2>/dev/null  # a chain's pid: waited for by its first step
  read -r status took <"$log.status" 2>/dev/null || { status=1 took=0; }
  printf '  %-44s ' "$name"
  [ "$note_cmd" != "-" ] && note=$($note_cmd "$log" 2>/dev/null || true)
  names+=("$name") seconds+=("$took") notes+=("$note")
  if [ "$status" -eq 0 ]; then
    results+=("ok")
    printf 'ok    %4ss  %s\n' "$took" "$note"
  else
    results+=("FAILED")
    failed=1
    printf 'FAILED %3ss  (log: %s)\n' "$took" "$log"
    sed 's/^/      | /' "$log" | tail -n 40
  fi
}

step() {
  local name=$1 note_cmd=$2
  shift 2
  start_step "$name" "$@"
  finish_step "$name" "$note_cmd"
}

tests_note() { grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1; }
checkov_note() { grep -Eo 'Passed checks: [0-9]+, Failed checks: [0-9]+, Skipped checks: [0-9]+' "$1" | tail -n 1; }

tf_in() { local dir=$1; shift; "$TF" -chdir="terraform/$dir" "$@" -no-color; }
init_module() { tf_in "$1" init -input=false -backend=false; }
init_root() { tf_in . init -input=false -backend=false -lockfile=readonly; }

# The root must refuse a wrong value at plan time with a message that names the input and rule.
root_rejects_wrong_value() {
  local out
  out=$(tf_in . test -test-directory=tests/examples -var-file=examples/localstack.tfvars \
    -var batch_size=11 -var maximum_batching_window_in_seconds=0 2>&1)
  echo "$out"
  if grep -q 'batch_size: a batch size above 10 needs' <<<"$out" && grep -q 'Failure!' <<<"$out"; then
    echo "==> the plan failed naming batch_size and the rule, as it must"
    return 0
  fi
  echo "==> expected the plan to fail with the batch_size rule" >&2
  return 1
}

# No deprecation warning in any test or plan output (hashicorp/aws 6 deprecates, e.g.,
# aws_region's `name`; the modules must plan on 5.x and 6.x without one), and no module reads
# an attribute that either version lacks or deprecates. Checkov's logs aside (it runs beside).
no_deprecations() {
  local found=0 logs=()
  mapfile -t logs < <(find "$LOGS" -maxdepth 1 -name '*.log' ! -name 'checkov*' | sort)
  if grep -il -e 'deprecated' "${logs[@]}"; then
    grep -i -B2 -A6 'deprecated' "${logs[@]}"
    echo "==> deprecation warnings in the logs above" >&2
    found=1
  fi
  if grep -rnE 'data\.aws_region\.[a-z_]+\.(name|id|region)\b' terraform --include='*.tf'; then
    echo "==> read the region from an ARN, or from the whole aws_region object (5.x and 6.x)" >&2
    found=1
  fi
  [ "$found" = 0 ] && echo "==> no deprecation warnings; no version-specific aws_region attribute"
}

checkov_venv() {
  local stamp
  stamp="$CHECKOV_VENV/.installed-$(sha256sum "$CHECKOV_LOCK" | cut -c1-16)"
  [ -f "$stamp" ] && return 0
  local python
  python=$(scripts/find_python.sh 3.12) || return 1
  rm -rf "$CHECKOV_VENV"
  if [ -x .venv/bin/uv ]; then  # the tooling venv's uv: parallel downloads, no pip needed
    "$python" -m venv --without-pip "$CHECKOV_VENV" &&
      .venv/bin/uv pip install --quiet --python "$CHECKOV_VENV/bin/python" --require-hashes \
        -r "$CHECKOV_LOCK" &&
      touch "$stamp"
    return
  fi
  "$python" -m venv "$CHECKOV_VENV" &&
    "$CHECKOV_VENV/bin/pip" install --quiet --disable-pip-version-check --require-hashes \
      -r "$CHECKOV_LOCK" &&
    touch "$stamp"
}

# run_checkov LABEL [checkov args]: console output to the log, JSON to $LOGS/checkov-LABEL.json
run_checkov() {
  local label=$1
  shift
  # --skip-download and BC_SKIP_MAPPING: no calls to the vendor's platform; checks run locally.
  BC_SKIP_MAPPING=TRUE "$CHECKOV_VENV/bin/checkov" --directory terraform --framework terraform \
    --skip-download --compact --output cli --output json \
    --output-file-path "console,$LOGS/checkov-$label.json" "$@"
}

# Every checkov skip with its written reason, from the JSON results.
list_checkov_skips() {
  "$CHECKOV_VENV/bin/python" - "$LOGS"/checkov-*.json <<'PY'
import json, sys
seen = set()
for path in sys.argv[1:]:
    with open(path) as f:
        data = json.load(f)
    for report in data if isinstance(data, list) else [data]:
        for c in report["results"]["skipped_checks"]:
            reason = (c.get("check_result") or {}).get("suppress_comment") or "(no reason written)"
            seen.add((c["check_id"], c["resource"], reason))
for check_id, resource, reason in sorted(seen):
    print(f"  {check_id:<12} {resource}\n               {reason}")
PY
}

echo "==> Terraform checks ($("$TF" version | head -n 1); providers: ${TF_PLUGIN_DIR:-registry})"
total_start=$SECONDS

# Three chains side by side: modules A and the example roots; the root and modules B; checkov
# (its venv, mostly downloads, then its two runs). Each step keeps its own log and summary line.
module_checks() {
  local dir
  for dir in "$@"; do
    run_logged "$dir: init" init_module "$dir"
    run_logged "$dir: test" tf_in "$dir" test
  done
}
module_chain() {
  local dir
  module_checks "${MODULES_A[@]}"
  for dir in "${EXAMPLE_ROOTS[@]}"; do
    run_logged "$dir: init" init_module "$dir"
    run_logged "$dir: plan (test)" tf_in "$dir" test
  done
}
root_chain() {
  local example
  run_logged "root: init (committed lock, read-only)" init_root
  run_logged "root: test" tf_in . test
  for example in "${EXAMPLES[@]}"; do
    run_logged "root: plan examples/$example.tfvars" \
      tf_in . test -test-directory=tests/examples -var-file="examples/$example.tfvars"
  done
  run_logged "root: wrong value fails the plan" root_rejects_wrong_value
  module_checks "${MODULES_B[@]}"
}
checkov_chain() {
  run_logged "checkov: venv $CHECKOV_VERSION" checkov_venv
  run_logged "checkov: defaults" run_checkov defaults
  run_logged "checkov: production example" \
    run_checkov production --var-file terraform/examples/production.tfvars
}

step "fmt -check" - -- "$TF" fmt -check -recursive -diff terraform
module_steps=() root_steps=()
for dir in "${MODULES_A[@]}"; do
  module_steps+=("$dir: init" "$dir: test")
done
for dir in "${EXAMPLE_ROOTS[@]}"; do
  module_steps+=("$dir: init" "$dir: plan (test)")
done
root_steps=("root: init (committed lock, read-only)" "root: test")
for example in "${EXAMPLES[@]}"; do root_steps+=("root: plan examples/$example.tfvars"); done
root_steps+=("root: wrong value fails the plan")
for dir in "${MODULES_B[@]}"; do
  root_steps+=("$dir: init" "$dir: test")
done
checkov_steps=("checkov: venv $CHECKOV_VERSION" "checkov: defaults" "checkov: production example")
start_chain checkov_chain "${checkov_steps[@]}"
start_chain root_chain "${root_steps[@]}"
start_chain module_chain "${module_steps[@]}"

# The docs script needs only the standard library: the tooling venv when there is one.
docs_python=.venv/bin/python
[ -x "$docs_python" ] || docs_python=$(scripts/find_python.sh 3.12)
step "docs: README tables current" - -- "$docs_python" -m tf.docs --check
note_of() {
  case $1 in
    *": test" | *"(test)" | "root: plan "*) echo tests_note ;;
    "checkov: venv"*) echo - ;;
    "checkov: "*) echo checkov_note ;;
    *) echo - ;;
  esac
}
for name in "${module_steps[@]}" "${root_steps[@]}"; do
  finish_step "$name" "$(note_of "$name")"
done
step "no deprecation warnings (tests, plans)" - -- no_deprecations
for name in "${checkov_steps[@]}"; do
  finish_step "$name" "$(note_of "$name")"
done

echo
echo "==> Summary ($((SECONDS - total_start)) s)"
for i in "${!names[@]}"; do
  printf '  %-6s %4ss  %-44s %s\n' "${results[$i]}" "${seconds[$i]}" "${names[$i]}" "${notes[$i]}"
done
if compgen -G "$LOGS/checkov-*.json" >/dev/null; then
  echo "==> checkov skips (each written next to its resource)"
  list_checkov_skips
fi
if [ $failed -ne 0 ]; then
  echo "==> Terraform checks FAILED (logs in $LOGS/)"
  exit 1
fi
echo "==> Terraform checks passed"
