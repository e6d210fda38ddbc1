"""The demo's load, with a ledger of every acknowledged record, and the read-back that proves
nothing was lost (local/ledger/Ledger.java, compiled once like the metadata probe).

How "nothing lost" is known: the producer's delivery callback is Kafka telling it that a record is
stored (acks=all); the ledger keeps, per partition, how many records were acknowledged and the sum
of mix(offset, CRC-32 of the value) over exactly those. After the run a consumer reads every
partition from its first to its end offset and computes the same two numbers over what the log
holds. Equal count and checksum in every partition: every acknowledged record is there, at the offset
the producer was given, with the bytes it sent, and nothing else is (an idempotent producer writes
no duplicates; a send that failed would show as an extra record and is counted apart).

    load = LedgerProducer(cluster, supervisor, topic="stress-test", records_per_s=215, producers=4,
                          state_dir=dir)
    ...; load.progress[-1].mb_per_s
    ledger = load.stop()                       # {"acked": N, "partitions": {"0": {...}}, ...}
    result = verify(cluster, "stress-test", dir / "ledger.json")   # ReadBack
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from local.kafka.cluster import KafkaTools
from local.loadgen import _PROGRESS, Progress
from local.procs import ManagedProcess, Supervisor

SOURCE = Path(__file__).resolve().parent / "ledger" / "Ledger.java"
LOG4J = Path(__file__).resolve().parent / "kafka" / "config" / "tools-log4j2.properties"


def compile_ledger(libs: Path, cache_dir: Path) -> Path:
    """Compile Ledger.java once per source version; returns the classes directory."""
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    out = cache_dir / f"ledger-{digest}"
    if (out / "Ledger.class").exists():
        return out
    tmp = cache_dir / f"ledger-{digest}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["javac", "-nowarn", "-d", str(tmp), "-cp", f"{libs}/*", str(SOURCE)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"javac Ledger.java failed: {res.stderr.strip()}")
    tmp.rename(out)
    return out


def _java(cluster: KafkaTools, cache_dir: Path, heap_mb: int, *args: str) -> list[str]:
    classes = compile_ledger(cluster.libs, cache_dir)
    return cluster.wrap([
        "java", f"-Xmx{heap_mb}m", "-XX:+UseSerialGC", "-XX:-UsePerfData",
        f"-Dlog4j2.configurationFile={LOG4J}", "-cp", f"{cluster.libs}/*:{classes}", "Ledger", *args,
    ])


class LedgerProducer:
    """A running load generator; `progress` holds its perf-test-style lines as they come."""

    def __init__(self, cluster: KafkaTools, supervisor: Supervisor, *, topic: str, records_per_s: float,
                 state_dir: Path, producers: int = 4, record_size: int = 10240, cache_dir: Path | None = None,
                 name: str = "ledger-producer") -> None:
        self.ledger_path = state_dir / "ledger.json"
        self.ledger_path.unlink(missing_ok=True)
        argv = _java(cluster, cache_dir or state_dir, 384, "produce", cluster.bootstrap_servers, topic,
                     str(records_per_s), str(producers), str(record_size), str(self.ledger_path))
        self.progress: list[Progress] = []
        self.started = time.monotonic()
        self.proc: ManagedProcess = supervisor.spawn(name, argv, log_path=state_dir / f"{name}.log",
                                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stop_timeout=10)
        self._reader = threading.Thread(target=self._read, name=f"{name}-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.popen.stdout is not None
        for raw in self.proc.popen.stdout:
            line = raw.decode(errors="replace").strip()
            m = _PROGRESS.match(line)
            if m:
                self.progress.append(Progress(
                    ts=time.monotonic(), records=int(m.group(1)), records_per_s=float(m.group(2)),
                    mb_per_s=float(m.group(3)), avg_latency_ms=float(m.group(4)),
                    max_latency_ms=float(m.group(5)), final="th" in line.split("latency,")[-1],
                ))

    def alive(self) -> bool:
        return self.proc.alive()

    def stop(self, timeout: float = 90) -> dict:
        """Stop sending, wait for every record in flight, and return the ledger."""
        stdin = self.proc.popen.stdin
        if stdin is not None and self.proc.alive():
            try:
                stdin.write(b"stop\n")
                stdin.close()
            except OSError:
                pass
        try:
            self.proc.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.stop(5)
            raise RuntimeError(f"the producer did not drain within {timeout:.0f} s: {self.proc.tail(10)}") from None
        self._reader.join(5)
        if not self.ledger_path.exists():
            raise RuntimeError(f"the producer exited {self.proc.returncode} without a ledger: {self.proc.tail(10)}")
        return json.loads(self.ledger_path.read_text())


@dataclass
class ReadBack:
    """The ledger against the log, partition by partition."""

    acked: int
    read: int
    failed_sends: int
    partitions: dict[int, dict] = field(default_factory=dict)  # p -> acked/read count+checksum, ok

    @property
    def ok(self) -> bool:
        return self.failed_sends == 0 and self.acked == self.read and all(p["ok"] for p in self.partitions.values())

    def mismatches(self) -> list[str]:
        return [f"partition {p}: acked {v['acked_count']} ({v['acked_checksum']}), read {v['read_count']} "
                f"({v['read_checksum']})" for p, v in sorted(self.partitions.items()) if not v["ok"]]


def verify(cluster: KafkaTools, topic: str, ledger_path: Path, cache_dir: Path, timeout: float = 400) -> ReadBack:
    """Read the whole topic back and compare it with the ledger, per partition."""
    res = subprocess.run(_java(cluster, cache_dir, 256, "verify", cluster.bootstrap_servers, topic, str(ledger_path)),
                         capture_output=True, text=True, timeout=timeout, env=cluster.tool_env(netns=False))
    lines = [x for x in res.stdout.splitlines() if x.startswith("{")]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"read-back failed (exit {res.returncode}): {res.stderr.strip()[-800:]}")
    doc = json.loads(lines[-1])
    ledger, read = doc["ledger"], doc["partitions"]
    parts: dict[int, dict] = {}
    for p in sorted({int(k) for k in ledger["partitions"]} | {int(k) for k in read}):
        a = ledger["partitions"].get(str(p), {"count": 0, "checksum": "0"})
        r = read.get(str(p), {"count": 0, "checksum": "0"})
        parts[p] = {"acked_count": a["count"], "read_count": r["count"], "acked_checksum": a["checksum"],
                    "read_checksum": r["checksum"], "ok": a["count"] == r["count"] and a["checksum"] == r["checksum"]}
    return ReadBack(acked=ledger["acked"], read=doc["records_read"], failed_sends=ledger["failed"], partitions=parts)
