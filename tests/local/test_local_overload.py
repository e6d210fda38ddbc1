"""The capacity limit is real: acks=all load that 2 brokers cannot replicate makes the brokers report
under-replicated partitions, the bridge publishes them, CloudWatch's alarm (evaluated by the bridge)
goes to ALARM, and the EventBridge event reaches the detector's endpoint."""

from __future__ import annotations

import time

import pytest
from local_lambda_stub import LambdaStub

from local.loadgen import PerfProducer, write_payload_file
from local.procs import Supervisor
from local.stack import Stack, StackConfig

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def detector():
    with LambdaStub({"detector": lambda e: {"decision": "recorded"}}) as s:
        yield s


@pytest.fixture(scope="module")
def stack(kafka_available, root_netns, tmp_path_factory, detector):
    cfg = StackConfig(
        state_dir=tmp_path_factory.mktemp("overload"),
        limit_kind="net",
        limit_value=1_000_000,  # replication bytes/s each broker can receive
        bridge_tick_s=2,
        lambda_routes={"detector": detector.url},
    )
    with Stack(cfg) as s:
        yield s


def test_two_brokers_fall_behind_and_the_alarm_fires(stack, detector, tmp_path):
    stack.kafka.create_topic("stress-test", 12, 2)
    payload = write_payload_file(tmp_path / "payload.txt", 10240)
    with Supervisor(tmp_path / "run") as sup:
        # 2.5 MB/s of acks=all, lz4, 10 KB records over three connections: each follower must copy
        # 1.25 MB/s but may receive only 1 MB/s.
        producers = [
            PerfProducer(stack.kafka, sup, topic="stress-test", records_per_s=84, duration_s=600,
                         payload_file=payload, log_path=tmp_path / f"producer-{i}.log", name=f"producer-{i}")
            for i in range(3)
        ]
        snap = stack.wait_for(lambda s: s.urp_total > 0, 120, "under-replicated partitions")
        assert all(p.alive() for p in producers), [p.proc.tail() for p in producers]
        assert snap.broker_ids == [1, 2]
        lagging = [p for p in snap.topic("stress-test") if p.under_replicated]
        assert lagging and all(len(p.isr) == 1 and p.isr[0] == p.leader for p in lagging)
        event = detector.wait_for_call(
            "detector", lambda e: e["detail"]["alarmName"] == "demo-under-replicated"
            and e["detail"]["state"]["value"] == "ALARM", timeout=90)
        assert event["detail-type"] == "CloudWatch Alarm State Change"
        reason = event["detail"]["state"]["reason"]
        assert reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [") and "greater than" in reason
        cw = stack.client("cloudwatch")
        alarm = cw.describe_alarms(AlarmNames=["demo-under-replicated"])["MetricAlarms"][0]
        assert alarm["StateValue"] == "ALARM"
        stats = cw.get_metric_statistics(
            Namespace="AWS/Kafka", MetricName="UnderReplicatedPartitions", Statistics=["Maximum"], Period=10,
            Dimensions=[{"Name": "Cluster Name", "Value": "demo"}, {"Name": "Broker ID", "Value": str(lagging[0].leader)}],
            StartTime=time.time() - 300, EndTime=time.time() + 60,
        )["Datapoints"]
        assert max(d["Maximum"] for d in stats) > 0
        acked = sum(p.progress[-1].records if p.progress else 0 for p in producers)
        assert acked > 0
    # Load gone: the followers catch up and the brokers report no URP.
    stack.wait_for(lambda s: s.urp_total == 0, 180, "followers to catch up once the load stopped")
