# Shell functions shared by demo.sh, integration.sh and the benches in scripts/bench/ (source this file; it
# expects PY, the tooling interpreter, the repository root as the working directory and
# PYTHONPATH as the Makefile sets it).

# forget_stack INSTANCE: drop the Terraform state and stack outputs of the instance's stacks
# (its main one and those of `deploy --stack`, in stacks/): they describe a LocalStack that is
# gone once it stops (its state is not persisted).
forget_stack() {
  rm -rf ".localcloud/$1/terraform/terraform.tfstate"* ".localcloud/$1/stack.json" \
    ".localcloud/$1"/stacks/*/terraform/terraform.tfstate* ".localcloud/$1"/stacks/*/stack.json
}

# teardown_instance INSTANCE: stop every process of the instance and forget its stacks.
# LocalStack keeps its resources in memory only (no persistence), so stopping it removes them
# all: a `terraform destroy` first would only wait (~40 s for the integration run's three
# stacks). Returns non-zero when a process outlived LocalStack.
teardown_instance() {
  local instance=$1 status=0
  "$PY" -m localcloud --instance "$instance" stop --all || status=$?
  forget_stack "$instance"
  return "$status"
}

# fresh_instance INSTANCE: a clean slate, as a run that was killed may have left its instance
# behind (its processes stopped, its stacks forgotten).
fresh_instance() {
  "$PY" -m localcloud --instance "$1" stop --all >/dev/null
  forget_stack "$1"
}

# start_bench_cloud INSTANCE [API-ARGS...]: LocalStack and the entity API on free ports (the
# API started with API-ARGS, e.g. --rate 20 --burst 20), and the function zip for this machine.
start_bench_cloud() {
  local instance=$1
  shift
  "$PY" -m localcloud --instance "$instance" start --port 0
  "$PY" -m localcloud --instance "$instance" api-start --port 0 "$@"
  make --no-print-directory package-local | tail -n 1
}

# teardown_on_exit INSTANCE: stop the instance and forget its stacks when the script ends,
# also on failure or interruption, keeping the script's exit status (the benches' cleanup).
teardown_on_exit() {
  TEARDOWN_INSTANCE=$1
  trap _teardown_on_exit EXIT
  trap 'exit 130' INT TERM
}
_teardown_on_exit() {
  local code=$?
  trap - EXIT INT TERM
  set +e
  echo "==> tearing down the instance $TEARDOWN_INSTANCE"
  teardown_instance "$TEARDOWN_INSTANCE"
  exit "$code"
}
