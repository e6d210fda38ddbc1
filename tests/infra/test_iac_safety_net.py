"""The failures that skip the workflow's own Cleanup: the execution timeout and the safety net.

- The state machine's `TimeoutSeconds` must exceed the longest run the template's parameters allow
  (every parameter at its MaxValue, every Task at its worst: each retry at the Task's TimeoutSeconds
  plus the backoff waits), for a plan of up to MAX_STAGES stages (docs/WORKFLOW.md says why that
  bound and what happens past it).
- An EventBridge rule sends the remediation state machine's FAILED, TIMED_OUT and ABORTED executions
  to the safety-net function, with retries and a dead-letter queue.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import iac_tools

# Stages of one plan the execution timeout covers with every time limit at its maximum (a stage
# normally moves for minutes; ReassignTimeoutSeconds is its stall guard, up to 24 h).
MAX_STAGES = 20
# Standard workflows run for at most a year.
STANDARD_MAX_SECONDS = 365 * 24 * 3600
# Step Functions' own scheduling between states, Wait/Choice/Pass states, and clock skew.
MARGIN_SECONDS = 3600


def _asl() -> dict[str, Any]:
    return json.loads(iac_tools.ASL.read_text(encoding="utf-8"))


def _function_timeout(tpl: dict[str, Any], state: dict[str, Any]) -> int:
    subs = tpl["Resources"]["RemediationStateMachine"]["Properties"]["DefinitionSubstitutions"]
    fn = state["Parameters"]["FunctionName"]
    lid = subs[fn[2:-1]]["Fn::GetAtt"][0]
    return tpl["Resources"][lid]["Properties"].get("Timeout", tpl["Globals"]["Function"]["Timeout"])


def worst_task_seconds(tpl: dict[str, Any], state: dict[str, Any]) -> float:
    """The longest a Task state can take: every retry of every retrier, each at the Task's limit,
    plus the waits between them. A `.waitForTaskToken` Task waits once: its retried errors come from
    the invocation, which ends within the function's own timeout."""
    retries = state.get("Retry", [])
    attempts = sum(r.get("MaxAttempts", 3) for r in retries)
    waits = sum(
        min(r.get("IntervalSeconds", 1) * r.get("BackoffRate", 2.0) ** i, r.get("MaxDelaySeconds", float("inf")))
        for r in retries
        for i in range(r.get("MaxAttempts", 3))
    )
    if state["Resource"].endswith(".waitForTaskToken"):
        return state["TimeoutSeconds"] + attempts * _function_timeout(tpl, state) + waits
    return state["TimeoutSeconds"] * (1 + attempts) + waits


def longest_run_seconds(tpl: dict[str, Any], asl: dict[str, Any], max_stages: int = MAX_STAGES) -> float:
    states = asl["States"]
    p = {k: v.get("MaxValue") for k, v in tpl["Parameters"].items()}

    def task(name: str) -> float:
        return worst_task_seconds(tpl, states[name])

    once = sum(task(n) for n in ("Assess", "DryRunPlan", "PrepareApproval", "WaitForApproval", "ScaleBrokers",
                                 "CaptureAssignment", "PlanReassignment", "ConfirmHealed"))
    # WaitForActive/CheckActive: CheckActive fails once scale_timeout_seconds have passed.
    scale = p["ScaleTimeoutSeconds"] + p["ScalePollSeconds"] + task("CheckActive")
    # Each stage: Execute, then Wait/Verify until Verify fails past reassign_timeout_seconds.
    stage = task("ExecuteReassignment") + p["ReassignTimeoutSeconds"] + p["VerifyPollSeconds"] + task("VerifyReassignment")
    end = max(task("NotifySuccess"), task("Cleanup") + task("NotifyFailure"))
    return once + scale + max_stages * stage + end + MARGIN_SECONDS


def test_the_execution_timeout_exceeds_the_longest_run_the_parameters_allow(tpl) -> None:
    asl = _asl()
    need = longest_run_seconds(tpl, asl)
    have = asl["TimeoutSeconds"]
    assert have > need, (
        f"statemachine TimeoutSeconds {have} s ({have / 86400:.1f} d) is below the longest run the "
        f"parameters' MaxValues allow for {MAX_STAGES} stages: {need:.0f} s ({need / 86400:.1f} d)"
    )
    assert have <= STANDARD_MAX_SECONDS, "a Standard workflow runs for at most a year"


def test_the_budget_is_dominated_by_what_it_should_be(tpl) -> None:
    """The computation itself can fail: raising a maximum raises the need by at least as much."""
    asl = _asl()
    base = longest_run_seconds(tpl, asl)
    longer = json.loads(json.dumps(tpl))
    longer["Parameters"]["ReassignTimeoutSeconds"]["MaxValue"] += 1000
    assert longest_run_seconds(longer, asl) == pytest.approx(base + MAX_STAGES * 1000)
    # The old 48 h limit was below it: the configurable maxima add up to more.
    assert base > 172800


def test_waiting_for_approval_ends_before_the_execution_does(tpl) -> None:
    asl = _asl()
    assert asl["States"]["WaitForApproval"]["TimeoutSeconds"] < asl["TimeoutSeconds"]


def test_the_safety_net_gets_every_execution_that_ended_outside_the_workflow(cfn) -> None:
    rules = {k: v for k, v in cfn["Resources"].items() if v["Type"] == "AWS::Events::Rule"
             and v["Properties"]["EventPattern"]["source"] == ["aws.states"]}
    (rule_id, rule), = rules.items()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "RemediationStateMachine"}]
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["SafetyNetFunction", "Arn"]}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert "InputTransformer" not in target, "the function reads the event as EventBridge sends it"
    perms = [v["Properties"] for v in cfn["Resources"].values() if v["Type"] == "AWS::Lambda::Permission"
             and v["Properties"].get("FunctionName") == {"Ref": "SafetyNetFunction"}]
    assert perms == [{"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "SafetyNetFunction"},
                      "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}]


def test_the_safety_net_reads_only_this_state_machine_s_executions(tpl) -> None:
    statements = tpl["Resources"]["SafetyNetRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (read,) = [s for s in statements if isinstance(s, dict) and s.get("Sid") == "ReadTheEndedExecution"]
    assert sorted(read["Action"]) == ["states:DescribeExecution", "states:GetExecutionHistory"]
    assert read["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:"
                                           "execution:${RemediationStateMachine.Name}:*"}
