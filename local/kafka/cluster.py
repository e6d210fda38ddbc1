"""A real Apache Kafka cluster in KRaft mode: one controller and N brokers, each its own JVM.

Brokers get `broker.rack` = an AZ id (racks are the emulated AZs), a client listener (what
GetBootstrapBrokers reports) and a separate replication listener (inter-broker traffic, the one a
`NetLimit` shapes). `replica.lag.time.max.ms` is lowered so under-replication shows within seconds.
Brokers can be added while the cluster runs (UpdateBrokerCount does that).

State directory layout (everything the cluster writes):
    cluster.json                     what is running: ids, ports, racks, netns (for `attach`)
    controller-<id>/ broker-<id>/    server.properties, data/ (log dirs), logs/server.log, stdout.log
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from local.kafka.metadata import Snapshot
from local.kafka.probe import MetadataProbe
from local.limits import Limit
from local.procs import ManagedProcess, Supervisor

log = logging.getLogger(__name__)

KAFKA_DIR = Path(__file__).resolve().parent
BIN_DIR = KAFKA_DIR / "bin"
REPO_ROOT = KAFKA_DIR.parent.parent
CONTROLLER_ID = 3000
DEFAULT_RACKS = ("use1-az1", "use1-az2")
READY_LINE = "Kafka Server started"


def kafka_libs() -> Path:
    """The Kafka jar directory, resolving it with mvn on first use (local/kafka/fetch.sh)."""
    env = os.environ.get("KAFKA_LIBS")
    if env:
        return Path(env)
    res = subprocess.run([str(KAFKA_DIR / "fetch.sh")], capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"local/kafka/fetch.sh failed: {res.stderr.strip()}")
    return Path(res.stdout.strip().splitlines()[-1])


def kafka_version() -> str:
    return kafka_libs().parent.name


def free_port() -> int:
    """A port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kafka_uuid() -> str:
    """A Kafka Uuid in its text form (URL-safe base64 of 16 bytes, unpadded)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()


@dataclass
class Node:
    node_id: int
    role: str  # "broker" | "controller"
    port: int
    replication_port: int | None = None
    rack: str | None = None

    @property
    def name(self) -> str:
        return f"{self.role}-{self.node_id}"


@dataclass
class ClusterConfig:
    brokers: int = 2
    racks: tuple[str, ...] = DEFAULT_RACKS
    broker_heap_mb: int = 320
    controller_heap_mb: int = 192
    replica_lag_time_max_ms: int = 3000
    probe_interval_s: float = 1.0
    # extra server.properties for every broker (strings, as in the file)
    broker_overrides: dict[str, str] = field(default_factory=dict)


class KafkaTools:
    """Running the local/kafka/bin tools against a cluster; needs `libs`, `netns`, `bootstrap_servers`."""

    libs: Path

    @property
    def netns(self) -> str | None:
        raise NotImplementedError

    @property
    def bootstrap_servers(self) -> str:
        raise NotImplementedError

    def tool_env(self, netns: bool = True) -> dict[str, str]:
        """Environment for local/kafka/bin scripts: they find the jars and enter the namespace."""
        env = dict(os.environ)
        env["KAFKA_LIBS"] = str(self.libs)
        if netns and self.netns:
            env["KAFKA_NETNS"] = self.netns
        else:
            env.pop("KAFKA_NETNS", None)
        return env

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """Command line running `argv` where the brokers' 127.0.0.1 is (inside the netns if any)."""
        return ["ip", "netns", "exec", self.netns, *argv] if self.netns else list(argv)

    def tool(
        self,
        name: str,
        *args: str,
        timeout: float = 120.0,
        check: bool = True,
        input: str | None = None,
    ) -> subprocess.CompletedProcess:
        """Run local/kafka/bin/<name> (e.g. "kafka-topics.sh") against this cluster."""
        script = BIN_DIR / name
        if not script.is_file():
            raise ValueError(f"no such Kafka tool: {name}")
        res = subprocess.run(
            [str(script), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
            env=self.tool_env(),
        )
        if check and res.returncode != 0:
            raise RuntimeError(f"{name} {' '.join(args)} exited {res.returncode}: {res.stderr.strip()[-2000:]}")
        return res

    def create_topic(self, name: str, partitions: int, replication_factor: int = 2, **configs: str) -> None:
        args = [
            "--bootstrap-server", self.bootstrap_servers, "--create", "--topic", name,
            "--partitions", str(partitions), "--replication-factor", str(replication_factor),
        ]
        for k, v in configs.items():
            args += ["--config", f"{k.replace('_', '.')}={v}"]
        self.tool("kafka-topics.sh", *args)



class RemoteCluster(KafkaTools):
    """A handle on a cluster another process runs (from its cluster.json / aws.json "kafka")."""

    def __init__(self, described: dict) -> None:
        self.described = described
        self.libs = Path(described["libs"])
        self._netns = described.get("netns")
        self._bootstrap = described["bootstrap_servers"]
        self.version = described.get("kafka_version")

    @property
    def netns(self) -> str | None:
        return self._netns

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    @bootstrap_servers.setter
    def bootstrap_servers(self, value: str) -> None:
        self._bootstrap = value


class KafkaCluster(KafkaTools):
    """Start, grow, inspect and stop a local KRaft cluster. Use as a context manager."""

    def __init__(
        self,
        state_dir: Path,
        config: ClusterConfig | None = None,
        *,
        limit: Limit | None = None,
        supervisor: Supervisor | None = None,
    ) -> None:
        self.state_dir = Path(state_dir).resolve()
        self.config = config or ClusterConfig()
        if self.config.brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        if not self.config.racks:
            raise ValueError("at least one rack (AZ) is needed")
        self.limit = limit or Limit()
        self.cluster_id = _kafka_uuid()
        self.libs = kafka_libs()
        self.version = self.libs.parent.name
        # Our own supervisor (so stop() can stop brokers in parallel), recording pid files where the
        # caller's does; the caller's supervisor stops the whole cluster through stop().
        self.supervisor = Supervisor(supervisor.run_dir if supervisor and supervisor.run_dir else self.state_dir / "run")
        if supervisor is not None:
            supervisor.add_cleanup("kafka-cluster", self.stop)
        self.controller = Node(CONTROLLER_ID, "controller", free_port())
        self.brokers: list[Node] = []
        self._procs: dict[int, ManagedProcess] = {}
        self._lock = threading.RLock()
        self.probe: MetadataProbe | None = None
        self._started = False
        self._stopped = False

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> KafkaCluster:
        """Start the controller and the initial brokers and wait until every broker is serving."""
        deadline = time.monotonic() + timeout
        self.state_dir.mkdir(parents=True, exist_ok=True)
        try:
            if hasattr(self.limit, "controller_port"):
                self.limit.controller_port = self.controller.port  # type: ignore[attr-defined]
            self.limit.setup()
            self._start_controller()
            self._wait_ready(self.controller, deadline)
            ids = self.add_brokers(self.config.brokers)
            self.limit.initial_brokers_started()
            self._started = True
            self.wait_for_brokers(ids, max(1.0, deadline - time.monotonic()))
        except BaseException:
            self.stop()
            raise
        log.info("Kafka %s cluster up: brokers %s at %s", self.version, ids, self.bootstrap_servers)
        return self

    def __enter__(self) -> KafkaCluster:
        return self.start() if not self._started else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, timeout: float = 8.0) -> None:
        """Stop all brokers at once (controlled shutdown), then the controller, then the limit."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            procs = [self._procs[b.node_id] for b in self.brokers if b.node_id in self._procs]
            ctrl = self._procs.get(self.controller.node_id)
        if self.probe is not None:
            self.probe.stop()
        for p in procs:
            p.signal_group(15)
        deadline = time.monotonic() + timeout
        for p in procs:
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            p.stop(0.1)
        if ctrl is not None:
            ctrl.stop(timeout)
        self.supervisor.close()
        self.limit.teardown()
        self._write_state()

    # ---- nodes -----------------------------------------------------------------------------

    def _common_props(self, node: Node) -> dict[str, str]:
        d = self.state_dir / node.name
        return {
            "node.id": str(node.node_id),
            "controller.quorum.voters": f"{CONTROLLER_ID}@127.0.0.1:{self.controller.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,CLIENT:PLAINTEXT,REPLICATION:PLAINTEXT",
            "log.dirs": str(d / "data"),
            "num.network.threads": "2",
            "num.io.threads": "4",
            "background.threads": "2",
        }

    def _write_props(self, node: Node, props: Mapping[str, str]) -> Path:
        d = self.state_dir / node.name
        (d / "data").mkdir(parents=True, exist_ok=True)
        (d / "logs").mkdir(parents=True, exist_ok=True)
        path = d / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def _start_controller(self) -> None:
        node = self.controller
        props = self._common_props(node) | {
            "process.roles": "controller",
            "listeners": f"CONTROLLER://127.0.0.1:{node.port}",
        }
        path = self._write_props(node, props)
        # The real formatter writes the controller's bootstrap metadata (metadata.version, features).
        res = subprocess.run(
            [str(BIN_DIR / "kafka-storage.sh"), "format", f"--cluster-id={self.cluster_id}", "-c", str(path)],
            capture_output=True,
            text=True,
            env=self.tool_env(netns=False),
        )
        if res.returncode != 0:
            raise RuntimeError(f"kafka-storage.sh format failed: {res.stderr.strip() or res.stdout.strip()}")
        self._launch(node, path, self.config.controller_heap_mb)
        self._write_state()

    def _broker_props(self, node: Node) -> dict[str, str]:
        rf = str(min(2, self.config.brokers))
        props = self._common_props(node) | {
            "process.roles": "broker",
            "listeners": f"CLIENT://127.0.0.1:{node.port},REPLICATION://127.0.0.1:{node.replication_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{node.port},REPLICATION://127.0.0.1:{node.replication_port}",
            "inter.broker.listener.name": "REPLICATION",
            "broker.rack": str(node.rack),
            # Seconds, not the default 30 s: under-replication must show while the demo watches.
            "replica.lag.time.max.ms": str(self.config.replica_lag_time_max_ms),
            # MSK defaults for a 2-AZ cluster.
            "auto.create.topics.enable": "false",
            "default.replication.factor": rf,
            "min.insync.replicas": "1",
            "num.partitions": "1",
            "offsets.topic.replication.factor": rf,
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": rf,
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "4",
            "share.coordinator.state.topic.replication.factor": rf,
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.replica.fetchers": "1",
            "log.segment.bytes": str(128 * 1024 * 1024),
        }
        props.update(self.config.broker_overrides)
        return props

    def _format_broker(self, node: Node) -> None:
        # What `kafka-storage.sh format` writes for a broker, without a JVM per broker.
        data = self.state_dir / node.name / "data"
        (data / "meta.properties").write_text(
            "#\n"
            f"cluster.id={self.cluster_id}\n"
            f"directory.id={_kafka_uuid()}\n"
            f"node.id={node.node_id}\n"
            "version=1\n"
        )

    def add_brokers(self, count: int) -> list[int]:
        """Start `count` more brokers (ids continue from the highest; racks round-robin). Returns
        their ids at once; `wait_for_brokers(ids)` blocks until they serve."""
        if count < 1:
            raise ValueError("count must be >= 1")
        with self._lock:
            if self._stopped:
                raise RuntimeError("cluster is stopped")
            first = max((b.node_id for b in self.brokers), default=0) + 1
            new = []
            for node_id in range(first, first + count):
                rack = self.config.racks[(node_id - 1) % len(self.config.racks)]
                node = Node(node_id, "broker", free_port(), free_port(), rack)
                path = self._write_props(node, self._broker_props(node))
                self._format_broker(node)
                self.brokers.append(node)
                self._launch(node, path, self.config.broker_heap_mb)
                new.append(node_id)
            self._write_state()
        return new

    def _launch(self, node: Node, props_path: Path, heap_mb: int) -> None:
        d = self.state_dir / node.name
        env = self.tool_env(netns=False) | {
            "KAFKA_HEAP_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m",
            # Serial GC: a 200-300 MB heap needs no parallel collector, and every thread counts on
            # 2 shared cores. C2 stays on: brokers are long-lived.
            "KAFKA_JVM_PERFORMANCE_OPTS": "-XX:+UseSerialGC -XX:-UsePerfData -XX:ReservedCodeCacheSize=64m "
            "-Xss512k -Djava.awt.headless=true",
            "KAFKA_LOG4J_OPTS": f"-Dlog4j2.configurationFile={KAFKA_DIR / 'config' / 'log4j2.properties'} "
            f"-Dkafka.logs.dir={d / 'logs'}",
        }
        start = [str(BIN_DIR / "kafka-server-start.sh"), str(props_path)]
        argv = self.limit.broker_argv(node.node_id, start) if node.role == "broker" else self.limit.wrap(start)
        proc = self.supervisor.spawn(node.name, argv, log_path=d / "stdout.log", env=env, stop_timeout=8)
        with self._lock:
            self._procs[node.node_id] = proc
        if node.role == "broker":
            assert node.replication_port is not None
            self.limit.broker_started(node.node_id, proc.pid, node.replication_port)

    def _wait_ready(self, node: Node, deadline: float) -> None:
        logf = self.state_dir / node.name / "logs" / "server.log"
        proc = self._procs[node.node_id]
        while time.monotonic() < deadline:
            if not proc.alive():
                raise RuntimeError(
                    f"{node.name} exited with {proc.returncode} during start-up:\n"
                    f"{_tail(logf, 15) or proc.tail(15)}"
                )
            if logf.exists() and READY_LINE in logf.read_text(errors="replace"):
                return
            time.sleep(0.25)
        raise TimeoutError(f"{node.name} not started in time; last log lines:\n{_tail(logf, 15)}")

    def wait_for_brokers(self, ids: Sequence[int], timeout: float = 120.0) -> Snapshot | None:
        """Block until the given brokers have started and appear in the cluster's metadata."""
        deadline = time.monotonic() + timeout
        for node_id in ids:
            self._wait_ready(self._node(node_id), deadline)
        if self.probe is None:
            self._start_probe()
        assert self.probe is not None
        want = set(ids)
        return self.probe.wait_for(
            lambda s: want <= set(s.broker_ids),
            max(1.0, deadline - time.monotonic()),
            f"brokers {sorted(want)} in the metadata",
        )

    def _start_probe(self) -> None:
        self.probe = MetadataProbe(
            self.supervisor,
            libs=self.libs,
            cache_dir=self.libs.parent,
            bootstrap=self.bootstrap_servers,
            interval_s=self.config.probe_interval_s,
            log_path=self.state_dir / "metadata-probe.log",
            wrap=self.limit.wrap,
        )

    def _node(self, node_id: int) -> Node:
        for b in self.brokers:
            if b.node_id == node_id:
                return b
        raise KeyError(f"no broker {node_id}")

    def broker_alive(self, node_id: int) -> bool:
        p = self._procs.get(node_id)
        return p is not None and p.alive()

    def kill_broker(self, node_id: int) -> None:
        """Hard-stop one broker (for failure tests); it stays in the broker list."""
        self._procs[node_id].stop(0.1)

    # ---- using the cluster -----------------------------------------------------------------

    @property
    def broker_ids(self) -> list[int]:
        with self._lock:
            return [b.node_id for b in self.brokers]

    @property
    def bootstrap_servers(self) -> str:
        with self._lock:
            return ",".join(f"127.0.0.1:{b.port}" for b in self.brokers)

    @property
    def netns(self) -> str | None:
        return self.limit.netns

    def wrap(self, argv: Sequence[str]) -> list[str]:
        return self.limit.wrap(argv)

    def broker(self, node_id: int) -> Node:
        return self._node(node_id)

    def snapshot(self) -> Snapshot | None:
        return self.probe.latest() if self.probe else None

    # ---- state -----------------------------------------------------------------------------

    def describe(self) -> dict:
        with self._lock:
            return {
                "kafka_version": self.version,
                "cluster_id": self.cluster_id,
                "state_dir": str(self.state_dir),
                "bin_dir": str(BIN_DIR),
                "libs": str(self.libs),
                "netns": self.limit.netns,
                "limit": self.limit.describe(),
                "bootstrap_servers": self.bootstrap_servers,
                "controller": asdict(self.controller) | {"pid": _pid(self._procs.get(self.controller.node_id))},
                "brokers": [asdict(b) | {"pid": _pid(self._procs.get(b.node_id))} for b in self.brokers],
                "stopped": self._stopped,
            }

    def _write_state(self) -> None:
        try:
            (self.state_dir / "cluster.json").write_text(json.dumps(self.describe(), indent=2))
        except OSError as e:
            log.warning("could not write cluster.json: %s", e)


def _pid(p: ManagedProcess | None) -> int | None:
    return p.pid if p is not None and p.alive() else None


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
