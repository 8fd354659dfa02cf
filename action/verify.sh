#!/usr/bin/env bash
# The verify step of the GitHub Action (action.yml at the repository's root), kept here so that a test runs it as
# the action does. Without MF_BASE_URL it starts mockfabric's emulator and verifies that; with it, the target named.
# It writes JUnit, JSON and HTML reports into MF_OUTPUT_DIR and records verify's exit code as the step output
# `exit-code` (0 conforms, 1 drift, 2 the run could not test); it exits 0 itself, so that the reports are uploaded
# before the action's last step fails the job.
set -euo pipefail

out="${MF_OUTPUT_DIR:-mockfabric-verify}"
mkdir -p "$out"
base="${MF_BASE_URL:-}"
token="${MF_TOKEN:-}"
billable="${MF_ALLOW_BILLABLE:-false}"

if [ -z "$base" ]; then  # the emulator: nothing costs money, any well-formed token is accepted
  mockfabric serve --port 0 --quiet >"$out/serve.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
  for _ in $(seq 1 150); do
    base=$(sed -n 's/^mockfabric serving on \([^ ]*\).*/\1/p' "$out/serve.log" | head -n 1)
    [ -n "$base" ] && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$base" ]; then
    echo "mockfabric: the emulator did not start: $(tail -n 3 "$out/serve.log")" >&2
    echo "exit-code=2" >>"${GITHUB_OUTPUT:-/dev/null}"
    exit 0
  fi
  token="${token:-mockfabric-action}"
  billable=true
fi

args=(verify --base-url "$base" --max-examples "${MF_MAX_EXAMPLES:-25}" --seed "${MF_SEED:-1}"
  --junit-xml "$out/junit.xml" --report "$out/report.json" --html "$out/report.html")
[ -n "${MF_EP_URL:-}" ] && args+=(--ep-url "$MF_EP_URL")
[ -n "${MF_PROJECT_ID:-}" ] && args+=(--project-id "$MF_PROJECT_ID")
# credentials reach verify through its environment, never its command line (which every `ps` shows)
unset MOCKFABRIC_X_AUTH_TOKEN HUAWEICLOUD_SDK_AK HUAWEICLOUD_SDK_SK HUAWEICLOUD_SDK_SECURITY_TOKEN
if [ -n "${MF_AK:-}" ]; then
  export HUAWEICLOUD_SDK_AK="$MF_AK" HUAWEICLOUD_SDK_SK="${MF_SK:-}"
  if [ -n "${MF_SECURITY_TOKEN:-}" ]; then export HUAWEICLOUD_SDK_SECURITY_TOKEN="$MF_SECURITY_TOKEN"; fi
elif [ -n "$token" ]; then
  export MOCKFABRIC_X_AUTH_TOKEN="$token"
fi
[ "${MF_REAL:-false}" = true ] && args+=(--real)
[ "${MF_READ_ONLY:-false}" = true ] && args+=(--read-only)
[ "$billable" = true ] && args+=(--allow-billable)

code=0
mockfabric "${args[@]}" || code=$?
echo "exit-code=$code" >>"${GITHUB_OUTPUT:-/dev/null}"
echo "mockfabric verify exited $code; reports in $out/"
