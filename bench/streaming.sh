#!/usr/bin/env bash
# Streaming benchmark of `mockfabric serve` (issue: invocations): N concurrent streams of 50 content chunks
# with 20 ms inter-token latency, plus streams/s without delays. Server pinned to core 0, load on core 1.
# In the same run, the same streams from bench/sse_floor.py (a bare asyncio server sending constant chunks):
# the floor this machine and the load generator allow.
# Usage: bench/streaming.sh [streams...]     (default: 50 200 500)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
STREAMS=${*:-50 200 500}
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
load() {  # $1 = url, $2 = streams
  taskset -c 1 "$PY" sse_load.py --url "$1" --method POST --body "$BODY" --header "X-Auth-Token: bench" --streams "$2" --timeout 120
}

run_server 20
URL=$(taskset -c 1 "$PY" deploy.py "$BASE")
for n in $STREAMS; do echo "{\"server\": \"mockfabric\", \"itl_ms\": 20, \"sse\": $(load "$URL" "$n")}"; done
stop_server

taskset -c 0 "$PY" sse_floor.py "$PORT" 20 & SERVER=$!
wait_up "$BASE/"
for n in $STREAMS; do echo "{\"server\": \"floor\", \"itl_ms\": 20, \"sse\": $(load "$BASE/" "$n")}"; done
stop_server

run_server 0
URL=$(taskset -c 1 "$PY" deploy.py "$BASE")
echo "{\"server\": \"mockfabric\", \"itl_ms\": 0, \"sse\": $(load "$URL" 200)}"
stop_server
