"""Lambda size and cold-start benchmark (BENCHMARKS.md, section "Lambda size and cold start").

For every function of template.yaml (and a baseline echo Lambda built with the same runtime and
release profile, tests/infra/bench/baseline):
- size: the arm64 `bootstrap` from `cargo lambda build --release --arm64` (what `sam build` ships);
- init: the x86_64 build of the same binary started against a local Runtime API stub - wall time
  from process start to its first `GET /2018-06-01/runtime/invocation/next`, plus the CPU time and
  peak RSS the process used to get there; median over --runs runs, functions interleaved so noise
  spreads evenly. The environment is the one template.yaml gives the function (sample values) with
  128 MB as AWS_LAMBDA_FUNCTION_MEMORY_SIZE; every AWS call made at init (the approval functions
  read their secret) is answered by the same stub through AWS_ENDPOINT_URL.
Init times are reported as ratios to the baseline measured in the same run (2 shared, noisy cores).

Usage (make bench):
  .venv/bin/python tests/infra/bench_lambda.py [--runs 21] [--no-build] [--only a,b] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import iac_tools  # noqa: E402

ROOT = iac_tools.ROOT
BASELINE_DIR = ROOT / "tests" / "infra" / "bench" / "baseline"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
ARM_DIR = TARGET / "lambda"  # cargo lambda's default --lambda-dir, shared with `make build` and CI
X86_DIR = TARGET / "lambda-x86_64"
BASELINE_TARGET = TARGET / "bench-baseline"
BASELINE = "baseline"
SECTION = "## Lambda size and cold start"
SAMPLE_SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

# Sample values for what template.yaml passes by reference to a resource of the stack.
_SAMPLE_BY_TYPE = {
    "AWS::Serverless::StateMachine": "arn:aws:states:us-east-1:123456789012:stateMachine:msk-autoheal-remediation",
    "AWS::SNS::Topic": "arn:aws:sns:us-east-1:123456789012:msk-autoheal-NotificationTopic",
    "AWS::SecretsManager::Secret": "arn:aws:secretsmanager:us-east-1:123456789012:secret:ApprovalSecret-AbCdEf",
    "AWS::S3::Bucket": "msk-autoheal-planbucket-0123456789ab",
    "AWS::Serverless::Function": "arn:aws:lambda:us-east-1:123456789012:function:msk-autoheal-fn",
}


# ---------------------------------------------------------------- environment per function
def _resolve(value: Any, tpl: dict[str, Any]) -> str:
    if isinstance(value, (str, int, float)):
        return str(value)
    if "Ref" in value:
        name = value["Ref"]
        if name in tpl.get("Parameters", {}):
            return str(iac_tools.SAMPLE_PARAMETERS.get(name, tpl["Parameters"][name].get("Default", "")))
        return _SAMPLE_BY_TYPE[tpl["Resources"][name]["Type"]]
    if "Fn::GetAtt" in value:
        lid, attr = value["Fn::GetAtt"]
        if attr == "FunctionUrl":
            return "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/"
        return _SAMPLE_BY_TYPE[tpl["Resources"].get(lid, {"Type": "AWS::Serverless::Function"})["Type"]]
    raise ValueError(f"cannot resolve {value!r}")


def function_envs() -> dict[str, dict[str, str]]:
    """binary -> environment variables template.yaml sets for it, with sample values."""
    tpl = iac_tools.template()
    out = {}
    for fn in iac_tools.serverless_functions(tpl).values():
        variables = ((fn["Properties"].get("Environment") or {}).get("Variables")) or {}
        out[iac_tools.binary_of(fn)] = {k: _resolve(v, tpl) for k, v in variables.items()}
    return out


# ---------------------------------------------------------------- Runtime API stub
class _Stub(BaseHTTPRequestHandler):
    """Answers the Lambda Runtime API's /next (records when it is first asked, then holds) and any
    AWS API call made during init (Secrets Manager GetSecretValue; others get an error)."""

    server: "_StubServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/2018-06-01/runtime/invocation/next"):
            if self.server.first_poll_ns is None:
                self.server.first_poll_ns = time.perf_counter_ns()
                self.server.polled.set()
            self.server.release.wait(30)  # hold the long poll until the process is killed
            return
        self._reply(404, {"message": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if "/runtime/init/error" in self.path:
            self.server.init_error = body.decode("utf-8", "replace")
            self.server.polled.set()
            self._reply(202, {})
            return
        target = self.headers.get("X-Amz-Target", "")
        if target == "secretsmanager.GetSecretValue":
            self._reply(200, {"ARN": _SAMPLE_BY_TYPE["AWS::SecretsManager::Secret"], "Name": "ApprovalSecret",
                              "SecretString": SAMPLE_SECRET, "VersionId": "v1", "CreatedDate": 1764000000})
            return
        self.server.unexpected.append(target or self.path)
        self._reply(400, {"__type": "ValidationException", "message": f"bench stub: unexpected {target}"})

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Stub)
        self.first_poll_ns: int | None = None
        self.init_error: str | None = None
        self.unexpected: list[str] = []
        self.polled = threading.Event()
        self.release = threading.Event()


def _vm_hwm_kib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return float("nan")


def measure_once(binary: Path, env_extra: dict[str, str]) -> dict[str, float]:
    """One cold start: ms to the first /next, CPU ms and peak RSS (MiB) used until then."""
    server = _StubServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address
    env = {
        "PATH": "/usr/bin:/bin",
        "AWS_LAMBDA_RUNTIME_API": f"{host}:{port}",
        "AWS_LAMBDA_FUNCTION_NAME": binary.parent.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{binary.parent.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIABENCHBENCHBENCH0",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_EC2_METADATA_DISABLED": "true",
        **env_extra,
    }
    try:
        t0 = time.perf_counter_ns()
        proc = subprocess.Popen([str(binary)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if not server.polled.wait(30):
            proc.kill()
            raise RuntimeError(f"{binary}: no /next poll within 30 s")
        t1 = server.first_poll_ns
        # Peak RSS of the program itself (VmHWM restarts at exec; ru_maxrss would count the forked Python).
        rss_kib = _vm_hwm_kib(proc.pid)
        try:
            proc.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, _status, usage = os.wait4(proc.pid, 0)
        proc.returncode = 0
        stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
        if server.init_error is not None or t1 is None:
            raise RuntimeError(f"{binary}: init failed: {server.init_error}\n{stderr[-2000:]}")
        if server.unexpected:
            raise RuntimeError(f"{binary}: unexpected AWS calls at init: {server.unexpected}")
        return {"init_ms": (t1 - t0) / 1e6, "cpu_ms": (usage.ru_utime + usage.ru_stime) * 1000,
                "rss_mib": rss_kib / 1024}
    finally:
        server.release.set()
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------- builds
def cargo_lambda(*args: str, cwd: Path = ROOT, target_dir: Path | None = None) -> None:
    env = iac_tools.tool_env()
    if target_dir:
        env["CARGO_TARGET_DIR"] = str(target_dir)
    cmd = ["cargo", "lambda", "build", "--release", *args]
    print(f"$ {' '.join(cmd)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    subprocess.run(cmd, cwd=cwd, env=env, check=True)
    print(f"  ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)


def build(functions: list[str]) -> None:
    pkgs = [a for f in functions for a in ("-p", f)]
    # One invocation per architecture for all functions, as CI does (shared target/).
    cargo_lambda("--arm64", *pkgs)
    cargo_lambda("--x86-64", "--lambda-dir", str(X86_DIR), *pkgs)
    cargo_lambda("--arm64", "--lambda-dir", str(BASELINE_TARGET / "lambda"), cwd=BASELINE_DIR,
                 target_dir=BASELINE_TARGET)
    cargo_lambda("--x86-64", "--lambda-dir", str(BASELINE_TARGET / "lambda-x86_64"), cwd=BASELINE_DIR,
                 target_dir=BASELINE_TARGET)


def binaries(functions: list[str]) -> dict[str, tuple[Path, Path]]:
    """name -> (arm64 bootstrap, x86_64 bootstrap)"""
    out = {BASELINE: (BASELINE_TARGET / "lambda" / "bench-baseline" / "bootstrap",
                      BASELINE_TARGET / "lambda-x86_64" / "bench-baseline" / "bootstrap")}
    for f in functions:
        out[f] = (ARM_DIR / f / "bootstrap", X86_DIR / f / "bootstrap")
    # An arm64 build may be missing (size reported as not built); the x86_64 one is what runs.
    missing = [str(x86) for _arm, x86 in out.values() if not x86.exists()]
    if missing:
        raise SystemExit("bench_lambda: missing builds (run without --no-build): " + ", ".join(missing))
    return out


# ---------------------------------------------------------------- report
PUBLISHED = [
    "tartsm1/lambda_speed_test, README (GitHub, 2023-12): the aws-lambda-rust-runtime `basic-lambda` example, "
    "Init Duration 22.29 ms, 13 MB max memory used.",
    "codetalkio/patterns-serverless-rust-minimal, `benchmark/response-times.md` (GitHub): a minimal Rust Lambda "
    "at 128 MB, X-Ray initialization 23.4-27.1 ms on cold starts.",
    "fulgurion.com, \"Rust on AWS Lambda: cold start\": arm64, lambda_http + axum, fat LTO + strip, 885.7 kB "
    "package, Init Duration 18.45-18.91 ms at 512 MB.",
    "Illya Yalovoy, \"Four Million Lambda Invokes Across Python, Java, Rust, and Go\" (Medium): echo handler, "
    "30 forced cold starts, Rust median 16.26 ms (Go 53.25, Python 76.30, Java 367.76).",
]


def markdown(rows: dict[str, dict[str, float]], runs: int, machine: str, missing: list[str]) -> str:
    base = rows[BASELINE]
    lines = [
        SECTION,
        "",
        "**Question.** Are the Lambdas small and quick to start (aim: every function under 5 MB and under 20 ms",
        "init at 128 MB), in line with published Rust-on-Lambda figures?",
        "",
        "**Setup.** `make bench` runs `.venv/bin/python tests/infra/bench_lambda.py --write BENCHMARKS.md`",
        f"({runs} runs). Size: the arm64 `bootstrap` that `sam build` ships (`cargo lambda build --release --arm64`:",
        "strip, fat LTO, 1 codegen unit, panic=abort). Init: the x86_64 build of the same code",
        "(`--x86-64 --lambda-dir target/lambda-x86_64`), started against a local Runtime API stub, from process",
        "start to its first `GET /2018-06-01/runtime/invocation/next`; environment as template.yaml gives the",
        "function (sample values), `AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128`, JSON logs; AWS calls made at init are",
        "answered by the stub. CPU and peak RSS are the process's own (`wait4`, `VmHWM`) up to that poll.",
        "*Baseline* = lambda_runtime's echo with the same runtime, tracing set-up and profile",
        "(`tests/infra/bench/baseline`), measured interleaved with the functions in the same run; medians.",
        "",
        f"**Machine.** {machine}; other sessions were building and running Kafka at the same time, so absolute",
        "times move; read the ratios. A local start has no Firecracker sandbox and no network: Lambda's",
        "Init Duration adds its own few milliseconds on top of these.",
        "",
        "| function | arm64 size (MB) | init (ms) | init vs baseline | CPU to first poll (ms) | peak RSS (MiB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in rows.items():
        ratio = "1.00×" if name == BASELINE else f"{r['init_ms'] / base['init_ms']:.2f}×"
        label = "*baseline* (echo)" if name == BASELINE else f"`{name}`"
        size = "not built" if r["size_mb"] != r["size_mb"] else f"{r['size_mb']:.2f}"
        lines.append(f"| {label} | {size} | {r['init_ms']:.1f} | {ratio} | {r['cpu_ms']:.1f} | "
                     f"{r['rss_mib']:.1f} |")
    if missing:
        lines += ["", f"Not in this run: {', '.join(f'`{m}`' for m in missing)}."]
    lines += ["", "**Published figures** (Lambda's own Init Duration, real AWS):", ""]
    lines += [f"- {p}" for p in PUBLISHED]
    return "\n".join(lines) + "\n"


def write_section(path: Path, section: str) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(SECTION))
        tail = text[end + 1:] if end >= 0 else ""
        text = text[:start] + section + ("\n" + tail if tail else "")
    path.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--no-build", action="store_true", help="use the existing builds under target/")
    ap.add_argument("--write", type=Path, help="replace the section in this Markdown file (BENCHMARKS.md)")
    ap.add_argument("--only", help="comma-separated functions to measure (default: every function of template.yaml)")
    args = ap.parse_args()
    if args.runs < 3:
        print("bench_lambda: --runs must be at least 3", file=sys.stderr)
        return 2

    envs = function_envs()
    functions = sorted(envs)
    if args.only:
        wanted = [f.strip() for f in args.only.split(",") if f.strip()]
        unknown = sorted(set(wanted) - set(functions))
        if unknown:
            print(f"bench_lambda: --only names functions template.yaml does not define: {', '.join(unknown)}",
                  file=sys.stderr)
            return 2
        functions = wanted
    if not args.no_build:
        build(functions)
    bins = binaries(functions)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in bins}
    for _ in range(args.runs):
        for name, (_arm, x86) in bins.items():  # interleaved: noise spreads over every function
            samples[name].append(measure_once(x86, envs.get(name, {})))
    rows = {}
    for name, (arm, _x86) in bins.items():
        rows[name] = {k: statistics.median(s[k] for s in samples[name]) for k in ("init_ms", "cpu_ms", "rss_mib")}
        rows[name]["size_mb"] = arm.stat().st_size / 1e6 if arm.exists() else float("nan")
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), "unknown CPU")
    missing = sorted(set(envs) - set(functions))
    section = markdown(rows, args.runs, f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                       f"{os.cpu_count()} shared cores ({cpu_model}), load average {os.getloadavg()[0]:.0f}", missing)
    print(section)
    if args.write:
        write_section(args.write, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
