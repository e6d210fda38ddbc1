"""Plain views of the cluster's metadata as the metadata probe reports it (no I/O here).

`UnderReplicatedPartitions` is counted the way a Kafka broker counts it for its own JMX metric
(kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions, which MSK publishes to CloudWatch):
a broker counts the partitions it leads whose ISR is smaller than the replica set.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class BrokerInfo:
    id: int
    host: str
    port: int
    rack: str | None


@dataclass(frozen=True)
class PartitionInfo:
    topic: str
    partition: int
    internal: bool
    leader: int  # -1: offline
    replicas: tuple[int, ...]
    isr: tuple[int, ...]
    end_offset: int | None
    adding: tuple[int, ...] = ()  # replicas being added by an ongoing reassignment
    removing: tuple[int, ...] = ()

    @property
    def under_replicated(self) -> bool:
        # As kafka.cluster.Partition#isUnderReplicated: replicas being added by a reassignment do
        # not count until they have joined.
        return self.leader >= 0 and len(self.isr) < len(self.replicas) - len(self.adding)

    @property
    def reassigning(self) -> bool:
        return bool(self.adding or self.removing)


@dataclass(frozen=True)
class Snapshot:
    """One sample of the cluster's metadata (or the error that prevented it)."""

    ts_ms: int
    controller: int = -1
    brokers: tuple[BrokerInfo, ...] = ()
    partitions: tuple[PartitionInfo, ...] = ()
    error: str | None = None
    _extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Snapshot:
        if obj.get("error"):
            return cls(ts_ms=int(obj.get("ts_ms", 0)), error=str(obj["error"]))
        return cls(
            ts_ms=int(obj["ts_ms"]),
            controller=int(obj.get("controller", -1)),
            brokers=tuple(
                BrokerInfo(id=b["id"], host=b["host"], port=b["port"], rack=b.get("rack"))
                for b in obj.get("brokers", [])
            ),
            partitions=tuple(
                PartitionInfo(
                    topic=p["topic"],
                    partition=p["partition"],
                    internal=bool(p.get("internal", False)),
                    leader=p["leader"],
                    replicas=tuple(p["replicas"]),
                    isr=tuple(p["isr"]),
                    end_offset=p.get("end_offset"),
                    adding=tuple(p.get("adding", ())),
                    removing=tuple(p.get("removing", ())),
                )
                for p in obj.get("partitions", [])
            ),
        )

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def broker_ids(self) -> list[int]:
        return sorted(b.id for b in self.brokers)

    def topic(self, name: str) -> list[PartitionInfo]:
        return sorted((p for p in self.partitions if p.topic == name), key=lambda p: p.partition)

    def urp_by_broker(self) -> dict[int, int]:
        """UnderReplicatedPartitions per live broker, as each broker reports it (by leadership)."""
        counts = {b: 0 for b in self.broker_ids}
        for p in self.partitions:
            if p.under_replicated:
                counts[p.leader] = counts.get(p.leader, 0) + 1
        return counts

    @property
    def urp_total(self) -> int:
        return sum(1 for p in self.partitions if p.under_replicated)

    @property
    def reassigning(self) -> list[PartitionInfo]:
        return [p for p in self.partitions if p.reassigning]

    @property
    def offline_partitions(self) -> int:
        return sum(1 for p in self.partitions if p.leader < 0)

    def replicas_by_broker(self, topic: str | None = None, include_internal: bool = False) -> dict[int, int]:
        """How many replicas each live broker holds (every live broker present, 0 if none)."""
        counts: Counter[int] = Counter({b: 0 for b in self.broker_ids})
        for p in self.partitions:
            if (topic is None or p.topic == topic) and (include_internal or not p.internal):
                counts.update(p.replicas)
        return dict(sorted(counts.items()))

    def leaders_by_broker(self, topic: str | None = None, include_internal: bool = False) -> dict[int, int]:
        counts: Counter[int] = Counter({b: 0 for b in self.broker_ids})
        for p in self.partitions:
            if (topic is None or p.topic == topic) and (include_internal or not p.internal) and p.leader >= 0:
                counts[p.leader] += 1
        return dict(sorted(counts.items()))

    def replica_spread(self, topic: str | None = None) -> int:
        """max - min replicas per live broker (0 = perfectly even)."""
        counts = self.replicas_by_broker(topic)
        return (max(counts.values()) - min(counts.values())) if counts else 0

    def end_offsets(self, topic: str) -> dict[int, int]:
        return {p.partition: p.end_offset for p in self.topic(topic) if p.end_offset is not None}
