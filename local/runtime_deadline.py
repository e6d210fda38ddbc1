"""Runs a Lambda function binary behind a Runtime API front that gives each invocation Lambda's real
deadline: `Lambda-Runtime-Deadline-Ms` = the moment the function picks the event up + its Timeout.

    CARGO_TARGET_<HOST>_RUNNER="python local/runtime_deadline.py"  (cargo run → this → the binary)
    LOCAL_LAMBDA_TIMEOUT_SECONDS=120                                (template.yaml's Timeout)

Why: `cargo lambda watch` (1.9.2) answers every `/runtime/invocation/next` with a fixed
`lambda-runtime-deadline-ms: 600000`, a moment in January 1970, so `Context::deadline()` has always
passed and a function that works to its deadline (kafka-ops waits for its SSM command until 15 s
before it, then hands back "still running") would never wait at all. AWS Lambda sets the deadline
from the function's Timeout. The watch forces the runtime address on the function
(`AWS_LAMBDA_RUNTIME_API` is set after the user's environment), so the front is put in between
here, where cargo runs the binary: it listens on a loopback port, points the function at it, and
forwards every Runtime API request unchanged to the watch over one upstream connection per
function connection (the watch tracks instances by connection), rewriting only that header.
Without LOCAL_LAMBDA_TIMEOUT_SECONDS the binary is run as is.

Past the deadline Lambda stops the function and the next invocation gets a fresh sandbox (cold
start), while the watch would let the function run on and queue every later invocation behind it
(it runs one at a time). So an invocation still unanswered at its deadline has its binary killed
here and started again behind the same front: the router has already answered the caller
`Sandbox.Timedout` at the same Timeout (local/aws/router.py).
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEADLINE = "Lambda-Runtime-Deadline-Ms"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class Sandbox:
    """The function's process, replaced when an invocation outlives its deadline."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.argv, self.env = argv, env
        self.lock = threading.Lock()
        self.timers: dict[str, threading.Timer] = {}
        self.reset = threading.Event()
        self.child: subprocess.Popen | None = None

    def start(self) -> subprocess.Popen:
        with self.lock:
            self.reset.clear()
            self.child = subprocess.Popen(self.argv, env=self.env, preexec_fn=_pdeathsig)
            return self.child

    def picked_up(self, request_id: str, timeout_s: float) -> None:
        timer = threading.Timer(timeout_s, self._expired, args=(request_id,))
        timer.daemon = True
        with self.lock:
            self.timers[request_id] = timer
        timer.start()

    def answered(self, request_id: str) -> None:
        with self.lock:
            timer = self.timers.pop(request_id, None)
        if timer is not None:
            timer.cancel()

    def _expired(self, request_id: str) -> None:
        with self.lock:
            if self.timers.pop(request_id, None) is None or self.child is None:
                return
            print(f"runtime front: invocation {request_id} outlived its deadline: the sandbox is replaced",
                  file=sys.stderr, flush=True)
            self.reset.set()
            self.child.kill()


def _front(upstream_host: str, upstream_port: int, timeout_s: float, sandbox: Sandbox | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            self.upstream = http.client.HTTPConnection(upstream_host, upstream_port)

        def finish(self) -> None:
            try:
                self.upstream.close()
            finally:
                super().finish()

        def _forward(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n > 0 else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"host"}}
            try:
                self.upstream.request(self.command, self.path, body=body, headers=headers)
                resp = self.upstream.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as e:
                self.upstream.close()
                msg = f"runtime front: upstream failed: {e}".encode()
                self.send_response(502)
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                return
            if sandbox is not None:
                request_id = resp.getheader("Lambda-Runtime-Aws-Request-Id")
                if self.command == "GET" and self.path.endswith("/invocation/next") and resp.status == 200 and request_id:
                    sandbox.picked_up(request_id, timeout_s)
                elif self.command == "POST" and "/invocation/" in self.path:
                    sandbox.answered(self.path.split("/invocation/", 1)[1].split("/", 1)[0])
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() in HOP_BY_HOP or k.lower() == "content-length":
                    continue
                if k.lower() == DEADLINE.lower():
                    v = str(int(time.time() * 1000 + timeout_s * 1000))
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, *_args: object) -> None:  # the function's own log stays clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def _pdeathsig() -> None:
    """The binary dies with this process (SIGKILL from the kernel), as the watch expects."""
    import ctypes

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def main(argv: list[str]) -> int:
    if not argv:
        print("runtime_deadline.py: usage: runtime_deadline.py BINARY [ARGS...]", file=sys.stderr)
        return 2
    timeout = os.environ.get("LOCAL_LAMBDA_TIMEOUT_SECONDS")
    api = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not timeout or not api:
        os.execv(argv[0], argv)
    # cargo lambda watch sets "http://127.0.0.1:PORT/.rt/<fn>"; AWS sets "host:port"
    scheme, sep, rest = api.partition("://")
    if not sep:
        scheme, rest = "", api
    hostport, _, path = rest.partition("/")
    host, _, port = hostport.rpartition(":")
    env = dict(os.environ)
    sandbox = Sandbox(argv, env)
    server = _front(host or "127.0.0.1", int(port), float(timeout), sandbox)
    threading.Thread(target=server.serve_forever, name="runtime-front", daemon=True).start()
    env["AWS_LAMBDA_RUNTIME_API"] = (f"{scheme}://" if sep else "") + f"127.0.0.1:{server.server_address[1]}" + (
        f"/{path}" if path else "")

    def forward(signum: int, _frame: object) -> None:
        if sandbox.child is not None:
            sandbox.child.send_signal(signum)

    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, forward)
    while True:
        code = sandbox.start().wait()
        if not sandbox.reset.is_set():
            break
    server.shutdown()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
