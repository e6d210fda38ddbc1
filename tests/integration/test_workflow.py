"""The remediation state machine end to end on the local default: statemachine/remediation.asl.json
executed by moto's Step Functions engine, its Lambda tasks served by `cargo lambda watch` (the real
assess, scale, kafka-ops and notify binaries), MSK's UpdateBrokerCount emulated over a real Kafka
cluster (new broker JVMs), and every SSM command really run by the local SSM agent stand-in with the
real Kafka CLI.

1. auto mode, 2 -> 4 brokers: SUCCEEDED; the plan moved exactly its lower bound; Kafka itself now
   spreads replicas over all 4 brokers with nothing under-replicated; the success notification
   reached SNS.
2. fault: `--verify` fails mid-reassignment (an injected tool error) -> the execution FAILS with
   CommandFailed, the cleanup removed every reassignment throttle Kafka had set, the failure
   notification was sent, and the cluster still serves.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.deploy import KAFKA_BIN, Deployment, workflow_stack_config
from local.stack import Stack

BIN = KAFKA_BIN
FUNCTIONS = ("assess", "scale", "kafka-ops", "notify")
TIMINGS = {"VerifyPollSeconds": "2", "ReassignTimeoutSeconds": "600"}

pytestmark = pytest.mark.timeout(1500)


class Env(Deployment):
    """The deployment (local/deploy.py) and this module's way of running one execution."""

    def describe_cluster(self) -> dict:
        return self.stack.client("kafka").describe_cluster_v2(ClusterArn=self.stack.cluster_arn)["ClusterInfo"]

    def run(self, name: str, current: int, target: int, timeout: float = 900) -> dict:
        arn = self.start_execution(name, self.execution_input(current, target))
        return self.wait_end(arn, timeout, poll=2)

    def notifications(self) -> list[dict]:
        return self.inbox(want=1, timeout=10)


def replicas_per_broker(stack: Stack) -> dict[int, int]:
    """From Kafka itself: `kafka-topics.sh --describe` of the whole cluster."""
    out = stack.kafka.tool("kafka-topics.sh", "--bootstrap-server", stack.kafka.bootstrap_servers, "--describe").stdout
    counts: dict[int, int] = {}
    for line in out.splitlines():
        if "Partition:" in line and "Replicas:" in line:
            reps = line.split("Replicas:")[1].split()[0]
            for b in reps.split(","):
                counts[int(b)] = counts.get(int(b), 0) + 1
    return counts


def under_replicated(stack: Stack) -> str:
    return stack.kafka.tool(
        "kafka-topics.sh", "--bootstrap-server", stack.kafka.bootstrap_servers, "--describe", "--under-replicated-partitions"
    ).stdout.strip()


def throttle_configs(stack: Stack) -> str:
    bs = stack.kafka.bootstrap_servers
    out = ""
    for kind in ("brokers", "topics"):
        out += stack.kafka.tool("kafka-configs.sh", "--bootstrap-server", bs, "--entity-type", kind, "--describe").stdout
    return "\n".join(line for line in out.splitlines() if "throttled" in line)


@pytest.fixture(scope="module")
def env(kafka_available: None, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with Stack(workflow_stack_config(tmp_path_factory.mktemp("workflow-stack"))) as stack:
        yield Env.create(stack, name="autoheal-e2e", timings=TIMINGS)


def test_auto_mode_scales_rebalances_and_heals(env: Env) -> None:
    stack = env.stack
    stack.kafka.create_topic("stress-test", 12, 2)
    bs = stack.kafka.bootstrap_servers
    stack.kafka.tool(
        "kafka-producer-perf-test.sh", "--topic", "stress-test", "--num-records", "20000", "--record-size", "1024",
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={bs}", "acks=all",
    )
    assert set(replicas_per_broker(stack)) == {1, 2}
    env.start_lambdas(FUNCTIONS, KAFKA_BIN_DIR=str(BIN), MAX_BROKERS="6")

    d = env.run("e2e-auto-2-to-4", current=2, target=4)
    assert d["status"] == "SUCCEEDED", d["history"]
    out = json.loads(d["output"])

    assert out["assessment"]["broker_count"] == 2 and out["assessment"]["scale_needed"]
    assert "update-broker-count" in out["assessment"]["fixes"]["aws_cli"]
    assert out["scale"]["requested"] and out["scale"]["broker_count"] == 4 and out["scale"]["active"]
    assert env.describe_cluster()["Provisioned"]["NumberOfBrokerNodes"] == 4
    plan = out["plan"]
    assert plan["moves"] > 0 and plan["moves"] == plan["lower_bound"], plan
    assert out["reassignment"]["status"] == "complete" and out["reassignment"]["throttles_removed"]
    assert out["healed"]["under_replicated"] == 0 and out["healed"]["replica_spread"] <= 1

    # What Kafka itself says, not what the workflow reported.
    counts = replicas_per_broker(stack)
    assert set(counts) == {1, 2, 3, 4}, counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    assert under_replicated(stack) == ""
    assert throttle_configs(stack) == ""

    notes = env.notifications()
    assert len(notes) == 1, notes
    assert "healed" in notes[0]["Subject"] and "2 -> 4 brokers" in notes[0]["Subject"], notes[0]["Subject"]
    assert f"{plan['moves']} replicas moved" in notes[0]["Message"]


def test_a_failing_command_mid_reassignment_cleans_up_and_notifies(env: Env, tmp_path: Path) -> None:
    stack = env.stack
    # A topic whose replicas sit on brokers 1 and 2 only: the plan must move some of them.
    stack.kafka.tool(
        "kafka-topics.sh", "--bootstrap-server", stack.kafka.bootstrap_servers, "--create", "--topic", "skewed",
        "--replica-assignment", ",".join(["1:2", "2:1"] * 4),
    )
    stack.kafka.tool(
        "kafka-producer-perf-test.sh", "--topic", "skewed", "--num-records", "30000", "--record-size", "1024",
        "--throughput", "-1", "--producer-props", f"bootstrap.servers={stack.kafka.bootstrap_servers}", "acks=all",
    )
    # The Kafka client's tools, except that --verify fails like a broken tool or connection would.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in BIN.iterdir():
        (bin_dir / tool.name).symlink_to(tool)
    (bin_dir / "kafka-reassign-partitions.sh").unlink()
    (bin_dir / "kafka-reassign-partitions.sh").write_text(
        "#!/usr/bin/env bash\n"
        'case " $* " in *" --verify "*) echo "Error: injected failure (broker connection lost)" >&2; exit 1 ;; esac\n'
        f'exec "{BIN}/kafka-reassign-partitions.sh" "$@"\n'
    )
    (bin_dir / "kafka-reassign-partitions.sh").chmod(0o755)
    env.start_lambdas(FUNCTIONS, KAFKA_BIN_DIR=str(bin_dir), MAX_BROKERS="6")

    d = env.run("e2e-fault-verify", current=4, target=4)
    assert d["status"] == "FAILED", d["history"]
    assert d.get("error") == "CommandFailed", (d.get("error"), d.get("cause"), d["history"])
    assert "injected failure" in (d.get("cause") or "")

    # The cleanup step really ran against the cluster (not skipped as "nothing started") and every
    # step of it worked. (Its `--cancel` clears the stage's throttles itself, so the explicit removal
    # may find none left: the cluster-wide check below is what proves none remain.)
    events = env.events(d["executionArn"])
    cleanup = next(json.loads(e["stateExitedEventDetails"]["output"])["cleanup"] for e in events
                   if e.get("stateExitedEventDetails", {}).get("name") == "Cleanup")
    assert cleanup["skipped"] is None and cleanup["error"] is None and not cleanup["throttles_failed"], cleanup
    assert throttle_configs(stack) == "", "cleanup must leave no reassignment throttle behind"
    notes = env.notifications()
    assert len(notes) == 1, notes
    assert "FAILED" in notes[0]["Subject"] and "CommandFailed" in notes[0]["Subject"]
    assert "Cleanup:" in notes[0]["Message"]
    # Still serving: metadata answers and every partition has a leader.
    described = stack.kafka.tool("kafka-topics.sh", "--bootstrap-server", stack.kafka.bootstrap_servers, "--describe", "--topic", "skewed").stdout
    assert "Leader: none" not in described and "Partition: 7" in described
