"""stress-producer against a real local Kafka cluster (2 KRaft brokers from Maven Central jars).

What is checked is what an operator relies on: every record sent with acks=all is really in the
topic (read back with kafka-console-consumer, counted with the end offsets: none lost, none
duplicated), the acknowledgement ledger (--ack-ledger) equals what a consumer reads back, partition
by partition (local/ledger.py's verifier, the one the demo uses), the perf-test line formats,
--json, Go-style flags, Ctrl-C, and the one-line errors (unreachable bootstrap within 10 s, missing
topic, bad flags). Sizes are small: this is correctness, the throughput comparison lives in
BENCHMARKS.md (stress-producer/bench.py).
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from local.kafka.cluster import ClusterConfig, KafkaCluster  # noqa: E402
from local.ledger import BUILD_COMMAND, verify  # noqa: E402

CACHE = REPO / ".cache"

INTERVAL_RE = re.compile(
    r"^\d+ records sent, \d+\.\d records/sec \(\d+\.\d\d MB/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$"
)
FINAL_RE = re.compile(
    r"^(\d+) records sent, \d+\.\d records/sec \(\d+\.\d\d MB/sec\), \d+\.\d\d ms avg latency, "
    r"\d+\.\d\d ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$"
)


@functools.cache
def binary(package: str) -> Path:
    """The current debug build of `package`. Always (re)built, so a stale binary is never tested; the
    package set is the one the Makefile builds, so the same feature resolution makes this a no-op."""
    override = os.environ.get("STRESS_PRODUCER_BIN")
    if override:
        return Path(override)
    # The same command as the demo's (local.ledger.BUILD_COMMAND): one build serves both.
    subprocess.run(list(BUILD_COMMAND), cwd=REPO, check=True)
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / package


@pytest.fixture(scope="module")
def producer_bin() -> Path:
    return binary("stress-producer")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    with KafkaCluster(tmp_path_factory.mktemp("kafka"), ClusterConfig(brokers=2)) as c:
        yield c


def run(bin_: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(bin_), *args], capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def end_offsets_total(cluster: KafkaCluster, topic: str) -> int:
    out = cluster.tool("kafka-get-offsets.sh", "--bootstrap-server", cluster.bootstrap_servers, "--topic", topic).stdout
    # topic:partition:offset per line
    return sum(int(line.rsplit(":", 1)[1]) for line in out.split() if line.count(":") >= 2)


@pytest.mark.parametrize("engine", ["callback", "futures"])
def test_every_acked_record_is_in_the_topic_exactly_once(cluster: KafkaCluster, producer_bin: Path, engine: str) -> None:
    n, size = 3000, 1024
    topic = f"sp-readback-{engine}"
    res = run(
        producer_bin,
        "--bootstrap", cluster.bootstrap_servers,
        "--topic", topic, "--engine", engine,
        "--create-topic", "--partitions", "3", "--replication-factor", "2",
        "--num-records", str(n), "--duration", "0",
        "--msg-size", str(size), "--workers", "4",
        # Spread over ~1.5 s: unthrottled, the first workers can send all 3000 records before the
        # last ones are scheduled on a busy machine, and an instance would carry nothing.
        "--throughput", "2000",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["records_sent"] == n
    assert summary["records_failed"] == 0
    assert summary["stopped_by"] == "num_records"
    assert summary["config"]["acks"] == "all"
    # 4 workers → 4 producer instances by default, each its own idempotent producer; every one
    # carried part of the load, and the aggregate is their sum.
    assert summary["config"]["producers"] == 4
    shares = summary["by_producer"]
    assert len(shares) == 4 and all(s["records"] > 0 and s["failed"] == 0 for s in shares), shares
    assert sum(s["records"] for s in shares) == n

    # Exactly n records in the log (idempotence: no duplicates from retries), and readable.
    assert end_offsets_total(cluster, topic) == n
    consumed = cluster.tool(
        "kafka-console-consumer.sh",
        "--bootstrap-server", cluster.bootstrap_servers,
        "--topic", topic, "--from-beginning",
        "--max-messages", str(n), "--timeout-ms", "60000",
    ).stdout.splitlines()
    assert len(consumed) == n
    # perf-test's payloads: random upper-case letters, one record per line.
    assert all(len(v) == size and v.isalpha() and v.isupper() for v in consumed)
    assert len(set(consumed)) == n, "records are distinct, not one repeated payload"

    described = cluster.tool(
        "kafka-topics.sh", "--bootstrap-server", cluster.bootstrap_servers, "--describe", "--topic", topic
    ).stdout
    assert "PartitionCount: 3" in described and "ReplicationFactor: 2" in described


@pytest.mark.parametrize("engine, partitioner", [("callback", "batch"), ("futures", "librdkafka")])
def test_ack_ledger_equals_what_a_consumer_reads_back(
    cluster: KafkaCluster, producer_bin: Path, tmp_path: Path, engine: str, partitioner: str
) -> None:
    """Both delivery paths, and both ways a partition is chosen (by us before the send, by librdkafka
    after it): the ledger's count and checksum per partition equal those over the log."""
    topic, n = f"sp-ledger-{engine}", 2000
    ledger_path = tmp_path / "ledger.json"
    res = run(
        producer_bin, "--bootstrap", cluster.bootstrap_servers, "--topic", topic, "--engine", engine,
        "--partitioner", partitioner, "--create-topic", "--partitions", "4", "--replication-factor", "2",
        "--num-records", str(n), "--duration", "0", "--msg-size", "700", "--batch-size", "16384",
        # ~1 s: librdkafka's partitioner changes partition every 10 ms, so all four see records.
        "--throughput", "2000", "--workers", "4", "--json", "--ack-ledger", str(ledger_path),
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    ledger = json.loads(ledger_path.read_text())
    assert ledger["format"] == "msk-autoheal.ack-ledger/1" and ledger["topic"] == topic
    assert (ledger["acked"], ledger["failed"], ledger["in_flight_unresolved"]) == (n, 0, 0)
    assert ledger["acked"] == summary["records_sent"] and ledger["bytes_acked"] == n * 700
    assert ledger["stopped_by"] == "num_records" and ledger["producers"] == 4
    parts = ledger["partitions"]
    assert sorted(parts) == ["0", "1", "2", "3"], "the load reached every partition"
    assert sum(p["count"] for p in parts.values()) == n
    # A partition's offsets are 0..count-1: the ledger saw exactly the records the log has.
    assert all(p["max_offset"] == p["count"] - 1 for p in parts.values()), parts
    assert not list(tmp_path.glob("*.tmp-*")), "the aside file was renamed, not left behind"

    rb = verify(cluster, topic, ledger_path, CACHE)
    assert rb.ok, rb.mismatches()
    assert rb.read == rb.acked == n and len(rb.partitions) == 4

    # The check can fail: the same log against a ledger that lost one record of partition 2 (its
    # count and checksum both off), and against one whose checksum alone is off.
    tampered = json.loads(ledger_path.read_text())
    tampered["partitions"]["2"]["count"] -= 1
    tampered["acked"] -= 1
    (tmp_path / "lost.json").write_text(json.dumps(tampered))
    rb = verify(cluster, topic, tmp_path / "lost.json", CACHE)
    assert not rb.ok and [p for p, v in rb.partitions.items() if not v["ok"]] == [2], rb.mismatches()
    tampered = json.loads(ledger_path.read_text())
    tampered["partitions"]["1"]["checksum"] = format(int(tampered["partitions"]["1"]["checksum"], 16) ^ 1, "x")
    (tmp_path / "changed.json").write_text(json.dumps(tampered))
    rb = verify(cluster, topic, tmp_path / "changed.json", CACHE)
    assert not rb.ok and rb.read == rb.acked and [p for p, v in rb.partitions.items() if not v["ok"]] == [1]


def test_text_output_is_perf_test_format_and_go_flags_work(cluster: KafkaCluster, producer_bin: Path) -> None:
    cluster.create_topic("sp-text", partitions=2, replication_factor=2)
    # Single-dash flags as the original Go producer took them; a throughput cap so the run lasts
    # long enough for interval lines.
    res = run(
        producer_bin,
        f"-bootstrap={cluster.bootstrap_servers}", "-topic", "sp-text",
        "-num-records", "600", "-throughput", "200", "-duration", "0",
        "-msg-size", "512", "-workers", "2", "-report-interval", "1",
    )
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert len(lines) >= 3, res.stdout
    assert all(INTERVAL_RE.match(line) for line in lines[:-1]), lines
    m = FINAL_RE.match(lines[-1])
    assert m, lines[-1]
    assert int(m.group(1)) == 600
    # The cap held: 600 records at 200/s cannot finish much under 3 s.
    assert sum(int(line.split()[0]) for line in lines[:-1]) <= 600
    assert "\x1b" not in res.stdout, "no progress indicator when stdout is not a terminal"
    assert end_offsets_total(cluster, "sp-text") == 600


def test_ctrl_c_stops_cleanly_and_prints_the_summary(cluster: KafkaCluster, producer_bin: Path, tmp_path: Path) -> None:
    cluster.create_topic("sp-sigint", partitions=2, replication_factor=2)
    ledger_path = tmp_path / "ledger.json"
    p = subprocess.Popen(
        [str(producer_bin), "--bootstrap", cluster.bootstrap_servers, "--topic", "sp-sigint",
         "--duration", "120", "--throughput", "500", "--msg-size", "1000", "--workers", "2", "--json",
         "--ack-ledger", str(ledger_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        time.sleep(4)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped_by"] == "signal"
    assert summary["records_sent"] > 0
    assert summary["records_failed"] == 0, "in-flight records were drained, not dropped"
    assert end_offsets_total(cluster, "sp-sigint") == summary["records_sent"]
    # The ledger is written on Ctrl-C too, after the drain, and the log agrees with it.
    ledger = json.loads(ledger_path.read_text())
    assert ledger["stopped_by"] == "signal" and ledger["acked"] == summary["records_sent"]
    rb = verify(cluster, "sp-sigint", ledger_path, CACHE)
    assert rb.ok and rb.read == summary["records_sent"], rb.mismatches()


def test_missing_topic_is_a_clear_error_and_is_not_created(cluster: KafkaCluster, producer_bin: Path) -> None:
    res = run(producer_bin, "--bootstrap", cluster.bootstrap_servers, "--topic", "sp-nope", "--duration", "5")
    assert res.returncode == 1
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert "topic 'sp-nope' does not exist" in err and "--create-topic" in err
    topics = cluster.tool("kafka-topics.sh", "--bootstrap-server", cluster.bootstrap_servers, "--list").stdout.split()
    assert "sp-nope" not in topics, "the check must not auto-create the topic"


def test_unreachable_bootstrap_fails_within_10_seconds(producer_bin: Path, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    res = run(producer_bin, "--bootstrap", f"127.0.0.1:{port}", "--topic", "t", "--duration", "60",
              "--ack-ledger", str(tmp_path / "ledger.json"), timeout=30)
    elapsed = time.monotonic() - started
    assert res.returncode == 1
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert f"cannot reach the bootstrap servers 127.0.0.1:{port}" in err
    assert elapsed < 10, f"took {elapsed:.1f} s"
    assert list(tmp_path.iterdir()) == [], "nothing was sent: no ledger, and no aside file left behind"


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--bootstrap", "h:9092", "--frobnicate"], "unexpected argument"),
        (["--bootstrap", "h:9092", "--acks", "2"], "--acks"),
        (["--bootstrap", "h:9092", "--compression", "brotli"], "--compression"),
        (["--bootstrap", "h:9092", "--topic", "a/b"], "--topic"),
        (["--bootstrap", "nonsense"], "--bootstrap"),
        (["--topic", "t"], "--bootstrap"),
        (["--bootstrap", "h:9092", "--workers", "2", "--producers", "3"], "--producers"),
        (["--bootstrap", "h:9092", "--producers", "0"], "--producers"),
        (["--bootstrap", "h:9092", "--ack-ledger", "l.json", "--acks", "0"], "--ack-ledger"),
        (["--bootstrap", "h:9092", "--ack-ledger", "/nonexistent-dir/l.json"], "--ack-ledger /nonexistent-dir/l.json"),
        (["--bootstrap", "h:9092", "--max-catch-up-ms", "500"], "--throughput"),
    ],
)
def test_bad_flags_exit_2_with_one_line(producer_bin: Path, args: list[str], needle: str) -> None:
    res = run(producer_bin, *args, timeout=10)
    assert res.returncode == 2
    err = res.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("stress-producer: ") and needle in err, err
