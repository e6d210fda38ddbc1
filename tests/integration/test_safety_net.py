"""The safety net end to end: an operator stops an execution (StopExecution) while its throttled
reassignment is moving, which ends it ABORTED without Cleanup or NotifyFailure. The emulated
EventBridge (local/aws/sfn_events.py) delivers the "Step Functions Execution Status Change" event to
the real safety-net Lambda (cargo lambda watch), which reads the history, cancels the stage and
removes the throttles over SSM with kafka-ops' cleanup, and sends the failure notice. Afterwards,
by Kafka's own CLI: no reassignment running, no throttle config on any broker or topic.

Small and fast: one 6-partition topic of ~24 MB, a 64 KiB/s throttle so the stage is still moving
when the execution is stopped, no load.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest

from local.deploy import KAFKA_BIN, Deployment, workflow_stack_config
from local.stack import Stack

FUNCTIONS = ("assess", "scale", "kafka-ops", "notify", "safety-net")
TIMINGS = {"VerifyPollSeconds": "2", "ReassignTimeoutSeconds": "600"}

pytestmark = pytest.mark.timeout(1200)


def throttle_configs(stack: Stack) -> str:
    bs = stack.kafka.bootstrap_servers
    out = ""
    for kind in ("brokers", "topics"):
        out += stack.kafka.tool("kafka-configs.sh", "--bootstrap-server", bs, "--entity-type", kind, "--describe").stdout
    return "\n".join(line for line in out.splitlines() if "throttled" in line)


def reassignments(stack: Stack) -> str:
    return stack.kafka.tool("kafka-reassign-partitions.sh", "--bootstrap-server", stack.kafka.bootstrap_servers,
                            "--list").stdout.strip()


@pytest.fixture(scope="module")
def env(kafka_available: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    # The template's rule: the safety net gets FAILED / TIMED_OUT / ABORTED executions. Lambda's
    # retries of a failed asynchronous invocation come sooner here than AWS's 1 and 2 minutes.
    cfg = dataclasses.replace(workflow_stack_config(tmp_path_factory.mktemp("safety-net-stack")),
                              sfn_event_targets=("safety-net",), sfn_event_retry_delays_s=(5.0, 10.0))
    with Stack(cfg) as stack:
        yield Deployment.create(stack, name="autoheal-safety", timings=TIMINGS)


def lease_table(env: Deployment) -> dict[str, str]:
    """The lease table, made here when the deployment does not make it (yet)."""
    if env.lambda_env().get("LEASE_TABLE"):
        return {}
    name = f"{env.name}-LeaseTable"  # the name template.yaml's policies resolve to locally
    env.stack.client("dynamodb").create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "cluster_arn", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "cluster_arn", "AttributeType": "S"}])
    return {"LEASE_TABLE": name}


def wait_for_state(env: Deployment, arn: str, state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    sfn = env.stack.client("stepfunctions")
    while time.monotonic() < deadline:
        for e in env.events(arn):
            if (e.get("stateEnteredEventDetails") or {}).get("name") == state:
                return
        if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
            break
        time.sleep(1)
    raise AssertionError(f"{state} never entered:\n{env.history(arn)}")


def test_an_execution_stopped_mid_reassignment_is_cleaned_up_and_notified(env: Deployment) -> None:
    stack = env.stack
    bs = stack.kafka.bootstrap_servers
    stack.kafka.create_topic("orders", 6, 2)
    stack.kafka.tool(
        "kafka-producer-perf-test.sh", "--topic", "orders", "--num-records", "2400", "--record-size", "10240",
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bs}", "acks=all",
    )
    env.start_lambdas(FUNCTIONS, KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6", THROTTLE_BYTES_PER_SEC="65536",
                      **lease_table(env))

    arn = env.start_execution("safety-net-stop", env.execution_input(current=2, target=4))
    wait_for_state(env, arn, "WaitForReassignment", timeout=600)
    assert "Current partition reassignments" in reassignments(stack), "a stage must be moving when stopped"
    assert throttle_configs(stack), "the stage runs throttled"

    env.stack.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
    done = env.wait_end(arn, timeout=300)
    assert done["status"] == "ABORTED", done["history"]
    assert "Cleanup" not in done["history"] and "NotifyFailure" not in done["history"], "the workflow's path never ran"

    notices = [m for m in env.inbox(want=1, timeout=300) if "FAILED" in m.get("Subject", "")]
    assert len(notices) == 1, notices
    subject, body = notices[0]["Subject"], notices[0]["Message"]
    assert subject == f"msk-autoheal: remediation of {stack.cluster_name} FAILED (ExecutionAborted)", subject
    assert "The execution ended ABORTED" in body and "outside the workflow's own Cleanup" in body, body
    assert "Cleanup: cancelled" in body, body

    # What the emulated EventBridge delivered, in AWS's shape, and what the safety net answered.
    (rec,) = [r for r in stack.control("GET", "/_local/sfn-events") if r["execution"] == arn]
    detail = rec["event"]["detail"]
    assert rec["event"]["detail-type"] == "Step Functions Execution Status Change"
    assert detail["status"] == "ABORTED" and detail["stateMachineArn"] == env.state_machine_arn
    assert detail["error"] == "Operator" and detail["cause"] == "stopped by hand"
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
    (delivery,) = rec["deliveries"]
    assert delivery["function"] == "safety-net" and delivery["status"] == 200 and not delivery["function_error"], delivery
    assert '"action":"cleaned_up_and_notified"' in delivery["response"].replace(" ", ""), delivery

    # Kafka's own view: nothing left moving, no throttle anywhere.
    assert reassignments(stack) == "No partition reassignments found.", reassignments(stack)
    assert throttle_configs(stack) == "", throttle_configs(stack)
