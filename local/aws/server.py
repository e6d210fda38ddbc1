"""The AWS emulator process: moto 5.2.5 plus what the local default needs, in one Python process.

    python -m local.aws.server --config <state>/aws-config.json

It owns the real Kafka cluster (as AWS owns an MSK cluster): starts it, registers it as an MSK
cluster, runs SSM commands on the "EC2 client" inside the cluster's network, evaluates CloudWatch
alarms and delivers their events, and routes Lambda invokes (from moto's Step Functions engine too)
to the real functions. Readiness: it writes <state>/aws.json (endpoint, cluster ARN, bootstrap
brokers, netns, ...) once everything serves. SIGTERM/SIGINT stop everything it started.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from local.aws.config import EmulatorConfig
from local.kafka.cluster import BIN_DIR, ClusterConfig, KafkaCluster
from local.limits import CpuLimit, Limit, NetLimit
from local.procs import Supervisor

log = logging.getLogger("local.aws")


def make_limit(kind: str, value: float, direction: str, launch_burst_bytes: int = 0) -> Limit:
    if kind == "net":
        return NetLimit(rate_bytes_per_s=int(value), direction=direction, launch_burst_bytes=launch_burst_bytes)
    if kind == "cpu-broker":
        return CpuLimit(quota_pct=value, scope="broker")
    if kind == "cpu-fetcher":
        return CpuLimit(quota_pct=value, scope="fetcher")
    if kind == "none":
        return Limit()
    raise ValueError(f"unknown limit kind {kind!r} (net, cpu-broker, cpu-fetcher, none)")


class Emulator:
    def __init__(self, cfg: EmulatorConfig) -> None:
        self.cfg = cfg
        self.state = Path(cfg.state_dir)
        self.state.mkdir(parents=True, exist_ok=True)
        self.sup = Supervisor(self.state / "run")
        self.cluster: KafkaCluster | None = None
        self.msk: Any = None
        self.bridge: Any = None
        self.router: Any = None
        self.ec2_client: Any = None
        self.iam: Any = None
        self.server: Any = None
        self._stopped = threading.Event()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.cfg.port}"

    def start(self) -> None:
        cfg = self.cfg
        # moto's Step Functions engine calls http://localhost:$MOTO_PORT: that must be this server.
        os.environ["MOTO_PORT"] = str(cfg.port)
        os.environ.setdefault("AWS_DEFAULT_REGION", cfg.region)
        os.environ.setdefault("MOTO_ALLOW_NONEXISTENT_REGION", "false")

        from moto.cloudwatch.models import cloudwatch_backends
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from moto.s3.models import s3_backends
        from moto.sns.models import sns_backends

        from local.aws import bridge as bridge_mod
        from local.aws import msk as msk_mod
        from local.aws import ssm as ssm_mod
        from local.aws.router import Router, call_function

        if cfg.start_kafka:
            k = cfg.kafka
            limit = make_limit(k.limit.kind, k.limit.value, k.limit.direction, k.limit.launch_burst_bytes)
            self.cluster = KafkaCluster(
                self.state / "kafka",
                ClusterConfig(
                    brokers=k.brokers,
                    racks=tuple(k.racks),
                    broker_heap_mb=k.broker_heap_mb,
                    replica_lag_time_max_ms=k.replica_lag_time_max_ms,
                    probe_interval_s=k.probe_interval_s,
                ),
                limit=limit,
                supervisor=self.sup,
            )
            self.cluster.start()
            self.msk = msk_mod.LocalMsk(
                self.cluster, name=k.cluster_name, region=cfg.region, account_id=cfg.account_id,
                update_min_seconds=k.update_min_seconds, max_brokers=k.max_brokers,
            )
            msk_mod.register(self.msk)
        msk_mod.install()

        def s3_put(bucket: str, key: str, data: bytes) -> None:
            s3_backends[cfg.account_id]["aws"].put_object(bucket, key, data)

        client_env = {
            "PATH": f"{BIN_DIR}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "KAFKA_BIN_DIR": str(BIN_DIR),
            "HOME": str(self.state / "ec2-client" / "home"),
            "TMPDIR": str(self.state / "ec2-client" / "tmp"),
        }
        if self.cluster is not None:
            client_env |= {"KAFKA_LIBS": str(self.cluster.libs), "BOOTSTRAP_SERVERS": self.cluster.bootstrap_servers}
        client_env |= cfg.client_env
        for d in ("home", "tmp"):
            (self.state / "ec2-client" / d).mkdir(parents=True, exist_ok=True)
        self.ec2_client = ssm_mod.EC2Client(
            instance_id=cfg.client_instance_id,
            work_dir=self.state / "ec2-client" / "ssm",
            wrap=self.cluster.wrap if self.cluster is not None else list,
            env=client_env,
            region=cfg.region,
            account_id=cfg.account_id,
            s3_put=s3_put,
        )
        ssm_mod.install(self.ec2_client)
        from local.aws import sfn as sfn_mod

        sfn_mod.install()

        journal = self.state / "lambda-invocations.jsonl"

        def journal_write(rec: dict) -> None:
            with open(journal, "a") as f:
                f.write(json.dumps(rec) + "\n")

        from local.aws.iam import Iam

        def s3_key_exists(bucket: str, key: str) -> bool | None:
            backend = s3_backends[cfg.account_id]["aws"]
            if bucket not in backend.buckets:
                return None
            return key in backend.buckets[bucket].keys

        def secret_arn(secret_id: str) -> str | None:
            from moto.secretsmanager.models import secretsmanager_backends

            try:
                return secretsmanager_backends[cfg.account_id][cfg.region].describe_secret(secret_id).arn
            except Exception:  # noqa: BLE001 - unknown secret: the name-based ARN is used
                return None

        self.iam = Iam(cfg.region, cfg.account_id, s3_key_exists=s3_key_exists, secret_arn=secret_arn,
                       journal_path=self.state / "iam-denials.jsonl")

        control = {
            "GET /_local/iam": lambda _a: self.iam.describe(),
            "POST /_local/iam": self.iam.register,
            "GET /_local/status": lambda _a: self.status(),
            "GET /_local/metadata": lambda _a: self.metadata(),
            "GET /_local/events": lambda _a: list(self.bridge.events) if self.bridge else [],
            "POST /_local/tick": lambda _a: self.bridge.tick() if self.bridge else {},
            "POST /_local/limit": self.set_limit,
            "POST /_local/lambda": self.set_lambda,
            "GET /_local/ssm": lambda _a: self.ec2_client.list_rules(),
            "POST /_local/ssm": self.ec2_client.add_rule,
            "GET /_local/msk": lambda _a: self.msk.describe_control() if self.msk else {},
            "POST /_local/msk": self.control_msk,
            "GET /_local/sfn": lambda _a: sfn_mod.control({}),
            "POST /_local/sfn": sfn_mod.control,
        }
        self.router = Router(
            DomainDispatcherApplication(create_backend_app),
            lambda_url=cfg.lambda_url,
            routes=cfg.lambda_routes,
            control=control,
            journal=journal_write,
            iam=self.iam,
        )
        if cfg.enforce_lambda_timeouts:
            from local.aws.router import function_timeouts

            self.router.timeouts = function_timeouts(Path(__file__).resolve().parents[2] / "template.yaml")

        if cfg.bridge.enabled and self.msk is not None:
            b = cfg.bridge

            def invoke(fn: str, payload: bytes) -> tuple[int, dict, bytes]:
                base = b.lambda_url or self.router.target(fn)
                if base is None:
                    return 502, {}, b'{"Message": "no Lambda endpoint configured"}'
                return call_function(base, fn, payload)

            def sns_publish(topic: str, message: str, subject: str) -> None:
                sns_backends[cfg.account_id][cfg.region].publish(message, arn=topic, subject=subject)

            assert self.cluster is not None
            self.bridge = bridge_mod.AlarmBridge(
                cloudwatch=lambda: cloudwatch_backends[cfg.account_id][cfg.region],
                metadata=self.cluster.snapshot,
                cluster_name=self.msk.name,
                region=cfg.region,
                account_id=cfg.account_id,
                tick_s=b.tick_s,
                event_targets=b.event_targets,
                event_states=b.event_states,
                invoke=invoke,
                sns_publish=sns_publish,
                journal_path=self.state / "alarm-events.jsonl",
            )
            bridge_mod.install(self.bridge)

        # Step Functions' execution status changes to EventBridge targets (the safety net), which
        # moto does not emit: local/aws/sfn_events.py.
        from local.aws import sfn_events as sfn_events_mod

        def invoke_target(fn: str, payload: bytes) -> tuple[int, dict, bytes]:
            base = self.router.target(fn)
            if base is None:
                return 502, {}, b'{"Message": "no Lambda endpoint configured"}'
            return call_function(base, fn, payload)

        self.sfn_events = sfn_events_mod.SfnEvents(
            region=cfg.region, account_id=cfg.account_id, targets=cfg.sfn_events.targets,
            statuses=cfg.sfn_events.statuses, invoke=invoke_target, journal_path=self.state / "sfn-events.jsonl",
            retry_delays_s=cfg.sfn_events.retry_delays_s,
        )
        sfn_events_mod.install(self.sfn_events)
        control["GET /_local/sfn-events"] = lambda _a: list(self.sfn_events.events)

        from werkzeug.serving import make_server

        from moto.moto_server.werkzeug_app import MotoRequestHandler

        self.server = make_server("127.0.0.1", cfg.port, self.router, threaded=True, request_handler=MotoRequestHandler)
        threading.Thread(target=self.server.serve_forever, name="aws-http", daemon=True).start()
        self._moto_config()
        if self.bridge is not None:
            self.bridge.start()
        ready = self.describe()
        (self.state / "aws.json").write_text(json.dumps(ready, indent=2))
        log.info("AWS emulator ready at %s", self.endpoint)

    def _moto_config(self) -> None:
        # Real ASL execution (moto's interpreter) instead of canned RUNNING executions.
        body = json.dumps({"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}).encode()
        req = urllib.request.Request(f"{self.endpoint}/moto-api/config", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).read()

    def describe(self) -> dict:
        d: dict[str, Any] = {
            "pid": os.getpid(),
            "endpoint": self.endpoint,
            "region": self.cfg.region,
            "account_id": self.cfg.account_id,
            "client_instance_id": self.cfg.client_instance_id,
            "lambda_url": self.cfg.lambda_url,
        }
        if self.msk is not None and self.cluster is not None:
            d |= {
                "cluster_name": self.msk.name,
                "cluster_arn": self.msk.arn,
                "bootstrap_servers": self.cluster.bootstrap_servers,
                "netns": self.cluster.limit.netns,
                "kafka": self.cluster.describe(),
            }
        return d

    def metadata(self) -> dict:
        snap = self.cluster.snapshot() if self.cluster else None
        if snap is None:
            return {"error": "no metadata yet"}
        return asdict(snap)

    def status(self) -> dict:
        d = self.describe()
        if self.msk is not None:
            d["msk"] = {"state": self.msk.state, "current_version": self.msk.current_version,
                        "number_of_broker_nodes": self.msk.number_of_broker_nodes}
        snap = self.cluster.snapshot() if self.cluster else None
        if snap is not None and snap.ok:
            d["urp_by_broker"] = snap.urp_by_broker()
            d["replicas_by_broker"] = snap.replicas_by_broker()
            d["reassigning"] = len(snap.reassigning)
        if self.bridge is not None:
            d["alarm_events"] = len(self.bridge.events)
            d["last_published"] = self.bridge.last_published
        return d

    def set_limit(self, args: dict) -> dict:
        limit = self.cluster.limit if self.cluster else None
        if not isinstance(limit, NetLimit):
            raise ValueError("the cluster has no network limit")
        rate = int(args["rate_bytes_per_s"])
        if rate <= 0:
            raise ValueError("rate_bytes_per_s must be positive")
        limit.set_rate(rate)
        return limit.describe()

    def control_msk(self, args: dict) -> dict:
        if self.msk is None:
            raise ValueError("no local MSK cluster (start_kafka is off)")
        return self.msk.control(args)

    def set_lambda(self, args: dict) -> dict:
        """Point Lambda invokes at a (new) cargo lambda watch and/or per-function endpoints; set
        per-function timeouts, the timeout answer's form and throttling (Router.set_limits)."""
        limits = self.router.set_limits(args)
        if "url" in args:
            self.router.lambda_url = args["url"]
            self.cfg.lambda_url = args["url"]
        for name, url in (args.get("routes") or {}).items():
            if url is None:
                self.router.routes.pop(name, None)
            else:
                self.router.routes[name] = url
        return {"lambda_url": self.router.lambda_url, "routes": self.router.routes} | limits

    def wait(self) -> None:
        while not self._stopped.wait(1.0):
            pass

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        log.info("AWS emulator stopping")
        if self.bridge is not None:
            self.bridge.stop()
        if self.server is not None:
            self.server.shutdown()
        self.sup.close()
        (self.state / "aws.json").unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.aws.server", description="moto + MSK/SSM/CloudWatch extensions")
    p.add_argument("--config", required=True, type=Path)
    args = p.parse_args(argv)
    if not args.config.is_file():
        print(f"local.aws.server: no config file {args.config}", file=sys.stderr)
        return 2
    cfg = EmulatorConfig.load(args.config)
    from local.logs import setup

    setup()
    emu = Emulator(cfg)

    def on_signal(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        emu.start()
        emu.wait()
    except SystemExit:
        pass
    except Exception:
        log.exception("AWS emulator failed")
        emu.stop()
        return 1
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
