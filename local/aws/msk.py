"""Amazon MSK, emulated over the real local Kafka cluster.

moto's `kafka` service stores clusters but keeps them CREATING forever, never changes
CurrentVersion, lacks UpdateBrokerCount, GetBootstrapBrokers, ListNodes and the cluster operations,
writes a creationTime the Rust SDK refuses, and answers an unknown ARN with HTTP 500. moto dispatches
a request to the method of its response class named after the operation, so this module adds and
replaces those methods: a locally registered cluster (`LocalMsk`) is answered from the real brokers;
anything else falls through to moto (with 404 NotFoundException for unknown ARNs).

UpdateBrokerCount behaves like MSK: only from ACTIVE, only with the cluster's CurrentVersion, only
upwards and in multiples of the AZ count (else BadRequestException); the cluster goes UPDATING, the
extra broker JVMs start (racks round-robin over the AZs), and once they have registered with the
controller the cluster is ACTIVE again with a new CurrentVersion and an INCREASE_BROKER_COUNT
operation in UPDATE_COMPLETE. The operation is PENDING first, then UPDATE_IN_PROGRESS; the cluster
stays UPDATING at least `update_seconds`.

Faults, as MSK has them (`POST /_local/msk`, `LocalMsk.control`): the next update can fail
(UPDATE_FAILED with `errorInfo` {errorCode, errorString}, cluster ACTIVE again with its old broker
count and CurrentVersion, no new broker left running), and somebody else's operation (a
configuration update, a patch) can hold the cluster UPDATING for a while, after which its
CurrentVersion has changed.
"""

from __future__ import annotations

import json
import logging
import random
import string
import threading
import time
import uuid
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

from moto.core.exceptions import JsonRESTError

from local.kafka.cluster import KafkaCluster

log = logging.getLogger(__name__)

INSTANCE_TYPE = "kafka.t3.small"


class NotFoundException(JsonRESTError):
    code = 404

    def __init__(self, msg: str):
        super().__init__("NotFoundException", msg)


class BadRequestException(JsonRESTError):
    code = 400

    def __init__(self, msg: str):
        super().__init__("BadRequestException", msg)


def iso(ts: float | None) -> str | None:
    """MSK's timestamp format (ISO 8601, UTC, milliseconds), which the Rust SDK parses."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def _version() -> str:
    # Like MSK's current versions, e.g. K3AEGXETSR30VB.
    return "K" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))


class Operation:
    def __init__(self, msk: LocalMsk, op_type: str, source: dict, target: dict) -> None:
        self.arn = f"arn:aws:kafka:{msk.region}:{msk.account_id}:cluster-operation/{msk.name}/{msk.uuid}/{uuid.uuid4()}"
        self.cluster_arn = msk.arn
        self.type = op_type
        self.state = "PENDING"
        self.start = time.time()
        self.end: float | None = None
        self.source = source
        self.target = target
        self.error: dict | None = None
        self.steps = [["INITIALIZE_UPDATE", "PENDING"], ["UPDATE_APPLY", "PENDING"], ["FINALIZE_UPDATE", "PENDING"]]

    def step(self, name: str, status: str) -> None:
        for s in self.steps:
            if s[0] == name:
                s[1] = status

    def summary(self) -> dict:
        d = {
            "clusterArn": self.cluster_arn,
            "clusterType": "PROVISIONED",
            "startTime": iso(self.start),
            "operationArn": self.arn,
            "operationState": self.state,
            "operationType": self.type,
        }
        if self.end is not None:
            d["endTime"] = iso(self.end)
        return d

    def v2(self) -> dict:
        d = self.summary()
        d["provisioned"] = {
            "operationSteps": [{"stepInfo": {"stepStatus": s}, "stepName": n} for n, s in self.steps],
            "sourceClusterInfo": self.source,
            "targetClusterInfo": self.target,
        }
        if self.error:
            d["errorInfo"] = self.error
        return d

    def v1(self) -> dict:
        d = {
            "clusterArn": self.cluster_arn,
            "creationTime": iso(self.start),
            "operationArn": self.arn,
            "operationState": self.state,
            "operationType": self.type,
            "operationSteps": [{"stepInfo": {"stepStatus": s}, "stepName": n} for n, s in self.steps],
            "sourceClusterInfo": self.source,
            "targetClusterInfo": self.target,
        }
        if self.end is not None:
            d["endTime"] = iso(self.end)
        if self.error:
            d["errorInfo"] = self.error
        return d


class LocalMsk:
    """The local Kafka cluster seen as one provisioned MSK cluster."""

    def __init__(
        self,
        cluster: KafkaCluster,
        *,
        name: str,
        region: str,
        account_id: str,
        update_min_seconds: float = 5.0,
        max_brokers: int = 6,
    ) -> None:
        self.cluster = cluster
        self.name = name
        self.region = region
        self.account_id = account_id
        self.uuid = f"{uuid.uuid4()}-2"
        self.arn = f"arn:aws:kafka:{region}:{account_id}:cluster/{name}/{self.uuid}"
        self.state = "ACTIVE"
        self.current_version = _version()
        self.creation_time = time.time()
        self.number_of_broker_nodes = len(cluster.broker_ids)
        self.kafka_version = f"{'.'.join(cluster.version.split('.')[:2])}.x.kraft"
        self.update_min_seconds = update_min_seconds
        self.max_brokers = max_brokers
        # an operation stays PENDING this long before UPDATE_IN_PROGRESS
        self.pending_seconds = 0.5
        # set by control(): the next UpdateBrokerCount fails with this errorInfo
        self.fail_next: dict | None = None
        self.operations: list[Operation] = []
        self.added_time: dict[int, float] = {b: self.creation_time for b in cluster.broker_ids}
        self._lock = threading.Lock()
        self.racks = list(cluster.config.racks)
        self.subnets = {rack: f"subnet-0{abs(hash((name, rack))) % 16**16:016x}"[:24] for rack in self.racks}

    # ---- views -----------------------------------------------------------------------------

    def broker_node_group_info(self) -> dict:
        return {
            "brokerAZDistribution": "DEFAULT",
            "clientSubnets": [self.subnets[r] for r in self.racks],
            "instanceType": INSTANCE_TYPE,
            "securityGroups": ["sg-0a11ce5ca1ab1e000"],
            "storageInfo": {"ebsStorageInfo": {"volumeSize": 100}},
            "zoneIds": list(self.racks),
        }

    def software(self) -> dict:
        return {
            "configurationArn": f"arn:aws:kafka:{self.region}:{self.account_id}:configuration/{self.name}-config/00000000-0000-4000-8000-000000000001-2",
            "configurationRevision": 1,
            "kafkaVersion": self.kafka_version,
        }

    def describe_v2(self) -> dict:
        with self._lock:
            info: dict[str, Any] = {
                "clusterArn": self.arn,
                "clusterName": self.name,
                "clusterType": "PROVISIONED",
                "creationTime": iso(self.creation_time),
                "currentVersion": self.current_version,
                "state": self.state,
                "tags": {},
                "provisioned": {
                    "brokerNodeGroupInfo": self.broker_node_group_info(),
                    "currentBrokerSoftwareInfo": self.software(),
                    "clientAuthentication": {"unauthenticated": {"enabled": True}},
                    "encryptionInfo": {"encryptionInTransit": {"clientBroker": "PLAINTEXT", "inCluster": False}},
                    "enhancedMonitoring": "PER_BROKER",
                    "numberOfBrokerNodes": self.number_of_broker_nodes,
                    "storageMode": "LOCAL",
                },
            }
            if self.state == "UPDATING" and self.operations:
                info["activeOperationArn"] = self.operations[-1].arn
            return info

    def describe_v1(self) -> dict:
        v2 = self.describe_v2()
        p = v2.pop("provisioned")
        v2.pop("clusterType")
        return v2 | {
            "brokerNodeGroupInfo": p["brokerNodeGroupInfo"],
            "currentBrokerSoftwareInfo": p["currentBrokerSoftwareInfo"],
            "clientAuthentication": p["clientAuthentication"],
            "encryptionInfo": p["encryptionInfo"],
            "enhancedMonitoring": p["enhancedMonitoring"],
            "numberOfBrokerNodes": p["numberOfBrokerNodes"],
            "storageMode": p["storageMode"],
        }

    def bootstrap_brokers(self) -> str:
        # Brokers that have started serving; a broker still starting is not advertised yet.
        snap = self.cluster.snapshot()
        live = set(snap.broker_ids) if snap and snap.ok else set(self.cluster.broker_ids)
        return ",".join(f"127.0.0.1:{self.cluster.broker(b).port}" for b in self.cluster.broker_ids if b in live)

    def nodes(self) -> list[dict]:
        out = []
        for b in self.cluster.broker_ids:
            node = self.cluster.broker(b)
            if b not in self.added_time:
                continue
            out.append(
                {
                    "addedToClusterTime": iso(self.added_time[b]),
                    "brokerNodeInfo": {
                        "attachedENIId": f"eni-0{b:016x}",
                        "brokerId": float(b),
                        "clientSubnet": self.subnets[node.rack or self.racks[0]],
                        "clientVpcIpAddress": "127.0.0.1",
                        "currentBrokerSoftwareInfo": {"kafkaVersion": self.kafka_version},
                        "endpoints": ["127.0.0.1"],
                    },
                    "instanceType": INSTANCE_TYPE,
                    "nodeARN": f"arn:aws:kafka:{self.region}:{self.account_id}:broker/{self.name}/{self.uuid}/{b}",
                    "nodeType": "BROKER",
                }
            )
        return out

    def operation(self, arn: str) -> Operation | None:
        return next((o for o in self.operations if o.arn == arn), None)

    # ---- UpdateBrokerCount -----------------------------------------------------------------

    def update_broker_count(self, current_version: str | None, target: Any) -> Operation:
        with self._lock:
            if not current_version:
                raise BadRequestException("currentVersion is a required parameter.")
            if not isinstance(target, int) or isinstance(target, bool):
                raise BadRequestException("targetNumberOfBrokerNodes must be an integer.")
            if self.state != "ACTIVE":
                raise BadRequestException(
                    f"The cluster is in the {self.state} state. You can update it only when it is ACTIVE."
                )
            if current_version != self.current_version:
                raise BadRequestException(
                    f"The specified current version {current_version} does not match the cluster's "
                    f"current version {self.current_version}."
                )
            current = self.number_of_broker_nodes
            if target <= current:
                raise BadRequestException(
                    f"The target number of broker nodes ({target}) must be greater than the current "
                    f"number ({current}); the local emulator does not remove brokers."
                )
            if target % len(self.racks) != 0:
                raise BadRequestException(
                    f"The number of broker nodes must be a multiple of the number of Availability Zones "
                    f"({len(self.racks)}); {target} is not."
                )
            if target > self.max_brokers:
                raise BadRequestException(
                    f"The target number of broker nodes ({target}) exceeds this local cluster's limit "
                    f"of {self.max_brokers} (set by the emulator for this machine)."
                )
            op = Operation(
                self,
                "INCREASE_BROKER_COUNT",
                source={"numberOfBrokerNodes": current},
                target={"numberOfBrokerNodes": target},
            )
            self.operations.append(op)
            self.state = "UPDATING"
        threading.Thread(target=self._grow, args=(op, target - current), name="msk-update", daemon=True).start()
        log.info("UpdateBrokerCount %s: %d -> %d brokers (%s)", self.name, current, target, op.arn)
        return op

    # ---- faults (POST /_local/msk) -----------------------------------------------------------

    def control(self, args: dict) -> dict:
        """`update_seconds`: how long UpdateBrokerCount keeps the cluster UPDATING (at least);
        `fail_next_update`: the next one ends UPDATE_FAILED (`error_code`, `error_string` optional);
        `foreign_update_seconds`: start somebody else's operation now (`foreign_operation_type`,
        default UPDATE_CLUSTER_CONFIGURATION) that keeps the cluster UPDATING that long."""
        known = {"update_seconds", "fail_next_update", "error_code", "error_string", "foreign_update_seconds",
                 "foreign_operation_type"}
        unknown = sorted(set(args) - known)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; known: {sorted(known)}")
        if "update_seconds" in args:
            secs = float(args["update_seconds"])
            if secs < 0:
                raise ValueError("update_seconds must be >= 0")
            self.update_min_seconds = secs
        if "fail_next_update" in args:
            self.fail_next = (
                {
                    "errorCode": str(args.get("error_code") or "InternalServerError"),
                    "errorString": str(args.get("error_string") or "The broker count update failed and was "
                                        "rolled back; the cluster keeps its previous broker count."),
                }
                if args["fail_next_update"]
                else None
            )
        op = None
        if "foreign_update_seconds" in args:
            op = self.foreign_update(float(args["foreign_update_seconds"]),
                                     str(args.get("foreign_operation_type") or "UPDATE_CLUSTER_CONFIGURATION"))
        return self.describe_control() | ({"operation_arn": op.arn} if op else {})

    def describe_control(self) -> dict:
        with self._lock:
            return {
                "state": self.state,
                "number_of_broker_nodes": self.number_of_broker_nodes,
                "current_version": self.current_version,
                "update_seconds": self.update_min_seconds,
                "fail_next_update": self.fail_next,
                "operations": [o.summary() for o in self.operations],
            }

    def foreign_update(self, seconds: float, op_type: str) -> Operation:
        """An operation this emulator's caller did not start (a configuration update, a patch):
        UPDATING for `seconds`, then ACTIVE with a new CurrentVersion."""
        if seconds <= 0:
            raise ValueError("foreign_update_seconds must be > 0")
        with self._lock:
            if self.state != "ACTIVE":
                raise ValueError(f"the cluster is {self.state}; a foreign update needs it ACTIVE")
            op = Operation(self, op_type, source={}, target={})
            self.operations.append(op)
            self.state = "UPDATING"

        def run() -> None:
            time.sleep(min(self.pending_seconds, seconds))
            op.state = "UPDATE_IN_PROGRESS"
            op.step("INITIALIZE_UPDATE", "COMPLETED")
            op.step("UPDATE_APPLY", "IN_PROGRESS")
            time.sleep(max(seconds - self.pending_seconds, 0))
            with self._lock:
                for st in op.steps:
                    st[1] = "COMPLETED"
                op.state = "UPDATE_COMPLETE"
                op.end = time.time()
                self.current_version = _version()
                self.state = "ACTIVE"
            log.info("%s: foreign %s done, ACTIVE (version %s)", self.name, op_type, self.current_version)

        threading.Thread(target=run, name="msk-foreign", daemon=True).start()
        log.info("%s: foreign %s for %.0fs (%s)", self.name, op_type, seconds, op.arn)
        return op

    def _grow(self, op: Operation, count: int) -> None:
        started = time.monotonic()
        with self._lock:
            fail, self.fail_next = self.fail_next, None
        ids: list[int] = []
        try:
            time.sleep(min(self.pending_seconds, self.update_min_seconds))
            op.state = "UPDATE_IN_PROGRESS"
            op.step("INITIALIZE_UPDATE", "COMPLETED")
            op.step("UPDATE_APPLY", "IN_PROGRESS")
            if fail is not None:
                # Fails while applying, before any new broker joined (nothing to stop), after the
                # update's time has passed, as a failed MSK update ends long after it started.
                time.sleep(max(self.update_min_seconds - (time.monotonic() - started), 0))
                raise _InjectedFailure(fail)
            ids = self.cluster.add_brokers(count)
            self.cluster.wait_for_brokers(ids, timeout=180)
            now = time.time()
            for b in ids:
                self.added_time[b] = now
            op.step("UPDATE_APPLY", "COMPLETED")
            op.step("FINALIZE_UPDATE", "IN_PROGRESS")
            left = self.update_min_seconds - (time.monotonic() - started)
            if left > 0:
                time.sleep(left)
            with self._lock:
                self.number_of_broker_nodes += count
                self.current_version = _version()
                self.state = "ACTIVE"
                op.step("FINALIZE_UPDATE", "COMPLETED")
                op.state = "UPDATE_COMPLETE"
                op.end = time.time()
            log.info("%s ACTIVE with %d brokers (version %s)", self.name, self.number_of_broker_nodes, self.current_version)
        except Exception as e:  # noqa: BLE001 - reported through the operation, like MSK
            if isinstance(e, _InjectedFailure):
                log.info("UpdateBrokerCount %s: injected failure %s", op.arn, e.error)
                error = e.error
            else:
                log.exception("UpdateBrokerCount failed")
                error = {"errorCode": "InternalError", "errorString": str(e)[:500]}
            # Rolled back: no broker of this update keeps running, the count stays the old one.
            for b in ids:
                try:
                    self.cluster.kill_broker(b)
                except Exception:  # noqa: BLE001 - best effort, logged
                    log.exception("could not stop broker %s of the failed update", b)
            with self._lock:
                for st in op.steps:
                    if st[1] in ("PENDING", "IN_PROGRESS"):
                        st[1] = "FAILED"
                op.state = "UPDATE_FAILED"
                op.error = error
                op.end = time.time()
                self.state = "ACTIVE"


class _InjectedFailure(Exception):
    def __init__(self, error: dict) -> None:
        super().__init__(error["errorString"])
        self.error = error


# ---- moto patches ----------------------------------------------------------------------------

_registry: dict[str, LocalMsk] = {}


def register(msk: LocalMsk) -> None:
    _registry[msk.arn] = msk


def _cluster_arn(resp: Any) -> str:
    uri = getattr(resp, "uri_match", None) or {}
    if "clusterArn" in uri:
        return unquote(uri["clusterArn"])
    path = unquote(resp.parsed_url.path)
    arn = path.split("/clusters/", 1)[-1]
    for suffix in ("/nodes/count", "/bootstrap-brokers", "/nodes", "/operations", "/policy"):
        arn = arn.removesuffix(suffix)
    return arn


def _operation_arn(resp: Any) -> str:
    uri = getattr(resp, "uri_match", None) or {}
    if "clusterOperationArn" in uri:
        return unquote(uri["clusterOperationArn"])
    return unquote(resp.parsed_url.path).split("/operations/", 1)[-1]


def _body(resp: Any) -> dict:
    try:
        return json.loads(resp.body or "{}")
    except ValueError as e:
        raise BadRequestException(f"request body is not JSON: {e}") from e


def _moto_cluster(resp: Any, arn: str) -> Any:
    c = resp.kafka_backend.clusters.get(arn)
    if c is None:
        raise NotFoundException(f"The requested resource could not be found: cluster {arn}")
    return c


def _local(arn: str) -> LocalMsk | None:
    return _registry.get(arn)


def install() -> None:
    """Patch moto's Kafka service (idempotent). Call before the server's app is created."""
    import moto.kafka.urls as urls
    from moto.kafka.responses import KafkaResponse

    if getattr(KafkaResponse, "_local_patched", False):
        return
    urls.url_paths.setdefault("{0}/api/v2/operations/(?P<clusterOperationArn>.+)$", KafkaResponse.dispatch)
    urls.url_paths.setdefault("{0}/v1/operations/(?P<clusterOperationArn>.+)$", KafkaResponse.dispatch)

    orig_describe_v2 = KafkaResponse.describe_cluster_v2
    orig_describe_v1 = KafkaResponse.describe_cluster
    orig_list_v2 = KafkaResponse.list_clusters_v2
    orig_list_v1 = KafkaResponse.list_clusters

    def describe_cluster_v2(self: Any) -> str:
        arn = _cluster_arn(self)
        if (m := _local(arn)) is not None:
            return json.dumps({"clusterInfo": m.describe_v2()})
        _moto_cluster(self, arn)
        return orig_describe_v2(self)

    def describe_cluster(self: Any) -> str:
        arn = _cluster_arn(self)
        if (m := _local(arn)) is not None:
            return json.dumps({"clusterInfo": m.describe_v1()})
        _moto_cluster(self, arn)
        return orig_describe_v1(self)

    def _matches(m: LocalMsk, region: str, name_filter: str | None, type_filter: str | None = None) -> bool:
        # ListClusters matches the name filter on the start of the name, as AWS documents it.
        if m.region != region or (name_filter and not m.name.startswith(name_filter)):
            return False
        return not (type_filter and type_filter.upper() not in ("ALL", "PROVISIONED"))

    def list_clusters_v2(self: Any) -> str:
        moto_list = json.loads(orig_list_v2(self))["clusterInfoList"]
        mine = [
            m.describe_v2()
            for m in _registry.values()
            if _matches(m, self.region, self._get_param("clusterNameFilter"), self._get_param("clusterTypeFilter"))
        ]
        return json.dumps({"clusterInfoList": mine + moto_list})

    def list_clusters(self: Any) -> str:
        moto_list = json.loads(orig_list_v1(self))["clusterInfoList"]
        mine = [
            m.describe_v1() for m in _registry.values() if _matches(m, self.region, self._get_param("clusterNameFilter"))
        ]
        return json.dumps({"clusterInfoList": mine + moto_list})

    def update_broker_count(self: Any) -> str:
        arn = _cluster_arn(self)
        m = _local(arn)
        if m is None:
            _moto_cluster(self, arn)
            raise BadRequestException("UpdateBrokerCount is only emulated for the local Kafka cluster.")
        body = _body(self)
        op = m.update_broker_count(body.get("currentVersion"), body.get("targetNumberOfBrokerNodes"))
        return json.dumps({"clusterArn": m.arn, "clusterOperationArn": op.arn})

    def get_bootstrap_brokers(self: Any) -> str:
        arn = _cluster_arn(self)
        m = _local(arn)
        if m is None:
            _moto_cluster(self, arn)
            return json.dumps({})
        return json.dumps({"bootstrapBrokerString": m.bootstrap_brokers()})

    def list_nodes(self: Any) -> str:
        arn = _cluster_arn(self)
        m = _local(arn)
        if m is None:
            _moto_cluster(self, arn)
            return json.dumps({"nodeInfoList": []})
        return json.dumps({"nodeInfoList": m.nodes()})

    def list_cluster_operations_v2(self: Any) -> str:
        arn = _cluster_arn(self)
        m = _local(arn)
        if m is None:
            _moto_cluster(self, arn)
            return json.dumps({"clusterOperationInfoList": []})
        ops = sorted(m.operations, key=lambda o: o.start, reverse=True)
        return json.dumps({"clusterOperationInfoList": [o.summary() for o in ops]})

    def list_cluster_operations(self: Any) -> str:
        arn = _cluster_arn(self)
        m = _local(arn)
        if m is None:
            _moto_cluster(self, arn)
            return json.dumps({"clusterOperationInfoList": []})
        ops = sorted(m.operations, key=lambda o: o.start, reverse=True)
        return json.dumps({"clusterOperationInfoList": [o.v1() for o in ops]})

    def _find_op(arn: str) -> Operation:
        for m in _registry.values():
            if (op := m.operation(arn)) is not None:
                return op
        raise NotFoundException(f"The requested resource could not be found: cluster operation {arn}")

    def describe_cluster_operation_v2(self: Any) -> str:
        return json.dumps({"clusterOperationInfo": _find_op(_operation_arn(self)).v2()})

    def describe_cluster_operation(self: Any) -> str:
        return json.dumps({"clusterOperationInfo": _find_op(_operation_arn(self)).v1()})

    for fn in (
        describe_cluster_v2,
        describe_cluster,
        list_clusters_v2,
        list_clusters,
        update_broker_count,
        get_bootstrap_brokers,
        list_nodes,
        list_cluster_operations_v2,
        list_cluster_operations,
        describe_cluster_operation_v2,
        describe_cluster_operation,
    ):
        setattr(KafkaResponse, fn.__name__, fn)
    KafkaResponse._local_patched = True  # type: ignore[attr-defined]
