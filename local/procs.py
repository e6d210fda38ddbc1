"""Child processes of the local stack that never outlive it.

Every child runs in its own process group (so stopping it also stops what it started, e.g. the
function processes of `cargo lambda watch`) and under `setpriv --pdeathsig KILL`, so the kernel kills
it even when this Python process dies without running any cleanup (SIGKILL, OOM). The parent-death
signal fires when the *thread* that forked the child exits, hence all spawns go through one
long-lived spawner thread. Each child is also recorded in a pid file in the state directory, which
`python -m local.stack down` uses to clean up after a crash of the whole tree.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat), or None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    return int(rest[19])


def pid_alive(pid: int, start_ticks: int | None = None) -> bool:
    """True if `pid` runs and (when given) is the same process that started at `start_ticks`."""
    ticks = _start_ticks(pid)
    if ticks is None:
        return False
    return start_ticks is None or ticks == start_ticks


@dataclass
class ManagedProcess:
    """One child process (the leader of its own process group)."""

    name: str
    popen: subprocess.Popen
    log_path: Path | None
    pid_file: Path | None

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM the process group, SIGKILL it after `timeout` seconds; returns the exit code."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs, killing it", self.name, timeout)
        # Always sweep the group: grandchildren may outlive a leader that exited on SIGTERM.
        self.signal_group(signal.SIGKILL)
        try:
            self.popen.wait(5)
        except subprocess.TimeoutExpired:
            log.error("%s (pid %d) survived SIGKILL", self.name, self.pid)
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
        return self.popen.returncode

    def tail(self, lines: int = 20) -> str:
        """The last lines of the process's log file, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        with open(self.log_path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.splitlines()[-lines:])


class _Spawner:
    """The one long-lived thread that forks children, so their parent-death signal stays armed."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Callable[[], subprocess.Popen], Future]] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="local-spawner", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            fn, fut = self._queue.get()
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn())
                except BaseException as e:  # noqa: BLE001 - handed to the caller
                    fut.set_exception(e)

    def submit(self, fn: Callable[[], subprocess.Popen]) -> subprocess.Popen:
        if threading.current_thread() is self._thread:
            return fn()
        fut: Future = Future()
        self._queue.put((fn, fut))
        return fut.result()


_spawner: _Spawner | None = None
_spawner_lock = threading.Lock()
_HAVE_SETPRIV = shutil.which("setpriv") is not None


def _get_spawner() -> _Spawner:
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = _Spawner()
        return _spawner


class Supervisor:
    """Owns a set of child processes and cleanup callbacks; `close()` undoes all of it in reverse.

    Closed automatically at interpreter exit and on SIGTERM/SIGHUP (see `install_signal_handlers`).
    """

    def __init__(self, run_dir: Path | None = None) -> None:
        self.run_dir = run_dir
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # (kind, payload): "proc" -> ManagedProcess, "fn" -> (name, callable)
        self._stack: list[tuple[str, object]] = []
        self._closed = False
        _live.add(self)

    def spawn(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path | None = None,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        stdin: int | None = subprocess.DEVNULL,
        stdout: int | None = None,
        stop_timeout: float = 10.0,
    ) -> ManagedProcess:
        """Start `argv` in a new process group; stdout+stderr go to `log_path` unless `stdout` is given."""
        if self._closed:
            raise RuntimeError(f"supervisor closed; cannot start {name}")
        argv = list(argv)
        if _HAVE_SETPRIV:
            argv = ["setpriv", "--pdeathsig", "KILL", "--", *argv]
        log_file = None
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child
        out = stdout if stdout is not None else (log_file or subprocess.DEVNULL)
        err = log_file if log_file is not None else subprocess.DEVNULL

        def fork() -> subprocess.Popen:
            return subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=out,
                stderr=err,
                env=dict(env) if env is not None else None,
                cwd=cwd,
                start_new_session=True,
            )

        try:
            popen = _get_spawner().submit(fork)
        finally:
            if log_file is not None:
                log_file.close()
        pid_file = None
        if self.run_dir is not None:
            pid_file = self.run_dir / f"{name}.pid"
            pid_file.write_text(
                json.dumps({"name": name, "pid": popen.pid, "start_ticks": _start_ticks(popen.pid)})
            )
        proc = ManagedProcess(name=name, popen=popen, log_path=log_path, pid_file=pid_file)
        proc.stop_timeout = stop_timeout  # type: ignore[attr-defined]
        with self._lock:
            self._stack.append(("proc", proc))
        log.debug("started %s (pid %d): %s", name, popen.pid, " ".join(argv))
        return proc

    def add_cleanup(self, name: str, fn: Callable[[], object]) -> None:
        """Run `fn` at close, in reverse order of registration with the processes."""
        with self._lock:
            self._stack.append(("fn", (name, fn)))

    def forget(self, proc: ManagedProcess) -> None:
        """Stop tracking a process that was stopped explicitly."""
        with self._lock:
            self._stack = [e for e in self._stack if e[1] is not proc]

    def close(self) -> None:
        """Stop every process and run every cleanup, newest first; never raises."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            items = list(reversed(self._stack))
            self._stack.clear()
        for kind, payload in items:
            try:
                if kind == "proc":
                    proc = payload  # type: ignore[assignment]
                    proc.stop(getattr(proc, "stop_timeout", 10.0))  # type: ignore[union-attr]
                else:
                    name, fn = payload  # type: ignore[misc]
                    fn()
            except Exception:  # noqa: BLE001 - cleanup must go on
                log.exception("cleanup step failed")

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_live: weakref.WeakSet[Supervisor] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for sup in list(_live):
        sup.close()


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into SystemExit in the main thread, so `with` blocks unwind and every
    supervisor closes. Call once from a program's main (pytest and the CLIs do)."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handler(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) in (signal.SIG_DFL, None):
            signal.signal(sig, handler)


def kill_recorded(run_dir: Path, timeout: float = 10.0) -> list[str]:
    """Stop every process recorded in `run_dir` by a (possibly dead) supervisor; returns their names."""
    stopped = []
    files = sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []
    records = []
    for f in files:
        try:
            rec = json.loads(f.read_text())
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
            continue
        if pid_alive(rec["pid"], rec.get("start_ticks")):
            try:
                os.killpg(rec["pid"], signal.SIGTERM)
                records.append((f, rec))
                stopped.append(rec["name"])
            except ProcessLookupError:
                f.unlink(missing_ok=True)
        else:
            f.unlink(missing_ok=True)
    deadline = time.monotonic() + timeout
    for f, rec in records:
        while pid_alive(rec["pid"], rec.get("start_ticks")) and time.monotonic() < deadline:
            time.sleep(0.2)
        try:
            os.killpg(rec["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
        f.unlink(missing_ok=True)
    return stopped
