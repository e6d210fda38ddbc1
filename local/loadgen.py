"""Load for the local cluster: Kafka's own `kafka-producer-perf-test`, run inside the cluster's
network, with the original demo's producer settings (acks=all, lz4, 10 KB records, 1 MB batches,
10 ms linger) and its progress lines parsed as they come.

The Rust stress-producer (stress-producer/) prints the same line format and can be run the same way
through `PerfProducer(argv=...)`.
"""

from __future__ import annotations

import random
import re
import string
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from local.kafka.cluster import BIN_DIR, KafkaTools
from local.procs import ManagedProcess, Supervisor

# "%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency."
_PROGRESS = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency"
)

DEMO_PRODUCER_PROPS = {
    "acks": "all",
    "compression.type": "lz4",
    "batch.size": "1048576",
    "linger.ms": "10",
}


@dataclass(frozen=True)
class Progress:
    ts: float  # time.monotonic() when the line was read
    records: int
    records_per_s: float
    mb_per_s: float
    avg_latency_ms: float
    max_latency_ms: float
    final: bool

    @classmethod
    def parse(cls, line: str) -> Progress | None:
        """One kafka-producer-perf-test line (an interval line, or the final one with percentiles),
        as perf-test and the stress-producer print them; None for any other line."""
        m = _PROGRESS.match(line)
        if m is None:
            return None
        return cls(ts=time.monotonic(), records=int(m.group(1)), records_per_s=float(m.group(2)),
                   mb_per_s=float(m.group(3)), avg_latency_ms=float(m.group(4)), max_latency_ms=float(m.group(5)),
                   final="th" in line.split("latency,")[-1])


def write_payload_file(path: Path, record_size: int, count: int = 64, seed: int = 7) -> Path:
    """`count` distinct random-letter records, one per line. perf-test sends one of them per record:
    distinct payloads keep lz4 from shrinking a 1 MB batch of identical records to almost nothing,
    so the bytes on the wire are close to the bytes produced, as with real data."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    with open(path, "w") as f:
        for _ in range(count):
            f.write("".join(rng.choices(alphabet, k=record_size)))
            f.write("\n")
    return path


class PerfProducer:
    """A running load generator; `progress` holds every parsed report line."""

    def __init__(
        self,
        cluster: KafkaTools,
        supervisor: Supervisor,
        *,
        topic: str,
        records_per_s: int,
        record_size: int = 10240,
        num_records: int | None = None,
        duration_s: float | None = None,
        payload_file: Path | None = None,
        producer_props: dict[str, str] | None = None,
        log_path: Path,
        argv: Sequence[str] | None = None,
        name: str = "perf-producer",
    ) -> None:
        if argv is None:
            if num_records is None:
                num_records = int(records_per_s * (duration_s or 3600))
            props = DEMO_PRODUCER_PROPS | (producer_props or {}) | {"bootstrap.servers": cluster.bootstrap_servers}
            argv = [
                str(BIN_DIR / "kafka-producer-perf-test.sh"),
                "--topic", topic,
                "--num-records", str(num_records),
                "--throughput", str(records_per_s),
                "--producer-props", *[f"{k}={v}" for k, v in props.items()],
            ]
            if payload_file is not None:
                argv += ["--payload-file", str(payload_file)]
            else:
                argv += ["--record-size", str(record_size)]
        env = cluster.tool_env()
        # The producer is the EC2 client: give it a bigger heap than a CLI tool, C2 for throughput.
        env["KAFKA_HEAP_OPTS"] = "-Xmx512m"
        env["KAFKA_JVM_PERFORMANCE_OPTS"] = "-XX:+UseSerialGC -XX:-UsePerfData"
        self.progress: list[Progress] = []
        self._lines: list[str] = []
        self.started = time.monotonic()
        self.proc: ManagedProcess = supervisor.spawn(
            name, list(argv), log_path=log_path, env=env, stdout=-1, stop_timeout=5
        )
        self._reader = threading.Thread(target=self._read, name=f"{name}-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.popen.stdout is not None
        for raw in self.proc.popen.stdout:
            line = raw.decode(errors="replace").strip()
            self._lines.append(line)
            if (p := Progress.parse(line)) is not None:
                self.progress.append(p)

    def alive(self) -> bool:
        return self.proc.alive()

    def wait(self, timeout: float) -> int:
        self.proc.popen.wait(timeout)
        self._reader.join(5)
        return self.proc.popen.returncode

    def stop(self) -> None:
        self.proc.stop(5)
        self._reader.join(5)

    @property
    def output(self) -> str:
        return "\n".join(self._lines)

    def records_acked(self) -> int:
        """Records the final report counts (perf-test counts a record when its send completed)."""
        finals = [p for p in self.progress if p.final]
        return finals[-1].records if finals else sum(p.records for p in self.progress)
