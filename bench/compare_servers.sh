#!/usr/bin/env bash
# Compare WSGI servers on the hello-world Flask app (bench/hello_app.py), server pinned to core 0, load on core 1.
# (a) small JSON GETs/s with wrk; (b) concurrent SSE streams, 50 chunks each 20 ms apart.
# Usage: bench/compare_servers.sh [streams...]   (needs wrk: apt-get install -y wrk; python with the [bench] extra)
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
STREAMS=${*:-50 200 500}
PORT=${PORT:-18731}
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }

declare -A SERVERS=(
  [waitress-t8]="$PY -m waitress --port=$PORT --threads=8 hello_app:app"
  [waitress-t512]="$PY -m waitress --port=$PORT --threads=512 --connection-limit=2000 --backlog=2048 hello_app:app"
  [gunicorn-gthread-1x8]="$PY -m gunicorn -w 1 -k gthread --threads 8 -b 127.0.0.1:$PORT hello_app:app"
  [gunicorn-gthread-1x512]="$PY -m gunicorn -w 1 -k gthread --threads 512 --backlog 2048 -b 127.0.0.1:$PORT hello_app:app"
  [gunicorn-gevent-1x2000]="$PY -m gunicorn -w 1 -k gevent --worker-connections 2000 --backlog 2048 -b 127.0.0.1:$PORT hello_app:app"
)

wait_up() { for _ in $(seq 100); do curl -fs "http://127.0.0.1:$PORT/hello" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }

for name in $(printf '%s\n' "${!SERVERS[@]}" | sort); do
  taskset -c 0 ${SERVERS[$name]} >/tmp/bench-$name.log 2>&1 &
  pid=$!
  wait_up || { echo "$name did not start (see /tmp/bench-$name.log)" >&2; kill $pid 2>/dev/null || true; exit 1; }
  rps=$(taskset -c 1 wrk -t1 -c16 -d8s --latency "http://127.0.0.1:$PORT/hello" | awk '/Requests\/sec/{print $2}')
  echo "{\"server\": \"$name\", \"json_rps\": $rps}"
  for n in $STREAMS; do
    r=$(taskset -c 1 "$PY" sse_load.py --url "http://127.0.0.1:$PORT/sse?n=50&ms=20" --streams "$n" --timeout 60)
    echo "{\"server\": \"$name\", \"sse\": $r}"
  done
  kill -TERM $pid; wait $pid 2>/dev/null || true
done
