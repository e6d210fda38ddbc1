"""The local stack is as strict as AWS where the product depends on a rule (issue 11), each rule shown
enforced and the product coping with it, on the real functions under cargo lambda watch, moto's Step
Functions engine and a real 2-broker Kafka cluster.

IAM per function (local/aws/iam.py, policies from template.yaml):
1. a copy of template.yaml without assess's DescribeClusterV2 statement: the Assess step fails with
   AccessDenied (the errorType the ASL sees), the evaluator's journal names the action and the
   cluster, and the workflow goes to its Cleanup;
2. with template.yaml itself the same step succeeds (so 1. fails when the rule is broken);
S3 (403 vs 404):
3. a missing key reads 403 AccessDenied for a role with kafka-ops' grant on the plans (GetObject and
   PutObject on autoheal/*, no s3:ListBucket), and 404 NoSuchKey once a ListBucket statement is added.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local.aws.iam import evaluate
from local.aws.policies import TEMPLATE
from local.deploy import KAFKA_BIN, Deployment, workflow_stack_config
from local.stack import Stack

pytestmark = pytest.mark.timeout(900)

# assess's only grant besides its logs: without it, Assess cannot describe the cluster
ASSESS_DESCRIBE = """              - Sid: DescribeTheCluster
                Effect: Allow
                Action: kafka:DescribeClusterV2
                Resource: !Ref ClusterArn
"""


@pytest.fixture(scope="module")
def deployed(kafka_available: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Stack(workflow_stack_config(tmp_path_factory.mktemp("aws-rules-stack"))) as stack:
        yield Deployment.create(stack, name="aws-rules", timings={"VerifyPollSeconds": "2"})


def template_without(tmp: Path, role: str, statement: str) -> Path:
    """A copy of template.yaml with `statement` removed from `role`'s policies only."""
    text = TEMPLATE.read_text()
    start = text.index(f"\n  {role}:\n")
    end = text.index("\n\n", start) + 1
    block = text[start:end]
    assert statement in block, f"{role} no longer has the statement this test removes"
    copy = tmp / "template.yaml"
    copy.write_text(text[:start] + block.replace(statement, "", 1) + text[end:])
    return copy


def run_until(d: Deployment, name: str, done: Any, timeout: float = 180) -> tuple[str, list[dict]]:
    """Start an execution; poll its history until `done(events)` or it ends; returns (arn, events)."""
    arn = d.start_execution(name, d.execution_input(current=2, target=4))
    deadline = time.monotonic() + timeout
    while True:
        events = d.events(arn)
        status = d.stack.client("stepfunctions").describe_execution(executionArn=arn)["status"]
        if done(events) or status != "RUNNING":
            return arn, events
        assert time.monotonic() < deadline, f"{name}: neither done nor ended after {timeout:.0f}s:\n{d.history(arn)}"
        time.sleep(1)


def entered(events: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def task_errors(events: list[dict]) -> list[tuple[str, str]]:
    out = []
    for e in events:
        for k, v in e.items():
            if k.endswith("FailedEventDetails") and isinstance(v, dict) and "error" in v:
                out.append((v["error"], str(v.get("cause", ""))))
    return out


def test_a_function_without_its_grant_gets_access_denied(deployed: Deployment, tmp_path: Path) -> None:
    stack = deployed.stack
    d = dataclasses.replace(deployed, template=template_without(tmp_path, "AssessRole", ASSESS_DESCRIBE))
    d.start_lambdas(("assess", "kafka-ops", "notify"), KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6")
    since = time.time()
    arn, _ = run_until(d, "denied-assess", lambda ev: False, timeout=300)
    end = d.wait_end(arn, timeout=60)
    states = entered(d.events(arn))
    assert end["status"] == "FAILED", end["history"]
    # the step failed with the errorType the product gives an AccessDenied answer, and the workflow
    # went on to its Cleanup (nothing to undo) and the failure notification
    assert states[:3] == ["Settings", "Assess", "Cleanup"], end["history"]
    errors = task_errors(d.events(arn))
    assert any(err == "AccessDenied" for err, _cause in errors), end["history"]
    denials = [x for x in stack.iam()["denials"] if x["ts"] >= since and x["function"] == "assess"]
    assert {(x["action"], x["resource"]) for x in denials} == {("kafka:DescribeClusterV2", stack.cluster_arn)}, denials
    journal = [json.loads(line) for line in (stack.state_dir / "iam-denials.jsonl").read_text().splitlines()]
    assert any(j["function"] == "assess" and j["action"] == "kafka:DescribeClusterV2" for j in journal)


def test_with_the_real_template_the_same_step_succeeds(deployed: Deployment) -> None:
    stack = deployed.stack
    deployed.start_lambdas(("assess",), KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6")
    since = time.time()
    arn, events = run_until(deployed, "allowed-assess", lambda ev: "ApprovalGate" in entered(ev))
    stack.client("stepfunctions").stop_execution(executionArn=arn)
    assert "ApprovalGate" in entered(events), deployed.history(arn)
    assert not [x for x in stack.iam()["denials"] if x["ts"] >= since], stack.iam()["denials"]
    allowed = {(a["function"], a["action"]) for a in stack.iam()["allowed"]}
    assert ("assess", "kafka:DescribeClusterV2") in allowed


def s3_as(stack: Stack, role: str, function: str, policies: list[dict]) -> Any:
    """An S3 client with the credentials of `role` (made in moto's IAM, assumed through STS and
    registered with the emulator's evaluator like a function's)."""
    iam, sts = stack.client("iam"), stack.client("sts")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                     "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    c = sts.assume_role(RoleArn=arn, RoleSessionName=function)["Credentials"]
    stack.control("POST", "/_local/iam", {"identities": {c["AccessKeyId"]: {
        "function": function, "role": role, "policies": policies}}})
    return boto3.client("s3", endpoint_url=stack.endpoint, region_name=stack.region,
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(deployed: Deployment) -> None:
    stack, bucket = deployed.stack, deployed.bucket
    # kafka-ops' grant on the plans (template.yaml's CapturesAndPlans), without and with ListBucket
    ops = [{"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": f"arn:aws:s3:::{bucket}/autoheal/*"}]}]
    assert evaluate(ops, "s3:ListBucket", f"arn:aws:s3:::{bucket}") == "implicit-deny"
    listing = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}]}
    without = s3_as(stack, "rules-kafka-ops", "kafka-ops", ops)
    with_list = s3_as(stack, "rules-kafka-ops-list", "kafka-ops", ops + [listing])

    key, missing = "autoheal/run-1/stdout", "autoheal/run-1/stderr"
    without.put_object(Bucket=bucket, Key=key, Body=b"out")
    assert without.get_object(Bucket=bucket, Key=key)["Body"].read() == b"out"
    for client, status, code in ((without, 403, "AccessDenied"), (with_list, 404, "NoSuchKey")):
        with pytest.raises(ClientError) as got:
            client.get_object(Bucket=bucket, Key=missing)
        assert (got.value.response["ResponseMetadata"]["HTTPStatusCode"], got.value.response["Error"]["Code"]) == \
            (status, code)
        with pytest.raises(ClientError) as got:
            client.head_object(Bucket=bucket, Key=missing)
        assert got.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # and outside its prefix, even an existing key is denied (the grant is autoheal/*)
    stack.client("s3").put_object(Bucket=bucket, Key="elsewhere", Body=b"x")
    with pytest.raises(ClientError) as got:
        with_list.get_object(Bucket=bucket, Key="elsewhere")
    assert got.value.response["Error"]["Code"] == "AccessDenied"



# ---- SSM agent, MSK operations, Step Functions limits (issue 11, items 3-5) ------------------
# The SSM and MSK rules share the module's Kafka-backed stack (`deployed`, above; they run after
# the IAM tests, so growing the cluster here does not change those); the Step Functions rules run
# on an emulator without Kafka, with functions served by a Python stub (_Functions).
#
# SSM: only non-empty outputs are uploaded; console output cut at 24,000 / 8,000 characters while
# S3 keeps it whole; `sh`, not bash; a delay rule keeps a command InProgress; a fault rule fails a
# script after a section; CancelCommand -> Cancelled; executionTimeout -> TimedOut.
# MSK: a failed UpdateBrokerCount ends UPDATE_FAILED with errorInfo and the old count; somebody
# else's operation keeps the cluster UPDATING; a slow update stays UPDATE_IN_PROGRESS for its time.
# Step Functions: a state over 256 KiB is States.DataLimitExceeded even with a Catch on States.ALL;
# StartExecution refuses input over 256 KiB; a Lambda past its Timeout is Sandbox.Timedout (or
# Lambda.Unknown for the older payload); throttling is Lambda.TooManyRequestsException; an
# unreachable runtime Lambda.ServiceException.

import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

from local.stack import StackConfig  # noqa: E402


class _Functions:
    """Lambda functions without Rust, speaking the invoke API as cargo lambda watch does: `big`
    answers a string of event["bytes"] characters, `slow` sleeps event["sleep"] seconds, `echo`
    answers its event."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                name = self.path.split("/")[3]
                event = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if name == "big":
                    doc: Any = {"blob": "x" * int(event.get("bytes", 0))}
                elif name == "slow":
                    time.sleep(float(event.get("sleep", 0)))
                    doc = {"slept": event.get("sleep", 0)}
                else:
                    doc = event
                data = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def sfn_stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    fns = _Functions()
    cfg = StackConfig(
        state_dir=tmp_path_factory.mktemp("sfn-stack"), start_kafka=False, alarm=None, event_targets=(),
        # "gone": a runtime that is not listening (port 9 refuses connections).
        lambda_routes={"big": fns.url, "slow": fns.url, "echo": fns.url, "gone": "http://127.0.0.1:9"},
    )
    try:
        with Stack(cfg) as s:
            yield s
    finally:
        fns.close()


@pytest.fixture(scope="module")
def kafka_stack(deployed: Deployment) -> Stack:
    deployed.stack.client("s3").create_bucket(Bucket="ssm-out")
    return deployed.stack


# ---- SSM ------------------------------------------------------------------------------------

_OUT = "awsrunShellScript/0.awsrunShellScript"


def _send(stack: Stack, commands: list[str], comment: str = "", **params: list[str]) -> str:
    return stack.client("ssm").send_command(
        InstanceIds=[stack.client_instance_id], DocumentName="AWS-RunShellScript", Comment=comment,
        Parameters={"commands": commands, **params}, OutputS3BucketName="ssm-out", OutputS3KeyPrefix="runs",
    )["Command"]["CommandId"]


def _wait(stack: Stack, cid: str, timeout: float = 90) -> tuple[dict, list[tuple[float, str]]]:
    """The final invocation and every (seconds since the first poll, status) seen while polling."""
    ssm = stack.client("ssm")
    t0 = time.monotonic()
    seen: list[tuple[float, str]] = []
    while True:
        inv = ssm.get_command_invocation(CommandId=cid, InstanceId=stack.client_instance_id)
        seen.append((time.monotonic() - t0, inv["Status"]))
        if inv["Status"] not in ("Pending", "InProgress", "Delayed"):
            return inv, seen
        assert time.monotonic() - t0 < timeout, seen[-5:]
        time.sleep(0.25)


def _object(stack: Stack, cid: str, name: str) -> bytes | None:
    key = f"runs/{cid}/{stack.client_instance_id}/{_OUT}/{name}"
    try:
        return stack.client("s3").get_object(Bucket="ssm-out", Key=key)["Body"].read()
    except ClientError as e:
        assert e.response["Error"]["Code"] in ("NoSuchKey", "404"), e.response
        return None


def test_ssm_uploads_only_non_empty_output(kafka_stack: Stack) -> None:
    clean = _send(kafka_stack, ["echo to-stdout"])
    silent = _send(kafka_stack, ["true"])
    inv, _ = _wait(kafka_stack, clean)
    assert inv["Status"] == "Success"
    assert _object(kafka_stack, clean, "stdout") == b"to-stdout\n"
    assert _object(kafka_stack, clean, "stderr") is None, "a clean run has no stderr object"
    assert inv["StandardOutputUrl"] and inv["StandardErrorUrl"] == ""
    inv, _ = _wait(kafka_stack, silent)
    assert inv["Status"] == "Success"
    assert _object(kafka_stack, silent, "stdout") is None, "a silent run has no stdout object"
    assert inv["StandardOutputUrl"] == ""


def test_ssm_console_output_is_cut_and_s3_keeps_it_whole(kafka_stack: Stack) -> None:
    cid = _send(kafka_stack, ["head -c 30000 /dev/zero | tr '\\0' o", "head -c 9000 /dev/zero | tr '\\0' e >&2"])
    inv, _ = _wait(kafka_stack, cid)
    assert inv["Status"] == "Success"
    assert inv["StandardOutputContent"] == "o" * 24_000
    assert inv["StandardErrorContent"] == "e" * 8_000
    assert _object(kafka_stack, cid, "stdout") == b"o" * 30_000
    assert _object(kafka_stack, cid, "stderr") == b"e" * 9_000


def test_ssm_runs_the_commands_with_sh_not_bash(kafka_stack: Stack) -> None:
    cid = _send(kafka_stack, ['if [ -n "${BASH_VERSION:-}" ]; then echo "ran under bash"; fi', "[[ 1 == 1 ]]"])
    inv, _ = _wait(kafka_stack, cid)
    assert "ran under bash" not in inv["StandardOutputContent"]
    assert inv["Status"] == "Failed" and inv["ResponseCode"] == 127, inv
    assert "not found" in inv["StandardErrorContent"]


def test_ssm_delay_keeps_a_command_in_progress(kafka_stack: Stack) -> None:
    rules = kafka_stack.control("POST", "/_local/ssm", {"match": "slow-capture", "delay_seconds": 5})
    assert rules["rules"][-1]["match"] == "slow-capture"
    slow = _send(kafka_stack, ["echo captured"], comment="autoheal slow-capture stage 1")
    inv, seen = _wait(kafka_stack, slow)
    assert inv["Status"] == "Success" and inv["StandardOutputContent"] == "captured\n"
    in_progress = [t for t, st in seen if st == "InProgress"]
    assert in_progress and max(in_progress) >= 4.5, seen[:3]
    # count 1 (the default): the next matching command is not held
    fast = _send(kafka_stack, ["echo again"], comment="autoheal slow-capture stage 2")
    inv, seen = _wait(kafka_stack, fast)
    assert inv["Status"] == "Success" and seen[-1][0] < 4.5
    assert kafka_stack.control("GET", "/_local/ssm")["rules"] == []


def test_ssm_fault_fails_a_script_after_a_section(kafka_stack: Stack) -> None:
    kafka_stack.control("POST", "/_local/ssm", {"match": "execute stage", "fail_after_section": "execute",
                                                "exit_code": 3})
    script = ["set -eu", "echo '#autoheal:section:list'", "echo listed", "echo '#autoheal:section:execute'",
              "echo throttles-set", "echo '#autoheal:end'"]
    cid = _send(kafka_stack, script, comment="autoheal execute stage 1")
    inv, _ = _wait(kafka_stack, cid)
    assert inv["Status"] == "Failed" and inv["ResponseCode"] == 3, inv
    assert "throttles-set" in inv["StandardOutputContent"], "the section itself ran"
    assert "#autoheal:end" not in inv["StandardOutputContent"]
    assert "injected failure" in inv["StandardErrorContent"]


def test_ssm_cancel_command_ends_cancelled(kafka_stack: Stack) -> None:
    ssm = kafka_stack.client("ssm")
    running = _send(kafka_stack, ["sleep 60"])
    kafka_stack.control("POST", "/_local/ssm", {"match": "held for cancel", "delay_seconds": 60})
    held = _send(kafka_stack, ["echo never"], comment="held for cancel")
    deadline = time.monotonic() + 30
    while ssm.get_command_invocation(CommandId=running, InstanceId=kafka_stack.client_instance_id)["Status"] != "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    t0 = time.monotonic()
    ssm.cancel_command(CommandId=running)
    ssm.cancel_command(CommandId=held)
    for cid in (running, held):
        inv, _ = _wait(kafka_stack, cid, timeout=20)
        assert inv["Status"] == "Cancelled", inv
    assert time.monotonic() - t0 < 20
    assert _object(kafka_stack, held, "stdout") is None, "a command cancelled while held never ran"


def test_ssm_execution_timeout_ends_timed_out(kafka_stack: Stack) -> None:
    t0 = time.monotonic()
    cid = _send(kafka_stack, ["sleep 60"], executionTimeout=["2"])
    inv, _ = _wait(kafka_stack, cid, timeout=30)
    assert inv["Status"] == "TimedOut", inv
    assert time.monotonic() - t0 < 20
    # a delay counts against the timeout, as a slow script would
    kafka_stack.control("POST", "/_local/ssm", {"match": "slow past timeout", "delay_seconds": 30})
    cid = _send(kafka_stack, ["echo never"], comment="slow past timeout", executionTimeout=["2"])
    inv, _ = _wait(kafka_stack, cid, timeout=30)
    assert inv["Status"] == "TimedOut", inv


# ---- MSK ------------------------------------------------------------------------------------


def _cluster(stack: Stack) -> dict:
    return stack.client("kafka").describe_cluster_v2(ClusterArn=stack.cluster_arn)["ClusterInfo"]


def _update(stack: Stack, target: int) -> str:
    return stack.client("kafka").update_broker_count(
        ClusterArn=stack.cluster_arn, CurrentVersion=_cluster(stack)["CurrentVersion"], TargetNumberOfBrokerNodes=target,
    )["ClusterOperationArn"]


def _watch(stack: Stack, op_arn: str, timeout: float = 180) -> tuple[dict, list[tuple[float, str, str]]]:
    """The operation once it has ended, and every (seconds, cluster state, operation state) seen."""
    kafka = stack.client("kafka")
    t0 = time.monotonic()
    seen = []
    while True:
        op = kafka.describe_cluster_operation_v2(ClusterOperationArn=op_arn)["ClusterOperationInfo"]
        seen.append((time.monotonic() - t0, _cluster(stack)["State"], op["OperationState"]))
        if op["OperationState"] in ("UPDATE_COMPLETE", "UPDATE_FAILED"):
            return op, seen
        assert time.monotonic() - t0 < timeout, seen[-5:]
        time.sleep(0.2)


def test_msk_failed_update_ends_update_failed_with_the_old_count(kafka_stack: Stack) -> None:
    before = _cluster(kafka_stack)
    kafka_stack.control("POST", "/_local/msk", {"fail_next_update": True, "update_seconds": 3})
    op_arn = _update(kafka_stack, 4)
    op, seen = _watch(kafka_stack, op_arn)
    assert op["OperationState"] == "UPDATE_FAILED"
    assert set(op["ErrorInfo"]) == {"ErrorCode", "ErrorString"} and op["ErrorInfo"]["ErrorCode"]
    assert ("UPDATING", "UPDATE_IN_PROGRESS") in {(c, o) for _, c, o in seen}
    assert seen[-1][0] >= 2.5, "the failure comes after the update's time, not at once"
    after = _cluster(kafka_stack)
    assert after["State"] == "ACTIVE"
    assert after["Provisioned"]["NumberOfBrokerNodes"] == 2
    assert after["CurrentVersion"] == before["CurrentVersion"]
    assert kafka_stack.metadata().broker_ids == [1, 2]
    listed = kafka_stack.client("kafka").list_cluster_operations_v2(ClusterArn=kafka_stack.cluster_arn)
    assert listed["ClusterOperationInfoList"][0]["OperationState"] == "UPDATE_FAILED"


def test_msk_foreign_operation_keeps_the_cluster_updating(kafka_stack: Stack) -> None:
    kafka = kafka_stack.client("kafka")
    before = _cluster(kafka_stack)
    res = kafka_stack.control("POST", "/_local/msk", {"foreign_update_seconds": 4})
    assert _cluster(kafka_stack)["State"] == "UPDATING"
    with pytest.raises(ClientError) as e:
        kafka.update_broker_count(ClusterArn=kafka_stack.cluster_arn, CurrentVersion=before["CurrentVersion"],
                                  TargetNumberOfBrokerNodes=4)
    assert e.value.response["Error"]["Code"] == "BadRequestException"
    op, _ = _watch(kafka_stack, res["operation_arn"], timeout=30)
    assert op["OperationType"] == "UPDATE_CLUSTER_CONFIGURATION" and op["OperationState"] == "UPDATE_COMPLETE"
    after = _cluster(kafka_stack)
    assert after["State"] == "ACTIVE" and after["CurrentVersion"] != before["CurrentVersion"]


def test_msk_slow_update_stays_updating_then_completes(kafka_stack: Stack) -> None:
    kafka_stack.control("POST", "/_local/msk", {"update_seconds": 15})
    op_arn = _update(kafka_stack, 4)
    op, seen = _watch(kafka_stack, op_arn, timeout=240)
    assert op["OperationState"] == "UPDATE_COMPLETE", op
    assert seen[0][2] in ("PENDING", "UPDATE_IN_PROGRESS")
    updating = [t for t, c, o in seen if c == "UPDATING" and o == "UPDATE_IN_PROGRESS"]
    assert updating and max(updating) >= 13, seen[-3:]
    assert op["Provisioned"]["TargetClusterInfo"]["NumberOfBrokerNodes"] == 4
    assert _cluster(kafka_stack)["Provisioned"]["NumberOfBrokerNodes"] == 4
    assert kafka_stack.metadata().broker_ids == [1, 2, 3, 4]


# ---- Step Functions -------------------------------------------------------------------------


def _run(stack: Stack, asl: dict, payload: Any, name: str, timeout: float = 60) -> dict:
    sfn = stack.client("stepfunctions")
    sm = sfn.create_state_machine(name=name, definition=json.dumps(asl),
                                  roleArn=f"arn:aws:iam::{stack.account_id}:role/{name}")["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, name=f"{name}-1", input=json.dumps(payload))["executionArn"]
    deadline = time.monotonic() + timeout
    while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    return d


def _caught(fn: str, payload: dict, errors: list[str]) -> dict:
    """One lambda:invoke Task with a Catch on `errors` (the error lands in $.error)."""
    call = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": f"arn:aws:lambda:us-east-1:123456789012:function:{fn}", "Payload": payload},
            "ResultSelector": {"ok": True}, "ResultPath": "$.result",
            "Catch": [{"ErrorEquals": errors, "ResultPath": "$.error", "Next": "Caught"}], "End": True}
    return {"StartAt": "Call", "States": {"Call": call, "Caught": {"Type": "Pass", "End": True}}}


def test_state_over_256_kib_fails_even_with_a_catch_on_states_all(sfn_stack: Stack) -> None:
    # A task result over the quota: States.DataLimitExceeded, which States.ALL does not catch.
    d = _run(sfn_stack, _caught("big", {"bytes": 300_000}, ["States.ALL"]), {}, "big-result")
    assert d["status"] == "FAILED", d
    assert d["error"] == "States.DataLimitExceeded", d
    # The same machine under the quota succeeds: the limit, not the Catch, decides.
    d = _run(sfn_stack, _caught("big", {"bytes": 200_000}, ["States.ALL"]), {}, "small-result")
    assert d["status"] == "SUCCEEDED", d
    # A Pass state whose output is over the quota (no Lambda involved).
    asl = {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "Parameters": {"a.$": "$.s", "b.$": "$.s"},
                                                      "End": True}}}
    d = _run(sfn_stack, asl, {"s": "y" * 140_000}, "big-pass")
    assert d["status"] == "FAILED" and d["error"] == "States.DataLimitExceeded", d
    # A task whose input after Parameters is over the quota: refused before its function runs.
    calls = len([i for i in sfn_stack.invocations() if i["function"] == "slow"])
    payload = {"sleep": 0, "a.$": "$.s", "b.$": "$.s"}
    d = _run(sfn_stack, _caught("slow", payload, ["States.ALL"]), {"s": "y" * 140_000}, "big-input")
    assert d["status"] == "FAILED" and d["error"] == "States.DataLimitExceeded", d
    assert len([i for i in sfn_stack.invocations() if i["function"] == "slow"]) == calls


def test_start_execution_refuses_input_over_256_kib(sfn_stack: Stack) -> None:
    sfn = sfn_stack.client("stepfunctions")
    asl = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {}, "End": True}}}
    sm = sfn.create_state_machine(name="input-quota", definition=json.dumps(asl),
                                  roleArn=f"arn:aws:iam::{sfn_stack.account_id}:role/x")["stateMachineArn"]
    at_quota = json.dumps("z" * (262_144 - 2))
    assert len(at_quota.encode()) == 262_144
    sfn.start_execution(stateMachineArn=sm, name="at-quota", input=at_quota)
    with pytest.raises(ClientError) as e:
        sfn.start_execution(stateMachineArn=sm, name="over-quota", input=json.dumps("z" * (262_144 - 1)))
    assert e.value.response["Error"]["Code"] == "ValidationException"


def test_template_timeouts_are_the_functions_timeouts(sfn_stack: Stack) -> None:
    limits = sfn_stack.control("POST", "/_local/lambda", {})
    assert limits["timeouts"]["kafka-ops"] == 120
    assert limits["timeouts"]["detector"] == 25  # Globals.Function.Timeout
    assert limits["timeout_error"] == "Sandbox.Timedout"


def test_lambda_timeout_reaches_the_asl_under_the_aws_name(sfn_stack: Stack) -> None:
    lam = sfn_stack.client("lambda")
    lam.invoke(FunctionName="slow", Payload=json.dumps({"sleep": 0}))  # the cold start is not timed
    sfn_stack.control("POST", "/_local/lambda", {"timeouts": {"slow": 1}})
    try:
        r = lam.invoke(FunctionName="slow", Payload=json.dumps({"sleep": 3}))
        assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
        body = json.loads(r["Payload"].read())
        assert body["errorType"] == "Sandbox.Timedout"
        assert "Task timed out after 1.00 seconds" in body["errorMessage"]

        asl = _caught("slow", {"sleep": 3}, ["Sandbox.Timedout", "Lambda.Unknown"])
        d = _run(sfn_stack, asl, {}, "timeout-sandbox")
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"])["error"]["Error"] == "Sandbox.Timedout"
        # Lambda's older answer (no errorType) is Lambda.Unknown, as Step Functions documents it.
        sfn_stack.control("POST", "/_local/lambda", {"timeout_error": "Lambda.Unknown"})
        d = _run(sfn_stack, asl, {}, "timeout-unknown")
        assert json.loads(d["output"])["error"]["Error"] == "Lambda.Unknown", d
        # A Catch that names neither does not catch it.
        d = _run(sfn_stack, _caught("slow", {"sleep": 3}, ["Lambda.ServiceException"]), {}, "timeout-uncaught")
        assert d["status"] == "FAILED" and d["error"] == "Lambda.Unknown", d
    finally:
        sfn_stack.control("POST", "/_local/lambda", {"timeouts": {"slow": None}, "timeout_error": "Sandbox.Timedout"})


def test_lambda_service_errors_are_named_like_aws(sfn_stack: Stack) -> None:
    sfn_stack.control("POST", "/_local/lambda", {"throttle": {"echo": 1}})
    d = _run(sfn_stack, _caught("echo", {"x": 1}, ["Lambda.TooManyRequestsException"]), {}, "throttled")
    assert json.loads(d["output"])["error"]["Error"] == "Lambda.TooManyRequestsException", d
    d = _run(sfn_stack, _caught("echo", {"x": 1}, ["States.ALL"]), {}, "not-throttled")
    assert json.loads(d["output"])["result"] == {"ok": True}, "only the next invoke was throttled"
    d = _run(sfn_stack, _caught("gone", {}, ["Lambda.ServiceException"]), {}, "unreachable")
    assert json.loads(d["output"])["error"]["Error"] == "Lambda.ServiceException", d
