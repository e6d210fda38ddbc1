"""`autoheal plan` against a real Kafka cluster: a plan made from a real `kafka-topics.sh --describe`
capture is accepted and completed by the real `kafka-reassign-partitions.sh --execute`/`--verify`,
stage by stage, without losing a record, and leaves the cluster balanced with no partition
under-replicated.

The demo's shape, small: 2 brokers (use1-az1, use1-az2) with three topics and some data, grown to 4.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from local.kafka import ClusterConfig, KafkaCluster

REPO = Path(__file__).resolve().parents[2]
RACKS = "1=use1-az1,2=use1-az2,3=use1-az1,4=use1-az2"


def autoheal_bin() -> str:
    """The CLI built by the workspace (`cargo test --workspace` builds it); builds it if absent."""
    explicit = os.environ.get("AUTOHEAL_BIN")
    if explicit:
        return explicit
    target = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    path = target / "debug" / "autoheal"
    if not path.exists():
        subprocess.run(["cargo", "build", "-p", "autoheal", "--bin", "autoheal"], cwd=REPO, check=True)
    return str(path)


def end_offsets(k: KafkaCluster, topics: list[str]) -> dict[str, int]:
    out = k.tool("kafka-get-offsets.sh", "--bootstrap-server", k.bootstrap_servers, "--topic", "|".join(topics)).stdout
    offsets = {}
    for line in out.split():
        topic_part, _, off = line.rpartition(":")
        offsets[topic_part] = int(off)
    return offsets


def describe(k: KafkaCluster) -> str:
    return k.tool("kafka-topics.sh", "--bootstrap-server", k.bootstrap_servers, "--describe").stdout


def parse_describe(text: str) -> dict[tuple[str, int], tuple[list[int], list[int]]]:
    parts = {}
    for m in re.finditer(r"Topic: (\S+)\tPartition: (\d+)\tLeader: \S+\tReplicas: ([\d,]*)\tIsr: ([\d,]*)", text):
        ids = lambda s: [int(x) for x in s.split(",") if x]  # noqa: E731
        parts[(m[1], int(m[2]))] = (ids(m[3]), ids(m[4]))
    return parts


@pytest.mark.timeout(600)
def test_plan_is_executed_and_verified_by_real_kafka(kafka_available: None, tmp_path: Path) -> None:
    exe = autoheal_bin()
    with KafkaCluster(tmp_path / "kafka", ClusterConfig(brokers=2)) as k:
        topics = {"orders": (8, 2), "payments.v1": (4, 2), "audit-log": (2, 1)}
        for name, (parts, rf) in topics.items():
            k.create_topic(name, parts, rf)
        for name in topics:
            k.tool(
                "kafka-producer-perf-test.sh", "--topic", name, "--num-records", "4000", "--record-size", "512",
                "--throughput", "-1", "--producer-props", f"bootstrap.servers={k.bootstrap_servers}", "acks=all",
            )
        k.wait_for_brokers(k.add_brokers(2))
        before_offsets = end_offsets(k, list(topics))
        assert sum(before_offsets.values()) == 12_000

        capture = tmp_path / "describe.txt"
        capture.write_text(describe(k))
        sizes = tmp_path / "log-dirs.txt"
        sizes.write_text(k.tool("kafka-log-dirs.sh", "--bootstrap-server", k.bootstrap_servers, "--describe").stdout)
        plan_path, rollback = tmp_path / "plan.json", tmp_path / "rollback.json"
        res = subprocess.run(
            [exe, "plan", "--assignment", str(capture), "--brokers", "1,2,3,4", "--racks", RACKS,
             "--sizes", str(sizes), "--max-moves-per-broker", "3", "--throttle", "50000000",
             "--out", str(plan_path), "--rollback", str(rollback), "--format", "json"],
            capture_output=True, text=True,
        )
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        # 26 replicas, 13 on each of 2 brokers → 7, 7, 6, 6 on 4: exactly the bound, 12, move.
        assert summary["moves"] == summary["lower_bound"] == 12, summary
        assert summary["rack_violations"] == 0
        stage_files = summary["stage_files"]
        assert len(stage_files) >= 2

        planned = {(p["topic"], p["partition"]): p["replicas"] for p in json.loads(plan_path.read_text())["partitions"]}
        for stage in stage_files:
            out = k.tool("kafka-reassign-partitions.sh", "--bootstrap-server", k.bootstrap_servers,
                         "--reassignment-json-file", stage, "--execute", "--throttle", "50000000").stdout
            assert "Successfully started partition reassignment" in out, out
            deadline = time.monotonic() + 180
            while True:
                verify = k.tool("kafka-reassign-partitions.sh", "--bootstrap-server", k.bootstrap_servers,
                                "--reassignment-json-file", stage, "--verify").stdout
                # "no active reassignment ... rather than": the controller has finished the
                # partition but the broker that answered the metadata request has not caught up
                # (seen on this machine under load); the workflow verifies again too.
                if "still in progress" not in verify and "There is no active reassignment" not in verify:
                    break
                assert time.monotonic() < deadline, f"{stage} did not complete:\n{verify}"
                time.sleep(1)
            n = len(json.loads(Path(stage).read_text())["partitions"])
            assert verify.count("is completed") == n, verify
            # --verify removed the throttles once the stage was done.
            assert "Clearing broker-level throttles" in verify, verify

        after = parse_describe(describe(k))
        for tp, replicas in planned.items():
            assert after[tp][0] == replicas, (tp, after[tp], replicas)
        load = Counter(b for reps, _ in after.values() for b in reps)
        assert sorted(load) == [1, 2, 3, 4] and max(load.values()) - min(load.values()) <= 1, load
        deadline = time.monotonic() + 60
        while any(len(isr) < len(reps) for reps, isr in after.values()):
            assert time.monotonic() < deadline, f"under-replicated after the move: {after}"
            time.sleep(1)
            after = parse_describe(describe(k))
        assert end_offsets(k, list(topics)) == before_offsets
        # The rollback is valid --execute input for exactly the planned partitions.
        rb = json.loads(rollback.read_text())
        assert {(p["topic"], p["partition"]) for p in rb["partitions"]} == set(planned)
