"""local/runtime_deadline.py: the function sees Lambda's real deadline (pickup + Timeout), where
cargo lambda watch says 600000 (January 1970); everything else of the Runtime API passes unchanged,
over one upstream connection per function connection (the watch tracks instances by connection)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "local" / "runtime_deadline.py"


class Watch(BaseHTTPRequestHandler):
    """What cargo lambda watch answers: the fixed deadline, a request id, the event."""

    protocol_version = "HTTP/1.1"
    peers: list[tuple[str, int]] = []
    posted: list[tuple[str, bytes]] = []

    def do_GET(self) -> None:
        Watch.peers.append(self.client_address)
        body = b'{"step":"capture"}'
        self.send_response(200)
        self.send_header("lambda-runtime-aws-request-id", "req-1")
        self.send_header("lambda-runtime-deadline-ms", "600000")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        Watch.peers.append(self.client_address)
        n = int(self.headers.get("Content-Length") or 0)
        Watch.posted.append((self.path, self.rfile.read(n)))
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_a: object) -> None:
        pass


FUNCTION = textwrap.dedent(
    """
    import http.client, os, sys, time
    hostport, _, path = os.environ["AWS_LAMBDA_RUNTIME_API"].partition("/")
    host, _, port = hostport.rpartition(":")
    c = http.client.HTTPConnection(host, int(port))
    for _ in range(2):
        c.request("GET", f"/{path}/2018-06-01/runtime/invocation/next")
        r = c.getresponse()
        body = r.read()
        print(r.getheader("lambda-runtime-deadline-ms"), r.getheader("lambda-runtime-aws-request-id"), body.decode(),
              int(time.time() * 1000), flush=True)
    c.request("POST", f"/{path}/2018-06-01/runtime/invocation/req-1/response", body=b'{"ok":true}')
    c.getresponse().read()
    """
)


def test_the_function_gets_pickup_plus_timeout_and_the_rest_unchanged(tmp_path: Path) -> None:
    Watch.peers.clear()
    Watch.posted.clear()
    watch = ThreadingHTTPServer(("127.0.0.1", 0), Watch)
    threading.Thread(target=watch.serve_forever, daemon=True).start()
    fn = tmp_path / "fn.py"
    fn.write_text(FUNCTION)
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"127.0.0.1:{watch.server_address[1]}/.rt/kafka-ops",
               LOCAL_LAMBDA_TIMEOUT_SECONDS="120")
    try:
        out = subprocess.run([sys.executable, str(RUNNER), sys.executable, str(fn)], env=env, capture_output=True,
                             text=True, timeout=30)
    finally:
        watch.shutdown()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    for line in filter(None, lines):
        deadline, req, body, now = line.split(" ")
        assert req == "req-1" and body == '{"step":"capture"}'
        # pickup + 120 s, measured by the function just after it got the event
        assert 119_000 <= int(deadline) - int(now) <= 120_000, line
    assert Watch.posted == [("/.rt/kafka-ops/2018-06-01/runtime/invocation/req-1/response", b'{"ok":true}')]
    # one function connection -> one upstream connection: the watch sees one peer
    assert len(set(Watch.peers)) == 1, Watch.peers


def test_without_a_timeout_the_binary_runs_as_is(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOCAL_LAMBDA_TIMEOUT_SECONDS"}
    env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:9/.rt/x"
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, str(RUNNER), sys.executable, "-c",
                          "import os; print(os.environ['AWS_LAMBDA_RUNTIME_API'])"],
                         env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "127.0.0.1:9/.rt/x", out
    assert time.monotonic() - t0 < 10


HANGS_ONCE = textwrap.dedent(
    """
    import http.client, os, sys, time
    print("start", flush=True)
    hostport, _, path = os.environ["AWS_LAMBDA_RUNTIME_API"].partition("//")[2].partition("/")
    host, _, port = hostport.rpartition(":")
    c = http.client.HTTPConnection(host, int(port))
    c.request("GET", f"/{path}/2018-06-01/runtime/invocation/next")
    c.getresponse().read()
    marker = sys.argv[1]
    if not os.path.exists(marker):
        open(marker, "w").close()
        time.sleep(60)  # a handler that outlives its deadline
    c.request("POST", f"/{path}/2018-06-01/runtime/invocation/req-1/response", body=b'{"ok":true}')
    c.getresponse().read()
    """
)


def test_an_invocation_past_its_deadline_gets_a_fresh_sandbox(tmp_path: Path) -> None:
    """Lambda stops a function at its Timeout and runs the next invocation in a new sandbox; the
    watch would let it run on and queue the retry behind it."""
    Watch.peers.clear()
    Watch.posted.clear()
    watch = ThreadingHTTPServer(("127.0.0.1", 0), Watch)
    threading.Thread(target=watch.serve_forever, daemon=True).start()
    fn = tmp_path / "fn.py"
    fn.write_text(HANGS_ONCE)
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{watch.server_address[1]}/.rt/kafka-ops",
               LOCAL_LAMBDA_TIMEOUT_SECONDS="1")
    t0 = time.monotonic()
    try:
        out = subprocess.run([sys.executable, str(RUNNER), sys.executable, str(fn), str(tmp_path / "hung")], env=env,
                             capture_output=True, text=True, timeout=30)
    finally:
        watch.shutdown()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["start", "start"], out.stdout
    assert "outlived its deadline" in out.stderr
    assert time.monotonic() - t0 < 15, "the hung handler was not stopped at its deadline"
    assert Watch.posted == [("/.rt/kafka-ops/2018-06-01/runtime/invocation/req-1/response", b'{"ok":true}')]
