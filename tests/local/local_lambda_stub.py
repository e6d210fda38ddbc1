"""A tiny HTTP server speaking the Lambda invoke API, for tests that need a function without Rust.

It answers like `cargo lambda watch`: 200 with the handler's JSON, or 500 with
{"errorType", "errorMessage"} when the handler raises `FunctionError`. Every request is recorded.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")


class FunctionError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class LambdaStub:
    def __init__(self, handlers: dict[str, Callable[[Any], Any]]) -> None:
        self.handlers = handlers
        self.calls: list[tuple[str, Any]] = []
        self.cond = threading.Condition()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                m = _PATH.match(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not m or m.group(1) not in stub.handlers:
                    self._send(404, {"message": "function not found"})
                    return
                name = m.group(1)
                event = json.loads(body or b"null")
                with stub.cond:
                    stub.calls.append((name, event))
                    stub.cond.notify_all()
                try:
                    self._send(200, stub.handlers[name](event))
                except FunctionError as e:
                    self._send(500, {"errorType": e.error_type, "errorMessage": str(e)})

            def _send(self, code: int, doc: Any) -> None:
                data = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> LambdaStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for_call(self, name: str, predicate: Callable[[Any], bool] = lambda e: True, timeout: float = 60) -> Any:
        with self.cond:
            ok = self.cond.wait_for(
                lambda: any(n == name and predicate(e) for n, e in self.calls), timeout
            )
            if not ok:
                raise TimeoutError(f"no call to {name} matching within {timeout}s; calls: {[n for n, _ in self.calls]}")
            return next(e for n, e in reversed(self.calls) if n == name and predicate(e))
