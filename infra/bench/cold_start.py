#!/usr/bin/env python3
"""Cold start of a function binary: exec → first response, under a minimal Lambda Runtime API.

    infra/bench/cold-start [FUNCTION] [RUNS]      (default: get-video, 20 runs)

Starts the local stack (moto) for DynamoDB, then for each run spawns the release binary with
AWS_LAMBDA_RUNTIME_API pointing at an emulator in this script, serves it one API Gateway event
(events/FUNCTION.json) and stops the clock when the function POSTs its response. What is timed is
everything a cold start pays here: exec, Init (tracing, config, SdkConfig, clients) and the first
invocation (including its DynamoDB call to moto on loopback).

Binaries: target/release/FUNCTION as `infra/bench/cold-start` builds it, the way
infra/build-functions does for sam build, and — for comparison, when present — the same built with the
`release-plain` profile (no LTO, 16 codegen units, no strip, unwinding panics). More binaries to
compare in the same run (an older build, say): VIDGATE_BENCH_COMPARE="label=path,label=path".
The binaries take turns, run by run, so a noisy moment costs each of them alike.
"""
import http.server
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Runtime(http.server.BaseHTTPRequestHandler):
    """The two Runtime API calls a function makes: next invocation, and its response."""

    event = b"{}"
    responded = None  # threading.Event, set when the response arrives
    served = False

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("/invocation/next") and not Runtime.served:
            Runtime.served = True
            self.send_response(200)
            self.send_header("Lambda-Runtime-Aws-Request-Id", str(uuid.uuid4()))
            self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
            self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:bench")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(Runtime.event)))
            self.end_headers()
            self.wfile.write(Runtime.event)
        else:  # the next-next call: hold it until the process is killed
            time.sleep(30)

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if "/response" in self.path:
            Runtime.body = body
            Runtime.responded.set()
        self.send_response(202)
        self.end_headers()


def measure(binary, env, runs):
    times = []
    for _ in range(runs):
        port = free_port()
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Runtime)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        Runtime.served = False
        Runtime.responded = threading.Event()
        started = time.perf_counter()
        proc = subprocess.Popen([binary], env={**env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok = Runtime.responded.wait(10)
        elapsed = time.perf_counter() - started
        proc.kill()
        proc.wait()
        server.shutdown()
        server.server_close()
        if not ok:
            raise SystemExit(f"{binary} sent no response")
        times.append(elapsed * 1000)
    status = json.loads(Runtime.body).get("statusCode")
    return times, status


def main():
    function = sys.argv[1] if len(sys.argv) > 1 else "get-video"
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    event = open(os.path.join(ROOT, "events", f"{function}.json")).read()
    Runtime.event = event.replace("VIDEO_ID", str(uuid.uuid4())).encode()

    api, aws = free_port(), free_port()
    stack = subprocess.Popen([os.path.join(TARGET, "debug", "vidgate-local"), "up"], cwd=ROOT,
                             env={**os.environ, "VIDGATE_PORT": str(api), "VIDGATE_AWS_PORT": str(aws),
                                  "VIDGATE_SWEEP_SECS": "0",
                                  "VIDGATE_MOTO_SERVER": os.path.join(ROOT, ".venv", "bin", "moto_server")},
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for line in stack.stdout:
            if line.startswith("vidgate local AWS endpoint"):
                break
        env = {
            "PATH": os.environ.get("PATH", ""),
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{aws}", "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1",
            "AWS_LAMBDA_FUNCTION_NAME": function, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_LAMBDA_LOG_LEVEL": "WARN",
            "VIDGATE_BUCKET": "vidgate-local", "VIDGATE_TABLE": "vidgate-local-videos",
            "VIDGATE_S3_PATH_STYLE": "true",
            "VIDGATE_PLAYBACK_SECRET": "bench-playback-secret-0123456789abcdef",
            "VIDGATE_UPLOADER_ROLE_ARN": "arn:aws:iam::123456789012:role/vidgate-uploader",
        }
        print(f"cold start of {function}: exec → first response, {runs} runs each, taking turns")
        binaries = []
        for profile in ["release", "release-plain"]:
            binary = os.path.join(TARGET, profile, function)
            if os.path.exists(binary):
                binaries.append((profile, binary))
            else:
                print(f"  {profile:<14} (not built: cargo build --profile {profile} -p vidgate --bin {function})")
        for pair in filter(None, os.environ.get("VIDGATE_BENCH_COMPARE", "").split(",")):
            label, binary = pair.split("=", 1)
            binaries.append((label, binary))
        times = {label: [] for label, _ in binaries}
        statuses = {}
        for _ in range(runs):
            for label, binary in binaries:
                [elapsed], statuses[label] = measure(binary, env, 1)
                times[label].append(elapsed)
        for label, binary in binaries:
            t = sorted(times[label])
            size = os.path.getsize(binary) / 1e6
            print(f"  {label:<14} median {statistics.median(t):6.1f} ms   p90 {t[max(int(len(t) * 0.9) - 1, 0)]:6.1f} ms"
                  f"   min {t[0]:6.1f} ms   binary {size:5.1f} MB   (reply: HTTP {statuses[label]})")
    finally:
        stack.terminate()
        stack.wait()


if __name__ == "__main__":
    main()
