#!/usr/bin/env bash
# Run test suites side by side and say where the time goes (`make test`, `make test-fast`).
#   suites.sh NAME=COMMAND[,COMMAND...] ...   each suite starts at once in the background; its
#   commands (shell words, no commas) run one after another, each also when an earlier one
#   failed (a run reports every failure at once); the suite fails when any of them did.
# A line per suite as it ends, its time and result; the log of a failed suite is shown, the
# others stay in .cache/test/<name>.log (SHOW=name,... prints those logs too). A table of the
# times at the end; the exit status is non-zero when any suite failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
LOGS=.cache/test
mkdir -p "$LOGS"
started=$SECONDS
names=() pids=()

# run_chain NAME COMMAND...: the commands of one suite in a row, all of them; the first failing
# command's status is the suite's. Each command's time goes to the suite's .times file.
run_chain() {
  local name=$1 command status=0 begin code
  shift
  : >"$LOGS/$name.times"
  for command in "$@"; do
    begin=$SECONDS
    echo "==> $command" >>"$LOGS/$name.log"
    code=0
    bash -c "$command" >>"$LOGS/$name.log" 2>&1 || code=$?
    echo "$((SECONDS - begin)) $command" >>"$LOGS/$name.times"
    [ "$status" != 0 ] || status=$code
  done
  return "$status"
}

for spec in "$@"; do
  name=${spec%%=*}
  IFS=',' read -r -a chain <<<"${spec#*=}"
  rm -f "$LOGS/$name.log"
  ( begin=$SECONDS; run_chain "$name" "${chain[@]}"; status=$?
    echo "$status $((SECONDS - begin))" >"$LOGS/$name.status"
    exit "$status" ) &
  names+=("$name") pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null; exit 130' INT TERM
echo "==> running side by side: ${names[*]} (logs: $LOGS/<name>.log)"

failed=()
for i in "${!names[@]}"; do
  name=${names[$i]}
  wait "${pids[$i]}"
  read -r status took <"$LOGS/$name.status" || { status=1 took=?; }
  if [ "$status" = 0 ]; then
    echo "==> [$((SECONDS - started))s] $name: ok in ${took} s"
    [[ ",${SHOW:-}," == *",$name,"* ]] && cat "$LOGS/$name.log"
  else
    failed+=("$name")
    echo "==> [$((SECONDS - started))s] $name: FAILED (exit $status) after ${took} s; its log:"
    cat "$LOGS/$name.log"
  fi
done

echo "==> where the time went (seconds; suites ran side by side, ${SECONDS}s in all)"
for name in "${names[@]}"; do
  while read -r took command; do
    printf '  %5s  %-12s %s\n' "$took" "$name" "$command"
  done <"$LOGS/$name.times"
done
if [ "${#failed[@]}" -gt 0 ]; then
  echo "==> FAILED: ${failed[*]}"
  exit 1
fi
