"""The real Lambda functions under `cargo lambda watch` (the Lambda runtime API emulator).

    LambdaWatch(supervisor, env={...}).start(prebuild=["detector"])
    start_per_function(supervisor, {"detector": env1, "assess": env2}, state_dir=...)   # one watch each

runs `.venv/bin/cargo-lambda lambda watch -A 127.0.0.1 -P <port>` from the repo root. Functions are
addressed by bare binary name at http://127.0.0.1:<port>/2015-03-31/functions/<name>/invocations
(the emulator's router translates ARNs). Every function process gets `env` (AWS_ENDPOINT_URL of the
emulator, region, credentials, and whatever the functions need) through --env-file. watch gives every
function it serves the same environment, so the local stack runs one watch per function, each with
the credentials of that function's role (start_per_function; local.stack.Stack.start_lambdas).
`prebuild` compiles the binaries first (`cargo build --bin ...`, same profile, target dir and feature
resolution as watch's `cargo run --bin`) so the first invocation does not wait for a compile.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from local.kafka.cluster import REPO_ROOT, free_port
from local.procs import ManagedProcess, Supervisor

log = logging.getLogger(__name__)


def cargo_lambda() -> list[str]:
    """The cargo-lambda command: the venv's (pip package) first, else one on PATH."""
    venv = REPO_ROOT / ".venv" / "bin" / "cargo-lambda"
    if venv.exists():
        return [str(venv), "lambda"]
    found = shutil.which("cargo-lambda")
    if found:
        return [found, "lambda"]
    raise RuntimeError("cargo-lambda not found: run scripts/setup.sh python (it is in tools/requirements.txt)")


def aws_env(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """What every SDK client needs to talk to the emulator (AWS_ENDPOINT_URL applies to all services)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _env_value(v: str) -> str:
    """A value for --env-file (dotenv): single-quoted (literal) unless plainly safe; a session token's
    `+/=` made cargo lambda refuse the file unquoted."""
    if re.fullmatch(r"[A-Za-z0-9_.,:/@-]*", v):
        return v
    if "'" in v or "\n" in v:
        raise ValueError(f"cannot write {v!r} to a dotenv file")
    return f"'{v}'"


RUNNER = REPO_ROOT / "local" / "runtime_deadline.py"


@functools.cache
def host_triple() -> str:
    out = subprocess.run(["rustc", "-vV"], capture_output=True, text=True, check=True).stdout
    return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("host:"))


@functools.cache
def _timeouts() -> dict[str, float]:
    from local.aws.router import function_timeouts

    return function_timeouts(REPO_ROOT / "template.yaml")


def function_timeout(name: str) -> float | None:
    """template.yaml's Timeout of a function (seconds), None for a name the template lacks."""
    return _timeouts().get(name)


class LambdaWatch:
    def __init__(
        self,
        supervisor: Supervisor,
        *,
        env: Mapping[str, str],
        state_dir: Path,
        port: int | None = None,
        target_dir: Path | None = None,
        release: bool = False,
        name: str | None = None,
    ) -> None:
        self.supervisor = supervisor
        self.name = name
        self.env = dict(env)
        self.state_dir = Path(state_dir)
        self.port = port or free_port()
        self.target_dir = target_dir
        self.release = release
        self.proc: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _cargo_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("CARGO_TERM_COLOR", "never")
        if self.target_dir is not None:
            env["CARGO_TARGET_DIR"] = str(self.target_dir)
        venv_bin = REPO_ROOT / ".venv" / "bin"
        env["PATH"] = f"{venv_bin}:{env.get('PATH', '')}"
        timeout = function_timeout(self.name) if self.name else None
        if timeout is not None:
            # watch runs the function with `cargo run`, so cargo's runner puts the Runtime API
            # front of local/runtime_deadline.py between them: Lambda's real deadline per invocation.
            env[f"CARGO_TARGET_{host_triple().upper().replace('-', '_')}_RUNNER"] = f"{sys.executable} {RUNNER}"
            env["LOCAL_LAMBDA_TIMEOUT_SECONDS"] = f"{timeout:g}"
        return env

    def prebuild(self, functions: Sequence[str], timeout: float = 1800) -> None:
        """Compile the functions' binaries so watch starts them without compiling."""
        if not functions:
            return
        # `--bin` only, no `-p`: watch starts each function with `cargo run --bin <fn>` from the
        # workspace root, whose features are resolved over the whole workspace; `-p` would resolve
        # them over the named packages only and watch would compile everything again.
        argv = ["cargo", "build", "--quiet"] + (["--release"] if self.release else [])
        for f in functions:
            argv += ["--bin", f]
        log_path = self.state_dir / "lambda-build.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        with open(log_path, "ab") as out:
            res = subprocess.run(argv, cwd=REPO_ROOT, env=self._cargo_env(), stdout=out, stderr=out, timeout=timeout)
        if res.returncode != 0:
            tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
            raise RuntimeError(f"cargo build of {', '.join(functions)} failed:\n{tail}")
        log.info("built %s in %.0fs", ", ".join(functions), time.monotonic() - t0)

    def start(self, prebuild: Sequence[str] = (), timeout: float = 120) -> LambdaWatch:
        self.prebuild(prebuild)
        self.spawn()
        return self.wait_serving(timeout)

    def spawn(self) -> None:
        """Start `cargo lambda watch` with this watch's env file; `wait_serving` waits for its port."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        suffix = f"-{self.name}" if self.name else ""
        env_file = self.state_dir / f"lambda{suffix}.env"
        env_file.write_text("".join(f"{k}={_env_value(v)}\n" for k, v in self.env.items()))
        # --ignore-changes: the functions are built once; without it watch recompiles and restarts
        # them on every file written anywhere in the repo (logs, .git, other work), dropping invokes.
        argv = cargo_lambda() + ["watch", "--ignore-changes", "-A", "127.0.0.1", "-P", str(self.port),
                                 "--env-file", str(env_file)]
        if self.release:
            argv.append("--release")
        self.proc = self.supervisor.spawn(
            f"cargo-lambda-watch{suffix}",
            argv,
            log_path=self.state_dir / f"cargo-lambda-watch{suffix}.log",
            env=self._cargo_env() | self.env,
            cwd=REPO_ROOT,
            stop_timeout=5,
        )

    def wait_serving(self, timeout: float = 120) -> LambdaWatch:
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"cargo lambda watch exited {self.proc.returncode}:\n{self.proc.tail(20)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    log.info("cargo lambda watch%s serving at %s", f" ({self.name})" if self.name else "", self.url)
                    return self
            except OSError:
                time.sleep(0.3)
        raise TimeoutError(f"cargo lambda watch not serving on {self.url} after {timeout:.0f}s:\n{self.proc.tail(20)}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(5)
            self.supervisor.forget(self.proc)
            self.proc = None


def start_per_function(
    supervisor: Supervisor,
    envs: Mapping[str, Mapping[str, str]],
    *,
    state_dir: Path,
    ports: Mapping[str, int] | None = None,
    target_dir: Path | None = None,
    prebuild: bool = True,
    timeout: float = 120,
) -> dict[str, LambdaWatch]:
    """One `cargo lambda watch` per function, each with its own environment (its role's credentials:
    watch gives every function it serves the same environment) and port; one `cargo build` first.
    The watches start together; returns {function: watch} once all serve."""
    ports = ports or {}
    watches = {fn: LambdaWatch(supervisor, env=env, state_dir=state_dir, port=ports.get(fn), target_dir=target_dir,
                               name=fn) for fn, env in envs.items()}
    if not watches:
        return watches
    if prebuild:
        next(iter(watches.values())).prebuild(list(watches))
    try:
        for w in watches.values():
            w.spawn()
        for w in watches.values():
            w.wait_serving(timeout)
    except BaseException:
        stop_all(list(watches.values()))
        raise
    return watches


def stop_all(watches: Sequence[LambdaWatch]) -> None:
    """Stop several watches at once: SIGTERM to all first, so their shutdowns overlap."""
    for w in watches:
        if w.proc is not None and w.proc.alive():
            w.proc.signal_group(signal.SIGTERM)
    for w in watches:
        w.stop()
