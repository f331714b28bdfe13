#!/usr/bin/env bash
# Real function binaries under cargo-lambda's Lambda emulator, as a developer runs them:
# `cargo lambda watch` serves create-upload, get-video, create-upload-link, publish-events, make-images and erase-owner against the
# local AWS stand-ins (moto and the strict S3, started by vidgate-local), and
# `cargo lambda invoke --data-file` sends them the events/ fixtures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
export PATH="$(infra/aws-tools-setup):$PATH"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
passed=0
failed=0
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
check() { # name, condition...
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "cargo-lambda: FAIL: $name"; failed=$((failed + 1)); fi
}

# moto with the bucket and table, via the local stack (its API port is not used here).
api_port=$(free_port); aws_port=$(free_port); invoke_port=$(free_port)
VIDGATE_PORT=$api_port VIDGATE_AWS_PORT=$aws_port VIDGATE_SWEEP_SECS=0 \
  VIDGATE_MOTO_SERVER="$root/.venv/bin/moto_server" "$CARGO_TARGET_DIR/debug/vidgate-local" up >"$work/stack.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 300); do grep -q 'AWS endpoint' "$work/stack.log" && break; sleep 0.2; done

# What a developer exports to point functions at the local stand-ins.
export AWS_ENDPOINT_URL="http://127.0.0.1:$aws_port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
  AWS_REGION=us-east-1 VIDGATE_BUCKET=vidgate-local VIDGATE_TABLE=vidgate-local-videos VIDGATE_S3_PATH_STYLE=true \
  VIDGATE_EVENT_BUS=vidgate-local-events
# At TRACE, the finest level an operator can pick (LogLevel): still no JWT in the functions' logs.
AWS_LAMBDA_LOG_LEVEL=TRACE cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$invoke_port" --ignore-changes >"$work/watch.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 600); do
  curl -s -o /dev/null "http://127.0.0.1:$invoke_port/" && break
  sleep 0.2
done

invoke() { # function, event file
  cargo lambda invoke "$1" --invoke-address 127.0.0.1 --invoke-port "$invoke_port" --data-file "$2" --output-format json 2>>"$work/invoke.log"
}

created=$(invoke create-upload events/create-upload.json)
status=$(jq -r .statusCode <<<"$created")
body=$(jq -r .body <<<"$created")
id=$(jq -r .videoId <<<"$body")
check "create-upload answers 201 with a 5-part plan" test "$status" = 201 -a "$(jq -r .partCount <<<"$body")" = 5

sed "s/VIDEO_ID/$id/g" events/get-video.json >"$work/get-video.json"
got=$(invoke get-video "$work/get-video.json")
check "get-video answers 200 with the record create-upload wrote" \
  test "$(jq -r .statusCode <<<"$got")" = 200 -a "$(jq -r .body <<<"$got" | jq -r .status)" = uploading

sed "s/VIDEO_ID/00000000-0000-7000-8000-000000000000/g" events/get-video.json >"$work/missing.json"
missing=$(invoke get-video "$work/missing.json")
check "get-video answers 404 JSON for an unknown id" \
  test "$(jq -r .statusCode <<<"$missing")" = 404 -a "$(jq -r .body <<<"$missing" | jq -r .error.code)" = video_not_found

# create-upload-link: the fixture's backend token (its scope in the authorizer's context) gets a
# link, and its item is in the table.
linked=$(invoke create-upload-link events/create-upload-link.json)
check "create-upload-link answers 201 with a link for customer-42" \
  test "$(jq -r .statusCode <<<"$linked")" = 201 -a "$(jq -r .body <<<"$linked" | jq -r .link.owner)" = customer-42

# publish-events: the stream batch fixture, published to the local stack's bus (moto's).
published=$(invoke publish-events events/publish-events.json)
check "publish-events publishes the fixture's two lifecycle events and names no failed record" \
  test "$(jq -c .batchItemFailures <<<"$published")" = "[]"

# make-images: the bus's `Video Uploaded` for a video the table doesn't hold. It starts (ffmpeg
# found at Init: Debian's, on PATH) and has nothing to make, which is no failure.
imaged=$(invoke make-images events/make-images.json)
check "make-images starts with ffmpeg and answers the fixture's batch with no failed message" \
  test "$(jq -c .batchItemFailures <<<"$imaged")" = "[]"

# erase-owner, as an operator invokes it: alice's upload goes, and get-video stops finding it.
erased=$(invoke erase-owner events/erase-owner.json)
check "erase-owner deletes alice's one upload and is done" \
  test "$(jq -r .deleted <<<"$erased")" = 1 -a "$(jq -r .done <<<"$erased")" = true
gone=$(invoke get-video "$work/get-video.json")
check "get-video answers 404 after the erasure" test "$(jq -r .statusCode <<<"$gone")" = 404
echo '{"limit": 5}' >"$work/no-owner.json"
refused=$(invoke erase-owner "$work/no-owner.json" || true)
check "erase-owner refuses a payload without an owner, naming what it expected" \
  grep -qF 'expected {"owner": "<sub>", "limit": n}: missing field `owner`' <<<"$refused$(tail -n 5 "$work/invoke.log")"
check "erase-owner's refusal erased nothing (no erasure report)" bash -c '! grep -q "\"deleted\"" <<<"$1"' _ "$refused"

# The Lambda runtime logs each raw event at TRACE, JWT and all; vidgate keeps dependencies at warn.
check "at TRACE the functions' logs hold no bearer token" bash -c '! grep -qi "bearer eyJ" "$1"' _ "$work/watch.log"
check "at TRACE vidgate's own logs still reach the log (so the check above reads real logs)" \
  grep -q 'owner erasure run' "$work/watch.log"

if [ "$failed" -gt 0 ]; then
  echo "--- cargo lambda watch:"; tail -n 40 "$work/watch.log"
  echo "--- invoke:"; tail -n 20 "$work/invoke.log"
fi
echo "cargo-lambda: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
