#!/usr/bin/env bash
# Reproduce every figure of bench/BENCHMARKS.md from a clean checkout (2 cores: servers on core 0, load on core 1).
# Installs what it needs: wrk (Debian), Stoplight Prism (npm, into bench/.prism), the [bench] extra (gunicorn, gevent).
# Output: bench/results/<name>.txt. Takes about 25 minutes.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python}
export PYTHON=$PY
mkdir -p results

command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
if [ ! -x .prism/node_modules/.bin/prism ]; then
  mkdir -p .prism && npm install --prefix .prism --no-audit --no-fund @stoplight/prism-cli@5 >/dev/null
fi
"$PY" -m pip install -q -e '..[bench]'

echo "== WSGI servers on the hello-world app (bench/SERVERS.md)"; ./compare_servers.sh 50 200 500 | tee results/servers.txt
echo "== CRUD: mockfabric vs ceiling vs Prism";  "$PY" crud.py --prism .prism/node_modules/.bin/prism | tee results/crud.txt
echo "== streaming";                             ./streaming.sh 50 200 500 | tee results/streaming.txt
echo "== scale and memory";                      "$PY" scale.py | tee results/scale.txt
echo "== start-up";                              "$PY" startup.py | tee results/startup.txt
echo "== kill -9 durability";                    "$PY" durability.py --rounds 10 --workspaces 10000 | tee results/durability.txt
