"""The whole local default as one object, and its command line.

    with Stack(StackConfig(state_dir=Path(".cache/local-stack"))) as stack:
        stack.kafka.create_topic("stress-test", 12)          # real Kafka, inside its netns
        sfn = stack.client("stepfunctions")                  # boto3 against the emulator
        stack.start_lambdas(["detector"], env={"STATE_MACHINE_ARN": arn})
        stack.wait_for(lambda s: s.urp_total > 0, 60)        # brokers' own metadata

    python -m local.stack up [--brokers 2] [--lambdas detector] ...   # foreground; Ctrl-C stops
    python -m local.stack status | env | down [--state-dir DIR]

Pieces: the AWS emulator process (local.aws.server: moto + MSK over the real Kafka cluster it owns,
SSM, alarm bridge, Lambda router) and `cargo lambda watch` (local.lambdas). Logs and state go to
the state directory: aws.log, kafka/*/logs/server.log, cargo-lambda-watch.log, alarm-events.jsonl,
lambda-invocations.jsonl, ec2-client/ssm/commands.jsonl.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.aws.config import ACCOUNT_ID, REGION, BridgeConfig, EmulatorConfig, KafkaConfig, LimitConfig, SfnEventsConfig
from local.kafka.cluster import REPO_ROOT, RemoteCluster, free_port
from local.kafka.metadata import Snapshot
from local.aws.policies import TEMPLATE, LocalValues, TemplateError, client_role, function_roles
from local.lambdas import LambdaWatch, aws_env, start_per_function, stop_all
from local.limits import sweep_stale
from local.procs import Supervisor, install_signal_handlers, kill_recorded, pid_alive

log = logging.getLogger("local.stack")

DEFAULT_STATE_DIR = REPO_ROOT / ".cache" / "local-stack"
# The SAM stack's name locally: its roles are <name>-<RoleLogicalId> (local.deploy uses the same default)
DEFAULT_STACK_NAME = "msk-autoheal"


@dataclass
class AlarmSpec:
    """The stack's URP alarm, as the SAM template defines it (locally with a short period).

    A metric-math alarm over the per-broker metrics of broker ids 1..max_broker_id: brokers that do
    not exist have no datapoints, which SUM ignores, so brokers added later are covered."""

    name: str | None = None  # default: "<cluster>-under-replicated"
    period_s: int = 10
    evaluation_periods: int = 1
    datapoints_to_alarm: int = 1
    threshold: float = 0.0
    max_broker_id: int = 6
    description: str = "UnderReplicatedPartitions > 0 on the MSK cluster (msk-autoheal)"
    alarm_actions: list[str] = field(default_factory=list)


@dataclass
class StackConfig:
    state_dir: Path = DEFAULT_STATE_DIR
    cluster_name: str = "demo"
    brokers: int = 2
    racks: tuple[str, ...] = ("use1-az1", "use1-az2")
    # per-broker capacity: "net" (replication bytes/s per broker), "cpu-broker"/"cpu-fetcher" (CPU %),
    # "none". See local/README.md "Capacity".
    limit_kind: str = "net"
    limit_value: float = 1_000_000
    limit_direction: str = "ingress"
    limit_launch_burst_bytes: int = 64_000_000
    replica_lag_time_max_ms: int = 2000
    update_min_seconds: float = 5.0
    max_brokers: int = 6
    bridge_tick_s: float = 5.0
    event_targets: tuple[str, ...] = ("detector",)
    # functions that get "Step Functions Execution Status Change" events of executions ending
    # FAILED/TIMED_OUT/ABORTED (template.yaml's safety-net rule); see local/aws/sfn_events.py
    sfn_event_targets: tuple[str, ...] = ()
    sfn_event_retry_delays_s: tuple[float, ...] = (60.0, 120.0)
    alarm: AlarmSpec | None = field(default_factory=AlarmSpec)
    # Lambdas under cargo lambda watch, started with the stack (or later: start_lambdas)
    lambdas: tuple[str, ...] = ()
    lambda_env: dict[str, str] = field(default_factory=dict)
    lambda_routes: dict[str, str] = field(default_factory=dict)
    prebuild_lambdas: bool = True
    cargo_target_dir: Path | None = None
    client_env: dict[str, str] = field(default_factory=dict)
    # False: the emulator only (no Kafka, no MSK cluster, no alarm bridge), e.g. for Step Functions tests
    start_kafka: bool = True
    # every function's Timeout from template.yaml is enforced on its invokes (after its first, cold one)
    enforce_lambda_timeouts: bool = True
    clean: bool = True  # wipe the state dir first
    start_timeout_s: float = 240.0


class StackError(RuntimeError):
    pass


class Stack:
    def __init__(self, config: StackConfig | None = None) -> None:
        self.config = config or StackConfig()
        self.state_dir = Path(self.config.state_dir).resolve()
        self.sup: Supervisor | None = None
        self.info: dict[str, Any] = {}
        self.kafka: RemoteCluster | None = None
        self.lambdas: dict[str, LambdaWatch] = {}
        self.started = 0.0
        self.timings: dict[str, float] = {}
        self._clients: dict[str, Any] = {}  # per emulator endpoint: cleared by start()

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> Stack:
        self._clients = {}
        cfg = self.config
        t0 = time.monotonic()
        sweep_stale()
        if cfg.clean and self.state_dir.exists():
            _stop_recorded(self.state_dir)
            shutil.rmtree(self.state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.sup = Supervisor(self.state_dir / "run")
        try:
            self._start_emulator()
            self.timings["aws_and_kafka_s"] = round(time.monotonic() - t0, 1)
            if cfg.alarm is not None:
                self.create_alarm(cfg.alarm)
            if cfg.lambdas:
                t1 = time.monotonic()
                self.start_lambdas(cfg.lambdas, env=cfg.lambda_env)
                self.timings["lambdas_s"] = round(time.monotonic() - t1, 1)
        except BaseException:
            self.stop()
            raise
        self.timings["total_s"] = round(time.monotonic() - t0, 1)
        self.started = time.time()
        self._write_stack_json()
        log.info("local stack up in %.0fs: %s", self.timings["total_s"], self.endpoint)
        return self

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.lambdas = {}
        if self.sup is not None:
            self.sup.close()
            self.sup = None
        (self.state_dir / "stack.json").unlink(missing_ok=True)
        sweep_stale()

    def _start_emulator(self) -> None:
        cfg = self.config
        assert self.sup is not None
        port = free_port()
        ecfg = EmulatorConfig(
            state_dir=str(self.state_dir),
            port=port,
            kafka=KafkaConfig(
                cluster_name=cfg.cluster_name,
                brokers=cfg.brokers,
                racks=list(cfg.racks),
                limit=LimitConfig(kind=cfg.limit_kind, value=cfg.limit_value, direction=cfg.limit_direction,
                                  launch_burst_bytes=cfg.limit_launch_burst_bytes),
                replica_lag_time_max_ms=cfg.replica_lag_time_max_ms,
                update_min_seconds=cfg.update_min_seconds,
                max_brokers=cfg.max_brokers,
            ),
            bridge=BridgeConfig(tick_s=cfg.bridge_tick_s, event_targets=list(cfg.event_targets)),
            sfn_events=SfnEventsConfig(targets=list(cfg.sfn_event_targets),
                                       retry_delays_s=list(cfg.sfn_event_retry_delays_s)),
            lambda_routes=dict(cfg.lambda_routes),
            client_env=dict(cfg.client_env),
            start_kafka=cfg.start_kafka,
            enforce_lambda_timeouts=cfg.enforce_lambda_timeouts,
        )
        cfg_path = self.state_dir / "aws-config.json"
        ecfg.dump(cfg_path)
        env = dict(os.environ) | {"PYTHONPATH": str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = self.sup.spawn(
            "aws-emulator",
            [sys.executable, "-m", "local.aws.server", "--config", str(cfg_path)],
            log_path=self.state_dir / "aws.log",
            env=env,
            cwd=REPO_ROOT,
            stop_timeout=30,
        )
        ready = self.state_dir / "aws.json"
        deadline = time.monotonic() + cfg.start_timeout_s
        while not ready.exists():
            if not proc.alive():
                raise StackError(f"AWS emulator exited {proc.returncode} during start-up:\n{proc.tail(25)}")
            if time.monotonic() > deadline:
                raise StackError(f"AWS emulator not ready after {cfg.start_timeout_s:.0f}s:\n{proc.tail(25)}")
            time.sleep(0.3)
        self.info = json.loads(ready.read_text())
        self.kafka = RemoteCluster(self.info["kafka"]) if "kafka" in self.info else None

    def start_lambdas(
        self,
        functions: Sequence[str],
        env: Mapping[str, str] | None = None,
        ports: Mapping[str, int] | None = None,
        *,
        template: Path | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        resources: Mapping[str, str] | None = None,
    ) -> dict[str, LambdaWatch]:
        """(Re)start these functions (the others keep serving), each under its own `cargo lambda watch` with `env` (+ the
        emulator's AWS env) and the credentials of its own role, and route the emulator's Lambda
        invokes to them. The roles and their policies come from `template` (default template.yaml)
        with this stack's values (local.aws.policies); every AWS call a function makes is then
        allowed or denied by them (local.aws.iam). `ports` (default: free ones) lets a function's
        own environment name its URL, e.g. the approval endpoint's `<url>/lambda-url/approval/`;
        `resources` gives the template's resources their local values ({"PlanBucket": name, ...})."""
        assert self.sup is not None, "stack not started"
        self.stop_lambdas(functions)
        fenv = aws_env(self.endpoint, self.region) | {"RUST_LOG": "info"} | dict(env or {})
        creds = self.function_credentials(functions, fenv, template=template, stack_name=stack_name,
                                          resources=resources)
        started = start_per_function(
            self.sup, {fn: fenv | creds[fn] for fn in functions}, state_dir=self.state_dir, ports=ports,
            target_dir=self.config.cargo_target_dir, prebuild=self.config.prebuild_lambdas,
        )
        self.lambdas |= started
        self.control("POST", "/_local/lambda", {"routes": {fn: w.url for fn, w in started.items()}})
        self._write_stack_json()
        return self.lambdas

    def stop_lambdas(self, functions: Sequence[str] | None = None) -> None:
        """Stop the named functions (default: all); the others keep serving."""
        stopping = {fn: w for fn, w in self.lambdas.items() if functions is None or fn in functions}
        if stopping:
            self.control("POST", "/_local/lambda", {"routes": {fn: None for fn in stopping}})
        stop_all(list(stopping.values()))
        self.lambdas = {fn: w for fn, w in self.lambdas.items() if fn not in stopping}

    def function_credentials(
        self,
        functions: Sequence[str],
        env: Mapping[str, str],
        *,
        template: Path | None = None,
        stack_name: str = DEFAULT_STACK_NAME,
        resources: Mapping[str, str] | None = None,
    ) -> dict[str, dict[str, str]]:
        """Per function: its role (from the template) made in moto's IAM with its inline policies,
        assumed through moto's STS (ASIA… keys + session token), and registered with the emulator's
        IAM evaluator. Returns {function: AWS_ACCESS_KEY_ID/SECRET/SESSION_TOKEN}."""
        values = LocalValues(
            stack_name=stack_name, region=self.region, account_id=self.account_id,
            parameters={"ClusterArn": self.cluster_arn, "ClientInstanceId": self.client_instance_id},
            resources=dict(resources or {}), env=dict(env),
        )
        try:
            roles = function_roles(values, template or TEMPLATE)
        except TemplateError as e:
            raise StackError(f"{template or TEMPLATE}: {e}") from e
        missing = [fn for fn in functions if fn not in roles]
        if missing:
            raise StackError(f"not functions of {template or TEMPLATE}: {', '.join(missing)} (no role to run them with)")
        iam, sts = self.client("iam"), self.client("sts")
        trust = json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
        out: dict[str, dict[str, str]] = {}
        identities: dict[str, dict[str, Any]] = {}
        for fn in functions:
            role = roles[fn]
            try:
                arn = iam.create_role(RoleName=role.role_name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
            except iam.exceptions.EntityAlreadyExistsException:
                arn = iam.get_role(RoleName=role.role_name)["Role"]["Arn"]
                for name in iam.list_role_policies(RoleName=role.role_name)["PolicyNames"]:
                    iam.delete_role_policy(RoleName=role.role_name, PolicyName=name)
            for name, doc in role.policies.items():
                iam.put_role_policy(RoleName=role.role_name, PolicyName=name, PolicyDocument=json.dumps(doc))
            c = sts.assume_role(RoleArn=arn, RoleSessionName=fn, DurationSeconds=43200)["Credentials"]
            out[fn] = {"AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
                       "AWS_SESSION_TOKEN": c["SessionToken"]}
            identities[c["AccessKeyId"]] = {"function": fn, "role": role.role_name, "policies": role.documents}
        client = client_role(values, template or TEMPLATE)
        if client is not None:
            ec2_trust = json.dumps({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            try:
                arn = iam.create_role(RoleName=client.role_name, AssumeRolePolicyDocument=ec2_trust)["Role"]["Arn"]
            except iam.exceptions.EntityAlreadyExistsException:
                arn = iam.get_role(RoleName=client.role_name)["Role"]["Arn"]
            for name, doc in client.policies.items():
                iam.put_role_policy(RoleName=client.role_name, PolicyName=name, PolicyDocument=json.dumps(doc))
            c = sts.assume_role(RoleArn=arn, RoleSessionName=self.client_instance_id, DurationSeconds=43200)["Credentials"]
            identities[c["AccessKeyId"]] = {"function": "ec2-client", "role": client.role_name,
                                            "policies": client.documents}
            # What the instance profile gives the client's scripts (the AWS CLI's `aws s3 cp`).
            self.control("POST", "/_local/ssm", {"instance_env": {
                "AWS_ACCESS_KEY_ID": c["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": c["SecretAccessKey"],
                "AWS_SESSION_TOKEN": c["SessionToken"], "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": self.region, "AWS_REGION": self.region}})
        self.control("POST", "/_local/iam", {"identities": identities, "replace": True})
        return out

    def iam(self) -> dict:
        """The emulator's IAM evaluator: identities, denials (action, resource, reason), allowed calls."""
        return self.control("GET", "/_local/iam")

    def _write_stack_json(self) -> None:
        doc = {
            "pid": os.getpid(),
            "state_dir": str(self.state_dir),
            "endpoint": self.endpoint,
            "lambda_urls": {fn: w.url for fn, w in self.lambdas.items()},
            "timings": self.timings,
        } | {k: self.info.get(k) for k in ("cluster_name", "cluster_arn", "bootstrap_servers", "netns", "region",
                                            "client_instance_id")}
        (self.state_dir / "stack.json").write_text(json.dumps(doc, indent=2))

    # ---- facts -----------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return self.info["endpoint"]

    @property
    def region(self) -> str:
        return self.info.get("region", REGION)

    @property
    def account_id(self) -> str:
        return self.info.get("account_id", ACCOUNT_ID)

    @property
    def cluster_arn(self) -> str:
        return self.info["cluster_arn"]

    @property
    def cluster_name(self) -> str:
        return self.info["cluster_name"]

    @property
    def client_instance_id(self) -> str:
        return self.info["client_instance_id"]

    @property
    def netns(self) -> str | None:
        return self.info.get("netns")

    def env(self) -> dict[str, str]:
        """Environment for SDK clients and CLIs (aws, autoheal, cargo lambda invoke) to use the emulator."""
        return aws_env(self.endpoint, self.region)

    def client(self, service: str) -> Any:
        """A boto3 client on the emulator, made once per service (they are thread-safe)."""
        import boto3

        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.endpoint, region_name=self.region,
                aws_access_key_id="testing", aws_secret_access_key="testing",
            )
        return self._clients[service]

    # ---- emulator control ------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raise StackError(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}") from e

    def status(self) -> dict:
        return self.control("GET", "/_local/status")

    def metadata(self) -> Snapshot:
        """The brokers' metadata as the emulator's probe last saw it."""
        raw = self.control("GET", "/_local/metadata")
        if "error" in raw and "ts_ms" not in raw:
            return Snapshot(ts_ms=0, error=raw["error"])
        return Snapshot.from_json(raw)

    def wait_for(self, predicate: Callable[[Snapshot], bool], timeout: float, what: str = "condition",
                 interval: float = 1.0) -> Snapshot:
        deadline = time.monotonic() + timeout
        snap = self.metadata()
        while not (snap.ok and predicate(snap)):
            if time.monotonic() > deadline:
                seen = snap.error or f"brokers {snap.broker_ids}, URP {snap.urp_by_broker()}"
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {seen}")
            time.sleep(interval)
            snap = self.metadata()
        return snap

    def tick(self) -> dict:
        """Publish metrics and evaluate alarms now instead of at the next bridge tick."""
        return self.control("POST", "/_local/tick")

    def alarm_events(self) -> list[dict]:
        return self.control("GET", "/_local/events")

    def invocations(self) -> list[dict]:
        return self.control("GET", "/_local/invocations")

    def set_replication_limit(self, rate_bytes_per_s: int) -> dict:
        return self.control("POST", "/_local/limit", {"rate_bytes_per_s": rate_bytes_per_s})

    def route_lambda(self, name: str, url: str | None) -> dict:
        """Serve function `name` from `url` (a stub, say) instead of cargo lambda watch; None undoes."""
        return self.control("POST", "/_local/lambda", {"routes": {name: url}})

    def create_alarm(self, spec: AlarmSpec) -> str:
        name = spec.name or f"{self.cluster_name}-under-replicated"
        metrics: list[dict[str, Any]] = [
            {
                "Id": f"b{b}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Kafka",
                        "MetricName": "UnderReplicatedPartitions",
                        "Dimensions": [
                            {"Name": "Cluster Name", "Value": self.cluster_name},
                            {"Name": "Broker ID", "Value": str(b)},
                        ],
                    },
                    "Period": spec.period_s,
                    "Stat": "Maximum",
                },
                "ReturnData": False,
            }
            for b in range(1, spec.max_broker_id + 1)
        ]
        ids = ",".join(m["Id"] for m in metrics)
        metrics.insert(0, {"Id": "urp", "Expression": f"SUM([{ids}])", "Label": "UnderReplicatedPartitions",
                           "ReturnData": True})
        self.client("cloudwatch").put_metric_alarm(
            AlarmName=name,
            AlarmDescription=spec.description,
            Metrics=metrics,
            ComparisonOperator="GreaterThanThreshold",
            Threshold=spec.threshold,
            EvaluationPeriods=spec.evaluation_periods,
            DatapointsToAlarm=spec.datapoints_to_alarm,
            TreatMissingData="notBreaching",
            AlarmActions=spec.alarm_actions,
        )
        self.info["alarm_name"] = name
        return name


def _stop_recorded(state_dir: Path) -> list[str]:
    """Stop whatever a previous stack in `state_dir` left running (its `up` process first)."""
    stopped = []
    sj = state_dir / "stack.json"
    if sj.exists():
        try:
            pid = json.loads(sj.read_text()).get("pid")
        except ValueError:
            pid = None
        if pid and pid != os.getpid() and pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 60
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.3)
            stopped.append(f"stack pid {pid}")
    for run in (state_dir / "run", state_dir / "kafka" / "run"):
        stopped += kill_recorded(run)
    return stopped


# ---- command line ----------------------------------------------------------------------------


def _die(msg: str) -> int:
    print(f"local.stack: {msg}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.stack", description="the local default: real Kafka + emulated AWS")
    sub = p.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start everything and stay in the foreground (Ctrl-C or `down` stops)")
    for sp in [up] + [sub.add_parser(n, help=h) for n, h in
                      (("down", "stop a stack started with `up` (also after a crash)"),
                       ("status", "print the running stack's status as JSON"),
                       ("env", "print `export` lines for SDKs and CLIs to use the emulator"))]:
        sp.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    up.add_argument("--cluster-name", default="demo")
    up.add_argument("--brokers", type=int, default=2)
    up.add_argument("--limit-kind", choices=["net", "cpu-broker", "cpu-fetcher", "none"], default="net")
    up.add_argument("--limit", type=float, default=1_000_000, help="bytes/s per broker (net) or CPU %% (cpu-*)")
    up.add_argument("--lambdas", default="", help="comma-separated functions to serve (e.g. detector)")
    up.add_argument("--lambda-env", action="append", default=[], metavar="KEY=VALUE")
    up.add_argument("--no-alarm", action="store_true")
    args = p.parse_args(argv)
    from local.logs import setup

    setup()
    install_signal_handlers()
    state = args.state_dir.resolve()

    if args.cmd == "up":
        if args.brokers < 1 or args.brokers > 6:
            return _die("--brokers must be between 1 and 6")
        if args.limit <= 0:
            return _die("--limit must be positive")
        lenv = {}
        for kv in args.lambda_env:
            if "=" not in kv:
                return _die(f"--lambda-env wants KEY=VALUE, not {kv!r}")
            k, v = kv.split("=", 1)
            lenv[k] = v
        lambdas = tuple(x for x in args.lambdas.split(",") if x)
        cfg = StackConfig(
            state_dir=state, cluster_name=args.cluster_name, brokers=args.brokers, limit_kind=args.limit_kind,
            limit_value=args.limit, lambdas=lambdas, lambda_env=lenv,
            alarm=None if args.no_alarm else AlarmSpec(),
        )
        with Stack(cfg):
            print(json.dumps(json.loads((state / "stack.json").read_text()), indent=2), flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
        return 0

    sj = state / "stack.json"
    if args.cmd == "down":
        stopped = _stop_recorded(state) if state.exists() else []
        removed = sweep_stale()
        print(json.dumps({"stopped": stopped, "removed": removed}))
        return 0
    if not sj.exists():
        return _die(f"no running stack in {state} (start one with `python -m local.stack up`)")
    info = json.loads(sj.read_text())
    if args.cmd == "env":
        for k, v in aws_env(info["endpoint"], info.get("region") or REGION).items():
            print(f"export {k}={v}")
        if info.get("netns"):
            print(f"export KAFKA_NETNS={info['netns']}")
        print(f"export BOOTSTRAP_SERVERS={info.get('bootstrap_servers')}")
        print(f"export CLUSTER_ARN={info.get('cluster_arn')}")
        return 0
    try:
        with urllib.request.urlopen(info["endpoint"] + "/_local/status", timeout=10) as r:
            print(json.dumps(json.loads(r.read()), indent=2))
    except OSError as e:
        return _die(f"stack in {state} does not answer at {info['endpoint']}: {e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
