"""Capacity experiment: does a per-broker limit overload 2 brokers and not 4?

    python -m local.capacity [--mechanism net|cpu-broker|cpu-fetcher] [--limit N] [--rps N] ...

Starts a 2-broker cluster with the chosen limit, a 12-partition RF 2 topic and the demo's producer
(kafka-producer-perf-test, acks=all, lz4, 10 KB, 1 MB batches, 10 ms linger) at a fixed rate; samples
UnderReplicatedPartitions every second; then adds 2 brokers, reassigns with a minimal balanced plan
in small batches (real kafka-reassign-partitions.sh), and samples again under the same load.
Prints one JSON summary (the figures in local/README.md come from it) and writes a timeline CSV.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from local.kafka.cluster import ClusterConfig, KafkaCluster
from local.kafka.metadata import Snapshot
from local.limits import CpuLimit, Limit, NetLimit
from local.loadgen import PerfProducer, write_payload_file
from local.procs import Supervisor, install_signal_handlers

log = logging.getLogger("local.capacity")


def minimal_balanced_plan(snap: Snapshot, topic: str, brokers: list[int], racks: dict[int, str]) -> dict[int, list[int]]:
    """Move as few replicas as possible so every broker holds the same number of replicas (±1) AND
    leads the same number of partitions (±1), keeping each partition's replicas on distinct racks.

    Leadership matters as much as replicas under a follower-side limit: a broker that only follows
    carries as much replication as an old broker did. A replaced leader's replacement goes first in
    the list, so a preferred leader election hands it the leadership. Out-of-sync replicas move
    first: a reassignment completes only when every target replica is in the ISR, so keeping a
    lagging replica blocks it (measured: local/README.md). Only for this experiment; the product's
    planner is crates/planner."""
    parts = {p.partition: p for p in snap.topic(topic)}
    reps = {pid: list(p.replicas) for pid, p in parts.items()}
    n = len(brokers)
    total = sum(len(r) for r in reps.values())
    want_reps = {b: total // n + (1 if i < total % n else 0) for i, b in enumerate(sorted(brokers))}
    want_lead = {b: len(reps) // n + (1 if i < len(reps) % n else 0) for i, b in enumerate(sorted(brokers))}
    load = Counter({b: 0 for b in brokers})
    lead = Counter({b: 0 for b in brokers})
    for r in reps.values():
        load.update(r)
        lead[r[0]] += 1
    plan: dict[int, list[int]] = {}
    cands = sorted(
        (old in parts[pid].isr, pid, i) for pid, r in reps.items() for i, old in enumerate(r)
    )
    for _in_sync, pid, i in cands:
        if pid in plan:
            continue
        cur = reps[pid]
        old = cur[i]
        if load[old] <= want_reps[old]:
            continue
        is_lead = i == 0
        if is_lead and lead[old] <= want_lead[old]:
            continue
        new = next(
            (b for b in sorted(brokers, key=lambda b: (load[b], lead[b]))
             if load[b] < want_reps[b] and b not in cur and racks.get(b) == racks.get(old)
             and (not is_lead or lead[b] < want_lead[b])),
            None,
        )
        if new is None:
            continue
        reps[pid] = cur[:i] + [new] + cur[i + 1 :]
        load[old] -= 1
        load[new] += 1
        if is_lead:
            lead[old] -= 1
            lead[new] += 1
        plan[pid] = reps[pid]
    return plan


def autoheal_stages(cluster: KafkaCluster, args: argparse.Namespace, state: Path, racks: dict[int, str | None],
                    brokers: list[int]) -> list[dict[int, list[int]]]:
    """The product's planner: `autoheal plan` on `kafka-topics.sh --describe`, split in stages."""
    binary = Path(args.autoheal_bin)
    if not binary.is_file():
        raise RuntimeError(f"--planner autoheal: no binary at {binary} (cargo build -p autoheal-cli)")
    desc = state / "describe.txt"
    desc.write_text(cluster.tool("kafka-topics.sh", "--bootstrap-server", cluster.bootstrap_servers,
                                 "--describe", "--topic", args.topic).stdout)
    out = state / "plan.json"
    res = subprocess.run(
        [str(binary), "plan", "--assignment", str(desc), "--brokers", ",".join(map(str, brokers)),
         "--racks", ",".join(f"{b}={r}" for b, r in sorted(racks.items())), "--out", str(out),
         "--max-moves-per-broker", str(args.batch)],
        capture_output=True, text=True,
    )
    if res.returncode != 0:
        raise RuntimeError(f"autoheal plan failed: {res.stderr.strip()}")
    files = sorted(state.glob("plan.stage-*.json"), key=lambda f: int(f.stem.rsplit("-", 1)[1])) or [out]
    return [
        {p["partition"]: p["replicas"] for p in json.loads(f.read_text())["partitions"] if p["topic"] == args.topic}
        for f in files
    ]


def run(args: argparse.Namespace) -> dict:
    state = Path(args.state_dir or tempfile.mkdtemp(prefix="capacity-"))
    if state.exists() and args.state_dir:
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    limit: Limit
    if args.mechanism == "net":
        limit = NetLimit(rate_bytes_per_s=int(args.limit * 1_000_000), direction=args.direction,
                         launch_burst_bytes=int(args.launch_burst_mb * 1_000_000))
    elif args.mechanism == "cpu-broker":
        limit = CpuLimit(quota_pct=args.limit, scope="broker")
    elif args.mechanism == "cpu-fetcher":
        limit = CpuLimit(quota_pct=args.limit, scope="fetcher")
    else:
        limit = Limit()
    timeline: list[dict] = []
    result: dict = {"mechanism": args.mechanism, "direction": args.direction, "in_flight": args.in_flight, "producers": args.producers, "lag_ms": args.lag_ms, "launch_burst_mb": args.launch_burst_mb, "limit": args.limit, "rps": args.rps, "record_size": args.record_size}
    with Supervisor(state / "run") as sup:
        t0 = time.monotonic()
        cluster = KafkaCluster(state / "kafka", ClusterConfig(brokers=2, replica_lag_time_max_ms=args.lag_ms), limit=limit, supervisor=sup)
        cluster.start()
        result["startup_s"] = round(time.monotonic() - t0, 1)
        cluster.create_topic(args.topic, 12, 2)
        payload = write_payload_file(state / "payload.txt", args.record_size)
        # Several producers = several connections per leader. A broker handles one request per
        # connection at a time, so one acks=all producer can never be more than one request ahead of
        # the followers (lock-step, no URP however slow they are); N producers can be N ahead.
        prods = [
            PerfProducer(
                cluster, sup, topic=args.topic, records_per_s=max(1, args.rps // args.producers), duration_s=3600,
                payload_file=None if args.same_payload else payload, record_size=args.record_size,
                log_path=state / f"producer-{i}.log", name=f"perf-producer-{i}",
                producer_props=(
                    {"enable.idempotence": "false", "max.in.flight.requests.per.connection": str(args.in_flight)}
                    if args.in_flight else None
                ),
            )
            for i in range(args.producers)
        ]
        assert cluster.probe is not None
        start = time.monotonic()

        def sample(phase: str) -> Snapshot:
            for prod in prods:
                if not prod.alive():
                    raise RuntimeError(f"producer exited {prod.proc.returncode}: {prod.output[-2000:]} {prod.proc.tail(10)}")
            snap = cluster.probe.next(15)  # type: ignore[union-attr]
            mbps = round(sum(p.progress[-1].mb_per_s if p.progress else 0.0 for p in prods), 2)
            row = {
                "t": round(time.monotonic() - start, 1), "phase": phase, "urp": snap.urp_total,
                "urp_by_broker": snap.urp_by_broker(), "producer_mb_s": mbps, "brokers": len(snap.brokers),
            }
            timeline.append(row)
            if args.verbose:
                print(json.dumps(row), file=sys.stderr)
            return snap

        end = time.monotonic() + args.phase_s
        first_urp = None
        while time.monotonic() < end:
            snap = sample("2 brokers")
            if first_urp is None and snap.urp_total > 0:
                first_urp = timeline[-1]["t"]
        two = [r for r in timeline if r["phase"] == "2 brokers"]
        result["two_brokers"] = {
            "first_urp_s": first_urp,
            "max_urp": max(r["urp"] for r in two),
            "share_of_samples_with_urp": round(sum(1 for r in two if r["urp"] > 0) / len(two), 2),
            "producer_mb_s_mean": round(sum(r["producer_mb_s"] for r in two[2:]) / max(1, len(two) - 2), 2),
        }

        t_add = time.monotonic()
        ids = cluster.add_brokers(2)
        cluster.wait_for_brokers(ids)
        result["add_brokers_s"] = round(time.monotonic() - t_add, 1)
        snap = sample("scaling")
        racks = {b.id: b.rack for b in snap.brokers}
        # Re-plan before every batch from fresh metadata: which followers lag changes all the time,
        # and a move that keeps a lagging replica cannot complete. With --planner autoheal the
        # product's planner (`autoheal plan`) makes the plan once, in stages.
        result["moves"] = 0
        t_move = time.monotonic()
        stages = autoheal_stages(cluster, args, state, racks, snap.broker_ids) if args.planner == "autoheal" else None
        if stages is not None:
            result["planner"] = "autoheal plan"
            result["stages"] = len(stages)
        while True:
            if stages is not None:
                if not stages:
                    break
                batch = stages.pop(0)
            else:
                plan = minimal_balanced_plan(snap, args.topic, snap.broker_ids, racks)
                if not plan:
                    break
                lagging = {p.partition for p in snap.topic(args.topic) if p.under_replicated}
                items = sorted(plan.items(), key=lambda kv: (kv[0] not in lagging, kv[0]))[: args.batch]
                batch = dict(items)
            doc = {"version": 1, "partitions": [{"topic": args.topic, "partition": p, "replicas": r} for p, r in batch.items()]}
            f = state / f"reassign-{result['moves']}.json"
            f.write_text(json.dumps(doc))
            cluster.tool("kafka-reassign-partitions.sh", "--bootstrap-server", cluster.bootstrap_servers,
                         "--reassignment-json-file", str(f), "--execute")
            deadline = time.monotonic() + args.move_timeout_s
            while True:
                snap = sample("reassigning")
                cur = {p.partition: list(p.replicas) for p in snap.topic(args.topic)}
                if all(cur[p] == r for p, r in batch.items()):
                    break
                if time.monotonic() > deadline:
                    result["reassignment_timed_out"] = True
                    break
            result["moves"] += len(batch)
            if result.get("reassignment_timed_out"):
                break
            # Hand leadership to the preferred (first) replicas, as the product's workflow must.
            cluster.tool("kafka-leader-election.sh", "--bootstrap-server", cluster.bootstrap_servers,
                         "--election-type", "preferred", "--all-topic-partitions", check=False)
        result["reassign_s"] = round(time.monotonic() - t_move, 1)
        t_heal = time.monotonic()
        healed_at = None
        end = time.monotonic() + args.phase_s
        while time.monotonic() < end:
            snap = sample("4 brokers")
            if snap.urp_total == 0 and healed_at is None:
                healed_at = round(time.monotonic() - t_heal, 1)
            elif snap.urp_total > 0:
                healed_at = None
        four = [r for r in timeline if r["phase"] == "4 brokers"]
        tail = four[len(four) // 2 :]
        result["four_brokers"] = {
            "urp_zero_from_s_after_reassignment": healed_at,
            "max_urp_second_half": max(r["urp"] for r in tail),
            "share_of_samples_with_urp": round(sum(1 for r in four if r["urp"] > 0) / len(four), 2),
            "producer_mb_s_mean": round(sum(r["producer_mb_s"] for r in four) / len(four), 2),
            "replicas_by_broker": snap.replicas_by_broker(args.topic),
        }
        if isinstance(limit, NetLimit):
            result["shaped_bytes_by_broker"] = limit.stats()
        for prod in prods:
            prod.stop()
        result["acked_records"] = sum(sum(x.records for x in p.progress) for p in prods)
        data_bytes = sum(f.stat().st_size for f in (state / "kafka").rglob("*.log") if "data" in f.parts)
        result["bytes_on_disk_all_replicas"] = data_bytes
    (state / "timeline.json").write_text(json.dumps(timeline))
    result["state_dir"] = str(state)
    result["total_s"] = round(time.monotonic() - t0, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m local.capacity", description=__doc__.splitlines()[0])
    p.add_argument("--mechanism", choices=["net", "cpu-broker", "cpu-fetcher", "none"], default="net")
    p.add_argument("--limit", type=float, default=2.0, help="MB/s per broker (net) or CPU %% per broker (cpu-*)")
    p.add_argument("--direction", choices=["ingress", "egress"], default="ingress", help="net: follower in or leader out")
    p.add_argument("--in-flight", type=int, default=0, help="producer max.in.flight (0: Java default 5, idempotent)")
    p.add_argument("--launch-burst-mb", type=float, default=0, help="net: credit of brokers added later")
    p.add_argument("--lag-ms", type=int, default=3000, help="replica.lag.time.max.ms")
    p.add_argument("--producers", type=int, default=3, help="producer processes (connections) sharing --rps")
    p.add_argument("--rps", type=int, default=500, help="records/s the producer offers")
    p.add_argument("--record-size", type=int, default=10240)
    p.add_argument("--same-payload", action="store_true", help="perf-test's one repeated payload (compresses away)")
    p.add_argument("--phase-s", type=float, default=40)
    p.add_argument("--batch", type=int, default=2, help="partitions per reassignment batch")
    p.add_argument("--move-timeout-s", type=float, default=120)
    p.add_argument("--topic", default="stress-test")
    p.add_argument("--planner", choices=["experiment", "autoheal"], default="experiment",
                   help="experiment: this module's re-planning heuristic; autoheal: `autoheal plan` stages")
    p.add_argument("--autoheal-bin", default=str(Path(__file__).resolve().parent.parent / "target" / "debug" / "autoheal"))
    p.add_argument("--state-dir")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    if args.limit <= 0 or args.rps <= 0 or args.phase_s <= 0 or args.batch <= 0:
        print("local.capacity: --limit, --rps, --phase-s and --batch must be positive", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_signal_handlers()
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
