#!/usr/bin/env bash
# Starts the whole stack on development defaults (SQLite under ./var,
# in-memory rate limits, the offline analyzer), waits until /ready answers,
# prints where everything is, and stops every daemon on Ctrl-C or when any
# of them dies. Nothing is left running behind.
set -uo pipefail
bin=${1:-build/bin}
: "${GATEWAY_LISTEN:=127.0.0.1:8080}"
# The web app and the API docs of this checkout (edits show at once): the
# binaries' compiled-in defaults are where `cmake --install` puts them.
repo=$(cd "$(dirname "$0")/.." && pwd)
: "${STATIC_DIR:=$repo/frontend}" "${DOCS_DIR:=$repo/gateway/docs}"
export GATEWAY_LISTEN STATIC_DIR DOCS_DIR
logdir=${LOG_DIR:-./var/log}
mkdir -p "$logdir"

pids=()
stop() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo; echo "stopping the stack..."
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 1 100); do
      alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ $alive -eq 0 ] && break
      sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
    wait 2>/dev/null
  fi
  echo "stopped."
}
trap stop INT TERM EXIT

for d in td-auth td-diary td-sentiment td-gateway; do
  "$bin/$d" >>"$logdir/$d.log" 2>&1 &
  pids+=($!)
done

url="http://$GATEWAY_LISTEN"
ready=0
for _ in $(seq 1 100); do
  if curl -fs "$url/ready" >/dev/null 2>&1; then ready=1; break; fi
  sleep 0.1
done
if [ $ready -ne 1 ]; then
  echo "the stack did not become ready; logs are in $logdir:" >&2
  tail -n 20 "$logdir"/*.log >&2
  exit 1
fi
cat <<MSG
Thought Diary is running.
  API        $url          (try: curl -i $url/ready)
  web app    $url/
  API docs   $url/docs
  logs       $logdir/
  data       ${DATA_DIR:-./var}
Press Ctrl-C to stop.
MSG
# Wait until Ctrl-C, or until any daemon exits on its own.
wait -n "${pids[@]}"
echo "a daemon exited; see $logdir" >&2
exit 1
