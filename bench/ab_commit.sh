#!/usr/bin/env bash
# Same-run A/B of `mockfabric serve` at this checkout against an earlier commit: CRUD requests/s (wrk, 16
# connections, 4 s per operation) and 500 concurrent 20 ms streams (bench/streaming.sh), alternating old and new
# ROUNDS times. Server pinned to core 0, load on core 1. The old commit runs from a temporary git worktree through
# PYTHONPATH (benchmark only; its dependencies must be installed: the [bench] extra has waitress).
# Usage: bench/ab_commit.sh REV [ROUNDS]      e.g. bench/ab_commit.sh 02664f5 2
set -euo pipefail
cd "$(dirname "$0")"
REV=$1
ROUNDS=${2:-2}
PY=${PYTHON:-python}
PORT=${PORT:-18811}
OLD=$(mktemp -d)
git worktree add -q --detach "$OLD" "$REV"
trap 'git worktree remove --force "$OLD"' EXIT
H='X-Auth-Token: bench'

crud() {  # $1 = label; one line of requests/s per operation
  taskset -c 0 "$PY" -m mockfabric serve --port "$PORT" --lifecycle instant >/dev/null 2>&1 &
  local server=$! base="http://127.0.0.1:$PORT"
  for _ in $(seq 100); do curl -s -o /dev/null "$base/healthcheck" && break; sleep 0.1; done
  local ws ep
  ws=$(curl -s -X POST -H "$H" -H 'Content-Type: application/json' -d '{"name":"bench-home"}' "$base/v1/workspaces" | "$PY" -c 'import sys,json;print(json.load(sys.stdin)["id"])')
  ep=$(curl -s -X POST -H "$H" -H 'Content-Type: application/json' -d '{"name":"e","type":"inference"}' "$base/v1/workspaces/$ws/endpoints" | "$PY" -c 'import sys,json;print(json.load(sys.stdin)["id"])')
  printf 'counter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format("POST", nil, nil, %s)\nend\n' "'{\"name\":\"bench-' .. counter .. '\"}'" >/tmp/ab-create.lua
  rps() { taskset -c 1 wrk -t1 -c16 -d4s "$@" | awk '/Requests\/sec/{print $2}'; }
  echo "{\"code\": \"$1\", \"ListWorkspaces\": $(rps -H "$H" "$base/v1/workspaces"), \"ShowEndpoint\": $(rps -H "$H" "$base/v1/workspaces/$ws/endpoints/$ep"), \"CreateWorkspace\": $(rps -H "$H" -H 'X-Project-Id: creates' -H 'Content-Type: application/json' -s /tmp/ab-create.lua "$base/v1/workspaces")}"
  kill -TERM "$server"; wait "$server" 2>/dev/null || true
}
streams() {  # $1 = label; streaming.sh's mockfabric lines only
  RAMPED=0 PORT=$((PORT + 1)) ./streaming.sh 500 | grep '"server": "mockfabric"' | sed "s/^{/{\"code\": \"$1\", /"
}

for _ in $(seq "$ROUNDS"); do
  (export PYTHONPATH="$OLD"; crud "$REV"; streams "$REV")
  crud HEAD
  streams HEAD
done
