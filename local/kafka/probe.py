"""The metadata probe: one long-lived JVM (MetadataProbe.java, Kafka Admin API) sampling the cluster.

Why not `kafka-topics.sh --describe` per sample: each call starts a JVM, about 1.5 s of CPU on this
machine (see local/README.md); the probe costs that once, then a few milliseconds per sample.
Why not a Python Kafka client: an extra dependency whose protocol support lags Kafka 4.x; the probe
uses the very client jars of the cluster it watches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from local.kafka.metadata import Snapshot
from local.procs import ManagedProcess, Supervisor

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parent / "probe" / "MetadataProbe.java"


def compile_probe(libs: Path, cache_dir: Path) -> Path:
    """Compile MetadataProbe.java once per source version; returns the classes directory."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    out = cache_dir / f"probe-{digest}"
    if (out / "MetadataProbe.class").exists():
        return out
    tmp = cache_dir / f"probe-{digest}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["javac", "-nowarn", "-d", str(tmp), "-cp", f"{libs}/*", str(SOURCE)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise RuntimeError(f"javac MetadataProbe.java failed: {res.stderr.strip()}")
    tmp.rename(out)
    return out


class MetadataProbe:
    """Runs the probe JVM and keeps its latest snapshot; callbacks see every snapshot."""

    def __init__(
        self,
        supervisor: Supervisor,
        *,
        libs: Path,
        cache_dir: Path,
        bootstrap: str,
        interval_s: float,
        log_path: Path,
        wrap: Callable[[Sequence[str]], list[str]] = list,
    ) -> None:
        classes = compile_probe(libs, cache_dir)
        argv = wrap(
            [
                "java",
                "-Xmx64m",
                "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1",
                "-XX:-UsePerfData",
                f"-Dlog4j2.configurationFile={Path(__file__).resolve().parent / 'config' / 'tools-log4j2.properties'}",
                "-cp",
                f"{libs}/*:{classes}",
                "MetadataProbe",
                bootstrap,
                str(int(interval_s * 1000)),
            ]
        )
        self._cond = threading.Condition()
        self._latest: Snapshot | None = None
        self._seq = 0
        self._callbacks: list[Callable[[Snapshot], None]] = []
        self.proc: ManagedProcess = supervisor.spawn(
            "metadata-probe",
            argv,
            log_path=log_path,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stop_timeout=3,
        )
        self._reader = threading.Thread(target=self._read, name="metadata-probe-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.popen.stdout is not None
        for raw in self.proc.popen.stdout:
            try:
                snap = Snapshot.from_json(json.loads(raw))
            except (ValueError, KeyError) as e:
                log.warning("unreadable probe line %r: %s", raw[:200], e)
                continue
            with self._cond:
                self._latest = snap
                self._seq += 1
                callbacks = list(self._callbacks)
                self._cond.notify_all()
            for cb in callbacks:
                try:
                    cb(snap)
                except Exception:  # noqa: BLE001 - a bad subscriber must not stop the probe
                    log.exception("probe subscriber failed")
        with self._cond:
            self._cond.notify_all()

    def subscribe(self, callback: Callable[[Snapshot], None]) -> None:
        with self._cond:
            self._callbacks.append(callback)

    def latest(self) -> Snapshot | None:
        with self._cond:
            return self._latest

    def next(self, timeout: float = 10.0) -> Snapshot:
        """The next snapshot taken after this call (so it reflects anything done before it)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            seq = self._seq
            while self._seq == seq:
                left = deadline - time.monotonic()
                if left <= 0 or not self.proc.alive():
                    raise TimeoutError(self._why("no new metadata sample"))
                self._cond.wait(min(left, 1.0))
            assert self._latest is not None
            return self._latest

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float, what: str = "condition") -> Snapshot:
        """Block until a successful snapshot satisfies `predicate`; TimeoutError says what was last seen."""
        deadline = time.monotonic() + timeout
        last: Snapshot | None = None
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                seen = "nothing" if last is None else (last.error or f"brokers {last.broker_ids}, URP {last.urp_total}")
                raise TimeoutError(self._why(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {seen}"))
            try:
                last = self.next(min(left, 10.0))
            except TimeoutError:
                if not self.proc.alive():
                    raise
                continue
            if last.ok and predicate(last):
                return last

    def _why(self, msg: str) -> str:
        if not self.proc.alive():
            return f"{msg} (metadata probe exited {self.proc.returncode}: {self.proc.tail(5)})"
        return msg

    def stop(self) -> None:
        self.proc.stop(3)
