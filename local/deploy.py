"""The SAM stack's own resources, made in the local emulator as `sam deploy` makes them on AWS: the
plan bucket, the KMS-less SNS topics with an SQS queue subscribed to each (the operator's inbox, and
the approvers' one, where the approve/reject links go), the approval key in Secrets Manager, and the
state machine from statemachine/remediation.asl.json with its `DefinitionSubstitutions` made. Then
every Lambda under `cargo lambda watch` with template.yaml's environment and the credentials of its
own role (template.yaml's policies, enforced by the emulator: local/aws/iam.py), and the few Step
Functions calls the demo and the tests watch an execution with.

One place for this so the demo and the end-to-end tests deploy the same thing:

    d = Deployment.create(stack, timings={"VerifyPollSeconds": "2"})
    d.start_lambdas(("assess", "scale", "kafka-ops", "notify"), MAX_BROKERS="6")
    arn = d.start_execution("run-1", d.execution_input(current=2, target=4))
    done = d.wait_end(arn, timeout=900)            # describe_execution + "history" (text)
    d.inbox(want=1)                                # the SNS messages, as subscribers get them
    d.approval_inbox(want=1)                       # the approval emails, as approvers get them
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.aws.policies import TEMPLATE, LocalValues, TemplateError, function_roles
from local.kafka.cluster import REPO_ROOT, free_port
from local.stack import DEFAULT_STACK_NAME, Stack, StackConfig

ASL = REPO_ROOT / "statemachine" / "remediation.asl.json"
KAFKA_BIN = REPO_ROOT / "local" / "kafka" / "bin"

# Local timings for the ASL's substitutions (template defaults are for MSK: minutes, hours).
LOCAL_TIMINGS = {"ScalePollSeconds": "2", "ScaleTimeoutSeconds": "300", "VerifyPollSeconds": "3",
                 "ReassignTimeoutSeconds": "480"}


def definition(region: str, account: str, timings: dict[str, str] | None = None) -> str:
    """The ASL with its `${...}` substitutions made, as SAM's DefinitionSubstitutions would:
    `${XxxFunctionArn}` → the function `xxx` (CamelCase → kebab-case, as template.yaml names them)."""
    text = ASL.read_text()
    subs = dict(LOCAL_TIMINGS | (timings or {}))
    for name in set(re.findall(r"\$\{([A-Za-z]+)FunctionArn\}", text)):
        fn = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
        subs[f"{name}FunctionArn"] = f"arn:aws:lambda:{region}:{account}:function:{fn}"
    for k, v in subs.items():
        text = text.replace("${%s}" % k, v)
    left = sorted(set(re.findall(r"\$\{([A-Za-z]+)\}", text)))
    if left:
        raise RuntimeError(f"the ASL has placeholders the local stack does not fill: {', '.join(left)}")
    return text


def workflow_stack_config(state_dir: Path) -> StackConfig:
    """A stack to run the workflow on, without the overload: 2 brokers, no replication limit, no
    alarm (the tests start executions themselves), room for 6 brokers, the tests' cargo target dir."""
    target = os.environ.get("CARGO_TARGET_DIR")
    return StackConfig(state_dir=state_dir, brokers=2, limit_kind="none", alarm=None, event_targets=(),
                       max_brokers=6, update_min_seconds=3.0, cargo_target_dir=Path(target) if target else None)


@dataclass
class Deployment:
    stack: Stack
    bucket: str
    topic_arn: str
    queue_url: str
    secret_arn: str
    state_machine_arn: str
    approval_port: int
    approval_topic_arn: str = ""
    approval_queue_url: str = ""
    name: str = DEFAULT_STACK_NAME
    template: Path = TEMPLATE
    lease_table: str = ""

    @classmethod
    def create(cls, stack: Stack, name: str = DEFAULT_STACK_NAME, timings: dict[str, str] | None = None,
               template: Path | None = None) -> Deployment:
        """The stack's resources; `template` (default template.yaml) is where the functions' roles
        and policies are read from when they start (a test deploys a copy with a statement removed)."""
        template = Path(template or TEMPLATE)
        try:
            function_roles(LocalValues(name, stack.region, stack.account_id,
                                       parameters={"ClusterArn": stack.cluster_arn,
                                                   "ClientInstanceId": stack.client_instance_id}), template)
        except (OSError, TemplateError) as e:
            raise RuntimeError(f"{template}: {e}") from e
        s3, sns, sqs, sfn = (stack.client(x) for x in ("s3", "sns", "sqs", "stepfunctions"))
        bucket = f"{name}-plans-local"
        s3.create_bucket(Bucket=bucket)
        topic = sns.create_topic(Name=f"{name}-notifications")["TopicArn"]
        queue = sqs.create_queue(QueueName=f"{name}-inbox")["QueueUrl"]
        qarn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=qarn)
        # Approve/reject links go to a topic of their own (template.yaml's ApprovalTopic), approvers only.
        approval_topic = sns.create_topic(Name=f"{name}-approvals")["TopicArn"]
        approval_queue = sqs.create_queue(QueueName=f"{name}-approvals-inbox")["QueueUrl"]
        sns.subscribe(TopicArn=approval_topic, Protocol="sqs", Endpoint=sqs.get_queue_attributes(
            QueueUrl=approval_queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])
        # The stack's secret: a random key, as GenerateSecretString makes it.
        secret = stack.client("secretsmanager").create_secret(
            Name=f"{name}-approval-key", SecretString=secrets.token_urlsafe(48))["ARN"]
        # template.yaml's LeaseTable: the per-cluster lease (on demand, key cluster_arn, TTL expires_at).
        lease_table = f"{name}-leases"
        ddb = stack.client("dynamodb")
        ddb.create_table(TableName=lease_table, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "cluster_arn", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "cluster_arn", "KeyType": "HASH"}])
        ddb.update_time_to_live(TableName=lease_table,
                                TimeToLiveSpecification={"AttributeName": "expires_at", "Enabled": True})
        sm = sfn.create_state_machine(
            name=f"{name}-remediation", definition=definition(stack.region, stack.account_id, timings),
            roleArn=f"arn:aws:iam::{stack.account_id}:role/{name}-remediation")["stateMachineArn"]
        return cls(stack, bucket, topic, queue, secret, sm, free_port(), approval_topic, approval_queue, name=name,
                   template=template, lease_table=lease_table)

    @property
    def approval_url(self) -> str:
        """The approval function's URL under cargo lambda watch (the stack's output ApprovalUrl)."""
        return f"http://127.0.0.1:{self.approval_port}/lambda-url/approval/"

    def lambda_env(self, **overrides: str) -> dict[str, str]:
        """template.yaml's Environment of every function, with its parameter defaults except where
        a local run needs its own (the Kafka CLI's path, a short command wait); each function gets
        these plus its own role's credentials."""
        return {
            "STATE_MACHINE_ARN": self.state_machine_arn, "MODE": "auto", "APPROVAL_CLUSTERS": "",
            "BROKER_STEP_PER_AZ": "1", "MAX_BROKERS": "12", "COOLDOWN_MINUTES": "60", "TOPIC_ARN": self.topic_arn,
            "KAFKA_BIN_DIR": str(KAFKA_BIN), "THROTTLE_BYTES_PER_SEC": str(20 * 1024 * 1024),
            "CLUSTER_ARN": self.stack.cluster_arn, "CLIENT_INSTANCE_ID": self.stack.client_instance_id,
            "MAX_MOVES_PER_BROKER": "", "CANCEL_ON_FAILURE": "true", "PLAN_BUCKET": self.bucket,
            "PLAN_PREFIX": "autoheal", "APPROVAL_SECRET_ARN": self.secret_arn,
            "APPROVAL_URL": self.approval_url, "APPROVAL_TOPIC_ARN": self.approval_topic_arn,
            "APPROVAL_TIMEOUT_MINUTES": "60", "LEASE_TABLE": self.lease_table, "RUST_LOG": "info",
        } | overrides

    @property
    def resources(self) -> dict[str, str]:
        """template.yaml's resources as made here (their `Ref`), for the functions' policies."""
        return {"PlanBucket": self.bucket, "NotificationTopic": self.topic_arn, "ApprovalSecret": self.secret_arn,
                "ApprovalTopic": self.approval_topic_arn, "RemediationStateMachine": self.state_machine_arn,
                "LeaseTable": self.lease_table}

    def start_lambdas(self, functions: Sequence[str], **overrides: str) -> None:
        """(Re)start `functions`, each under its own cargo lambda watch with `lambda_env(**overrides)`
        and its own role's credentials, whose policies are the template's (IAM enforced)."""
        self.stack.start_lambdas(functions, env=self.lambda_env(**overrides), ports={"approval": self.approval_port},
                                 template=self.template, stack_name=self.name, resources=self.resources)

    # ---- executions ----------------------------------------------------------------------------

    def execution_input(self, current: int, target: int, mode: str = "auto",
                        state_change_time: str = "2026-11-25T18:00:00Z") -> dict[str, Any]:
        """What the detector starts the workflow with (docs/WORKFLOW.md), for the emulated cluster."""
        info = self.stack.client("kafka").describe_cluster_v2(ClusterArn=self.stack.cluster_arn)["ClusterInfo"]
        return {
            "cluster_arn": self.stack.cluster_arn,
            "cluster_name": self.stack.cluster_name,
            "incident": {
                "type": "MSKClusterCapacityInsufficient", "severity": "High", "cluster_name": self.stack.cluster_name,
                "signal": "UnderReplicatedPartitions > 0", "alarm_name": "demo-under-replicated",
                "alarm_arn": None, "state_change_time": state_change_time, "source": "eventbridge",
            },
            "current_broker_count": current,
            "target_broker_count": target,
            "az_count": 2,
            "current_version": info["CurrentVersion"],
            "mode": mode,
        }

    def start_execution(self, name: str, payload: dict[str, Any]) -> str:
        sfn = self.stack.client("stepfunctions")
        return sfn.start_execution(stateMachineArn=self.state_machine_arn, name=name,
                                   input=json.dumps(payload))["executionArn"]

    def wait_end(self, arn: str, timeout: float = 600, poll: float = 1) -> dict:
        """describe_execution once it is no longer RUNNING, with `history` (text) added."""
        sfn = self.stack.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            d = sfn.describe_execution(executionArn=arn)
            if d["status"] != "RUNNING":
                d["history"] = self.history(arn)
                return d
            if time.monotonic() >= deadline:
                raise AssertionError(f"still RUNNING after {timeout:.0f}s:\n{self.history(arn)}")
            time.sleep(poll)

    def events(self, arn: str) -> list[dict]:
        return self.stack.client("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"]

    def history(self, arn: str) -> str:
        """One line per history event: type, state or error, the cause's start (for assertion messages)."""
        lines = []
        for e in self.events(arn):
            detail = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
            what = detail.get("name") or detail.get("error") or ""
            lines.append(f"{e['type']} {what} {str(detail.get('cause', ''))[:300]}")
        return "\n".join(lines)

    def inbox(self, want: int = 1, timeout: float = 120, queue_url: str | None = None) -> list[dict]:
        """SNS messages ({Subject, Message, ...}) as the notification topic's subscribers get them: up
        to `want` within `timeout`, then whatever else has already arrived."""
        queue_url = queue_url or self.queue_url
        sqs = self.stack.client("sqs")
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                      WaitTimeSeconds=1).get("Messages", [])
            for m in got:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
            if (len(out) >= want and not got) or time.monotonic() >= deadline:
                return out

    def approval_inbox(self, want: int = 1, timeout: float = 120) -> list[dict]:
        """The approval topic's messages (the emails with the approve/reject links), as approvers get them."""
        return self.inbox(want, timeout, queue_url=self.approval_queue_url)
