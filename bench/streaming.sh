#!/usr/bin/env bash
# Streaming benchmark of `mockfabric serve` (issue: invocations): N concurrent streams of 50 content chunks
# with 20 ms inter-token latency, plus streams/s without delays. Server pinned to core 0, load on core 1.
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

run_server() {  # $1 = itl ms
  taskset -c 0 "$PY" -m mockfabric serve --port "$PORT" --itl-ms "$1" --completion-mode echo \
    --lifecycle endpoint=instant,service_instance=instant >/tmp/bench-mockfabric.log 2>&1 &
  SERVER=$!
  for _ in $(seq 100); do curl -fs "$BASE/healthcheck" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill -TERM "$SERVER"; wait "$SERVER" 2>/dev/null || true; }

run_server 20
URL=$(taskset -c 1 "$PY" deploy.py "$BASE")
for n in $STREAMS; do
  r=$(taskset -c 1 "$PY" sse_load.py --url "$URL" --method POST --body "$BODY" --header "X-Auth-Token: bench" --streams "$n" --timeout 120)
  echo "{\"itl_ms\": 20, \"sse\": $r}"
done
stop_server

run_server 0
URL=$(taskset -c 1 "$PY" deploy.py "$BASE")
r=$(taskset -c 1 "$PY" sse_load.py --url "$URL" --method POST --body "$BODY" --header "X-Auth-Token: bench" --streams 200 --timeout 120)
echo "{\"itl_ms\": 0, \"sse\": $r}"
stop_server
