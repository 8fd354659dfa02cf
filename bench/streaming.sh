#!/usr/bin/env bash
# Streaming benchmark of `mockfabric serve` (issue: invocations): N concurrent streams of 50 content chunks
# with 20 ms inter-token latency, plus streams/s without delays. Server pinned to core 0, load on core 1.
# In the same run, the same streams from bench/sse_floor.py (a bare asyncio server sending constant chunks):
# the floor this machine and the load generator allow. RAMPED streams (default 500) are also opened evenly over one
# second instead of all at once, on both servers: it separates the cost of 500 simultaneous opens from the rest.
# Usage: bench/streaming.sh [streams...]     (default: 50 200 500; RAMPED=0 skips the ramped runs)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
STREAMS=${*:-50 200 500}
RAMPED=${RAMPED:-500}
PORT=${PORT:-18732}
BASE="http://127.0.0.1:$PORT"
# echo mode answers the prompt back: a 50-token prompt gives exactly 50 content chunks
WORDS=$(printf 'w%02d ' $(seq 1 49))
BODY="{\"messages\":[{\"role\":\"user\",\"content\":\"${WORDS}end\"}]}"

wait_up() {
  for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
run_server() {  # $1 = itl ms
  taskset -c 0 "$PY" -m mockfabric serve --port "$PORT" --itl-ms "$1" --completion-mode echo \
    --lifecycle endpoint=instant,service_instance=instant >/tmp/bench-mockfabric.log 2>&1 &
  SERVER=$!
  wait_up "$BASE/healthcheck"
}
stop_server() { kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; }
load() {  # $1 = url, $2 = streams, $3 = seconds over which they are opened (0: all at once)
  taskset -c 1 "$PY" sse_load.py --url "$1" --method POST --body "$BODY" --header "X-Auth-Token: bench" --streams "$2" \
    --ramp "${3:-0}" --timeout 120
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }  # the server's user + system time so far
measure() {  # $1 = server name, $2 = itl ms, $3 = url, $4 = streams, $5 = ramp seconds; one JSON line
  local before result
  before=$(cpu_ticks)
  result=$(load "$3" "$4" "$5")
  local cpu_s
  cpu_s=$(awk -v t="$(( $(cpu_ticks) - before ))" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }')
  echo "{\"server\": \"$1\", \"itl_ms\": $2, \"server_cpu_s\": $cpu_s, \"sse\": $result}"
}
ramped() {  # $1 = server name, $2 = url
  if [ "$RAMPED" != 0 ]; then measure "$1" 20 "$2" "$RAMPED" 1; fi
}

run_server 20
URL=$(taskset -c 1 "$PY" deploy.py "$BASE")
for n in $STREAMS; do measure mockfabric 20 "$URL" "$n" 0; done
ramped mockfabric "$URL"
stop_server

taskset -c 0 "$PY" sse_floor.py "$PORT" 20 & SERVER=$!
wait_up "$BASE/"
for n in $STREAMS; do measure floor 20 "$BASE/" "$n" 0; done
ramped floor "$BASE/"
stop_server

run_server 0
URL=$(taskset -c 1 "$PY" deploy.py "$BASE")
measure mockfabric 0 "$URL" 200 0
stop_server
