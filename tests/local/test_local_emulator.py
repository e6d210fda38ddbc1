"""The AWS emulator against the real cluster: MSK, SSM Run Command, CloudWatch alarms with their
EventBridge events, and moto's Step Functions engine reaching a function through the Lambda router."""

from __future__ import annotations

import json
import time

import botocore.exceptions
import pytest
from local_lambda_stub import FunctionError, LambdaStub

from local.stack import AlarmSpec, Stack, StackConfig

pytestmark = pytest.mark.timeout(600)


def _echo(event):
    return {"echo": event}


def _boom(event):
    raise FunctionError("ClusterNotActive", "cluster is UPDATING")


@pytest.fixture(scope="module")
def stub():
    with LambdaStub({"detector": lambda e: {"decision": "started"}, "echo": _echo, "boom": _boom}) as s:
        yield s


@pytest.fixture(scope="module")
def stack(kafka_available, tmp_path_factory, stub):
    cfg = StackConfig(
        state_dir=tmp_path_factory.mktemp("stack"),
        limit_kind="none",
        bridge_tick_s=2,
        update_min_seconds=2,
        # "gone": a function whose runtime is not listening (port 9 refuses connections here).
        lambda_routes={"detector": stub.url, "echo": stub.url, "boom": stub.url, "gone": "http://127.0.0.1:9"},
        alarm=AlarmSpec(period_s=10),
    )
    with Stack(cfg) as s:
        yield s


# ---- MSK --------------------------------------------------------------------------------------


def test_msk_describes_the_real_cluster(stack):
    kafka = stack.client("kafka")
    listed = kafka.list_clusters_v2(ClusterNameFilter="de")["ClusterInfoList"]
    assert [c["ClusterArn"] for c in listed] == [stack.cluster_arn]
    info = kafka.describe_cluster_v2(ClusterArn=stack.cluster_arn)["ClusterInfo"]
    assert info["State"] == "ACTIVE"
    assert info["ClusterName"] == "demo"
    assert stack.cluster_arn.startswith("arn:aws:kafka:us-east-1:123456789012:cluster/demo/")
    p = info["Provisioned"]
    assert p["NumberOfBrokerNodes"] == 2
    assert p["BrokerNodeGroupInfo"]["InstanceType"] == "kafka.t3.small"
    assert p["BrokerNodeGroupInfo"]["ZoneIds"] == ["use1-az1", "use1-az2"]
    assert p["CurrentBrokerSoftwareInfo"]["KafkaVersion"].startswith("4.1.")
    assert info["CreationTime"].tzinfo is not None
    boot = kafka.get_bootstrap_brokers(ClusterArn=stack.cluster_arn)["BootstrapBrokerString"]
    assert boot == stack.kafka.bootstrap_servers
    nodes = kafka.list_nodes(ClusterArn=stack.cluster_arn)["NodeInfoList"]
    assert sorted(n["BrokerNodeInfo"]["BrokerId"] for n in nodes) == [1.0, 2.0]


def test_msk_unknown_arn_is_404_not_found(stack):
    kafka = stack.client("kafka")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        kafka.describe_cluster_v2(ClusterArn=stack.cluster_arn.replace("/demo/", "/nope/"))
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_msk_update_broker_count_rejects_bad_requests(stack):
    kafka = stack.client("kafka")
    version = kafka.describe_cluster_v2(ClusterArn=stack.cluster_arn)["ClusterInfo"]["CurrentVersion"]
    for current, target in (("K0STALE0000000", 4), (version, 3), (version, 2), (version, 8)):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            kafka.update_broker_count(ClusterArn=stack.cluster_arn, CurrentVersion=current,
                                      TargetNumberOfBrokerNodes=target)
        assert e.value.response["Error"]["Code"] == "BadRequestException", (current, target)
    assert kafka.describe_cluster_v2(ClusterArn=stack.cluster_arn)["ClusterInfo"]["State"] == "ACTIVE"
    assert stack.metadata().broker_ids == [1, 2]


# ---- SSM --------------------------------------------------------------------------------------


def _wait_invocation(ssm, command_id, instance_id, timeout=120):
    deadline = time.monotonic() + timeout
    seen = set()
    while True:
        inv = ssm.get_command_invocation(CommandId=command_id, InstanceId=instance_id)
        seen.add(inv["Status"])
        if inv["Status"] not in ("Pending", "InProgress", "Delayed"):
            return inv, seen
        assert time.monotonic() < deadline, inv
        time.sleep(0.3)


def test_ssm_runs_the_kafka_cli_on_the_client_and_writes_s3(stack):
    ssm, s3 = stack.client("ssm"), stack.client("s3")
    s3.create_bucket(Bucket="ssm-output")
    iid = stack.client_instance_id
    script = [
        "set -e",
        f"kafka-topics.sh --bootstrap-server {stack.kafka.bootstrap_servers} --create --topic from-ssm"
        " --partitions 2 --replication-factor 2",
        f"kafka-topics.sh --bootstrap-server {stack.kafka.bootstrap_servers} --list",
        "echo to-stderr >&2",
    ]
    cmd = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript", Comment="create a topic",
                           Parameters={"commands": script}, OutputS3BucketName="ssm-output",
                           OutputS3KeyPrefix="runs")["Command"]
    inv, seen = _wait_invocation(ssm, cmd["CommandId"], iid)
    assert "InProgress" in seen
    assert inv["Status"] == "Success" and inv["ResponseCode"] == 0
    assert "from-ssm" in inv["StandardOutputContent"]
    assert inv["StandardErrorContent"].strip() == "to-stderr"
    key = f"runs/{cmd['CommandId']}/{iid}/awsrunShellScript/0.awsrunShellScript/stdout"
    assert "from-ssm" in s3.get_object(Bucket="ssm-output", Key=key)["Body"].read().decode()
    assert inv["StandardOutputUrl"].endswith(f"/ssm-output/{key}")
    assert "from-ssm" in [t.topic for t in stack.metadata().partitions]
    listed = ssm.list_commands(CommandId=cmd["CommandId"])["Commands"][0]
    assert listed["Status"] == "Success"


def test_ssm_reports_failure_truncates_output_and_rejects_other_instances(stack):
    ssm = stack.client("ssm")
    iid = stack.client_instance_id
    cmd = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                           Parameters={"commands": ["head -c 30000 /dev/zero | tr '\\0' x", "exit 7"]})["Command"]
    inv, _ = _wait_invocation(ssm, cmd["CommandId"], iid)
    assert inv["Status"] == "Failed" and inv["ResponseCode"] == 7
    assert len(inv["StandardOutputContent"]) == 24000
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ssm.send_command(InstanceIds=["i-0123456789abcdef0"], DocumentName="AWS-RunShellScript",
                         Parameters={"commands": ["true"]})
    assert e.value.response["Error"]["Code"] == "InvalidInstanceId"
    slow = ssm.send_command(InstanceIds=[iid], DocumentName="AWS-RunShellScript",
                            Parameters={"commands": ["sleep 30"], "executionTimeout": ["1"]})["Command"]
    inv, _ = _wait_invocation(ssm, slow["CommandId"], iid)
    assert inv["Status"] == "TimedOut"


# ---- CloudWatch alarm -> EventBridge event ----------------------------------------------------


def test_bridge_publishes_per_broker_urp_and_the_alarm_event_reaches_the_detector(stack, stub):
    cw = stack.client("cloudwatch")
    stack.tick()
    metrics = cw.list_metrics(Namespace="AWS/Kafka", MetricName="UnderReplicatedPartitions")["Metrics"]
    brokers = {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "Broker ID"}
    assert {"1", "2"} <= brokers
    assert all({d["Name"] for d in m["Dimensions"]} == {"Cluster Name", "Broker ID"} for m in metrics)
    alarm = cw.describe_alarms(AlarmNames=["demo-under-replicated"])["MetricAlarms"][0]
    assert alarm["StateValue"] == "OK"  # URP is 0: not breaching
    # A second alarm whose threshold the real 0 breaches (>= 0): evaluated by the bridge, not set by hand.
    cw.put_metric_alarm(
        AlarmName="urp-ge-zero", Namespace="AWS/Kafka", MetricName="UnderReplicatedPartitions",
        Dimensions=[{"Name": "Cluster Name", "Value": "demo"}, {"Name": "Broker ID", "Value": "1"}],
        Statistic="Maximum", Period=10, EvaluationPeriods=1, Threshold=0,
        ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmDescription="test alarm",
    )
    cw.set_alarm_state(AlarmName="urp-ge-zero", StateValue="INSUFFICIENT_DATA", StateReason="test start")
    stack.tick()
    event = stub.wait_for_call(
        "detector", lambda e: e.get("detail", {}).get("alarmName") == "urp-ge-zero"
        and e["detail"]["state"]["value"] == "ALARM", timeout=30)
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["source"] == "aws.cloudwatch"
    assert event["account"] == "123456789012" and event["region"] == "us-east-1"
    assert event["resources"] == ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:urp-ge-zero"]
    d = event["detail"]
    assert d["previousState"]["value"] == "INSUFFICIENT_DATA"
    assert d["state"]["reason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [0.0")
    reason_data = json.loads(d["state"]["reasonData"])
    assert reason_data["statistic"] == "Maximum" and reason_data["recentDatapoints"] == [0.0]
    metric = d["configuration"]["metrics"][0]["metricStat"]
    assert metric["metric"] == {"namespace": "AWS/Kafka", "name": "UnderReplicatedPartitions",
                                "dimensions": {"Cluster Name": "demo", "Broker ID": "1"}}
    assert metric["period"] == 10 and metric["stat"] == "Maximum"
    assert d["configuration"]["description"] == "test alarm"
    assert cw.describe_alarms(AlarmNames=["urp-ge-zero"])["MetricAlarms"][0]["StateValue"] == "ALARM"
    cw.delete_alarms(AlarmNames=["urp-ge-zero"])


def test_set_alarm_state_emits_the_metric_math_event_like_cloudwatch(stack, stub):
    cw = stack.client("cloudwatch")
    cw.set_alarm_state(AlarmName="demo-under-replicated", StateValue="ALARM", StateReason="forced by test")
    event = stub.wait_for_call(
        "detector", lambda e: e["detail"]["alarmName"] == "demo-under-replicated"
        and e["detail"]["state"]["value"] == "ALARM", timeout=30)
    metrics = event["detail"]["configuration"]["metrics"]
    assert metrics[0] == {"id": "urp", "expression": "SUM([b1,b2,b3,b4,b5,b6])",
                          "label": "UnderReplicatedPartitions", "returnData": True}
    assert metrics[1]["metricStat"]["metric"]["dimensions"] == {"Cluster Name": "demo", "Broker ID": "1"}
    # The next evaluation puts it back, as CloudWatch would: URP is really 0.
    stack.tick()
    deadline = time.monotonic() + 30
    while cw.describe_alarms(AlarmNames=["demo-under-replicated"])["MetricAlarms"][0]["StateValue"] != "OK":
        assert time.monotonic() < deadline
        time.sleep(0.5)


# ---- Step Functions engine -> router -> function -----------------------------------------------

ASL = {
    "StartAt": "Call",
    "States": {
        "Call": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:echo", "Payload.$": "$"},
            "ResultSelector": {"out.$": "$.Payload"},
            "Next": "Fail?",
        },
        "Fail?": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "boom", "Payload": {}},
            "Catch": [{"ErrorEquals": ["ClusterNotActive"], "ResultPath": "$.error", "Next": "Caught"}],
            "End": True,
        },
        "Caught": {"Type": "Pass", "Next": "Gone"},
        "Gone": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "gone", "Payload": {}},
            "Catch": [{"ErrorEquals": ["Lambda.ServiceException"], "ResultPath": "$.gone", "Next": "Done"}],
            "End": True,
        },
        "Done": {"Type": "Pass", "End": True},
    },
}


def test_step_functions_engine_runs_asl_through_the_router(stack, stub):
    sfn = stack.client("stepfunctions")
    sm = sfn.create_state_machine(name="tiny", definition=json.dumps(ASL),
                                  roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    ex = sfn.start_execution(stateMachineArn=sm, name="run-1", input=json.dumps({"cluster": "demo"}))
    deadline = time.monotonic() + 90
    while (d := sfn.describe_execution(executionArn=ex["executionArn"]))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert d["status"] == "SUCCEEDED", d
    out = json.loads(d["output"])
    assert out["out"] == {"echo": {"cluster": "demo"}}
    assert out["error"]["Error"] == "ClusterNotActive"
    # A runtime that cannot be reached is Lambda's ServiceException, which the ASL can catch.
    assert out["gone"]["Error"] == "Lambda.ServiceException", out["gone"]
    assert ("echo", {"cluster": "demo"}) in stub.calls
    assert any(i["function"] == "boom" and i["error_type"] == "ClusterNotActive" for i in stack.invocations())


# ---- last: the cluster grows ------------------------------------------------------------------


def test_update_broker_count_starts_real_brokers_updating_then_active(stack):
    kafka = stack.client("kafka")
    before = kafka.describe_cluster_v2(ClusterArn=stack.cluster_arn)["ClusterInfo"]
    op_arn = kafka.update_broker_count(ClusterArn=stack.cluster_arn, CurrentVersion=before["CurrentVersion"],
                                       TargetNumberOfBrokerNodes=4)["ClusterOperationArn"]
    states = []
    deadline = time.monotonic() + 180
    while True:
        info = kafka.describe_cluster_v2(ClusterArn=stack.cluster_arn)["ClusterInfo"]
        states.append(info["State"])
        if info["State"] == "ACTIVE":
            break
        assert time.monotonic() < deadline, states
        with pytest.raises(botocore.exceptions.ClientError):  # no second update while UPDATING
            kafka.update_broker_count(ClusterArn=stack.cluster_arn, CurrentVersion=info["CurrentVersion"],
                                      TargetNumberOfBrokerNodes=6)
        time.sleep(0.5)
    assert states[0] == "UPDATING"
    assert info["Provisioned"]["NumberOfBrokerNodes"] == 4
    assert info["CurrentVersion"] != before["CurrentVersion"]
    snap = stack.metadata()
    assert snap.broker_ids == [1, 2, 3, 4]
    assert {b.id: b.rack for b in snap.brokers} == {1: "use1-az1", 2: "use1-az2", 3: "use1-az1", 4: "use1-az2"}
    assert len(kafka.get_bootstrap_brokers(ClusterArn=stack.cluster_arn)["BootstrapBrokerString"].split(",")) == 4
    ops = kafka.list_cluster_operations_v2(ClusterArn=stack.cluster_arn)["ClusterOperationInfoList"]
    assert ops[0]["OperationArn"] == op_arn and ops[0]["OperationType"] == "INCREASE_BROKER_COUNT"
    op = kafka.describe_cluster_operation_v2(ClusterOperationArn=op_arn)["ClusterOperationInfo"]
    assert op["OperationState"] == "UPDATE_COMPLETE"
    assert op["Provisioned"]["SourceClusterInfo"]["NumberOfBrokerNodes"] == 2
    assert op["Provisioned"]["TargetClusterInfo"]["NumberOfBrokerNodes"] == 4
