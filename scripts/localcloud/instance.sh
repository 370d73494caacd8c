# Shell functions shared by demo.sh, integration.sh and bench/e2e.sh (source this file; it
# expects PY, the tooling interpreter, the repository root as the working directory and
# PYTHONPATH as the Makefile sets it).

# forget_stack INSTANCE: drop the Terraform state and stack outputs of the instance's stacks
# (its main one and those of `deploy --stack`, in stacks/): they describe a LocalStack that is
# gone once it stops (its state is not persisted).
forget_stack() {
  rm -rf ".localcloud/$1/terraform/terraform.tfstate"* ".localcloud/$1/stack.json" \
    ".localcloud/$1"/stacks/*/terraform/terraform.tfstate* ".localcloud/$1"/stacks/*/stack.json
}

# teardown_instance INSTANCE: destroy its stacks when LocalStack runs, stop every process of the
# instance, forget the stacks. Returns non-zero when a process outlived LocalStack.
teardown_instance() {
  local instance=$1 status=0 folder pids=() pid
  if [ -f ".localcloud/$instance/localstack.json" ]; then
    # The stacks are independent: destroyed side by side (mostly waiting on LocalStack).
    for folder in ".localcloud/$instance"/stacks/*/; do
      [ -d "$folder" ] || continue
      "$PY" -m localcloud.deploy destroy --instance "$instance" --stack "$(basename "$folder")" &
      pids+=($!)
    done
    "$PY" -m localcloud.deploy destroy --instance "$instance" || true
    for pid in "${pids[@]}"; do wait "$pid" || true; done
  fi
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

# teardown_on_exit INSTANCE: destroy the instance's stacks and stop it when the script ends,
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
