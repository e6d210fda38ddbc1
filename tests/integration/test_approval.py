"""Approval mode end to end on the local default: statemachine/remediation.asl.json executed by moto's
Step Functions engine, every task Lambda real under `cargo lambda watch` (assess, scale, kafka-ops,
notify, approval-request), the approval endpoint real behind cargo lambda watch's function URL, its
HMAC key in (moto's) Secrets Manager, MSK's UpdateBrokerCount emulated over a real Kafka cluster.

The operator is this test: it reads the approval email from an SQS queue subscribed to the approval
topic (approvers only: the links are bearer capabilities, so they never reach the notification topic,
which every notification read here is checked for) and answers over HTTP, or in Debian's headless
Chromium.

1. reject: the email carries the dry-run plan's estimate (moves, bytes, ETA, the assumed new brokers
   3 and 4 with their racks), the same numbers as `$.dry_run`; GET the link (nothing changes, the
   execution still waits) -> POST reject with a reason -> FAILED with `Rejected`, UpdateBrokerCount
   never called, 2 brokers, failure notification; the link is dead afterwards (410).
2. timeout, with a dry run that fails (kafka-ops pointed at a missing Kafka CLI): the email still
   goes out and says why there is no estimate; nobody answers -> FAILED with `ApprovalTimedOut`,
   nothing changed, notification; the links have expired (403).
3. approve over HTTP (POST on the link) -> the execution goes on: 2 -> 4 brokers, partitions moved,
   SUCCEEDED, the decision recorded in the execution's state; the brokers and racks the dry run
   predicted are the ones that joined, and the real plan was made afresh against them.
4. approve in the browser: Chromium opens the link, shows the page, the Approve button is clicked ->
   the execution goes on (UpdateBrokerCount 4 -> 6 requested).

Also `autoheal assess` and `autoheal scale --dry-run` against the same emulated cluster: the Lambdas'
decisions shown, no operation recorded by MSK.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from local.deploy import KAFKA_BIN, Deployment, workflow_stack_config
from local.stack import Stack

REPO = Path(__file__).resolve().parents[2]
DECIDE = REPO / "tests" / "browser" / "decide.cjs"
FUNCTIONS = ("assess", "scale", "kafka-ops", "notify", "approval-request", "approval")
TIMINGS = {"VerifyPollSeconds": "2", "ReassignTimeoutSeconds": "600"}

pytestmark = pytest.mark.timeout(1500)


class Approvals(Deployment):
    """The deployment (local/deploy.py): state machine, the topic an operator reads, the approval
    endpoint; and what this module asks of them."""

    @property
    def kafka(self) -> Any:
        return self.stack.client("kafka")

    @property
    def endpoint(self) -> str:
        return self.approval_url

    def start_lambdas(self, window_minutes: float, kafka_bin: Path = KAFKA_BIN) -> None:  # type: ignore[override]
        super().start_lambdas(FUNCTIONS, KAFKA_BIN_DIR=str(kafka_bin), MAX_BROKERS="6",
                              APPROVAL_TIMEOUT_MINUTES=str(window_minutes))

    def brokers(self) -> int:
        info = self.kafka.describe_cluster_v2(ClusterArn=self.stack.cluster_arn)["ClusterInfo"]
        return info["Provisioned"]["NumberOfBrokerNodes"]

    def operations(self) -> list[dict]:
        return self.kafka.list_cluster_operations_v2(ClusterArn=self.stack.cluster_arn).get("ClusterOperationInfoList", [])

    def start(self, name: str, current: int, target: int) -> str:
        return self.start_execution(name, self.execution_input(current, target, mode="approval"))

    def entered(self, arn: str) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.events(arn) if "stateEnteredEventDetails" in e]

    def messages(self, want: int = 1, timeout: float = 120) -> list[dict]:
        """The notification topic's messages ({Subject, Message}) as its subscribers get them; none of
        them may carry an approve/reject link."""
        msgs = self.inbox(want, timeout)
        for m in msgs:
            assert self.endpoint not in m["Message"], f"approval link on the notification topic: {m['Subject']}"
        return msgs

    def approval_email(self, arn: str) -> dict:
        """The approval topic's one message for this execution."""
        msgs = self.approval_inbox(1)
        assert len(msgs) == 1, f"no approval email: {msgs}\n{self.history(arn)}"
        email = msgs[0]
        assert email["Subject"].startswith("msk-autoheal: approve adding"), email["Subject"]
        links = [line.strip() for line in email["Message"].splitlines() if line.strip().startswith(self.endpoint)]
        assert len(links) == 2, email["Message"]
        email["approve"], email["reject"] = links
        assert "action=approve" in email["approve"] and "action=reject" in email["reject"]
        return email

    def task_output(self, arn: str, state: str) -> dict:
        """What the Task state `state` returned (its last exit), from the execution history."""
        outs = [json.loads(e["stateExitedEventDetails"]["output"]) for e in self.events(arn)
                if e.get("stateExitedEventDetails", {}).get("name") == state]
        assert outs, f"{state} never exited:\n{self.history(arn)}"
        return outs[-1]

    def waiting_for_approval(self, arn: str) -> bool:
        """RUNNING, inside WaitForApproval, and nothing after it has started."""
        events = self.events(arn)
        exited = [e["stateExitedEventDetails"]["name"] for e in events if "stateExitedEventDetails" in e]
        return (
            self.stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
            and self.entered(arn)[-1:] == ["WaitForApproval"]
            and "WaitForApproval" not in exited
        )


def http(method: str, url: str, form: dict[str, str] | None = None) -> tuple[int, str]:
    data = None if form is None else "&".join(
        f"{k}={urllib.request.quote(v)}" for k, v in form.items()).encode()
    req = urllib.request.Request(url, data=data if method == "POST" else None, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@pytest.fixture(scope="module")
def env(kafka_available: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Stack(workflow_stack_config(tmp_path_factory.mktemp("approval-stack"))) as stack:
        a = Approvals.create(stack, name="autoheal-approval", timings=TIMINGS)
        stack.kafka.create_topic("orders", 4, 2)
        stack.kafka.tool(
            "kafka-producer-perf-test.sh", "--topic", "orders", "--num-records", "2000", "--record-size", "1024",
            "--throughput", "-1", "--producer-props", f"bootstrap.servers={stack.kafka.bootstrap_servers}", "acks=all",
        )
        a.start_lambdas(window_minutes=10)
        yield a


def test_reject_stops_the_remediation_before_anything_changes(env: Approvals) -> None:
    arn = env.start("approval-reject", current=2, target=4)
    email = env.approval_email(arn)
    body = email["Message"]
    assert "Brokers:   2 -> 4" in body and "aws kafka update-broker-count" in body, body
    assert "Instance:  kafka.t3.small" in body and "/month" in body, body
    # The dry-run plan, made before anything changed: an estimate against the predicted brokers,
    # its numbers exactly those DryRunPlan put in the state.
    dry = env.task_output(arn, "DryRunPlan")["dry_run"]
    assert dry["new_brokers"] == [3, 4] and dry["brokers_now"] == [1, 2], dry
    assert dry["moves"] > 0 and dry["bytes_moved"] > 0 and dry["eta_seconds"] > 0, dry
    parts = f" in {dry['changed_partitions']} of {dry['partitions']} partitions"
    for needle in (
        "Dry-run ESTIMATE, planned before the new brokers exist",
        f"Replica moves: {dry['moves']}{parts}",
        f"({dry['bytes_moved']} bytes)",
        f"Throttle:      20.0 MiB/s per broker ({20 * 1024 * 1024} bytes/s)",
        "ETA:           under 1 s" if dry["eta_seconds"] < 0.5 else "ETA:           about ",
        "Assumed:       the new brokers get ids 3, 4: MSK numbers brokers 1..N",
        "Assumed:       racks of the new brokers: 3 in use1-az1, 4 in use1-az2",
    ):
        assert needle in body, f"missing {needle!r} in\n{body}"
    assert "capture" not in env.task_output(arn, "DryRunPlan"), "the dry run never writes $.capture"
    print(f"--- the approval email ---\nSubject: {email['Subject']}\n\n{body}")  # shown with -s or on failure

    # Opening the link (a mail scanner, a curious click) changes nothing.
    for _ in range(2):
        status, page = http("GET", email["reject"])
        assert status == 200 and "Reject scaling demo?" in page, page
    time.sleep(1)
    assert env.waiting_for_approval(arn), env.history(arn)

    status, page = http("POST", email["reject"], {"note": "not during the sale"})
    assert status == 200 and "<h1>Rejected</h1>" in page, page
    d = env.wait_end(arn)
    assert d["status"] == "FAILED", d["history"]
    assert d.get("error") == "Rejected", (d.get("error"), d.get("cause"), d["history"])
    # moto 5.2.5 drops SendTaskFailure's cause (its responses.send_task_failure passes only `error`);
    # Step Functions keeps it, and the handler tests check that the endpoint sends the reason in it.
    cause = d.get("cause")
    assert cause is None or "not during the sale" in cause, cause

    assert "ScaleBrokers" not in env.entered(arn), d["history"]
    assert env.operations() == [], "UpdateBrokerCount must never have been called"
    assert env.brokers() == 2
    notes = env.messages(1)
    assert len(notes) == 1 and "FAILED" in notes[0]["Subject"] and "Rejected" in notes[0]["Subject"], notes
    assert "not changed" in notes[0]["Message"], notes[0]["Message"]

    # The decision is final: approving afterwards meets Step Functions' "no longer waiting" (410).
    # (A second SendTaskFailure is answered 200 by moto 5.2.5, which looks the token up in finished
    # executions too; Step Functions answers TaskTimedOut, and the handler tests cover that 410.)
    status, page = http("POST", email["approve"])
    assert status == 410 and "no longer waiting" in page, (status, page)
    assert env.operations() == [] and env.brokers() == 2


@pytest.fixture(scope="module")
def autoheal_bin() -> Path:
    subprocess.run(["cargo", "build", "-q", "-p", "autoheal"], cwd=REPO, check=True)
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / "autoheal"


def test_cli_dry_runs_of_assess_and_scale_change_nothing(env: Approvals, autoheal_bin: Path) -> None:
    """`autoheal assess` and `autoheal scale --dry-run` run the Lambdas' use cases against the emulated
    MSK: each decision is shown, and MSK records no operation (issue 2: every Lambda decision as a
    dry run)."""
    assert env.operations() == [] and env.brokers() == 2
    arn = env.stack.cluster_arn
    version = env.kafka.describe_cluster_v2(ClusterArn=arn)["ClusterInfo"]["CurrentVersion"]

    def autoheal(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(autoheal_bin), *args], env=env.stack.env() | {"PATH": "/usr/bin:/bin"},
                              capture_output=True, text=True, timeout=120)

    res = autoheal("scale", "--cluster-arn", arn, "--target", "4", "--dry-run")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    request = out["update_broker_count"]["request"]
    assert out["update_broker_count"]["would_call"] is True, out
    assert request == {"operation": "UpdateBrokerCount", "cluster_arn": arn, "current_version": version,
                       "target_number_of_broker_nodes": 4}, request
    assert out["held_back"] == [request], out
    assert out["check_active"] == {"active": False, "state": "ACTIVE", "broker_count": 2, "target": 4}, out

    res = autoheal("scale", "--cluster-arn", arn, "--target", "8", "--dry-run", "--max-brokers", "6")
    assert res.returncode == 1 and json.loads(res.stdout)["error_type"] == "AtCeiling", (res.stdout, res.stderr)
    assert res.stderr.count("\n") == 1 and "MAX_BROKERS=6" in res.stderr, res.stderr

    res = autoheal("assess", "--cluster-arn", arn, "--max-brokers", "6", "--format", "text")
    assert res.returncode == 0, res.stderr
    for needle in ("ACTIVE, 2 brokers over 2 AZs", "target:   4 brokers (the detector's: +1 per AZ; MAX_BROKERS 6)",
                   "--- AWS CLI ---", "--target-number-of-broker-nodes 4", "--- Terraform ---",
                   "--- CloudFormation ---", "--- Kafka CLI (after the brokers joined) ---"):
        assert needle in res.stdout, f"missing {needle!r} in\n{res.stdout}"

    assert env.operations() == [], "a dry run called UpdateBrokerCount"
    assert env.brokers() == 2


def test_no_decision_times_out_and_changes_nothing(env: Approvals) -> None:
    # A 6 s window, and a dry run that cannot capture (no Kafka CLI there): the approval must not
    # depend on the estimate.
    env.start_lambdas(window_minutes=0.1, kafka_bin=Path("/nonexistent/kafka/bin"))
    try:
        arn = env.start("approval-timeout", current=2, target=4)
        email = env.approval_email(arn)
        assert "The links work until" in email["Message"]
        assert "Replica moves: not estimated (the dry run failed, CommandFailed: " in email["Message"], email["Message"]
        assert "dry_run" not in env.task_output(arn, "DryRunPlan"), "a failed dry run leaves no estimate"
        d = env.wait_end(arn, timeout=180)
        assert d["status"] == "FAILED", d["history"]
        assert d.get("error") == "ApprovalTimedOut", (d.get("error"), d.get("cause"), d["history"])
        assert "nothing was changed" in d.get("cause", ""), d.get("cause")
        assert "ScaleBrokers" not in env.entered(arn)
        assert env.operations() == [] and env.brokers() == 2
        notes = env.messages(1)
        assert len(notes) == 1 and "ApprovalTimedOut" in notes[0]["Subject"], notes
        # The links expired with the window.
        status, page = http("POST", email["approve"])
        assert status == 403 and "expired" in page, (status, page)
    finally:
        env.start_lambdas(window_minutes=10)


def test_approve_over_http_lets_the_remediation_heal(env: Approvals) -> None:
    arn = env.start("approval-approve-http", current=2, target=4)
    email = env.approval_email(arn)
    time.sleep(1)
    assert env.waiting_for_approval(arn), env.history(arn)
    # A forged link changes nothing either: the endpoint refuses it before Step Functions.
    status, _ = http("POST", email["approve"].replace("to=4", "to=6"))
    assert status == 403
    assert env.waiting_for_approval(arn)

    status, page = http("POST", email["approve"], {"note": "CHG-1234"})
    assert status == 200 and "<h1>Approved</h1>" in page, page
    d = env.wait_end(arn)
    assert d["status"] == "SUCCEEDED", d["history"]
    out = json.loads(d["output"])
    decision = out["approval"]["decision"]
    assert decision["approved"] is True and decision["note"] == "CHG-1234", decision
    assert out["scale"]["requested"] and out["scale"]["broker_count"] == 4
    assert out["healed"]["under_replicated"] == 0 and out["healed"]["replica_spread"] <= 1, out["healed"]
    assert env.brokers() == 4
    # The dry run's prediction held: the brokers that joined have the ids and racks it assumed, and
    # the real plan was made again from a fresh capture against them (its own keys, not dry-run/).
    dry, plan = out["dry_run"], out["plan"]
    assert plan["brokers"] == dry["brokers"] == [1, 2, 3, 4], (dry, plan)
    assert out["capture"]["racks"] == dry["racks"], (out["capture"], dry)
    assert "/dry-run/" in dry["plan_key"] and "/dry-run/" not in plan["plan_key"], (dry, plan)
    assert plan["moves"] == dry["moves"], ("same assignment, same brokers: the estimate was exact", dry, plan)
    notes = env.messages(1)
    assert len(notes) == 1 and "healed" in notes[0]["Subject"], notes


def test_approve_in_headless_chromium(env: Approvals) -> None:
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not (Path(chromium).exists() and shutil.which("node") and (REPO / "tools/node_modules/playwright-core").exists()):
        pytest.skip(f"SKIPPED LOUDLY: the browser test needs {chromium} (apt chromium), node and "
                    "tools/node_modules/playwright-core (scripts/setup.sh installs all three)")
    current, ops_before = env.brokers(), len(env.operations())
    arn = env.start("approval-approve-browser", current=current, target=current + 2)
    email = env.approval_email(arn)

    res = subprocess.run(["node", str(DECIDE), email["approve"], "approve", "looks right"],
                         capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert seen["get"]["status"] == 200 and seen["get"]["title"] == "Approve scaling demo?", seen
    assert seen["get"]["buttons"] == ["approve", "reject"], seen
    assert seen["after"]["status"] == 200 and seen["after"]["heading"] == "Approved", seen

    # The execution goes on: past the approval into ScaleBrokers, which asks MSK for the brokers.
    deadline = time.monotonic() + 120
    while len(env.operations()) == ops_before and time.monotonic() < deadline:
        time.sleep(1)
    assert "ScaleBrokers" in env.entered(arn), env.history(arn)
    ops = env.operations()
    assert len(ops) == ops_before + 1, ops
    assert all(op.get("OperationType") == "INCREASE_BROKER_COUNT" for op in ops), ops
    decision = next(
        json.loads(e["taskSucceededEventDetails"]["output"]) for e in env.events(arn)
        if "taskSucceededEventDetails" in e and '"approved"' in e["taskSucceededEventDetails"].get("output", "")
    )
    assert decision["approved"] is True and decision["note"] == "looks right", decision
    assert "Chrome" in (decision.get("user_agent") or ""), decision
