"""The detector Lambda, under the real runtime API (cargo lambda watch), against emulated AWS: MSK over
a real 2-broker Kafka, and moto's Step Functions engine really executing a state machine.

Proves exactly-once per incident where it matters — against Step Functions itself, not mocks:
a redelivered event, a second alarm while one remediation runs (single flight), an alarm soon after
one ended (cool-down), the execution-name collision that stops a redelivery once the cool-down is
off, and two alarms for one cluster within a second while ListExecutions lags (as AWS documents it may):
exactly one execution, refused by the cluster's lease (a real conditional write in the emulator's
DynamoDB, under the detector role's own policy), which it holds."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.stack import Stack, StackConfig

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "alarms"
CLUSTER = "msk-demo"
HOLD_S = 6  # how long the stand-in state machine runs
LEASE_TABLE = "msk-autoheal-leases"


def event(name: str, state_time: str | None = None) -> dict:
    ev = json.loads((FIXTURES / name).read_text())
    if state_time is not None:
        ev["detail"]["state"]["timestamp"] = state_time
    return ev


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, kafka_available: None):
    cfg = StackConfig(
        state_dir=tmp_path_factory.mktemp("detector-stack"),
        cluster_name=CLUSTER,
        brokers=2,
        limit_kind="none",
        alarm=None,  # events are sent by the test, not by the alarm bridge
        event_targets=(),
    )
    with Stack(cfg) as s:
        yield s


@pytest.fixture(scope="module")
def lease_table(stack: Stack) -> str:
    """template.yaml's LeaseTable, as local.deploy makes it."""
    ddb = stack.client("dynamodb")
    ddb.create_table(TableName=LEASE_TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "cluster_arn", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "cluster_arn", "KeyType": "HASH"}])
    return LEASE_TABLE


def lease_holder(stack: Stack) -> str | None:
    item = stack.client("dynamodb").get_item(
        TableName=LEASE_TABLE, Key={"cluster_arn": {"S": stack.cluster_arn}}, ConsistentRead=True).get("Item")
    return item["holder"]["S"] if item else None


def start_detector(stack: Stack, state_machine: str, cooldown_minutes: int) -> None:
    stack.start_lambdas(["detector"], env=detector_env(state_machine, cooldown_minutes),
                        resources={"LeaseTable": LEASE_TABLE})


@pytest.fixture(scope="module")
def state_machine(stack: Stack, lease_table: str) -> str:
    # A stand-in for the remediation workflow: it holds RUNNING for a few seconds, then succeeds.
    definition = {
        "StartAt": "Hold",
        "States": {"Hold": {"Type": "Wait", "Seconds": HOLD_S, "Next": "Done"}, "Done": {"Type": "Succeed"}},
    }
    sfn = stack.client("stepfunctions")
    return sfn.create_state_machine(
        name="msk-autoheal-remediation",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{stack.account_id}:role/msk-autoheal-sfn",
    )["stateMachineArn"]


def detector_env(state_machine: str, cooldown_minutes: int) -> dict[str, str]:
    return {
        "STATE_MACHINE_ARN": state_machine,
        "COOLDOWN_MINUTES": str(cooldown_minutes),
        "MAX_BROKERS": "6",
        "LEASE_TABLE": LEASE_TABLE,
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    }


def invoke(stack: Stack, payload: dict) -> tuple[dict, str | None]:
    """Invokes `detector` through the emulator's Lambda API (as EventBridge would)."""
    lam = stack.client("lambda")
    res = lam.invoke(FunctionName="detector", Payload=json.dumps(payload).encode())
    body = json.loads(res["Payload"].read() or b"null")
    return body, res.get("FunctionError")


def executions(stack: Stack, state_machine: str) -> list[dict]:
    return stack.client("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]


def wait_all_done(stack: Stack, state_machine: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while any(e["status"] == "RUNNING" for e in executions(stack, state_machine)):
        assert time.monotonic() < deadline, "stand-in executions still RUNNING"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def autoheal_bin() -> Path:
    subprocess.run(["cargo", "build", "-q", "-p", "autoheal"], cwd=ROOT, check=True)
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug" / "autoheal"


def autoheal_detect(stack: Stack, binary: Path, state_machine: str, ev: dict, tmp: Path, *extra: str) -> dict:
    f = tmp / "event.json"
    f.write_text(json.dumps(ev))
    res = subprocess.run(
        [str(binary), "detect", "--event", str(f), "--state-machine-arn", state_machine, "--lease-table", LEASE_TABLE,
         *extra],
        env=stack.env() | {"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=120,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def test_exactly_once_per_incident_against_step_functions(
    stack: Stack, state_machine: str, autoheal_bin: Path, tmp_path: Path
) -> None:
    start_detector(stack, state_machine, cooldown_minutes=60)
    first = event("eventbridge-urp-broker.json")

    # 1. The incident starts one remediation with the documented input, against the real cluster.
    out, err = invoke(stack, first)
    assert err is None, out
    assert out["outcome"] == "started", out
    assert out["action"] == "remediate" and out["incident_type"] == "MSKClusterCapacityInsufficient"
    assert out["cluster_arn"] == stack.cluster_arn
    execs = executions(stack, state_machine)
    assert [e["name"] for e in execs] == [out["execution_name"]]
    described = stack.client("stepfunctions").describe_execution(executionArn=execs[0]["executionArn"])
    sent = json.loads(described["input"])
    assert sent["cluster_arn"] == stack.cluster_arn
    assert sent["current_broker_count"] == 2 and sent["az_count"] == 2 and sent["target_broker_count"] == 4
    assert sent["mode"] == "auto" and sent["incident"]["source"] == "eventbridge"
    assert sent["current_version"] == stack.client("kafka").describe_cluster_v2(
        ClusterArn=stack.cluster_arn)["ClusterInfo"]["CurrentVersion"]

    # 2. EventBridge redelivers the same event while it runs: nothing new.
    out, err = invoke(stack, first)
    assert err is None and out["outcome"] == "skipped", out
    assert "already running" in out["outcome_reason"]

    # 3. Another alarm for the same cluster (SNS this time, later state change): single flight.
    sns = json.loads((FIXTURES / "sns-urp-metric-math.json").read_text())
    msg = json.loads(sns["Records"][0]["Sns"]["Message"])
    msg["StateChangeTime"] = "2026-11-25T18:04:00.000+0000"
    sns["Records"][0]["Sns"]["Message"] = json.dumps(msg)
    out, err = invoke(stack, sns)
    assert err is None and out["outcome"] == "skipped", out
    assert len(executions(stack, state_machine)) == 1

    # 4. It ends; a new alarm inside the cool-down still starts nothing.
    wait_all_done(stack, state_machine)
    later = event("eventbridge-urp-cluster.json", "2026-11-25T18:30:00.000+0000")
    out, err = invoke(stack, later)
    assert err is None and out["outcome"] == "skipped", out
    assert "cool-down lasts until" in out["outcome_reason"]
    assert len(executions(stack, state_machine)) == 1

    # 5. With the cool-down off, a redelivery of the first event collides on its execution name
    #    (Step Functions answers ExecutionAlreadyExists for a finished execution) ...
    out = autoheal_detect(stack, autoheal_bin, state_machine, first, tmp_path, "--execute", "--cooldown-minutes", "0")
    assert out["outcome"] == "already_started", out
    assert len(executions(stack, state_machine)) == 1

    # 6. ... while the later, distinct incident does start: the cool-down was what held it back. The
    #    stand-in never releases the lease; the detector sees its holder ended and takes it over.
    assert lease_holder(stack) == execs[0]["name"]
    out = autoheal_detect(stack, autoheal_bin, state_machine, later, tmp_path, "--execute", "--cooldown-minutes", "0")
    assert out["outcome"] == "started", out
    assert len(executions(stack, state_machine)) == 2
    assert lease_holder(stack) == out["execution_name"]
    wait_all_done(stack, state_machine)


def test_two_alarms_for_one_cluster_within_a_second_start_one_execution(stack: Stack, state_machine: str) -> None:
    start_detector(stack, state_machine, cooldown_minutes=0)
    wait_all_done(stack, state_machine)
    before = {e["name"] for e in executions(stack, state_machine)}
    # The brokers-1-10 band and the cluster-wide alarm enter ALARM one second apart, both delivered at once,
    # while ListExecutions lags as AWS lets it (it shows neither detector the other's new execution).
    a = event("eventbridge-urp-broker.json", "2026-11-25T20:00:00.000+0000")
    b = event("eventbridge-urp-cluster.json", "2026-11-25T20:00:01.000+0000")
    # Earlier executions (the lease's last holder among them) must stay visible: the lag only hides new ones.
    lag = 8
    newest = max(e["startDate"].timestamp() for e in executions(stack, state_machine))
    time.sleep(max(0.0, newest + lag + 1 - time.time()))
    stack.control("POST", "/_local/sfn", {"list_executions_lag_seconds": lag})
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda ev: invoke(stack, ev), [a, b]))
    finally:
        stack.control("POST", "/_local/sfn", {"list_executions_lag_seconds": 0})
    for out, err in results:
        assert err is None, out
    outcomes = sorted(out["outcome"] for out, _ in results)
    assert outcomes == ["skipped", "started"], results
    new = [e for e in executions(stack, state_machine) if e["name"] not in before]
    assert len(new) == 1, new
    started = next(out for out, _ in results if out["outcome"] == "started")
    skipped = next(out for out, _ in results if out["outcome"] == "skipped")
    assert new[0]["name"] == started["execution_name"]
    # Single flight could not see it: the lease is what refused the second.
    assert "already running" in skipped["outcome_reason"] and "lease" in skipped["outcome_reason"], skipped
    assert lease_holder(stack) == started["execution_name"]
    wait_all_done(stack, state_machine)


def test_ignored_unknown_and_hostile_events(stack: Stack, state_machine: str) -> None:
    start_detector(stack, state_machine, cooldown_minutes=0)
    before = len(executions(stack, state_machine))

    out, err = invoke(stack, event("eventbridge-urp-ok.json"))
    assert err is None and out["outcome"] == "ignored" and out["action"] == "ignore", out

    other = copy.deepcopy(event("eventbridge-urp-broker.json", "2026-11-25T19:00:00.000+0000"))
    other["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]["Cluster Name"] = "no-such-cluster"
    out, err = invoke(stack, other)
    assert err is not None, out
    assert out["errorType"] == "ClusterNotFound", out
    assert "no-such-cluster" in out["errorMessage"]

    out, err = invoke(stack, event("eventbridge-urp-bad-cluster-name.json"))
    assert err is not None and out["errorType"] == "InvalidInput", out

    assert len(executions(stack, state_machine)) == before
