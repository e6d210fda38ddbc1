"""Per-broker capacity limits that make an overload real and adding brokers a real fix.

Two mechanisms, both measured (local/README.md, "Capacity"):

* `NetLimit` (the default): the whole cluster lives in a private network namespace whose only
  interface is its own loopback; an HTB qdisc on that loopback caps, per broker, the bytes that
  broker's *replication listener* sends (fetch responses to its followers). Client traffic and the
  controller are not shaped. With RF 2 each of N brokers must ship ingress/N to its followers, so a
  fixed cap per broker is exceeded at 2 brokers and not at 4, exactly like a small instance's
  network baseline. Deterministic (bytes/s), costs no CPU.
* `CpuLimit`: a cgroup v1 `cpu` group per broker with a CFS quota, for the whole JVM or only its
  ReplicaFetcherThread threads. Kept for comparison; it depends on how busy the shared cores are.

All objects are named `mskah-<owner pid>-...`, removed at teardown, and `sweep_stale()` removes those
of owners that died without cleaning up.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from local.procs import pid_alive

log = logging.getLogger(__name__)

PREFIX = "mskah"
CGROUP_CPU = Path("/sys/fs/cgroup/cpu")
_seq = itertools.count(1)


def _run(argv: Sequence[str]) -> None:
    res = subprocess.run(list(argv), capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {res.stderr.strip()}")


def _name(kind: str) -> str:
    return f"{PREFIX}-{os.getpid()}-{kind}{next(_seq)}"


def netns_supported() -> tuple[bool, str]:
    """Whether this process can create namespaces and shape traffic (root + iproute2)."""
    if os.geteuid() != 0:
        return False, "network namespaces need root"
    for tool in ("ip", "tc"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            return False, f"`{tool}` not found (apt-get install iproute2)"
    return True, ""


def cgroup_cpu_supported() -> tuple[bool, str]:
    if os.geteuid() != 0:
        return False, "cgroups need root"
    if not (CGROUP_CPU / "cpu.cfs_quota_us").exists():
        return False, f"no cgroup v1 cpu controller at {CGROUP_CPU}"
    return True, ""


class Limit:
    """No limit: the cluster runs on the host's 127.0.0.1 with nothing shaped."""

    netns: str | None = None

    def setup(self) -> None:
        pass

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs `argv` where the cluster's 127.0.0.1 is."""
        return list(argv)

    def broker_argv(self, broker_id: int, argv: Sequence[str]) -> list[str]:
        """The command line that starts broker `broker_id` (`argv`) under this limit."""
        return self.wrap(argv)

    def broker_started(self, broker_id: int, pid: int, replication_port: int) -> None:
        pass

    def initial_brokers_started(self) -> None:
        pass

    def teardown(self) -> None:
        pass

    def describe(self) -> dict:
        return {"kind": "none"}


@dataclass
class NetLimit(Limit):
    """Private netns for the cluster, one HTB class per broker on its loopback capping replication.

    direction="ingress" (default): caps the replication bytes a broker *receives* as a follower
    (fetch responses from every leader), like an instance's network-in. The connections a broker
    opens (its replica fetchers run as a distinct gid) are marked by nftables conntrack, and every
    packet of them is put in that broker's class (skb priority = HTB class id).
    direction="egress": caps what a broker *sends* from its replication listener (u32 on the
    source port), like an instance's network-out as a leader.
    """

    rate_bytes_per_s: int
    direction: str = "ingress"
    burst_bytes: int = 256 * 1024
    # Brokers started after setup (UpdateBrokerCount) begin with this much credit, like a newly
    # launched instance's burst allowance: they copy their first partitions at full speed.
    launch_burst_bytes: int = 0
    netns: str | None = None
    _initial_done: bool = False
    _classes: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    controller_port: int | None = None

    GID_BASE = 47000

    def setup(self) -> None:
        ok, why = netns_supported()
        if not ok:
            raise RuntimeError(f"NetLimit unavailable: {why}")
        if self.direction not in ("ingress", "egress"):
            raise ValueError(f"NetLimit direction must be ingress or egress, not {self.direction!r}")
        if self.direction == "ingress" and subprocess.run(["which", "nft"], capture_output=True).returncode != 0:
            raise RuntimeError("NetLimit(direction='ingress') needs nftables (apt-get install nftables)")
        self.netns = _name("ns")
        _run(["ip", "netns", "add", self.netns])
        try:
            self._ns("ip", "link", "set", "lo", "up")
            # Unclassified traffic (clients, controller, probes) goes to 1:1, effectively unlimited.
            self._ns("tc", "qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb", "default", "1", "r2q", "1000")
            self._ns("tc", "class", "add", "dev", "lo", "parent", "1:", "classid", "1:1", "htb", "rate", "40gbit", "quantum", "200000")
            if self.direction == "ingress":
                self._ns("nft", "add", "table", "ip", "mskah")
                self._ns("nft", "add", "chain", "ip", "mskah", "out",
                         "{ type filter hook output priority mangle; policy accept; }")
        except Exception:
            self.teardown()
            raise
        log.info("network namespace %s ready (replication %s cap %d B/s per broker)",
                 self.netns, self.direction, self.rate_bytes_per_s)

    def _ns(self, *argv: str) -> None:
        assert self.netns is not None
        _run(["ip", "netns", "exec", self.netns, *argv])

    def wrap(self, argv: Sequence[str]) -> list[str]:
        assert self.netns is not None, "NetLimit.setup() not called"
        return ["ip", "netns", "exec", self.netns, *argv]

    def broker_argv(self, broker_id: int, argv: Sequence[str]) -> list[str]:
        if self.direction == "ingress":
            # A gid of its own lets nftables tell this broker's sockets from everybody else's.
            gid = str(self.GID_BASE + broker_id)
            argv = ["setpriv", "--regid", gid, "--clear-groups", "--", *argv]
        return self.wrap(argv)

    def broker_started(self, broker_id: int, pid: int, replication_port: int) -> None:
        with self._lock:
            if broker_id in self._classes:
                return
            minor = 10 + broker_id
            self._classes[broker_id] = minor
        rate = f"{self.rate_bytes_per_s * 8}bit"
        burst = str(max(self.burst_bytes, self.launch_burst_bytes) if self._initial_done else self.burst_bytes)
        classid = f"1:{minor:x}"
        # The loopback carries 64 KiB GSO segments: burst and quantum must exceed one of them.
        self._ns(
            "tc", "class", "add", "dev", "lo", "parent", "1:", "classid", classid, "htb",
            "rate", rate, "ceil", rate, "burst", burst, "cburst", burst, "quantum", "70000",
        )
        if self.direction == "egress":
            self._ns(
                "tc", "filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                "match", "ip", "sport", str(replication_port), "0xffff", "flowid", classid,
            )
        else:
            gid = str(self.GID_BASE + broker_id)
            # Connections the broker opens, except to the controller, are its fetchers' (to leaders);
            # mark them at the SYN and shape both directions of them in this broker's class.
            cond = ["tcp", "dport", "!=", str(self.controller_port)] if self.controller_port else []
            self._ns("nft", "add", "rule", "ip", "mskah", "out", "ct", "state", "new", "meta", "skgid", gid,
                     *cond, "ct", "mark", "set", gid)
            self._ns("nft", "add", "rule", "ip", "mskah", "out", "ct", "mark", gid, "meta", "priority", "set", classid)

    def initial_brokers_started(self) -> None:
        """From now on new brokers get the launch burst."""
        self._initial_done = True

    def set_rate(self, rate_bytes_per_s: int) -> None:
        """Change every broker's cap at run time."""
        self.rate_bytes_per_s = rate_bytes_per_s
        rate = f"{rate_bytes_per_s * 8}bit"
        for minor in list(self._classes.values()):
            self._ns(
                "tc", "class", "change", "dev", "lo", "parent", "1:", "classid", f"1:{minor:x}", "htb",
                "rate", rate, "ceil", rate, "burst", str(self.burst_bytes), "cburst", str(self.burst_bytes),
                "quantum", "70000",
            )

    def stats(self) -> dict[int, int]:
        """Bytes sent so far through each broker's shaped class."""
        assert self.netns is not None
        out = subprocess.run(
            ["ip", "netns", "exec", self.netns, "tc", "-s", "class", "show", "dev", "lo"],
            capture_output=True, text=True,
        ).stdout
        sent: dict[str, int] = {}
        for m in re.finditer(r"class htb 1:([0-9a-f]+) .*?\n\s*Sent (\d+) bytes", out):
            sent[m.group(1)] = int(m.group(2))
        return {b: sent.get(f"{minor:x}", 0) for b, minor in self._classes.items()}

    def teardown(self) -> None:
        if self.netns is not None:
            subprocess.run(["ip", "netns", "del", self.netns], capture_output=True)
            log.info("network namespace %s removed", self.netns)
            self.netns = None

    def describe(self) -> dict:
        return {
            "kind": "net",
            "direction": self.direction,
            "netns": self.netns,
            "replication_bytes_per_s_per_broker": self.rate_bytes_per_s,
            "launch_burst_bytes": self.launch_burst_bytes,
        }


@dataclass
class CpuLimit(Limit):
    """cgroup v1 CPU quota per broker: the whole JVM (`scope="broker"`) or its replica fetchers."""

    quota_pct: float
    scope: str = "broker"  # or "fetcher"
    _root: Path | None = None
    _groups: dict[int, tuple[Path, int]] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def setup(self) -> None:
        ok, why = cgroup_cpu_supported()
        if not ok:
            raise RuntimeError(f"CpuLimit unavailable: {why}")
        if self.scope not in ("broker", "fetcher"):
            raise ValueError(f"CpuLimit scope must be broker or fetcher, not {self.scope!r}")
        self._root = CGROUP_CPU / _name("cg")
        self._root.mkdir()
        if self.scope == "fetcher":
            self._thread = threading.Thread(target=self._track_fetchers, name="cpu-limit-fetchers", daemon=True)
            self._thread.start()

    def broker_started(self, broker_id: int, pid: int, replication_port: int) -> None:
        assert self._root is not None
        group = self._root / f"broker-{broker_id}"
        group.mkdir(exist_ok=True)
        (group / "cpu.cfs_period_us").write_text("100000")
        (group / "cpu.cfs_quota_us").write_text(str(max(1000, int(self.quota_pct * 1000))))
        self._groups[broker_id] = (group, pid)
        if self.scope == "broker":
            (group / "cgroup.procs").write_text(str(pid))

    def _track_fetchers(self) -> None:
        # Fetcher threads come and go with leadership changes, so keep moving new ones in.
        while not self._stop.wait(0.5):
            for group, pid in list(self._groups.values()):
                try:
                    tasks = os.listdir(f"/proc/{pid}/task")
                except OSError:
                    continue
                for tid in tasks:
                    try:
                        comm = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
                        if comm.startswith("ReplicaFetcher"):
                            (group / "tasks").write_text(tid)
                    except OSError:
                        pass

    def teardown(self) -> None:
        self._stop.set()
        if self._root is not None and self._root.exists():
            _remove_cgroup(self._root)
            self._root = None

    def describe(self) -> dict:
        return {"kind": "cpu", "scope": self.scope, "quota_pct": self.quota_pct}


def _remove_cgroup(root: Path) -> None:
    parent_tasks = root.parent / "tasks"
    for group in sorted(root.iterdir(), reverse=True):
        if group.is_dir():
            # Move any survivors out, then remove (rmdir fails on a populated cgroup).
            for tid in (group / "tasks").read_text().split():
                try:
                    parent_tasks.write_text(tid)
                except OSError:
                    pass
            try:
                group.rmdir()
            except OSError as e:
                log.warning("could not remove cgroup %s: %s", group, e)
    try:
        root.rmdir()
    except OSError as e:
        log.warning("could not remove cgroup %s: %s", root, e)


def sweep_stale() -> list[str]:
    """Remove namespaces and cgroups named by this module whose owning process is gone."""
    removed = []
    pat = re.compile(rf"^{PREFIX}-(\d+)-")
    try:
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split("\n")
    except OSError:
        names = []
    for line in names:
        name = line.split(" ")[0]
        m = pat.match(name)
        if m and not pid_alive(int(m.group(1))):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
            removed.append(name)
    if CGROUP_CPU.is_dir():
        for d in CGROUP_CPU.iterdir():
            m = pat.match(d.name)
            if m and d.is_dir() and not pid_alive(int(m.group(1))):
                _remove_cgroup(d)
                removed.append(str(d))
    return removed
