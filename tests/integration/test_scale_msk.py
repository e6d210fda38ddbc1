"""The scale Lambda (ScaleBrokers / CheckActive), under the real runtime API with its own role, against
the emulated MSK over real Kafka brokers, with MSK's faults (`POST /_local/msk`):

- the cluster is UPDATING for somebody else's operation: ScaleBrokers names it and sends nothing; once
  the cluster is ACTIVE again, the poll sends our UpdateBrokerCount with the new CurrentVersion, and
  only one;
- UpdateBrokerCount ends UPDATE_FAILED: the next poll fails at once with `ScaleFailed`, carrying the
  operation's errorCode and errorString (what the failure notification shows), not after ScaleTimeout.

The foreign-operation case runs first: it needs new brokers to really start, and a failed update's
brokers may still hold their ports for a moment.

The steps are invoked as the state machine invokes them ({step, execution, state}), the state carried
from one to the next."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from local.deploy import KAFKA_BIN, Deployment, workflow_stack_config
from local.stack import Stack


@pytest.fixture(scope="module")
def deployed(kafka_available: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Stack(workflow_stack_config(tmp_path_factory.mktemp("scale-msk-stack"))) as stack:
        d = Deployment.create(stack)
        d.start_lambdas(["scale"], KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6")
        yield d


def step(d: Deployment, name: str, state: dict[str, Any], execution: str) -> tuple[dict[str, Any], bool]:
    """One scale step; returns (new state or the error payload, failed)."""
    res = d.stack.client("lambda").invoke(FunctionName="scale", Payload=json.dumps(
        {"step": name, "execution": {"name": execution}, "state": state}).encode())
    body = json.loads(res["Payload"].read() or b"null")
    return body, res.get("FunctionError") is not None


def msk(d: Deployment, **control: Any) -> dict[str, Any]:
    return d.stack.control("POST", "/_local/msk", control) if control else d.stack.control("GET", "/_local/msk")


def wait_active(d: Deployment, timeout: float = 180) -> dict[str, Any]:
    kafka = d.stack.client("kafka")
    deadline = time.monotonic() + timeout
    while True:
        info = kafka.describe_cluster_v2(ClusterArn=d.stack.cluster_arn)["ClusterInfo"]
        if info["State"] == "ACTIVE":
            return info
        assert time.monotonic() < deadline, f"cluster still {info['State']}"
        time.sleep(1)


def broker_count_operations(d: Deployment) -> list[dict[str, Any]]:
    ops = d.stack.client("kafka").list_cluster_operations_v2(ClusterArn=d.stack.cluster_arn)
    # Newest first, as MSK lists them.
    return [o for o in ops["ClusterOperationInfoList"] if o["OperationType"] == "INCREASE_BROKER_COUNT"]


def test_after_somebody_elses_operation_ours_is_sent_once(deployed: Deployment) -> None:
    d = deployed
    wait_active(d)
    ours_before = len(broker_count_operations(d))
    version_before = d.execution_input(2, 4)["current_version"]
    # Long enough to outlast a cold start of the scale Lambda.
    theirs = msk(d, foreign_update_seconds=30)["operation_arn"]
    state, failed = step(d, "scale", d.execution_input(2, 4), "e2e-scale-foreign")
    assert not failed, state
    assert state["scale"]["requested"] is False, state["scale"]
    assert state["scale"]["waiting_for"].startswith(theirs), state["scale"]

    deadline = time.monotonic() + 240
    while not state["scale"]["active"]:
        assert time.monotonic() < deadline, state["scale"]
        time.sleep(1)
        state, failed = step(d, "poll", state, "e2e-scale-foreign")
        assert not failed, state
    assert state["scale"]["requested"] is True, state["scale"]
    assert state["scale"]["broker_count"] == 4
    assert state["current_version"] != version_before, "later steps use the version after both operations"
    ours = broker_count_operations(d)
    assert len(ours) == ours_before + 1, f"exactly one UpdateBrokerCount of ours: {ours}"
    assert state["scale"]["operation_arn"] == ours[0]["OperationArn"]


def test_update_failed_fails_the_poll_at_once_with_msks_reason(deployed: Deployment) -> None:
    d = deployed
    # After the other test (which grew the cluster): from whatever count it has now, two more.
    brokers = wait_active(d)["Provisioned"]["NumberOfBrokerNodes"]
    msk(d, fail_next_update=True, error_code="InsufficientCapacity",
        error_string="Not enough kafka.m7g.large capacity in use1-az6", update_seconds=3)
    state, failed = step(d, "scale", d.execution_input(brokers, brokers + 2), "e2e-scale-failed")
    assert not failed, state
    assert state["scale"]["requested"] is True and state["scale"]["operation_arn"], state["scale"]
    started = time.monotonic()
    for _ in range(120):
        out, failed = step(d, "poll", state, "e2e-scale-failed")
        if failed:
            break
        state = out
        time.sleep(1)
    assert failed, f"the poll never failed: {out}"
    assert out["errorType"] == "ScaleFailed", out
    assert "InsufficientCapacity" in out["errorMessage"], out
    assert "Not enough kafka.m7g.large capacity in use1-az6" in out["errorMessage"], out
    assert time.monotonic() - started < 120, "noticed long before the ScaleTimeout (90 minutes)"
    info = wait_active(d)
    assert info["Provisioned"]["NumberOfBrokerNodes"] == brokers, "MSK rolled the failed update back"
