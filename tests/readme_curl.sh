#!/usr/bin/env bash
# The README's curl walk-through, the ranged-read examples of docs/playback.md, docs/mobile.md's
# background upload and docs/app-backend.md's upload link, run as written on a fresh `infra/local/up` (started as the README starts it,
# on free ports: the only change to the blocks is those two port numbers). Checks what they print: three part PUTs answered 200, the video
# `uploaded`, the bytes S3 stored equal to the file, each range example's status, and the
# background upload's plan and its completion by the server.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

block() { # the code block after the `<!-- tested: NAME` marker, in README.md or a page of docs/
  local file
  file=$(grep -l -F -- "<!-- tested: $1" README.md docs/*.md | head -n 1)
  [ -n "$file" ] || return 0
  awk -v name="<!-- tested: $1" 'index($0, name) == 1 { found = 1; next }
    found && /^```/ { if (inside) exit; inside = 1; next } inside { print }' "$file"
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

work=$(mktemp -d)
log="$work/stack.log"
pid=""
cleanup() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

api_port=$(free_port)
aws_port=$(free_port)
VIDGATE_PORT=$api_port VIDGATE_AWS_PORT=$aws_port infra/local/up >"$log" 2>&1 &
pid=$!
for _ in $(seq 1 900); do
  grep -q '^vidgate local AWS endpoint: ' "$log" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.2
done

walk=$(block 'curl walk-through')
ranges=$(block 'curl ranges')
background=$(block 'curl background')
link=$(block 'curl upload link')
[ -n "$walk" ] && [ -n "$ranges" ] && [ -n "$background" ] && [ -n "$link" ] || { echo "readme-curl: FAIL: README.md or docs/ lost a marked block"; exit 1; }
script="$work/readme.sh"
{
  echo 'set -euo pipefail'
  printf '%s\n' "$walk"
  echo 'echo "== ranges"'
  printf '%s\n' "$ranges"
  echo 'echo "== background"'
  echo 'cd "$REPO"   # each block runs from the checkout, as its page says'
  printf '%s\n' "$background"
  echo 'echo "== upload link"'
  echo 'cd "$REPO"'
  printf '%s\n' "$link"
} | sed -e "s#127.0.0.1:3000#127.0.0.1:$api_port#g" -e "s#127.0.0.1:4566#127.0.0.1:$aws_port#g" >"$script"
# As the README says: from the checkout, which the walk-through leaves as it was (its files go to
# a temporary directory of its own, made here under $work so the cleanup removes it).
before=$(git status --porcelain --untracked-files=all)
out=$(cd "$root" && TMPDIR="$work" bash "$script" 2>&1) || { echo "readme-curl: FAIL: the blocks exited non-zero"; echo "$out"; exit 1; }
after=$(git status --porcelain --untracked-files=all)

passed=0
failed=0
check() { if grep -qiE "$2" <<<"${3:-$out}"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "readme-curl: FAIL: $1"; fi; }
check "part PUTs answered 200" '^part 1: 200$'
check "part 3 answered 200" '^part 3: 200$'
check "the video is uploaded" '"status": "uploaded"'
check "S3 holds the same bytes" '^same bytes$'
statuses=$(sed -n '/^== ranges/,/^== background/p' <<<"$out" | grep -oE '^HTTP/[0-9.]+ [0-9]+' | awk '{print $2}' | paste -sd' ')
if [ "$statuses" = "206 206 206 416 200 403" ]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "readme-curl: FAIL: range statuses were '$statuses'"; fi
check "Safari's probe gets bytes 0-1" 'Content-Range: bytes 0-1/12000000'
check "the whole video in one reply from the CDN" '^Content-Length: 12000000'
check "a changed URL gets CloudFront's error" '<Error><Code>AccessDenied</Code>'
background_out=$(sed -n '/^== background/,/^== upload link/p' <<<"$out")
link_out=$(sed -n '/^== upload link/,$p' <<<"$out")
check "the plan's ranges, one page" '^\[\{"partNumber":1,"offset":0,"length":5242880\},\{"partNumber":2,"offset":5242880,"length":5242880\},\{"partNumber":3,"offset":10485760,"length":1514240\}\]$' "$background_out"
check "the background parts answered 200" '^part 1: 200$' "$background_out"
check "completed without the client" '"completedBy": "server"' "$background_out"
check "the link's part answered 200" '^part 1: 200$' "$link_out"
check "the link's upload is uploaded with its metadata" '^\{"status":"uploaded","metadata":\{"ticket":"T-1001"\},"linkId":true\}$' "$link_out"
check "a second start on the link is refused" '^link_used$' "$link_out"
if [ "$before" = "$after" ]; then passed=$((passed + 1)); else
  failed=$((failed + 1)); echo "readme-curl: FAIL: the walk-through left files in the checkout:"
  diff <(echo "$before") <(echo "$after") || true; fi
[ "$failed" -eq 0 ] || echo "$out"
echo "readme-curl: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
