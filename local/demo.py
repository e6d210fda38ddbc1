"""`make demo`: a real 2-broker Kafka cluster falls behind under acks=all load, the URP alarm fires,
the detector starts the real remediation state machine, MSK (emulated over the real cluster) grows
to 4 brokers, the minimal plan is executed stage by stage, URP comes back to 0 under the same load,
and every acknowledged record is read back.

    python -m local.demo [--mode auto|approval] [--rps 215] [--out DIR]

Everything binds 127.0.0.1 and everything it starts is stopped at the end, also on Ctrl-C or a
failure (the stack's Supervisor; children die with this process). Ends with a text report, a chart
(`demo-chart.svg`) and `demo-report.json` (in --out, default the repository root).

The pieces (local/README.md): `local.stack.Stack` (real Kafka 4.1.2 in a netns with a per-broker
follower-side replication limit, moto + MSK/SSM/alarm bridge/Lambda router), the ASL from
statemachine/remediation.asl.json with local timings, every Lambda under `cargo lambda watch` with
the template's environment, and `local.ledger` for the load (the product's Rust stress-producer with
its acknowledgement ledger) and the read-back.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.demo_report import render_svg, text_report
from local.deploy import ASL, Deployment
from local.kafka.cluster import REPO_ROOT
from local.kafka.metadata import Snapshot
from local.ledger import BUILD_COMMAND, ReadBack, StressLoad, build_stress_producer, verify
from local.stack import AlarmSpec, Stack, StackConfig

# The credit new brokers start with (a newly launched instance's burst allowance), enough for their
# first copies at the reassignment throttle. With the stack's 64 MB a new broker spent it in the first
# two stages and copied the last at what following the live load left of its 1 MB/s: one run's
# stage 3 took 5 minutes and the demo 9. HTB keeps the burst as time at the rate in a u32 of 1/64 µs
# ticks: 160 MB at 1 MB/s is 2.5e9 of the 4.29e9 it can hold.
LAUNCH_BURST_BYTES = 160_000_000
FUNCTIONS = ("detector", "assess", "scale", "kafka-ops", "notify", "approval-request", "approval", "safety-net")
TOPIC = "stress-test"


@dataclass
class Sample:
    t: float
    urp: int
    brokers: int
    reassigning: int
    mb_per_s: float | None
    urp_by_broker: dict[int, int] = field(default_factory=dict)


@dataclass
class Event:
    t: float
    kind: str  # alarm | detector | step | brokers | info | approval
    text: str


class Demo:
    """One run: set-up, load, watch, verify, report. `say` prints the live narration."""

    def __init__(self, args: argparse.Namespace, say: Callable[[str], None] = print,
                 before_teardown: Callable[[Stack], Any] | None = None) -> None:
        self.args = args
        self.say = say
        # Called with the stack once healed (or given up), while the load still runs: tests look at
        # the cluster through Kafka's own tools there.
        self.before_teardown = before_teardown
        self.out = Path(args.out).resolve()
        self.state = Path(args.state_dir).resolve()
        self.t0 = time.monotonic()
        self.samples: list[Sample] = []
        self.events: list[Event] = []
        self.timings: dict[str, float] = {}
        self.report: dict[str, Any] = {"mode": args.mode}
        self.stack: Stack | None = None
        self.load: StressLoad | None = None
        self.execution_arn: str | None = None
        self._seen_history = 0
        self._seen_alarms = 0
        self._steps: dict[str, dict] = {}  # state name -> {entered, exited}
        self._order: list[str] = []
        self._brokers_seen = 0
        self._approval_link: str | None = None

    # ---- helpers ---------------------------------------------------------------------------

    def now(self) -> float:
        return round(time.monotonic() - self.t0, 1)

    def note(self, kind: str, text: str) -> None:
        e = Event(self.now(), kind, text)
        self.events.append(e)
        self.say(f"[{e.t:6.1f}s] {kind:<9} {text}")

    def timed(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.monotonic()
        try:
            return fn()
        finally:
            self.timings[name] = round(time.monotonic() - t, 1)

    # ---- set-up ----------------------------------------------------------------------------

    def build(self) -> None:
        """Build the Lambdas and the stress-producer first, outside the stack's clock (a clean
        checkout compiles for minutes); the same target dir as the tests."""
        target = os.environ.get("CARGO_TARGET_DIR")
        # `--bin` only, no `-p`: watch starts each function with `cargo run --bin <fn>` from the
        # workspace root (features resolved over the workspace); `-p` would resolve them over these
        # packages only, and the first invoke of every function would compile it again.
        cmd = ["cargo", "build", "-q", *sum((["--bin", f] for f in FUNCTIONS), [])]
        self.say(f"building the Lambdas: {' '.join(cmd)}")
        res = subprocess.run(cmd, cwd=REPO_ROOT)
        if res.returncode != 0:
            raise RuntimeError("cargo build of the Lambdas failed")
        self.target_dir = Path(target) if target else None
        # A separate invocation: built together, cargo would unify features across both sets and
        # the Lambdas' binaries would differ from the ones cargo lambda watch builds.
        self.say("building the stress-producer: " + " ".join(BUILD_COMMAND))
        self.producer_bin = build_stress_producer(self.target_dir)

    def start(self) -> Stack:
        a = self.args
        cfg = StackConfig(
            state_dir=self.state, brokers=2, max_brokers=4, update_min_seconds=5.0, bridge_tick_s=5.0,
            alarm=AlarmSpec(period_s=10), event_targets=("detector",), sfn_event_targets=("safety-net",),
            prebuild_lambdas=False,
            limit_value=a.limit, limit_launch_burst_bytes=LAUNCH_BURST_BYTES, cargo_target_dir=self.target_dir,
        )
        self.stack = stack = Stack(cfg)
        self.timed("stack_start_s", stack.start)
        assert stack.kafka is not None
        self.note("info", f"Kafka {stack.kafka.libs.parent.name}: 2 brokers up (controller + brokers "
                          f"+ emulated AWS in {self.timings['stack_start_s']:.0f}s), replication limited to "
                          f"{a.limit / 1e6:.1f} MB/s into each broker")
        d = self.deployment = Deployment.create(stack)
        self.sqs, self.queue, self.sfn = stack.client("sqs"), d.queue_url, stack.client("stepfunctions")
        self.topic_arn, self.sm_arn, self.approval_url = d.topic_arn, d.state_machine_arn, d.approval_url
        # template.yaml's Environment of every function (one env file serves them all locally).
        env = {"MODE": a.mode, "MAX_BROKERS": "4", "THROTTLE_BYTES_PER_SEC": str(a.throttle),
               "MAX_MOVES_PER_BROKER": str(a.max_moves_per_broker),
               "APPROVAL_TIMEOUT_MINUTES": str(a.approval_minutes)}
        self.timed("lambdas_start_s", lambda: d.start_lambdas(FUNCTIONS, **env))
        self.note("info", f"state machine {d.state_machine_arn.rsplit(':', 1)[-1]} ({ASL.relative_to(REPO_ROOT)}), "
                          f"{len(FUNCTIONS)} Lambdas under cargo lambda watch, alarm {stack.info.get('alarm_name')} (period 10 s), mode {a.mode}")
        return stack

    # ---- watching ----------------------------------------------------------------------------

    def sample(self) -> Snapshot:
        assert self.stack is not None
        snap = self.stack.metadata()
        mb = None
        if self.load and self.load.progress:
            last = self.load.progress[-1]
            mb = last.mb_per_s if time.monotonic() - last.ts < 6 else 0.0
        if snap.ok:
            reassigning = sum(1 for p in snap.topic(TOPIC) if p.adding or p.removing)
            self.samples.append(Sample(self.now(), snap.urp_total, len(snap.brokers), reassigning, mb,
                                       snap.urp_by_broker()))
            if len(snap.brokers) != self._brokers_seen:
                if self._brokers_seen:
                    self.note("brokers", f"{len(snap.brokers)} brokers in the cluster's metadata: "
                                         f"{sorted(b.id for b in snap.brokers)}")
                self._brokers_seen = len(snap.brokers)
        return snap

    def watch_alarms(self) -> None:
        assert self.stack is not None
        events = self.stack.alarm_events()
        for e in events[self._seen_alarms:]:
            if not e.get("delivered"):
                break  # its deliveries are still running: read it next time
            self._seen_alarms += 1
            self.note("alarm", f"{e['alarm']}: {e['from']} -> {e['to']}")
            for d in e.get("deliveries", []):
                if d.get("function") != "detector":
                    continue
                try:
                    out = json.loads(d.get("response") or "{}")
                except ValueError:
                    out = {}
                what = out.get("outcome", f"HTTP {d.get('status')}")
                why = out.get("outcome_reason") or out.get("reason") or ""
                inp = out.get("input") or {}
                extra = (f" {inp.get('current_broker_count')} -> {inp.get('target_broker_count')} brokers, "
                         f"mode {inp.get('mode')}, execution {out.get('execution_name')}") if inp else ""
                self.note("detector", f"{what}{extra}{' - ' + why if why and not inp else ''}")
                if out.get("execution_arn") and not self.execution_arn:
                    self.execution_arn = out["execution_arn"]

    def find_execution(self) -> None:
        if self.execution_arn:
            return
        execs = self.sfn.list_executions(stateMachineArn=self.sm_arn).get("executions", [])
        if execs:
            self.execution_arn = execs[0]["executionArn"]

    def watch_execution(self) -> str | None:
        """Narrate new history events; returns the execution's status once it has one."""
        self.find_execution()
        if not self.execution_arn:
            return None
        events = self.sfn.get_execution_history(executionArn=self.execution_arn, maxResults=1000)["events"]
        for e in events[self._seen_history:]:
            self._seen_history += 1
            if "stateEnteredEventDetails" in e:
                d = e["stateEnteredEventDetails"]
                name = d["name"]
                st = self._steps.setdefault(name, {"entered": self.now(), "count": 0, "seconds": 0.0})
                st["count"] += 1
                st["_in"] = time.monotonic()
                if st["count"] == 1:
                    self._order.append(name)
                if not name.startswith(("WaitFor", "CheckActive", "IsActive", "ReassignmentDone", "VerifyReassignment",
                                        "HasMoves", "ApprovalGate", "Settings")) or st["count"] == 1:
                    self.note("step", f"{name}{self.describe_input(name, d.get('input'))}")
            elif "stateExitedEventDetails" in e:
                d = e["stateExitedEventDetails"]
                st = self._steps.get(d["name"])
                if st and "_in" in st:
                    st["seconds"] += time.monotonic() - st.pop("_in")
                msg = self.describe_output(d["name"], d.get("output"))
                if msg:
                    self.note("step", f"{d['name']}: {msg}")
            elif e["type"] in ("TaskFailed", "LambdaFunctionFailed", "ExecutionFailed"):
                d = next((v for k, v in e.items() if k.endswith("EventDetails")), {})
                self.note("step", f"{e['type']}: {d.get('error')} {str(d.get('cause', ''))[:300]}")
        status = self.sfn.describe_execution(executionArn=self.execution_arn)["status"]
        return None if status == "RUNNING" else status

    @staticmethod
    def describe_input(name: str, raw: str | None) -> str:
        return ""

    def describe_output(self, name: str, raw: str | None) -> str:
        try:
            s = json.loads(raw or "{}")
        except ValueError:
            return ""
        if name == "Assess" and "assessment" in s:
            x = s["assessment"]
            return (f"cluster {x.get('state')}, {x.get('broker_count')} brokers in {x.get('az_count')} AZs "
                    f"({x.get('instance_type')}), target {x.get('target_broker_count')}")
        if name == "WaitForApproval" and isinstance(s.get("approval"), dict) and s["approval"].get("decision"):
            x = s["approval"]["decision"]
            return f"approved at {x.get('decided_at')} from {x.get('source_ip')} ({x.get('user_agent') or '-'})"
        if name == "ScaleBrokers" and "scale" in s:
            x = s["scale"]
            return f"UpdateBrokerCount {x.get('from')} -> {x.get('target')} requested ({x.get('state', '')})"
        if name == "CheckActive" and s.get("scale", {}).get("active"):
            return f"cluster ACTIVE with {s['scale'].get('broker_count')} brokers"
        if name == "CaptureAssignment" and "capture" in s:
            x = s["capture"]
            return (f"{x['partitions']} partitions on brokers {x['brokers']}, {x['under_replicated']} "
                    f"under-replicated")
        if name == "PlanReassignment" and "plan" in s:
            x = s["plan"]
            self.report["plan"] = {k: x.get(k) for k in ("moves", "lower_bound", "changed_partitions", "leader_changes",
                                                          "bytes_moved", "replica_spread_before", "replica_spread_after")}
            self.report["plan"]["stages"] = len(x.get("stage_keys", []))
            mb = (x.get("bytes_moved") or 0) / 1e6
            return (f"{x['moves']} replica moves (lower bound {x['lower_bound']}), {x['changed_partitions']} partitions, "
                    f"{len(x.get('stage_keys', []))} stages, {mb:.0f} MB to copy, replica spread "
                    f"{x['replica_spread_before']} -> {x['replica_spread_after']}")
        if name == "ExecuteReassignment" and "reassignment" in s:
            x = s["reassignment"]
            return f"stage {x['stage'] + 1}/{x['stages']} started (throttle {self.args.throttle / 1e6:.0f} MB/s)"
        if name == "VerifyReassignment" and "reassignment" in s:
            x = s["reassignment"]
            if x["status"] != "in_progress":
                fails = x.get("election_failures") or []
                extra = f", {len(fails)} not yet electable" if fails else ""
                done = x["stage"] if x["status"] == "stage_complete" else x["stage"] + 1
                return (f"stage {done}/{x['stages']} complete after {x['verifies']} verifies; preferred leaders "
                        f"elected so far: {x.get('leaders_elected', 0)}{extra}")
            return ""
        if name == "ConfirmHealed" and "healed" in s:
            x = s["healed"]
            return (f"healed: {x['under_replicated']} under-replicated, replicas per broker "
                    f"{x['replicas_per_broker']}, spread {x['replica_spread']}")
        if name.startswith("Notify") and "notification" in s:
            return f"SNS: {s['notification'].get('subject')}"
        if name == "Cleanup" and "cleanup" in s:
            return f"cleanup: {json.dumps(s['cleanup'])[:300]}"
        return ""

    def watch_inbox(self) -> None:
        # The notifications, and the approval emails (a topic of their own: approvers only).
        messages = [(q, m) for q in (self.queue, self.deployment.approval_queue_url)
                    for m in self.sqs.receive_message(QueueUrl=q, MaxNumberOfMessages=10,
                                                      WaitTimeSeconds=0).get("Messages", [])]
        for queue, m in messages:
            self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
            body = json.loads(m["Body"])
            subject = body.get("Subject", "")
            self.report.setdefault("notifications", []).append(subject)
            self.note("sns", subject)
            links = [x.strip() for x in body.get("Message", "").splitlines()
                     if x.strip().startswith(self.approval_url) and "action=approve" in x]
            if links and not self._approval_link:
                self._approval_link = links[0]
                self.say("\n" + "=" * 100)
                self.say("APPROVAL NEEDED. Open this link in a browser (it shows what approving does, then press "
                         "Approve),\nor approve from a shell:\n")
                self.say(f"  curl -X POST '{links[0]}'\n")
                self.say("=" * 100 + "\n")
                self.approval_asked = time.monotonic()

    def status_line(self) -> str:
        s = self.samples[-1] if self.samples else None
        if s is None:
            return ""
        by = " ".join(f"b{b}:{n}" for b, n in sorted(s.urp_by_broker.items()))
        mb = "-" if s.mb_per_s is None else f"{s.mb_per_s:.2f}"
        return (f"[{s.t:6.1f}s] live      URP {s.urp:2d} ({by})  brokers {s.brokers}  reassigning {s.reassigning:2d}  "
                f"load {mb} MB/s")

    # ---- the run -------------------------------------------------------------------------------

    def run(self) -> dict:
        self.timed("build_s", self.build)
        self.t0 = time.monotonic()
        stack = self.start()
        try:
            return self._run(stack)
        finally:
            if self.load and self.load.alive():
                self.load.proc.stop(5)
            t = time.monotonic()
            stack.stop()
            self.timings["teardown_s"] = round(time.monotonic() - t, 1)
            if "timings" in self.report:
                self.report["timings"]["teardown_s"] = self.timings["teardown_s"]
                self.report["timings"]["wall_s"] = round(time.monotonic() - self.t0, 1)
                (self.out / "demo-report.json").write_text(json.dumps(self.report, indent=2, default=str))

    def _run(self, stack: Stack) -> dict:
        a = self.args
        assert stack.kafka is not None
        stack.kafka.create_topic(TOPIC, 12, 2)
        stack.wait_for(lambda s: len(s.topic(TOPIC)) == 12 and s.urp_total == 0, 60, "the topic in sync")
        self.note("info", f"topic {TOPIC}: 12 partitions, RF 2, on brokers 1 and 2")
        self.load = StressLoad(stack.kafka, stack.sup, binary=self.producer_bin, topic=TOPIC, records_per_s=a.rps,
                               producers=a.producers, state_dir=self.state)  # type: ignore[arg-type]
        load_started = time.monotonic()
        self.report["load"] = {"generator": "stress-producer", "records_per_s": a.rps, "record_bytes": 10240,
                               "producers": a.producers, "workers": 64, "partitioner": "batch", "acks": "all",
                               "compression": "lz4", "batch_bytes": 1048576, "linger_ms": 10, "max_catch_up_ms": 500,
                               "command": " ".join(self.load.argv)}
        self.note("load", f"stress-producer: {a.rps:g} records/s of 10 KB (~{a.rps * 10240 / 1e6:.1f} MB/s), acks=all, "
                          f"lz4, 64 workers over {a.producers} producer connections, batch partitioner")

        deadline = self.t0 + a.timeout
        status: str | None = None
        first_urp: float | None = None
        healed_at: float | None = None
        last_line = 0.0
        while time.monotonic() < deadline:
            if not self.load.alive():
                raise RuntimeError(f"the stress-producer stopped early ({self.load.why_dead()})")
            snap = self.sample()
            if snap.ok and snap.urp_total > 0 and first_urp is None:
                first_urp = time.monotonic()
                self.note("urp", f"first under-replicated partitions: {snap.urp_total} "
                                 f"({time.monotonic() - load_started:.0f}s of load)")
            self.watch_alarms()
            self.watch_inbox()
            if status is None:
                status = self.watch_execution()
                if status is not None:
                    self.note("done", f"execution {status}")
                    self.timings["execution_end_s"] = self.now()
            if status is not None and snap.ok:
                # Healed means URP 0 in the brokers' own metadata, held under the same load.
                if snap.urp_total == 0:
                    healed_at = healed_at or time.monotonic()
                    if time.monotonic() - healed_at >= a.hold:
                        self.note("urp", f"URP 0 for {a.hold:.0f}s under the same load")
                        break
                else:
                    healed_at = None
                if status != "SUCCEEDED" and time.monotonic() - self.t0 > self.timings["execution_end_s"] + 5:
                    break
            if time.monotonic() - last_line >= a.live_every:
                self.say(self.status_line())
                last_line = time.monotonic()
            time.sleep(1)
        else:
            self.note("info", f"time limit ({a.timeout:.0f}s) reached")
        load_s = time.monotonic() - load_started
        if self.before_teardown is not None:
            self.timed("checks_s", lambda: self.before_teardown(stack))  # type: ignore[misc]
        self.note("load", "stopping the load (Ctrl-C); the stress-producer waits for every record in flight")
        ledger = self.timed("load_stop_s", self.load.stop)
        self.report["load"]["summary"] = self.load.final_line()
        self.note("load", f"{ledger['acked']} records acknowledged ({ledger['failed']} failed) in {load_s:.0f}s; "
                          f"ledger {self.load.ledger_path.name}: {len(ledger['partitions'])} partitions")
        self.note("load", f"stress-producer: {self.load.final_line()}")
        final = self.timed("final_metadata_s", lambda: stack.wait_for(lambda s: True, 10))
        self.note("verify", "reading every partition back and comparing with the producer's ledger")
        rb = self.timed("read_back_s", lambda: verify(stack.kafka, TOPIC, self.load.ledger_path, REPO_ROOT / ".cache"))
        self.note("verify", f"{rb.read} records read back, {rb.acked} acknowledged: "
                            f"{'every partition matches (count and checksum)' if rb.ok else 'MISMATCH ' + '; '.join(rb.mismatches())}")
        self.watch_inbox()
        return self.finish(status, final, rb, ledger, first_urp, load_started)

    def finish(self, status: str | None, final: Snapshot, rb: ReadBack, ledger: dict, first_urp: float | None,
               load_started: float) -> dict:
        reps = final.replicas_by_broker(TOPIC)
        all_reps: dict[int, int] = {b.id: 0 for b in final.brokers} | final.replicas_by_broker()
        before = [s for s in self.samples if s.brokers <= 2]
        out = None
        if self.execution_arn:
            d = self.sfn.describe_execution(executionArn=self.execution_arn)
            out = json.loads(d.get("output") or "null")
        steps = {name: {"first_entered_s": st["entered"], "seconds": round(st["seconds"], 1), "times": st["count"]}
                 for name, st in ((n, self._steps[n]) for n in self._order)}
        alarm_t = next((e.t for e in self.events if e.kind == "alarm" and e.text.endswith("ALARM")), None)
        exec_end = self.timings.get("execution_end_s")
        heal_t = next((e.t for e in self.events if e.kind == "urp" and e.text.startswith("URP 0")), None)
        self.report.update({
            "execution_status": status or "NOT_STARTED",
            "execution_arn": self.execution_arn,
            "brokers_before": 2,
            "brokers_after": len(final.brokers),
            "urp_before": max((s.urp for s in before), default=0),
            "urp_peak": max((s.urp for s in self.samples), default=0),
            "urp_after": final.urp_total,
            "messages_acked": ledger["acked"],
            "messages_failed": ledger["failed"],
            "messages_unresolved": ledger.get("in_flight_unresolved", 0),
            "messages_read_back": rb.read,
            "nothing_lost": rb.ok,
            "per_partition": {str(p): v for p, v in rb.partitions.items()},
            "replica_spread": (max(all_reps.values()) - min(all_reps.values())) if all_reps else None,
            "replicas_per_broker": {str(b): n for b, n in sorted(all_reps.items())},
            "replicas_per_broker_topic": {str(b): n for b, n in sorted(reps.items())},
            "leaders_per_broker_topic": {str(b): n for b, n in sorted(final.leaders_by_broker(TOPIC).items())},
            "timings": {
                **self.timings,
                "first_urp_after_load_s": round(first_urp - load_started, 1) if first_urp else None,
                "alarm_at_s": alarm_t,
                "execution_end_at_s": exec_end,
                "urp_zero_held_at_s": heal_t,
                "time_to_heal_s": round(heal_t - alarm_t, 1) if (heal_t and alarm_t) else None,
                "steps": steps,
                "wall_s": round(time.monotonic() - self.t0, 1),
            },
            "execution_output": {k: (out or {}).get(k) for k in ("scale", "plan", "reassignment", "healed", "error",
                                                                  "cleanup")} if out else None,
            "samples": [s.__dict__ for s in self.samples],
            "events": [e.__dict__ for e in self.events],
        })
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "demo-chart.svg").write_text(render_svg(self.samples, self.events))
        self.report["chart"] = str(self.out / "demo-chart.svg")
        (self.out / "demo-report.json").write_text(json.dumps(self.report, indent=2, default=str))
        return self.report


def ok(report: dict) -> bool:
    return (report.get("execution_status") == "SUCCEEDED" and report.get("urp_after") == 0
            and report.get("nothing_lost") is True and (report.get("replica_spread") or 0) <= 1
            and report.get("brokers_after") == 4)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m local.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["auto", "approval"], default="auto",
                   help="approval: the workflow waits for an approve link (printed) before it scales")
    p.add_argument("--rps", type=float, default=215, help="records/s of 10 KB (default 215: 1.1x what 2 brokers replicate)")
    p.add_argument("--producers", type=int, default=4,
                   help="stress-producer instances = connections per broker (URP needs several; at most 64)")
    p.add_argument("--limit", type=float, default=1_000_000, help="replication bytes/s into each broker")
    p.add_argument("--throttle", type=int, default=20 * 1024 * 1024, help="reassignment throttle, bytes/s")
    p.add_argument("--max-moves-per-broker", type=int, default=2, help="stage size (MAX_MOVES_PER_BROKER)")
    p.add_argument("--approval-minutes", type=float, default=10)
    p.add_argument("--hold", type=float, default=20, help="seconds URP must stay 0 after the execution")
    p.add_argument("--timeout", type=float, default=540, help="give up after this many seconds (stack start included)")
    p.add_argument("--live-every", type=float, default=5, help="seconds between live status lines")
    p.add_argument("--out", default=str(REPO_ROOT), help="where demo-report.json and demo-chart.svg go")
    p.add_argument("--state-dir", default=str(REPO_ROOT / ".cache" / "demo"))
    a = p.parse_args(argv)
    for name in ("rps", "limit", "hold", "timeout", "live_every", "approval_minutes"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    if a.producers < 1 or a.max_moves_per_broker < 1 or a.throttle < 1:
        p.error("--producers, --max-moves-per-broker and --throttle must be at least 1")
    if a.producers > 64:
        p.error("--producers must be at most 64 (the stress-producer's 64 workers, one instance each at most)")
    if a.mode == "approval":
        a.timeout += a.approval_minutes * 60
    return a


def main(argv: list[str] | None = None) -> int:
    from local.logs import setup
    from local.procs import install_signal_handlers

    args = parse_args(argv)
    setup(level=logging.WARNING)
    install_signal_handlers()
    for tool in ("java", "javac", "cargo"):
        if shutil.which(tool) is None:
            print(f"local.demo: {tool} not found (run `make setup`)", file=sys.stderr)
            return 2
    demo = Demo(args, say=lambda s: print(s, flush=True))
    try:
        report = demo.run()
    except KeyboardInterrupt:
        print("\nlocal.demo: interrupted; everything it started has been stopped", file=sys.stderr)
        return 130
    print()
    print(text_report(report))
    return 0 if ok(report) else 1


if __name__ == "__main__":
    sys.exit(main())
