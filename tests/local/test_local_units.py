"""Pure pieces of the local stack: metric math, alarm evaluation, URP counting, Lambda name routing."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from local.aws.bridge import AlarmBridge, MathError, eval_expression
from local.aws.router import function_name
from local.kafka.metadata import Snapshot


def test_metric_math():
    v = {"m1": 2.0, "m2": None, "m3": 3.0}
    assert eval_expression("SUM([m1,m2,m3])", v) == 5.0
    assert eval_expression("MAX(METRICS())", v) == 3.0
    assert eval_expression("m1 + m3 * 2", v) == 8.0
    assert eval_expression("(m1 + m3) / 5", v) == 1.0
    assert eval_expression("m1 + m2", v) is None
    assert eval_expression("FILL(m2, 0) + 1", v) == 1.0
    assert eval_expression("SUM([m2])", v) is None
    with pytest.raises(MathError):
        eval_expression("m9 + 1", v)
    with pytest.raises(MathError):
        eval_expression("ANOMALY_DETECTION_BAND(m1)", v)


@pytest.mark.parametrize(
    "given,name",
    [
        ("detector", "detector"),
        ("arn:aws:lambda:us-east-1:123456789012:function:assess", "assess"),
        ("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Ascale%3Alive", "scale"),
        ("kafka-ops:prod", "kafka-ops"),
        ("123456789012:function:notify", "notify"),
    ],
)
def test_function_name_from_any_form(given, name):
    assert function_name(given) == name


def test_urp_is_counted_by_the_leader_and_ignores_replicas_being_added():
    snap = Snapshot.from_json({
        "ts_ms": 1, "controller": 1,
        "brokers": [{"id": i, "host": "127.0.0.1", "port": 9000 + i, "rack": None} for i in (1, 2, 3)],
        "partitions": [
            {"topic": "t", "partition": 0, "leader": 1, "replicas": [1, 2], "isr": [1], "end_offset": 5},
            {"topic": "t", "partition": 1, "leader": 2, "replicas": [3, 2, 1], "isr": [2, 1], "end_offset": 7,
             "adding": [3], "removing": [1]},
            {"topic": "t", "partition": 2, "leader": -1, "replicas": [1, 2], "isr": [], "end_offset": None},
        ],
    })
    assert snap.urp_by_broker() == {1: 1, 2: 0, 3: 0}
    assert snap.offline_partitions == 1
    assert [p.partition for p in snap.reassigning] == [1]
    assert snap.replicas_by_broker("t") == {1: 3, 2: 3, 3: 1}
    assert snap.replica_spread("t") == 2
    assert snap.end_offsets("t") == {0: 5, 1: 7}


class _Datum(SimpleNamespace):
    pass


def _bridge(data):
    cw = SimpleNamespace(metric_data=data)
    return AlarmBridge(
        cloudwatch=lambda: cw, metadata=lambda: None, cluster_name="demo", region="us-east-1",
        account_id="123456789012", tick_s=1, event_targets=[], event_states=[], invoke=None,
        sns_publish=None, journal_path=None,
    )


def _datum(t, value, broker="1"):
    dims = [SimpleNamespace(name="Cluster Name", value="demo"), SimpleNamespace(name="Broker ID", value=broker)]
    return _Datum(namespace="AWS/Kafka", name="UnderReplicatedPartitions", dimensions=dims, value=value,
                  timestamp=datetime.fromtimestamp(t, timezone.utc))


def _alarm(**kw):
    base = dict(
        name="a", metric_data_queries=[], namespace="AWS/Kafka", metric_name="UnderReplicatedPartitions",
        dimensions=[SimpleNamespace(name="Cluster Name", value="demo"), SimpleNamespace(name="Broker ID", value="1")],
        statistic="Maximum", period=10, evaluation_periods=3, datapoints_to_alarm=2, threshold=0.0,
        comparison_operator="GreaterThanThreshold", treat_missing_data=None, state_value="OK",
        state_reason="", state_reason_data="{}",
    )
    return SimpleNamespace(**(base | kw))


def test_alarm_needs_m_of_n_breaching_periods():
    now = 1000.0  # periods [970,980) [980,990) [990,1000) ... the newest is [1000,1010)
    b = _bridge([_datum(985, 0), _datum(995, 2), _datum(1001, 0)])
    state, reason, data = b.evaluate(_alarm(), now)
    assert state == "OK"  # 1 of 3 breaching, 2 needed
    b = _bridge([_datum(985, 1), _datum(995, 2), _datum(1001, 0)])
    state, reason, data = b.evaluate(_alarm(), now)
    assert state == "ALARM"
    assert reason.startswith("Threshold Crossed: 2 out of the last 3 datapoints [")
    assert "(minimum 2 datapoints for OK -> ALARM transition)" in reason
    assert json.loads(data)["recentDatapoints"] == [1.0, 2.0, 0.0]  # oldest first, as CloudWatch


def test_missing_data_is_insufficient_unless_treated():
    b = _bridge([])
    assert b.evaluate(_alarm(), 1000.0)[0] == "INSUFFICIENT_DATA"
    assert b.evaluate(_alarm(treat_missing_data="notBreaching"), 1000.0)[0] == "OK"
    assert b.evaluate(_alarm(treat_missing_data="breaching"), 1000.0)[0] == "ALARM"


def test_metric_math_alarm_sums_the_brokers_that_exist():
    def q(i, broker):
        metric = SimpleNamespace(namespace="AWS/Kafka", metric_name="UnderReplicatedPartitions", dimensions=[
            SimpleNamespace(name="Cluster Name", value="demo"), SimpleNamespace(name="Broker ID", value=broker)])
        return SimpleNamespace(id=i, expression=None, label=None, return_data="false",
                               metric_stat=SimpleNamespace(metric=metric, period=10, stat="Maximum"))
    expr = SimpleNamespace(id="urp", expression="SUM([b1,b2,b3])", label="URP", return_data="true", metric_stat=None)
    alarm = _alarm(metric_data_queries=[expr, q("b1", "1"), q("b2", "2"), q("b3", "3")], period=None,
                   evaluation_periods=1, datapoints_to_alarm=1)
    b = _bridge([_datum(1001, 0, "1"), _datum(1002, 3, "2")])
    state, reason, data = b.evaluate(alarm, 1005.0)
    assert state == "ALARM" and "[3.0 (" in reason
    assert "statistic" not in json.loads(data)
