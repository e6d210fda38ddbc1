"""Real Kafka from Maven Central: the cluster starts, grows, and the CLI stand-ins work against it."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from local.kafka import ClusterConfig, KafkaCluster
from local.loadgen import PerfProducer
from local.procs import Supervisor

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def cluster(kafka_available, tmp_path_factory):
    state = tmp_path_factory.mktemp("kafka")
    with KafkaCluster(state, ClusterConfig(brokers=2)) as c:
        yield c


def test_brokers_register_with_their_racks(cluster):
    snap = cluster.probe.wait_for(lambda s: len(s.brokers) == 2, 60, "2 brokers")
    assert snap.broker_ids == [1, 2]
    assert {b.id: b.rack for b in snap.brokers} == {1: "use1-az1", 2: "use1-az2"}
    assert cluster.bootstrap_servers.count("127.0.0.1:") == 2


def test_topics_produce_consume_and_offsets(cluster):
    bs = cluster.bootstrap_servers
    cluster.create_topic("cli-test", 3, 2)
    out = cluster.tool("kafka-topics.sh", "--bootstrap-server", bs, "--describe", "--topic", "cli-test").stdout
    assert "PartitionCount: 3" in out and "ReplicationFactor: 2" in out
    lines = "".join(f"message-{i}\n" for i in range(200))
    cluster.tool("kafka-console-producer.sh", "--bootstrap-server", bs, "--topic", "cli-test",
                 "--producer-property", "acks=all", input=lines)
    got = cluster.tool("kafka-console-consumer.sh", "--bootstrap-server", bs, "--topic", "cli-test",
                       "--from-beginning", "--max-messages", "200", "--timeout-ms", "30000").stdout.split()
    assert sorted(got) == sorted(f"message-{i}" for i in range(200))
    offsets = cluster.tool("kafka-get-offsets.sh", "--bootstrap-server", bs, "--topic", "cli-test").stdout
    assert sum(int(line.rsplit(":", 1)[1]) for line in offsets.split()) == 200
    snap = cluster.probe.next()
    assert sum(snap.end_offsets("cli-test").values()) == 200
    assert snap.urp_total == 0


def test_producer_perf_test_reports(cluster, tmp_path):
    cluster.create_topic("perf", 2, 2)
    with Supervisor(tmp_path / "run") as sup:
        prod = PerfProducer(cluster, sup, topic="perf", records_per_s=500, num_records=300,
                            record_size=1024, log_path=tmp_path / "perf.log")
        assert prod.wait(120) == 0, prod.output + prod.proc.tail()
    assert prod.records_acked() == 300
    assert re.search(r"300 records sent, .* ms 99\.9th\.", prod.output)


def test_grow_and_reassign_with_the_real_cli(cluster, tmp_path):
    bs = cluster.bootstrap_servers
    cluster.create_topic("moving", 4, 2)
    ids = cluster.add_brokers(2)
    assert ids == [3, 4]
    snap = cluster.wait_for_brokers(ids, 120)
    assert {b.id: b.rack for b in snap.brokers}[3] == "use1-az1"
    assert snap.replicas_by_broker("moving")[3] == 0
    bs = cluster.bootstrap_servers
    topics = tmp_path / "topics.json"
    topics.write_text(json.dumps({"version": 1, "topics": [{"topic": "moving"}]}))
    gen = cluster.tool("kafka-reassign-partitions.sh", "--bootstrap-server", bs, "--topics-to-move-json-file",
                       str(topics), "--broker-list", "1,2,3,4", "--generate").stdout
    proposed = gen.split("Proposed partition reassignment configuration")[1].strip().splitlines()[0]
    plan = tmp_path / "plan.json"
    plan.write_text(proposed)
    cluster.tool("kafka-reassign-partitions.sh", "--bootstrap-server", bs, "--reassignment-json-file", str(plan),
                 "--execute")
    deadline = time.monotonic() + 120
    while True:
        out = cluster.tool("kafka-reassign-partitions.sh", "--bootstrap-server", bs, "--reassignment-json-file",
                           str(plan), "--verify").stdout
        if "is still in progress" not in out:
            break
        assert time.monotonic() < deadline, out
        time.sleep(2)
    assert "is completed" in out
    snap = cluster.probe.next()
    want = {p["partition"]: p["replicas"] for p in json.loads(proposed)["partitions"]}
    assert {p.partition: list(p.replicas) for p in snap.topic("moving")} == want
    assert snap.replicas_by_broker("moving")[3] > 0
    dirs = cluster.tool("kafka-log-dirs.sh", "--bootstrap-server", bs, "--describe", "--broker-list", "3").stdout
    doc = json.loads(dirs.strip().splitlines()[-1])
    assert any(p["partition"].startswith("moving-") for d in doc["brokers"][0]["logDirs"] for p in d["partitions"])
    cfg = cluster.tool("kafka-configs.sh", "--bootstrap-server", bs, "--describe", "--entity-type", "brokers",
                       "--entity-name", "3", "--all").stdout
    assert "broker.rack=use1-az1" in cfg
    assert "replica.lag.time.max.ms=3000" in cfg


def test_cluster_json_records_what_runs(cluster):
    doc = json.loads(Path(cluster.state_dir, "cluster.json").read_text())
    assert [b["node_id"] for b in doc["brokers"]] == [1, 2, 3, 4]
    assert all(b["pid"] for b in doc["brokers"])
