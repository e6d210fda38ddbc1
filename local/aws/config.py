"""Configuration of the AWS emulator process, written as JSON by whoever starts it (local.stack)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass
class LimitConfig:
    kind: str = "net"  # net | cpu-broker | cpu-fetcher | none
    # net: replication bytes/s per broker; cpu-*: CPU percent per broker
    value: float = 1_000_000
    direction: str = "ingress"  # net only
    # net: credit of brokers added later (a newly launched instance's burst allowance)
    launch_burst_bytes: int = 64_000_000


@dataclass
class KafkaConfig:
    cluster_name: str = "demo"
    brokers: int = 2
    racks: list[str] = field(default_factory=lambda: ["use1-az1", "use1-az2"])
    limit: LimitConfig = field(default_factory=LimitConfig)
    replica_lag_time_max_ms: int = 2000
    broker_heap_mb: int = 320
    probe_interval_s: float = 1.0
    # UpdateBrokerCount: at least this long in UPDATING (real MSK takes 15-30 minutes)
    update_min_seconds: float = 5.0
    # no more brokers than this, whatever UpdateBrokerCount asks (this machine's capacity)
    max_brokers: int = 6


@dataclass
class BridgeConfig:
    enabled: bool = True
    # how often metrics are published and alarms evaluated (CloudWatch: 60 s)
    tick_s: float = 5.0
    # Lambda functions that get the EventBridge "CloudWatch Alarm State Change" event
    event_targets: list[str] = field(default_factory=lambda: ["detector"])
    # where event_targets are invoked (None: the emulator's own Lambda route)
    lambda_url: str | None = None
    # only deliver events for transitions into these states
    event_states: list[str] = field(default_factory=lambda: ["ALARM", "OK", "INSUFFICIENT_DATA"])


@dataclass
class SfnEventsConfig:
    # Lambda functions that get EventBridge's "Step Functions Execution Status Change" events
    # (template.yaml: the safety net), invoked asynchronously
    targets: list[str] = field(default_factory=list)
    # the rule's detail.status: only executions ending so are delivered
    statuses: list[str] = field(default_factory=lambda: ["FAILED", "TIMED_OUT", "ABORTED"])
    # Lambda retries a failed asynchronous invocation twice, after about 1 and 2 minutes
    retry_delays_s: list[float] = field(default_factory=lambda: [60.0, 120.0])


@dataclass
class EmulatorConfig:
    state_dir: str
    port: int
    region: str = REGION
    account_id: str = ACCOUNT_ID
    kafka: KafkaConfig = field(default_factory=KafkaConfig)
    bridge: BridgeConfig = field(default_factory=BridgeConfig)
    sfn_events: SfnEventsConfig = field(default_factory=SfnEventsConfig)
    # Lambda invokes go here (cargo lambda watch); None: to moto's own Lambda
    lambda_url: str | None = None
    # per-function overrides, e.g. {"stub": "http://127.0.0.1:9999"}
    lambda_routes: dict[str, str] = field(default_factory=dict)
    # the EC2 client that SSM runs commands on
    client_instance_id: str = "i-0c1e47a5e0c1e47a5"
    # extra environment for SSM commands (e.g. KAFKA_BIN_DIR)
    client_env: dict[str, str] = field(default_factory=dict)
    start_kafka: bool = True
    # every function's Timeout from template.yaml is enforced on its invokes (Sandbox.Timedout)
    enforce_lambda_timeouts: bool = True

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> EmulatorConfig:
        raw = json.loads(path.read_text())
        kafka = raw.pop("kafka", {})
        limit = LimitConfig(**kafka.pop("limit", {}))
        bridge = BridgeConfig(**raw.pop("bridge", {}))
        sfn_events = SfnEventsConfig(**raw.pop("sfn_events", {}))
        return cls(**raw, kafka=KafkaConfig(**kafka, limit=limit), bridge=bridge, sfn_events=sfn_events)
