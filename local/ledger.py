"""The demo's load — the product's own Rust `stress-producer` — with a ledger of every acknowledged
record, and the read-back that proves nothing was lost (local/ledger/Ledger.java, compiled once like
the metadata probe).

How "nothing lost" is known: the producer's delivery report is Kafka telling it that a record is
stored (acks=all); `stress-producer --ack-ledger FILE` keeps, per partition, how many records were
acknowledged and the sum of mix(offset, CRC-32 of the value) over exactly those (stress-producer/
src/ledger.rs). After the run a consumer on the cluster's own Java client reads every partition
from its first to its end offset and computes the same two numbers over what the log holds. Equal
count and checksum in every partition: every acknowledged record is there, at the offset the
producer was given, with the bytes it sent, and nothing else is (an idempotent producer writes no
duplicates; a send that failed would show as an extra record and is counted apart).

    binary = build_stress_producer()                  # cargo, the tests' package set and target dir
    load = StressLoad(cluster, supervisor, binary=binary, topic="stress-test", records_per_s=215,
                      state_dir=dir)
    ...; load.progress[-1].mb_per_s                   # its perf-test interval lines, as they come
    ledger = load.stop()                              # Ctrl-C: drain, then {"acked": N, "partitions": {...}}
    result = verify(cluster, "stress-test", load.ledger_path, cache_dir)   # ReadBack
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from local.kafka.cluster import REPO_ROOT, KafkaTools
from local.loadgen import Progress
from local.procs import ManagedProcess, Supervisor

SOURCE = Path(__file__).resolve().parent / "ledger" / "Ledger.java"
LOG4J = Path(__file__).resolve().parent / "kafka" / "config" / "tools-log4j2.properties"
# What stress-producer --ack-ledger writes (stress-producer/src/ledger.rs FORMAT).
LEDGER_FORMAT = "msk-autoheal.ack-ledger/1"
# The package set the integration tests build (tests/integration/test_stress_producer.py,
# test_monitor.py): one feature resolution, so the demo, the end-to-end test and those tests share
# one binary in one target dir instead of relinking it for each other.
BUILD_COMMAND = ("cargo", "build", "-q", "--locked", "-p", "stress-producer", "-p", "autoheal")


def build_stress_producer(target_dir: Path | None = None) -> Path:
    """Build (or find up to date) the debug stress-producer; returns the binary's path."""
    env = dict(os.environ)
    if target_dir is not None:
        env["CARGO_TARGET_DIR"] = str(target_dir)
    res = subprocess.run(list(BUILD_COMMAND), cwd=REPO_ROOT, env=env)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(BUILD_COMMAND)} failed (exit {res.returncode})")
    target = Path(env.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
    return target / "debug" / "stress-producer"


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


class StressLoad:
    """The stress-producer running in the cluster's network with the demo's producer settings;
    `progress` holds its perf-test-style lines (interval lines, then the final one) as they come.

    The settings are the original demo's (acks=all with idempotence, lz4, 10 KB records, 1 MiB
    batches, 10 ms linger) and the stress-producer's defaults for reproducing under-replication:
    64 workers over `producers` instances (connections) with the batch partitioner
    (stress-producer/README.md, "Overload"). `--max-catch-up-ms 500`: a stall of the shared machine
    is not followed by a burst of everything missed (peaks of 1.7x the rate were seen with a
    producer that caught up in full), which would overload the new brokers mid-reassignment for
    reasons that are not the demo's.
    """

    def __init__(self, cluster: KafkaTools, supervisor: Supervisor, *, binary: Path, topic: str,
                 records_per_s: float, state_dir: Path, producers: int = 4, record_size: int = 10240,
                 report_interval_s: int = 2, drain_timeout_s: int = 60, max_catch_up_ms: int = 500,
                 name: str = "stress-producer") -> None:
        self.ledger_path = state_dir / "ack-ledger.json"
        self.ledger_path.unlink(missing_ok=True)
        self.drain_timeout_s = drain_timeout_s
        self.argv = [
            str(binary), "--bootstrap", cluster.bootstrap_servers, "--topic", topic,
            "--throughput", f"{records_per_s:g}", "--duration", "0", "--max-catch-up-ms", str(max_catch_up_ms),
            "--producers", str(producers), "--partitioner", "batch", "--msg-size", str(record_size),
            "--acks", "all", "--compression", "lz4", "--batch-size", "1048576", "--linger-ms", "10",
            "--report-interval", str(report_interval_s), "--drain-timeout", str(drain_timeout_s),
            "--ack-ledger", str(self.ledger_path),
        ]
        self.progress: list[Progress] = []
        self.lines: list[str] = []
        self.started = time.monotonic()
        # stdout (the perf-test lines) is read here; stderr (one-line errors) goes to the log.
        self.proc: ManagedProcess = supervisor.spawn(name, cluster.wrap(self.argv), log_path=state_dir / f"{name}.log",
                                                     stdout=subprocess.PIPE, stop_timeout=drain_timeout_s + 15)
        self._reader = threading.Thread(target=self._read, name=f"{name}-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.popen.stdout is not None
        for raw in self.proc.popen.stdout:
            line = raw.decode(errors="replace").strip()
            self.lines.append(line)
            if (p := Progress.parse(line)) is not None:
                self.progress.append(p)

    def alive(self) -> bool:
        return self.proc.alive()

    def why_dead(self) -> str:
        """The exit code and the producer's last words, for an error message."""
        return f"exit {self.proc.returncode}: {' | '.join(self.lines[-3:])} {self.proc.tail(5)}".strip()

    def final_line(self) -> str | None:
        """The summary line (perf-test's final format, with percentiles) once it has stopped."""
        return next((x for x in reversed(self.lines) if "99.9th" in x), None)

    def stop(self) -> dict:
        """Ctrl-C: stop sending, wait (up to the drain timeout) for every record in flight to be
        acknowledged, and return the ledger it wrote on exit."""
        if self.proc.alive():
            self.proc.popen.send_signal(signal.SIGINT)
        try:
            self.proc.popen.wait(self.drain_timeout_s + 15)
        except subprocess.TimeoutExpired:
            self.proc.stop(5)
            raise RuntimeError(f"the stress-producer did not stop within {self.drain_timeout_s + 15} s after "
                               f"Ctrl-C: {self.why_dead()}") from None
        self._reader.join(5)
        if not self.ledger_path.exists():
            raise RuntimeError(f"the stress-producer wrote no ledger ({self.why_dead()})")
        return json.loads(self.ledger_path.read_text())


@dataclass
class ReadBack:
    """The ledger against the log, partition by partition."""

    acked: int
    read: int
    failed_sends: int
    unresolved: int = 0
    partitions: dict[int, dict] = field(default_factory=dict)  # p -> acked/read count+checksum, ok

    @property
    def ok(self) -> bool:
        return (self.failed_sends == 0 and self.unresolved == 0 and self.acked == self.read
                and all(p["ok"] for p in self.partitions.values()))

    def mismatches(self) -> list[str]:
        out = [f"partition {p}: acked {v['acked_count']} ({v['acked_checksum']}), read {v['read_count']} "
               f"({v['read_checksum']})" for p, v in sorted(self.partitions.items()) if not v["ok"]]
        if self.failed_sends or self.unresolved:
            out.append(f"{self.failed_sends} sends failed, {self.unresolved} never resolved")
        return out


def load_ledger(path: Path, topic: str) -> dict:
    """The stress-producer's ledger, refused with a clear error if it is not one for `topic`."""
    ledger = json.loads(path.read_text())
    if ledger.get("format") != LEDGER_FORMAT:
        raise RuntimeError(f"{path}: not a {LEDGER_FORMAT} ledger (format {ledger.get('format')!r})")
    if ledger.get("topic") != topic:
        raise RuntimeError(f"{path}: a ledger of topic {ledger.get('topic')!r}, not {topic!r}")
    return ledger


def verify(cluster: KafkaTools, topic: str, ledger_path: Path, cache_dir: Path, timeout: float = 400) -> ReadBack:
    """Read the whole topic back and compare it with the ledger, per partition."""
    ledger = load_ledger(ledger_path, topic)
    res = subprocess.run(_java(cluster, cache_dir, 256, "verify", cluster.bootstrap_servers, topic, str(ledger_path)),
                         capture_output=True, text=True, timeout=timeout, env=cluster.tool_env(netns=False))
    lines = [x for x in res.stdout.splitlines() if x.startswith("{")]
    if res.returncode != 0 or not lines:
        raise RuntimeError(f"read-back failed (exit {res.returncode}): {res.stderr.strip()[-800:]}")
    read = json.loads(lines[-1])["partitions"]
    records_read = json.loads(lines[-1])["records_read"]
    parts: dict[int, dict] = {}
    for p in sorted({int(k) for k in ledger["partitions"]} | {int(k) for k in read}):
        a = ledger["partitions"].get(str(p), {"count": 0, "checksum": "0"})
        r = read.get(str(p), {"count": 0, "checksum": "0"})
        parts[p] = {"acked_count": a["count"], "read_count": r["count"], "acked_checksum": a["checksum"],
                    "read_checksum": r["checksum"], "ok": a["count"] == r["count"] and a["checksum"] == r["checksum"]}
    return ReadBack(acked=ledger["acked"], read=records_read, failed_sends=ledger["failed"],
                    unresolved=ledger.get("in_flight_unresolved", 0), partitions=parts)
