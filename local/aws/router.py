"""WSGI front of the emulator: Lambda invokes go to the real functions, everything else to moto.

moto's Step Functions engine calls every service at http://localhost:$MOTO_PORT, which is this
server, so its `lambda:invoke` tasks arrive here as `POST /2015-03-31/functions/<name|arn>/invocations`.
They are forwarded to `cargo lambda watch` (which serves functions by bare binary name) and its answer
is translated to real Lambda semantics: a handler error is HTTP 200 with `X-Amz-Function-Error:
Unhandled` (cargo lambda answers 500), an unknown function is 404 ResourceNotFoundException, and
`X-Amz-Invocation-Type: Event` is answered 202 at once. Running in the same process as moto keeps
one port and no proxy hop for all the other calls.

Lambda's own limits: each function's Timeout from template.yaml (after its first, cold invoke): past
it the answer is Lambda's "Task timed out" (200 + Unhandled, errorType `Sandbox.Timedout`, or the
older payload without errorType, which Step Functions names `Lambda.Unknown`); throttling on demand
(429 TooManyRequestsException). Both set through `POST /_local/lambda` (`Router.set_limits`).

`/_local/...` is the emulator's own read-mostly control API (status, metadata, events, invocations).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

log = logging.getLogger(__name__)

_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<fn>[^/]+)/invocations/?$")


def function_name(name_or_arn: str) -> str:
    """Bare function name from a name, a partial ARN or a full ARN (qualifier dropped)."""
    s = unquote(name_or_arn)
    if s.startswith("arn:"):
        parts = s.split(":")
        return parts[6] if len(parts) > 6 else s
    if ":" in s:  # "name:qualifier" or "123456789012:function:name"
        parts = s.split(":")
        return parts[2] if len(parts) >= 3 and parts[1] == "function" else parts[0]
    return s


def invoke_url(base: str, name: str) -> str:
    return f"{base.rstrip('/')}/2015-03-31/functions/{name}/invocations"


def call_function(base: str, name: str, payload: bytes, timeout: float = 900.0) -> tuple[int, dict[str, str], bytes]:
    """Invoke `name` on a Lambda runtime emulator; returns (status, headers, body) in real Lambda form,
    with the `x-amzn-RequestId` every Lambda response carries (SDKs read their request id from it;
    moto's Step Functions engine quotes it when a call fails, and crashed without it)."""
    status, headers, body = _call_function(base, name, payload, timeout)
    return status, {"x-amzn-RequestId": str(uuid.uuid4())} | headers, body


def _call_function(base: str, name: str, payload: bytes, timeout: float) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(
        invoke_url(base, name), data=payload, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return 200, {"X-Amz-Executed-Version": "$LATEST"}, r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        if e.code == 404:
            msg = json.dumps({"Type": "User", "Message": f"Function not found: {name}"}).encode()
            return 404, {"x-amzn-ErrorType": "ResourceNotFoundException"}, msg
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        if isinstance(doc, dict) and ("errorType" in doc or "errorMessage" in doc):
            return 200, {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"}, body
        err = {"errorType": "Runtime.Unknown", "errorMessage": body.decode("utf-8", "replace")[:1000] or f"HTTP {e.code}"}
        return 200, {"X-Amz-Function-Error": "Unhandled"}, json.dumps(err).encode()
    except (urllib.error.URLError, TimeoutError, OSError) as e:
        # What Lambda answers when it cannot run the function (500 ServiceException); SDKs and
        # Step Functions see `Lambda.ServiceException`.
        msg = json.dumps({"Type": "Service", "Message": f"Lambda runtime unreachable: {e}"}).encode()
        return 500, {"x-amzn-ErrorType": "ServiceException"}, msg


def function_timeouts(template: Path) -> dict[str, float]:
    """Each function's Timeout (seconds) from a SAM template: its own or Globals.Function's, keyed
    by the binary name (Metadata.BuildProperties.Binary, else the logical id without "Function" in
    kebab-case), as the local stack serves it."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda _loader, _suffix, _node: None)
    doc = yaml.load(template.read_text(), Loader=Loader) or {}
    default = ((doc.get("Globals") or {}).get("Function") or {}).get("Timeout", 3)
    out: dict[str, float] = {}
    for logical, res in (doc.get("Resources") or {}).items():
        if not isinstance(res, dict) or res.get("Type") != "AWS::Serverless::Function":
            continue
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        name = binary or re.sub(r"(?<!^)(?=[A-Z])", "-", logical.removesuffix("Function")).lower()
        out[name] = float((res.get("Properties") or {}).get("Timeout") or default)
    return out


def timed_out(name: str, seconds: float, form: str) -> tuple[int, dict[str, str], bytes]:
    """Lambda's answer for an invocation that ran past the function's Timeout: 200 + Unhandled.
    `form` "Sandbox.Timedout" (today's payload, with errorType) or "Lambda.Unknown" (the older
    payload without errorType, which Step Functions names Lambda.Unknown)."""
    rid = str(uuid.uuid4())
    if form == "Lambda.Unknown":
        ts = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        doc = {"errorMessage": f"{ts} {rid} Task timed out after {seconds:.2f} seconds"}
    else:
        doc = {"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {rid} Error: Task timed out after {seconds:.2f} seconds"}
    return 200, {"X-Amz-Function-Error": "Unhandled", "X-Amz-Executed-Version": "$LATEST"}, json.dumps(doc).encode()


def too_many_requests() -> tuple[int, dict[str, str], bytes]:
    """Lambda's throttling answer (429 TooManyRequestsException; Step Functions:
    Lambda.TooManyRequestsException)."""
    doc = {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded", "Type": "User", "message": "Rate Exceeded."}
    return 429, {"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": "1"}, json.dumps(doc).encode()


class Router:
    """WSGI middleware in front of moto's app."""

    def __init__(
        self,
        moto_app: Callable,
        *,
        lambda_url: str | None,
        routes: dict[str, str] | None = None,
        control: dict[str, Callable[[dict], Any]] | None = None,
        journal: Callable[[dict], None] | None = None,
        iam: Any = None,
    ) -> None:
        self.moto_app = moto_app
        self.lambda_url = lambda_url
        self.routes = dict(routes or {})
        self.control = control or {}
        self.invocations: deque[dict] = deque(maxlen=500)
        self._journal = journal
        # local.aws.iam.Iam: requests signed with a function's key are allowed or denied by its role
        self.iam = iam
        self._lock = threading.Lock()
        # Lambda limits (set_limits / POST /_local/lambda): each function's Timeout in seconds (None
        # or absent: not timed), how a timeout answers, how many next sync invokes answer 429.
        self.timeouts: dict[str, float] = {}
        self.timeout_error = "Sandbox.Timedout"
        self.throttles: dict[str, int] = {}
        # (runtime URL, function) pairs that answered once: the first invoke is the cold start
        # (cargo lambda watch may build and start the binary), like Lambda's Init phase not timed.
        self._warm: set[tuple[str, str]] = set()

    def set_limits(self, args: dict) -> dict:
        """{"timeouts": {fn: seconds|null}, "timeout_error": "Sandbox.Timedout"|"Lambda.Unknown",
        "throttle": {fn: count}}: what the next invokes of those functions meet."""
        for fn, secs in (args.get("timeouts") or {}).items():
            if secs is None:
                self.timeouts.pop(fn, None)
            elif float(secs) <= 0:
                raise ValueError(f"timeout of {fn} must be > 0")
            else:
                self.timeouts[fn] = float(secs)
        if "timeout_error" in args:
            if args["timeout_error"] not in ("Sandbox.Timedout", "Lambda.Unknown"):
                raise ValueError("timeout_error must be 'Sandbox.Timedout' or 'Lambda.Unknown'")
            self.timeout_error = args["timeout_error"]
        with self._lock:
            for fn, n in (args.get("throttle") or {}).items():
                if int(n) < 0:
                    raise ValueError(f"throttle count of {fn} must be >= 0")
                self.throttles[fn] = int(n)
            throttles = dict(self.throttles)
        return {"timeouts": self.timeouts, "timeout_error": self.timeout_error, "throttle": throttles}

    def target(self, name: str) -> str | None:
        return self.routes.get(name) or self.lambda_url

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path.startswith("/_local/"):
            return self._control(path, method, environ, start_response)
        if self.iam is not None:
            denied = self.iam.check(environ)
            if denied is not None:
                from local.aws.iam import wsgi_answer

                return wsgi_answer(denied, start_response)
        m = _INVOKE.match(path)
        if m and method == "POST":
            name = function_name(m.group("fn"))
            base = self.target(name)
            if base is not None:
                return self._invoke(name, base, environ, start_response)
        return self.moto_app(environ, start_response)

    def _read_body(self, environ: dict) -> bytes:
        try:
            n = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            n = 0
        return environ["wsgi.input"].read(n) if n > 0 else b""

    def _invoke(self, name: str, base: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        payload = self._read_body(environ) or b"{}"
        kind = environ.get("HTTP_X_AMZ_INVOCATION_TYPE", "RequestResponse")
        if kind == "DryRun":
            start_response("204 No Content", [])
            return [b""]
        if kind == "Event":
            threading.Thread(target=self._call, args=(name, base, payload, False), daemon=True).start()
            start_response("202 Accepted", [("Content-Length", "0")])
            return [b""]
        status, headers, body = self._call(name, base, payload)
        reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "Error")
        hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))] + list(headers.items())
        start_response(f"{status} {reason}", hdrs)
        return [body]

    def _call(self, name: str, base: str, payload: bytes, sync: bool = True) -> tuple[int, dict[str, str], bytes]:
        t0 = time.time()
        with self._lock:
            throttled = sync and self.throttles.get(name, 0) > 0
            if throttled:
                self.throttles[name] -= 1
        limit = self.timeouts.get(name) if (base, name) in self._warm else None
        if throttled:
            status, headers, body = too_many_requests()
            headers = {"x-amzn-RequestId": str(uuid.uuid4())} | headers
        elif limit is None:
            status, headers, body = call_function(base, name, payload)
        else:
            status, headers, body = call_function(base, name, payload, timeout=limit)
            # The runtime did not answer within the function's Timeout: Lambda stops the function
            # and answers Task timed out (here the local process keeps running, its answer is lost).
            if status == 500 and time.time() - t0 >= limit - 0.05:
                status, headers, body = timed_out(name, limit, self.timeout_error)
                headers = {"x-amzn-RequestId": str(uuid.uuid4())} | headers
        if status != 500 and not throttled:
            self._warm.add((base, name))
        rec = {
            "ts": t0,
            "function": name,
            "seconds": round(time.time() - t0, 3),
            "status": status,
            "function_error": headers.get("X-Amz-Function-Error"),
        }
        if rec["function_error"]:
            try:
                rec["error_type"] = json.loads(body).get("errorType")
            except (ValueError, AttributeError):
                pass
        with self._lock:
            self.invocations.append(rec)
        if self._journal:
            self._journal(rec)
        log.info("lambda %s -> %s%s (%.2fs)", name, status, f" {rec.get('error_type')}" if rec["function_error"] else "", rec["seconds"])
        return status, headers, body

    def _control(self, path: str, method: str, environ: dict, start_response: Callable) -> Iterable[bytes]:
        key = f"{method} {path.rstrip('/')}"
        handler = self.control.get(key)
        if key == "GET /_local/invocations":
            with self._lock:
                result: Any = list(self.invocations)
            code = "200 OK"
        elif handler is None:
            result, code = {"error": f"no such control endpoint: {key}"}, "404 Not Found"
        else:
            body = self._read_body(environ)
            try:
                args = json.loads(body) if body else {}
                result, code = handler(args), "200 OK"
            except (ValueError, KeyError, TypeError) as e:
                result, code = {"error": str(e)}, "400 Bad Request"
            except Exception as e:  # noqa: BLE001 - reported to the caller
                log.exception("control %s failed", key)
                result, code = {"error": f"{type(e).__name__}: {e}"}, "500 Internal Server Error"
        data = json.dumps(result, default=str).encode()
        start_response(code, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]
