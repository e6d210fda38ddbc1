"""Every failure leaves the cluster clean (issue 12): faults injected into the strict local stack
(local/aws: IAM per function, S3 403s, SSM agent semantics, slow and failing MSK operations,
Step Functions limits) while a light load runs, each asserting afterwards, from Kafka itself:

- no partition reassignment running, no throttle config left on any broker or topic;
- the cluster serving: the load kept being acknowledged and a consumer reads the topic back;
- every acknowledged record read back, partition by partition (local/ledger.py);
- a failure notification that says what happened (the deployment's SNS inbox).

One cluster (4 brokers, 2 AZs, no replication limit) and one deployment serve every case; each case
has its own topic and its own load, and the cases leave the brokers as they found them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from local.deploy import KAFKA_BIN, Deployment
from local.ledger import StressLoad, build_stress_producer, verify
from local.stack import Stack, StackConfig

pytestmark = pytest.mark.timeout(1800)

WORKFLOW = ("assess", "scale", "kafka-ops", "notify")
TIMINGS = {"VerifyPollSeconds": "2", "ScalePollSeconds": "2", "ReassignTimeoutSeconds": "600"}
BROKERS = 4


@dataclass
class Env:
    d: Deployment
    stack: Stack
    binary: Path
    cache: Path
    work: Path

    def tool(self, name: str, *args: str, **kw: Any) -> str:
        return self.stack.kafka.tool(name, "--bootstrap-server", self.stack.kafka.bootstrap_servers, *args, **kw).stdout

    def reassignments(self) -> str:
        return self.tool("kafka-reassign-partitions.sh", "--list").strip()

    def throttles(self) -> str:
        out = self.tool("kafka-configs.sh", "--entity-type", "brokers", "--describe")
        out += self.tool("kafka-configs.sh", "--entity-type", "topics", "--describe")
        return "\n".join(line for line in out.splitlines() if "throttled" in line)

    def skewed_topic(self, topic: str, partitions: int = 8) -> None:
        """A topic whose replicas all sit on brokers 1 and 2: a plan over 4 brokers must move half."""
        self.tool("kafka-topics.sh", "--create", "--topic", topic,
                  "--replica-assignment", ",".join(["1:2", "2:1"] * (partitions // 2)))

    def run(self, name: str, current: int = BROKERS, target: int = BROKERS, timeout: float = 600) -> dict:
        arn = self.d.start_execution(name, self.d.execution_input(current, target))
        return self.d.wait_end(arn, timeout, poll=2)

    def states_entered(self, arn: str) -> list[str]:
        return [e["stateEnteredEventDetails"]["name"] for e in self.d.events(arn) if "stateEnteredEventDetails" in e]

    def state_output(self, arn: str, state: str) -> dict:
        for e in reversed(self.d.events(arn)):
            det = e.get("stateExitedEventDetails")
            if det and det.get("name") == state:
                return json.loads(det["output"])
        raise AssertionError(f"{state} never exited in {arn}")

    def ssm_commands(self) -> list[dict]:
        path = self.stack.state_dir / "ec2-client" / "ssm" / "commands.jsonl"
        if not path.exists():
            return []
        return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]

    @contextmanager
    def loaded(self, topic: str, rps: float = 20) -> Iterator[StressLoad]:
        """Light acks=all load on `topic` for the case; afterwards the cluster must be clean and
        every acknowledged record must read back."""
        state = self.work / topic
        state.mkdir(parents=True, exist_ok=True)
        load = StressLoad(self.stack.kafka, self.stack.sup, binary=self.binary, topic=topic,
                          records_per_s=rps, state_dir=state, producers=2, record_size=2048, name=f"load-{topic}")
        try:
            deadline = time.monotonic() + 60
            while not load.progress and time.monotonic() < deadline:
                assert load.alive(), load.why_dead()
                time.sleep(0.5)
            yield load
            assert load.alive(), f"the load died during the case: {load.why_dead()}"
            acked_during = sum(p.records for p in load.progress)
            time.sleep(3)
            assert sum(p.records for p in load.progress) > acked_during, "the cluster stopped acknowledging writes"
        finally:
            ledger = load.stop()
        self.assert_clean()
        result = verify(self.stack.kafka, topic, load.ledger_path, self.cache)
        assert ledger["acked"] > 0 and result.ok, result.mismatches()

    def assert_clean(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while True:
            listed, throttles = self.reassignments(), self.throttles()
            if "No partition reassignments found." in listed and throttles == "":
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"left behind after {timeout:.0f} s:\nreassignments: {listed}\nthrottles:\n{throttles}")
            time.sleep(3)

    def failure_note(self) -> dict:
        notes = self.d.inbox(want=1, timeout=60)
        assert len(notes) == 1, notes
        return notes[0]


@pytest.fixture(scope="module")
def env(kafka_available: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    work = tmp_path_factory.mktemp("faults")
    binary = build_stress_producer()
    cfg = StackConfig(state_dir=work / "stack", brokers=BROKERS, limit_kind="none", alarm=None, event_targets=(),
                      max_brokers=6, update_min_seconds=3.0)
    with Stack(cfg) as stack:
        d = Deployment.create(stack, name="autoheal-faults", timings=TIMINGS)
        d.start_lambdas(WORKFLOW, KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6")
        yield Env(d=d, stack=stack, binary=binary, cache=work / "cache", work=work)


def test_execute_failing_after_setting_throttles_is_cancelled_and_unthrottled(env: Env) -> None:
    """`--execute` set the throttles and started stage 1, then the command failed: Cleanup must
    cancel the stage and remove the throttles, although ExecuteReassignment never succeeded."""
    env.skewed_topic("fault-execute")
    env.stack.control("POST", "/_local/ssm", {"match": "msk-autoheal execute-stage-", "fail_after_section": "execute", "count": 1})
    try:
        with env.loaded("fault-execute"):
            d = env.run("fault-stage-one-fails")
            assert d["status"] == "FAILED", d["history"]
            cleanup = env.state_output(d["executionArn"], "Cleanup")["cleanup"]
            assert cleanup.get("skipped") is None, f"cleanup skipped a started reassignment: {cleanup}"
    finally:
        env.stack.control("POST", "/_local/ssm", {"clear": True})
    note = env.failure_note()
    assert "FAILED" in note["Subject"], note
    assert "nothing to undo" not in note["Message"], note["Message"]


def test_a_command_that_outlives_the_lambda_is_reattached_not_sent_again(env: Env) -> None:
    """The capture command takes longer than the kafka-ops Lambda may run: the Lambda times out
    (Sandbox.Timedout, as Lambda answers), the ASL retries, and the retry re-attaches to the command
    already running — exactly one capture runs, and the execution heals."""
    env.skewed_topic("fault-slow")
    before = len(env.ssm_commands())
    env.stack.control("POST", "/_local/ssm", {"match": "msk-autoheal capture ", "delay_seconds": 40, "count": 1})
    env.stack.control("POST", "/_local/lambda", {"timeouts": {"kafka-ops": 15}})
    try:
        with env.loaded("fault-slow"):
            d = env.run("fault-slow-command", timeout=900)
    finally:
        env.stack.control("POST", "/_local/lambda", {"timeouts": {"kafka-ops": 120}})  # template.yaml's
        env.stack.control("POST", "/_local/ssm", {"clear": True})
    assert d["status"] == "SUCCEEDED", d["history"]
    captures = [c for c in env.ssm_commands()[before:] if c.get("comment", "").startswith("msk-autoheal capture ")]
    assert len(captures) == 1, f"the capture command was sent {len(captures)} times: {captures}"
    timed_out = [i for i in env.stack.invocations() if i["function"] == "kafka-ops" and i.get("error_type") == "Sandbox.Timedout"]
    assert timed_out, "the fault did not happen: kafka-ops never timed out"
    env.d.inbox(want=1, timeout=30)  # the success notification


def test_update_broker_count_failing_is_reported_fast_and_changes_nothing(env: Env) -> None:
    env.stack.control("POST", "/_local/msk", {"fail_next_update": True, "update_seconds": 5,
                                              "error_string": "injected: insufficient capacity in use1-az2"})
    with env.loaded("fault-msk"):
        t0 = time.monotonic()
        d = env.run("fault-msk-update-failed", current=BROKERS, target=6)
        took = time.monotonic() - t0
    assert d["status"] == "FAILED", d["history"]
    assert took < 120, f"an UPDATE_FAILED took {took:.0f} s to notice (ScaleTimeout is 300 s here)"
    info = env.stack.client("kafka").describe_cluster_v2(ClusterArn=env.stack.cluster_arn)["ClusterInfo"]
    assert info["State"] == "ACTIVE" and info["Provisioned"]["NumberOfBrokerNodes"] == BROKERS, info
    note = env.failure_note()
    assert "injected: insufficient capacity" in note["Message"], note["Message"]
