#!/usr/bin/env python3
"""Benchmark: stress-producer vs Kafka's own kafka-producer-perf-test (same jars as the brokers).

Starts a local 2-broker KRaft cluster (local/kafka), then alternates runs of the two producers
with the original demo's settings — acks=all (idempotent), lz4, 10 KB records, 1 MB batches,
10 ms linger, a 12-partition topic with replication factor 2, no throughput cap — each run
sending the same number of records to a fresh topic. Per run it records MB/s and p99 from the
tool's own final line (both print perf-test's format) and the producer process's CPU seconds
(user + system, from wait4: JVM start-up and JIT included, as an operator pays them). Prints a
Markdown table of medians and ratios for BENCHMARKS.md.

    .venv/bin/python stress-producer/bench.py [--records 100000] [--rounds 3] [--engines callback,futures] [--bin PATH]

A contender is ENGINE[@BUFFER_BYTES][ more stress-producer flags], e.g.
`--engines "callback,callback --producers 1 --partitioner librdkafka"` (the default before
--producers and the batch partitioner existed) or `callback@33554432`. `{tmp}` in a flag is the
sitting's scratch directory (`callback --ack-ledger {tmp}/ledger.json`), and a token `bin=PATH` runs
another build for that contender (`callback bin=/tmp/stress-producer-before`: before/after a change
in one sitting).

Timings on this 2-core shared machine are noisy: compare the ratios of one sitting, run when
the machine is quiet (the load average is printed before and after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from local.kafka.cluster import BIN_DIR, ClusterConfig, KafkaCluster  # noqa: E402

FINAL = re.compile(
    r"^(\d+) records sent, ([\d.]+) records/sec \(([\d.]+) MB/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, "
    r"(\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\."
)
RECORD_SIZE = 10240
PARTITIONS = 12
# Apache Kafka's own bin/kafka-run-class.sh defaults: the baseline runs as shipped (the local
# stand-in script defaults to C1-only for short CLI tools, which would handicap it here).
KAFKA_JVM_DEFAULTS = {
    "KAFKA_HEAP_OPTS": "-Xmx256M",
    "KAFKA_JVM_PERFORMANCE_OPTS": "-server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 "
    "-XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true",
}


@dataclass
class Result:
    tool: str
    records: int
    mb_per_s: float
    p99_ms: int
    cpu_s: float
    wall_s: float

    @property
    def gb(self) -> float:
        return self.records * RECORD_SIZE / 1024**3

    @property
    def cpu_s_per_gb(self) -> float:
        return self.cpu_s / self.gb if self.gb else float("nan")


def run_measured(argv: list[str], env: dict[str, str], log: Path) -> tuple[str, float, float, int]:
    """Runs argv; returns (stdout, cpu seconds of the process and its reaped children, wall s, exit code)."""
    start = time.monotonic()
    with open(log, "w") as err:
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, env=env)
        out = p.stdout.read().decode(errors="replace") if p.stdout else ""
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    return out, ru.ru_utime + ru.ru_stime, time.monotonic() - start, p.returncode


def parse_final(tool: str, out: str, cpu: float, wall: float) -> Result:
    for line in reversed(out.strip().splitlines()):
        m = FINAL.match(line.strip())
        if m:
            return Result(tool, int(m.group(1)), float(m.group(3)), int(m.group(8)), cpu, wall)
    raise RuntimeError(f"{tool}: no final perf-test line in output:\n{out[-2000:]}")


DEFAULT_PRODUCERS = 4  # stress-producer's default, at most --workers


def flag_value(flags: list[str], name: str, default: str) -> str:
    return flags[flags.index(name) + 1] if name in flags[:-1] else default


def stress_producer(
    bin_: Path, cluster: KafkaCluster, topic: str, records: int, workers: int, contender: str, logdir: Path
) -> Result:
    # A contender is ENGINE[@BUFFER_MEMORY_BYTES][ extra flags] (e.g. "callback@16777216",
    # "callback --producers 1").
    head, *extra = contender.replace("{tmp}", str(logdir)).split()
    engine, _, buffer = head.partition("@")
    other_bin = next((x.removeprefix("bin=") for x in extra if x.startswith("bin=")), None)
    extra = [x for x in extra if not x.startswith("bin=")]
    if other_bin:
        bin_ = Path(other_bin)
    argv = [
        str(bin_), "--bootstrap", cluster.bootstrap_servers, "--topic", topic, "--engine", engine,
        *(["--buffer-memory", buffer] if buffer else []), *extra,
        "--num-records", str(records), "--duration", "0", "--workers", str(workers),
        "--msg-size", str(RECORD_SIZE), "--batch-size", "1048576", "--linger-ms", "10",
        "--compression", "lz4", "--acks", "all", "--report-interval", "5",
    ]
    out, cpu, wall, rc = run_measured(cluster.wrap(argv), cluster.tool_env(), logdir / f"{topic}.stderr")
    if rc not in (0, 1):
        raise RuntimeError(f"stress-producer exited {rc}: {(logdir / f'{topic}.stderr').read_text()[-2000:]}")
    producers = flag_value(extra, "--producers", str(min(DEFAULT_PRODUCERS, workers)))
    partitioner = flag_value(extra, "--partitioner", "batch")
    label = (f"{engine}, {workers} workers, {producers} producers, {partitioner} partitioner"
             + (f", {int(buffer) >> 20} MiB in flight" if buffer else "")
             + (", --ack-ledger" if "--ack-ledger" in extra else "")
             + (f", binary {bin_.name}" if other_bin else ""))
    return parse_final(f"stress-producer ({label})", out, cpu, wall)


def perf_test(cluster: KafkaCluster, topic: str, records: int, logdir: Path) -> Result:
    props = {
        "bootstrap.servers": cluster.bootstrap_servers,
        "acks": "all",
        "compression.type": "lz4",
        "batch.size": "1048576",
        "linger.ms": "10",
    }
    argv = [
        str(BIN_DIR / "kafka-producer-perf-test.sh"), "--topic", topic,
        "--num-records", str(records), "--record-size", str(RECORD_SIZE), "--throughput", "-1",
        "--producer-props", *[f"{k}={v}" for k, v in props.items()],
    ]
    env = cluster.tool_env() | KAFKA_JVM_DEFAULTS
    out, cpu, wall, rc = run_measured(cluster.wrap(argv), env, logdir / f"{topic}.stderr")
    if rc != 0:
        raise RuntimeError(f"perf-test exited {rc}: {(logdir / f'{topic}.stderr').read_text()[-2000:]}")
    return parse_final("kafka-producer-perf-test", out, cpu, wall)


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000, help="records per run (10 KB each)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; each runs every contender once, order rotated")
    ap.add_argument("--engines", default="callback",
                    help="stress-producer contenders, comma-separated: ENGINE[@BUFFER_BYTES][ flags...]")
    ap.add_argument("--workers", type=int, default=64, help="stress-producer --workers")
    ap.add_argument("--bin", type=Path, default=None, help="stress-producer binary (default: release build)")
    ap.add_argument("--json", type=Path, default=None, help="also write every run as JSON here")
    args = ap.parse_args()

    bin_ = args.bin
    if bin_ is None:
        subprocess.run(["cargo", "build", "-q", "--release", "-p", "stress-producer"], cwd=REPO, check=True)
        target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
        bin_ = target / "release" / "stress-producer"

    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="sp-bench-") as tmp:
        logdir = Path(tmp)
        print(f"load average before: {loadavg()}", file=sys.stderr)
        with KafkaCluster(logdir / "kafka", ClusterConfig(brokers=2)) as cluster:
            n = 0

            def fresh_topic() -> str:
                nonlocal n
                n += 1
                topic = f"bench-{n}"
                cluster.create_topic(topic, partitions=PARTITIONS, replication_factor=2)
                return topic

            def drop(topic: str) -> None:
                # Keeps the disk flat and every run on an empty topic.
                cluster.tool("kafka-topics.sh", "--bootstrap-server", cluster.bootstrap_servers,
                             "--delete", "--topic", topic, check=False)

            # Warm-up (not counted): page cache, broker JIT, segment files.
            t = fresh_topic()
            stress_producer(bin_, cluster, t, max(1000, args.records // 10), args.workers, "callback", logdir)
            drop(t)
            contenders = [*args.engines.split(","), "perf-test"]
            for i in range(args.rounds):
                # Rotate the order every round so no contender always runs first (or last).
                for which in contenders[i % len(contenders):] + contenders[: i % len(contenders)]:
                    t = fresh_topic()
                    r = (perf_test(cluster, t, args.records, logdir) if which == "perf-test"
                         else stress_producer(bin_, cluster, t, args.records, args.workers, which, logdir))
                    print(f"{r.tool:70} {r.mb_per_s:8.2f} MB/s  p99 {r.p99_ms:6d} ms  "
                          f"cpu {r.cpu_s:6.2f} s ({r.cpu_s_per_gb:6.2f} s/GB)  wall {r.wall_s:6.1f} s",
                          file=sys.stderr)
                    results.append(r)
                    drop(t)
        print(f"load average after: {loadavg()}", file=sys.stderr)

    if args.json:
        args.json.write_text(json.dumps([r.__dict__ | {"cpu_s_per_gb": r.cpu_s_per_gb} for r in results], indent=2))
    by_tool: dict[str, list[Result]] = {}
    for r in results:
        by_tool.setdefault(r.tool, []).append(r)

    def med(rs: list[Result], f) -> float:
        return statistics.median(f(r) for r in rs)

    stats = {
        tool: (med(rs, lambda r: r.mb_per_s), med(rs, lambda r: r.p99_ms), med(rs, lambda r: r.cpu_s_per_gb))
        for tool, rs in by_tool.items()
    }
    base_mb, base_p99, base_cpu = stats.pop("kafka-producer-perf-test")
    print(f"| producer ({args.rounds} runs each, {args.records} × 10 KB, median) | MB/s | p99 ms | CPU s per GB "
          "| MB/s ratio | p99 ratio | CPU/GB ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(f"| kafka-producer-perf-test (baseline) | {base_mb:.2f} | {base_p99:.0f} | {base_cpu:.2f} | 1.00× | 1.00× | 1.00× |")
    for tool, (mb, p99, cpu) in stats.items():
        print(f"| {tool} | {mb:.2f} | {p99:.0f} | {cpu:.2f} | **{mb / base_mb:.2f}×** | {p99 / max(base_p99, 1):.2f}× "
              f"| **{cpu / base_cpu:.2f}×** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
