"""Every failure leaves the cluster clean (issue 12): faults injected into the strict local stack
(local/aws: IAM per function, S3 403s, SSM agent semantics, slow and failing MSK operations,
Step Functions limits) while a light load runs, each asserting afterwards, from Kafka itself:

- no partition reassignment running, no throttle config left on any broker or topic;
- the cluster serving: the load kept being acknowledged and a consumer reads the topic back;
- every acknowledged record read back, partition by partition (local/ledger.py);
- a failure notification that says what happened (the deployment's SNS inbox).

One cluster (4 brokers, 2 AZs, no replication limit, named as the recorded alarm events name it) and
one deployment serve every case; each case
has its own topic and its own load, and the cases leave the brokers as they found them.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from concurrent.futures import ThreadPoolExecutor

from local.deploy import KAFKA_BIN, Deployment
from local.kafka.cluster import REPO_ROOT
from local.ledger import StressLoad, build_stress_producer, verify
from local.stack import Stack, StackConfig

pytestmark = pytest.mark.timeout(1800)

WORKFLOW = ("assess", "scale", "kafka-ops", "notify", "safety-net", "detector")
ALARMS = REPO_ROOT / "tests" / "fixtures" / "alarms"
CREATE_TOPICS = REPO_ROOT / "local" / "kafka" / "tools" / "CreateTopics.java"
STATE_LIMIT = 262_144
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
        self.tool("kafka-topics.sh", "--create", "--if-not-exists", "--topic", topic, "--partitions", "4",
                  "--replication-factor", "2")
        deadline = time.monotonic() + 60
        # A broker's metadata may lag the controller for a moment (e.g. right after 1600 topics).
        while "Leader: none" in (d := self.tool("kafka-topics.sh", "--describe", "--topic", topic, check=False)) \
                or "Leader:" not in d:
            assert time.monotonic() < deadline, f"topic {topic} has no leaders after 60 s:\n{d}"
            time.sleep(1)
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
    # The template's rule: the safety net gets FAILED / TIMED_OUT / ABORTED executions (Lambda's retries
    # of a failed asynchronous invocation come sooner here than AWS's 1 and 2 minutes).
    cfg = StackConfig(state_dir=work / "stack", cluster_name="msk-demo", brokers=BROKERS, limit_kind="none", alarm=None, event_targets=(),
                      max_brokers=6, update_min_seconds=3.0, sfn_event_targets=("safety-net",),
                      sfn_event_retry_delays_s=(5.0, 10.0))
    with Stack(cfg) as stack:
        d = Deployment.create(stack, name="autoheal-faults", timings=TIMINGS)
        d.start_lambdas(WORKFLOW, KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6", COOLDOWN_MINUTES="0")
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
            assert cleanup.get("skipped") is None, (
                f"cleanup skipped a started reassignment: {cleanup}\n{d.get('error')}: {d.get('cause')}\n{d['history']}")
    finally:
        env.stack.control("POST", "/_local/ssm", {"clear": True})
    note = env.failure_note()
    assert "FAILED" in note["Subject"], note
    assert "nothing to undo" not in note["Message"], note["Message"]


def test_a_command_that_outlives_the_lambda_is_reattached_not_sent_again(env: Env) -> None:
    """The capture command runs longer than the kafka-ops Lambda may (its Timeout made 30 s here, the
    deadline and the router's cut alike): the invocation hands back StillRunning before its deadline,
    the ASL retries, and each retry re-attaches to the command already running — exactly one capture
    runs, and the execution heals."""
    env.skewed_topic("fault-slow")
    before = len(env.ssm_commands())
    t0 = time.time()
    env.stack.control("POST", "/_local/ssm", {"match": "msk-autoheal capture ", "delay_seconds": 50, "count": 1})
    env.stack.control("POST", "/_local/lambda", {"timeouts": {"kafka-ops": 30}})
    env.d.start_lambdas(("kafka-ops",), KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6", LOCAL_LAMBDA_TIMEOUT_SECONDS="30")
    try:
        with env.loaded("fault-slow"):
            d = env.run("fault-slow-command", timeout=900)
    finally:
        env.stack.control("POST", "/_local/lambda", {"timeouts": {"kafka-ops": 120}})  # template.yaml's
        env.d.start_lambdas(("kafka-ops",), KAFKA_BIN_DIR=str(KAFKA_BIN), MAX_BROKERS="6")
        env.stack.control("POST", "/_local/ssm", {"clear": True})
    assert d["status"] == "SUCCEEDED", d["history"]
    captures = [c for c in env.ssm_commands()[before:] if c.get("comment", "").startswith("msk-autoheal capture ")]
    assert len(captures) == 1, f"the capture command was sent {len(captures)} times: {captures}"
    still = [i for i in env.stack.invocations()
             if i["ts"] >= t0 and i["function"] == "kafka-ops" and i.get("error_type") == "StillRunning"]
    assert still, "the fault did not happen: no kafka-ops invocation outlived by its command"
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


def wait_for_state(env: Env, arn: str, state: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state in env.states_entered(arn):
            return
        if env.stack.client("stepfunctions").describe_execution(executionArn=arn)["status"] != "RUNNING":
            break
        time.sleep(1)
    raise AssertionError(f"{state} never entered:\n{env.d.history(arn)}")


def test_an_operator_stopping_the_execution_mid_reassignment_is_cleaned_up_by_the_safety_net(env: Env) -> None:
    """StopExecution ends the run ABORTED without Cleanup or NotifyFailure: the EventBridge rule on
    execution status changes runs the safety net, which cancels the stage and removes our throttles.
    The operator stops it while VerifyReassignment waits for its (slow) command: the stage's
    throttles are set then whether or not Kafka has finished copying (only a --verify after the end
    clears them), so the check that none is left afterwards always has something to find."""
    env.skewed_topic("fault-stopped")
    env.stack.kafka.tool(
        "kafka-producer-perf-test.sh", "--topic", "fault-stopped", "--num-records", "200", "--record-size", "10240",
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={env.stack.kafka.bootstrap_servers}", "acks=all")
    env.stack.control("POST", "/_local/ssm", {"match": "msk-autoheal verify-stage-", "delay_seconds": 60, "count": 1})
    try:
        with env.loaded("fault-stopped-load"):
            arn = env.d.start_execution("fault-operator-stop", env.d.execution_input(BROKERS, BROKERS))
            wait_for_state(env, arn, "VerifyReassignment", timeout=300)
            assert env.throttles(), "the stage runs throttled"
            env.stack.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped by hand")
            done = env.d.wait_end(arn, timeout=120)
            assert done["status"] == "ABORTED", done["history"]
            assert "Cleanup" not in env.states_entered(arn), "the workflow's own cleanup never ran"
            note = env.failure_note()
    finally:
        env.stack.control("POST", "/_local/ssm", {"clear": True})
    assert "ExecutionAborted" in note["Subject"], note
    assert "ended ABORTED" in note["Message"] and "Cleanup: cancelled" in note["Message"], note["Message"]
    # What the emulated EventBridge delivered, in AWS's shape, and what the safety net answered.
    (rec,) = [r for r in env.stack.control("GET", "/_local/sfn-events") if r["execution"] == arn]
    detail = rec["event"]["detail"]
    assert rec["event"]["detail-type"] == "Step Functions Execution Status Change"
    assert detail["status"] == "ABORTED" and detail["stateMachineArn"] == env.d.state_machine_arn
    assert detail["error"] == "Operator" and detail["cause"] == "stopped by hand"
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
    (delivery,) = rec["deliveries"]
    assert delivery["function"] == "safety-net" and delivery["status"] == 200 and not delivery["function_error"], delivery
    assert '"action":"cleaned_up_and_notified"' in delivery["response"].replace(" ", ""), delivery


def test_a_state_that_would_pass_256_kb_does_not_kill_the_execution(env: Env) -> None:
    """1600 topics with 245-character names, all on brokers 1 and 2: the plan changes most of them, so
    the list of its topics alone would be over Step Functions' 256 KB limit for a state (which
    the emulator enforces, and which States.ALL does not catch). Lists are capped in the state, the
    full list stays in S3: the execution heals, and no state in its history is over the limit."""
    prefix = "t" + "x" * 238 + "-"
    argv = env.stack.kafka.wrap(["java", "-Xmx128m", "-cp", f"{env.stack.kafka.libs}/*", str(CREATE_TOPICS),
                                 env.stack.kafka.bootstrap_servers, prefix, "1600", "1:2"])
    try:
        # The load first: right after 1600 topics a broker's metadata lags, and the producer would
        # not find its topic.
        with env.loaded("fault-big-state"):
            res = subprocess.run(argv, capture_output=True, text=True, timeout=300,
                                 env=env.stack.kafka.tool_env(netns=False))
            assert res.returncode == 0, res.stderr[-2000:]
            d = env.run("fault-big-state", timeout=900)
            assert d["status"] == "SUCCEEDED", d["history"]
        out = json.loads(d["output"])
        total = out["capped"]["plan.topics"]["total"]
        assert total * (len(prefix) + 8) > STATE_LIMIT, f"only {total} topics changed: the list would fit uncapped"
        assert len(out["plan"]["topics"]) < total, out["plan"]["topics"]
        sizes = [len((e.get("stateExitedEventDetails") or {}).get("output", "").encode()) for e in env.d.events(d["executionArn"])]
        assert max(sizes) < STATE_LIMIT, max(sizes)
        env.d.inbox(want=1, timeout=30)  # the success notification
    finally:
        env.tool("kafka-topics.sh", "--delete", "--topic", prefix + ".*", timeout=300)


def test_two_alarms_for_one_cluster_within_a_second_start_exactly_one_execution(env: Env) -> None:
    """Two band alarms enter ALARM one second apart and both reach the detector at once, while
    ListExecutions lags as AWS documents it may: single flight cannot see the other execution, the
    per-cluster lease refuses the second. (The one execution then meets a failing UpdateBrokerCount,
    so the cluster keeps its brokers; its cleanup and notice end the case.)"""

    def alarm(name: str, ts: str) -> dict:
        ev = json.loads((ALARMS / name).read_text())
        ev["detail"]["state"]["timestamp"] = ts
        return ev

    sfn = env.stack.client("stepfunctions")
    before = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=env.d.state_machine_arn)["executions"]}
    env.stack.control("POST", "/_local/msk", {"fail_next_update": True, "update_seconds": 3})
    events = [alarm("eventbridge-urp-broker.json", "2026-12-07T20:00:00.000+0000"),
              alarm("eventbridge-urp-cluster.json", "2026-12-07T20:00:01.000+0000")]
    lam = env.stack.client("lambda")
    with env.loaded("fault-two-alarms"):
        env.stack.control("POST", "/_local/sfn", {"list_executions_lag_seconds": 10})
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                answers = list(pool.map(
                    lambda ev: json.loads(lam.invoke(FunctionName="detector", Payload=json.dumps(ev).encode())["Payload"].read()),
                    events))
        finally:
            env.stack.control("POST", "/_local/sfn", {"list_executions_lag_seconds": 0})
        assert sorted(a.get("outcome") for a in answers) == ["skipped", "started"], answers
        new = [e for e in sfn.list_executions(stateMachineArn=env.d.state_machine_arn)["executions"]
               if e["executionArn"] not in before]
        assert len(new) == 1, new
        done = env.d.wait_end(new[0]["executionArn"], timeout=300)
        assert done["status"] == "FAILED", done["history"]
    note = env.failure_note()
    assert "FAILED" in note["Subject"], note
