#!/usr/bin/env bash
# README command 1, tested as a user runs it: `infra/local/up` on free ports serves the API and a
# working AWS endpoint, POSTs lifecycle events to VIDGATE_EVENTS_WEBHOOK, stops moto and itself on
# SIGTERM, and starts again the same way.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
passed=0
failed=0
log=$(mktemp)
pid=""
# A webhook receiver, as an app developer runs one: every POST's webhook-id and body, one line
# each (tests/clients/webhook.test.mjs verifies the signatures with the standardwebhooks library).
hook_port=$(free_port)
received=$(mktemp)
python3 -c '
import http.server, sys
class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"] or 0)).decode()
        with open(sys.argv[2], "a") as out:
            signed = str(self.headers.get("webhook-signature")).startswith("v1,")
            out.write(str(self.headers.get("webhook-id")) + " " + str(signed) + " " + body + "\n")
        self.send_response(204); self.end_headers()
    def log_message(self, *args): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
' "$hook_port" "$received" &
hook=$!
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true; kill "$hook" 2>/dev/null || true; rm -f "$log" "$received"; }
trap cleanup EXIT

fail() { echo "local-up: FAIL: $*"; sed 's/^/  | /' "$log"; failed=$((failed + 1)); }

for run in 1 2; do
  api_port=$(free_port)
  aws_port=$(free_port)
  VIDGATE_PORT=$api_port VIDGATE_AWS_PORT=$aws_port VIDGATE_EVENTS_WEBHOOK="http://127.0.0.1:$hook_port/hook" \
    infra/local/up >"$log" 2>&1 &
  pid=$!
  # Ready within five minutes: CI runs this beside a cross-compile on two cores.
  started_at=$SECONDS
  for _ in $(seq 1 1500); do
    grep -q '^vidgate local AWS endpoint: ' "$log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if ! grep -qx "vidgate local API: http://127.0.0.1:$api_port" "$log" \
    || ! grep -qx "vidgate local AWS endpoint: http://127.0.0.1:$aws_port" "$log"; then
    fail "run $run: did not print both ready lines within $((SECONDS - started_at)) s"
    kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; continue
  fi

  api="http://127.0.0.1:$api_port"
  anonymous=$(curl -s -o /dev/null -w '%{http_code}' "$api/v1/videos")
  token=$(infra/local/token smoke-user)
  created=$(curl -s -w '\n%{http_code}' -X POST "$api/v1/uploads" -H "Authorization: Bearer $token" \
    -d '{"filename":"smoke.mp4","size":1048576}')
  # Every documented route works on the defaults a newcomer gets: credentials mode and /s3/sts too.
  granted=$(curl -s -X POST "$api/v1/uploads" -H "Authorization: Bearer $token" \
    -d '{"filename":"sdk.mp4","size":1048576,"method":"credentials"}' | jq -r '.credentials.accessKeyId // .error.code')
  sts=$(curl -s "$api/s3/sts" -H "Authorization: Bearer $token" | jq -r '.credentials.AccessKeyId // .error.code')
  # The edge as API Gateway's: 405 names what is allowed; a long path is the API's JSON 404, never
  # an empty 500 from the static files (a 4,100-byte segment once was); oversized headers are 431.
  trace=$(curl -s -o /dev/null -w '%{http_code} %header{allow}' -X TRACE "$api/v1/uploads" -H "Authorization: Bearer $token")
  long=$(curl -s "$api/v1/videos/$(head -c 4100 /dev/zero | tr '\0' a)" -H "Authorization: Bearer $token" | jq -r '.error.code' 2>/dev/null || true)
  long_file=$(curl -s "$api/$(head -c 300 /dev/zero | tr '\0' b)" | jq -r '.error.code' 2>/dev/null || true)
  big_headers=$(curl -s -o /dev/null -w '%{http_code}' "$api/v1/videos" -H "Authorization: Bearer $token" -H "x-pad: $(head -c 11000 /dev/zero | tr '\0' p)")
  # The local S3 says no as S3 does: unsigned → 403 AccessDenied, a wrong secret → 403
  # SignatureDoesNotMatch; signed with the local keys → 200.
  s3="http://127.0.0.1:$aws_port/vidgate-local"
  unsigned=$(curl -s "$s3" | grep -o '<Code>[A-Za-z]*</Code>' || true)
  forged=$(curl -s --aws-sigv4 "aws:amz:us-east-1:s3" --user test:wrong -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$s3" | grep -o '<Code>[A-Za-z]*</Code>' || true)
  bucket=$(curl -s -o /dev/null -w '%{http_code}' --aws-sigv4 "aws:amz:us-east-1:s3" --user test:test -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$s3")
  # The web page and the Uppy bundle infra/web-setup vendored for it.
  page=$(curl -s "$api/" | grep -c 'app.mjs' || true)
  uppy=$(curl -s -o /dev/null -w '%{http_code}' "$api/vendor/uppy.min.mjs")
  # The upload's lifecycle event reached the webhook: EventBridge's envelope, signed, its id the
  # webhook-id.
  started=""
  created_id=$(head -n1 <<<"$created" | jq -r .videoId)
  for _ in $(seq 1 100); do
    started=$(while read -r hook_id signed body; do
        [ "$signed" = True ] && jq -r --arg id "$created_id" --arg hook "$hook_id" \
          'select(.detail.id == $id and .source == "vidgate" and .id == $hook) | ."detail-type"' <<<"$body"
      done <"$received" 2>/dev/null | head -n1 || true)
    [ -n "$started" ] && break
    sleep 0.2
  done
  if [ "$started" != "Video Upload Started" ]; then
    fail "run $run: the webhook got no 'Video Upload Started' for $created_id: $(cat "$received")"
  fi
  if [ "$anonymous" = 401 ] && [ "$(tail -n1 <<<"$created")" = 201 ] && [ "$bucket" = 200 ] \
    && [ "$page" = 1 ] && [ "$uppy" = 200 ] && [[ "$granted" == ASIA* ]] && [[ "$sts" == ASIA* ]] \
    && [ "$trace" = "405 POST" ] && [ "$long" = "video_not_found" ] && [ "$long_file" = "route_not_found" ] \
    && [ "$big_headers" = 431 ] && [ "$unsigned" = "<Code>AccessDenied</Code>" ] \
    && [ "$forged" = "<Code>SignatureDoesNotMatch</Code>" ]; then
    :
  else
    fail "run $run: anonymous=$anonymous create=$(tail -n1 <<<"$created") bucket=$bucket page=$page uppy=$uppy credentials=$granted sts=$sts trace='$trace' long=$long long_file=$long_file big_headers=$big_headers unsigned=$unsigned forged=$forged"
  fi

  kill -TERM "$pid"
  wait "$pid" || true
  pid=""
  if curl -s -o /dev/null "http://127.0.0.1:$aws_port/" || curl -s -o /dev/null "$api/"; then
    fail "run $run: something still listens after SIGTERM"
  elif ! grep -q 'vidgate local stack stopped' "$log"; then
    fail "run $run: no clean stop"
  else
    passed=$((passed + 1))
  fi
done

echo "local-up: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
