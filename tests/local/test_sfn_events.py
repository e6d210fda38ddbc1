"""The emulator's Step Functions → EventBridge events (local/aws/sfn_events.py), which moto does not
emit: an execution that ends FAILED, TIMED_OUT or ABORTED (StopExecution included) is delivered to
the configured target in AWS's "Step Functions Execution Status Change" shape; one that succeeds is
not (the template's rule matches FAILED / TIMED_OUT / ABORTED only); a target that fails is invoked
again, as Lambda retries an asynchronous invocation twice. No Kafka: the emulator alone, a stub
function.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from local_lambda_stub import FunctionError, LambdaStub

from local.stack import Stack, StackConfig

WAIT = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600, "End": True}}}
FAIL = {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "RemediationBroke", "Cause": "bad path"}}}
OK = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
TIMEOUT = {"StartAt": "Hold", "TimeoutSeconds": 1,
           "States": {"Hold": {"Type": "Wait", "Seconds": 30, "End": True}}}

failures = {"left": 0}


def _safety_net(event: Any) -> Any:
    if failures["left"] > 0:
        failures["left"] -= 1
        raise FunctionError("Retryable", "SSM throttled")
    return {"action": "nothing"}


@pytest.fixture(scope="module")
def stub():
    with LambdaStub({"safety-net": _safety_net}) as s:
        yield s


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, stub: LambdaStub) -> Any:
    cfg = StackConfig(state_dir=tmp_path_factory.mktemp("sfn-events"), start_kafka=False, alarm=None,
                      event_targets=(), lambda_routes={"safety-net": stub.url},
                      sfn_event_targets=("safety-net",), sfn_event_retry_delays_s=(0.2, 0.2))
    with Stack(cfg) as s:
        yield s


def _machine(stack: Stack, name: str, asl: dict) -> str:
    return stack.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(asl), roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]


def _wait_end(stack: Stack, arn: str, timeout: float = 60) -> dict:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (d := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still RUNNING"
        time.sleep(0.2)
    return d


def _record(stack: Stack, arn: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        recs = [r for r in stack.control("GET", "/_local/sfn-events") if r["execution"] == arn]
        if recs and recs[0].get("delivered"):
            return recs[0]
        assert time.monotonic() < deadline, f"no delivered event for {arn}: {recs}"
        time.sleep(0.2)


def test_stop_execution_delivers_an_aborted_event_in_aws_shape(stack: Stack, stub: LambdaStub) -> None:
    sm = _machine(stack, "hold", WAIT)
    arn = stack.client("stepfunctions").start_execution(stateMachineArn=sm, name="stopped-1",
                                                         input=json.dumps({"cluster_name": "demo"}))["executionArn"]
    time.sleep(1)
    stack.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="by hand")
    d = _wait_end(stack, arn)
    assert d["status"] == "ABORTED"
    event = stub.wait_for_call("safety-net", lambda e: e["detail"]["executionArn"] == arn, timeout=30)
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert (event["source"], event["detail-type"]) == ("aws.states", "Step Functions Execution Status Change")
    assert event["resources"] == [arn] and event["account"] == stack.account_id and event["region"] == stack.region
    detail = event["detail"]
    assert detail["stateMachineArn"] == sm and detail["name"] == "stopped-1" and detail["status"] == "ABORTED"
    assert detail["startDate"] == int(d["startDate"].timestamp() * 1000)
    assert detail["stopDate"] >= detail["startDate"] and isinstance(detail["stopDate"], int)
    assert json.loads(detail["input"]) == {"cluster_name": "demo"} and detail["inputDetails"] == {"included": True}
    assert detail["output"] is None and detail["outputDetails"] is None
    assert (detail["error"], detail["cause"]) == ("Operator", "by hand")
    assert (d["error"], d["cause"]) == ("Operator", "by hand"), "DescribeExecution keeps them too, as in AWS"
    assert time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(detail["stopDate"] / 1000)) == event["time"]
    # GetExecutionHistory's reverseOrder, which the safety net reads the last states with.
    sfn = stack.client("stepfunctions")
    oldest = [e["id"] for e in sfn.get_execution_history(executionArn=arn)["events"]]
    newest = [e["id"] for e in sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"]]
    assert len(oldest) > 2 and oldest == sorted(oldest) and newest == oldest[::-1]
    assert sfn.get_execution_history(executionArn=arn, reverseOrder=True)["events"][0]["type"] == "ExecutionAborted"


def test_failed_and_timed_out_are_delivered_succeeded_is_not(stack: Stack, stub: LambdaStub) -> None:
    sfn = stack.client("stepfunctions")
    failed = sfn.start_execution(stateMachineArn=_machine(stack, "fail", FAIL), name="f-1")["executionArn"]
    timed = sfn.start_execution(stateMachineArn=_machine(stack, "slow", TIMEOUT), name="t-1")["executionArn"]
    ok = sfn.start_execution(stateMachineArn=_machine(stack, "ok", OK), name="s-1")["executionArn"]
    assert _wait_end(stack, failed)["status"] == "FAILED"
    assert _wait_end(stack, timed)["status"] == "TIMED_OUT"
    assert _wait_end(stack, ok)["status"] == "SUCCEEDED"
    e = stub.wait_for_call("safety-net", lambda e: e["detail"]["executionArn"] == failed)["detail"]
    assert (e["status"], e["error"], e["cause"]) == ("FAILED", "RemediationBroke", "bad path")
    assert stub.wait_for_call("safety-net", lambda e: e["detail"]["executionArn"] == timed)["detail"]["status"] == "TIMED_OUT"
    rec = _record(stack, ok)
    assert rec["status"] == "SUCCEEDED" and rec["deliveries"] == [], "the rule matches failures only"
    assert rec["event"]["detail"]["output"] is not None
    assert not any(e["detail"]["executionArn"] == ok for n, e in stub.calls)


def test_a_failing_target_is_invoked_again_twice_at_most(stack: Stack, stub: LambdaStub) -> None:
    failures["left"] = 5
    sfn = stack.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=_machine(stack, "fail-2", FAIL), name="f-2")["executionArn"]
    _wait_end(stack, arn)
    (delivery,) = _record(stack, arn)["deliveries"]
    assert [a["function_error"] for a in delivery["attempts"]] == ["Unhandled"] * 3
    failures["left"] = 1
    arn = sfn.start_execution(stateMachineArn=_machine(stack, "fail-3", FAIL), name="f-3")["executionArn"]
    _wait_end(stack, arn)
    (delivery,) = _record(stack, arn)["deliveries"]
    assert len(delivery["attempts"]) == 2 and delivery["status"] == 200 and not delivery["function_error"]
