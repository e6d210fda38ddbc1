"""End to end under real overload: the small variant of `make demo` (local/demo.py).

A real 2-broker Kafka cluster whose followers may receive 1 MB/s each gets ~2.2 MB/s of acks=all
10 KB records over 4 producer connections; the brokers' own metadata shows under-replicated
partitions; the bridge evaluates the URP alarm and delivers the EventBridge event to the real
detector, which starts statemachine/remediation.asl.json in moto's engine; every task Lambda is real
(cargo lambda watch), MSK's UpdateBrokerCount starts two more broker JVMs, and kafka-ops runs the
real Kafka CLI over the SSM stand-in. Asserted, from the components themselves:

- the execution the detector started SUCCEEDED, and the cluster has 4 brokers;
- Kafka's own `kafka-topics.sh --describe`: no under-replicated partition, replicas per broker
  spread ≤ 1, while the same load still runs;
- every record the producer got an acknowledgement for is in the topic: per partition, the count
  and a checksum of (offset, CRC-32 of the value) over the acknowledgements equal those over what a
  consumer reads back (local/ledger.py says why that proves nothing was lost).

The approval variant is tests/integration/test_approval.py, the fault variant test_workflow.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from local.demo import Demo, parse_args
from local.limits import netns_supported
from local.stack import Stack

pytestmark = pytest.mark.timeout(900)


def kafka_view(stack: Stack) -> dict:
    """What Kafka's own CLI says, while the load still runs (called by the demo before teardown)."""
    assert stack.kafka is not None
    bs = stack.kafka.bootstrap_servers
    urp = stack.kafka.tool("kafka-topics.sh", "--bootstrap-server", bs, "--describe",
                           "--under-replicated-partitions").stdout.strip()
    counts: dict[int, int] = {}
    for line in stack.kafka.tool("kafka-topics.sh", "--bootstrap-server", bs, "--describe").stdout.splitlines():
        if "Partition:" in line and "Replicas:" in line:
            for b in line.split("Replicas:")[1].split()[0].split(","):
                counts[int(b)] = counts.get(int(b), 0) + 1
    return {"under_replicated": urp, "replicas_per_broker": counts}


def test_two_brokers_under_overload_grow_to_four_heal_and_lose_nothing(kafka_available: None, tmp_path: Path) -> None:
    ok, why = netns_supported()
    if not ok or shutil.which("nft") is None:
        pytest.skip(f"SKIPPED LOUDLY: per-broker replication limits unavailable: {why or 'nft not found'}")
    args = parse_args(["--out", str(tmp_path), "--state-dir", str(tmp_path / "stack"), "--hold", "10",
                       "--timeout", "600", "--live-every", "15"])
    seen: dict = {}
    demo = Demo(args, before_teardown=lambda stack: seen.update(kafka_view(stack)))
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    r = demo.run()
    story = "\n".join(f"{e.t:6.1f}s {e.kind} {e.text}" for e in demo.events)

    assert r["urp_before"] > 0, f"the overload produced no under-replicated partition:\n{story}"
    assert r["execution_status"] == "SUCCEEDED", story
    assert r["brokers_after"] == 4, story
    # Kafka's own CLI, with the load still on.
    assert seen.get("under_replicated") == "", f"{seen}\n{story}"
    counts = seen["replicas_per_broker"]
    assert set(counts) == {1, 2, 3, 4} and max(counts.values()) - min(counts.values()) <= 1, counts
    # The brokers' metadata (the probe) agrees.
    assert r["urp_after"] == 0 and r["replica_spread"] <= 1, r
    # Nothing lost: every acknowledged record read back, partition by partition.
    assert r["messages_failed"] == 0
    assert r["messages_acked"] > 0 and r["messages_read_back"] == r["messages_acked"], r
    bad = {p: v for p, v in r["per_partition"].items() if not v["ok"]}
    assert not bad and len(r["per_partition"]) == 12, bad
    assert r["nothing_lost"] is True
    assert (tmp_path / "demo-report.json").exists() and (tmp_path / "demo-chart.svg").exists()
