"""Metrics and alarm bridge: what MSK, CloudWatch and EventBridge would do, done locally.

Every tick it
  1. publishes `AWS/Kafka` `UnderReplicatedPartitions` per broker (dimensions `Cluster Name`,
     `Broker ID`) from the brokers' own metadata (the metadata probe: a broker counts the partitions
     it leads whose ISR is smaller than the replica set), into moto's CloudWatch;
  2. evaluates every alarm stored in moto the way CloudWatch does: period buckets, the statistic,
     EvaluationPeriods, DatapointsToAlarm (M of N), the comparison and threshold, TreatMissingData,
     and metric math (arithmetic and SUM/MAX/MIN/AVG over [..] or METRICS()) with one ReturnData query;
  3. on a state change (its own, or SetAlarmState through the API, as CloudWatch does) sets the state
     in moto and delivers the EventBridge "CloudWatch Alarm State Change" event (exact AWS shape) to
     the configured Lambda targets, and runs the alarm's own actions: SNS topics get the classic alarm
     JSON, Lambda functions the alarm-action payload.
moto stores alarms but never evaluates them, and its SetAlarmState fires nothing.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from local.kafka.metadata import Snapshot

log = logging.getLogger(__name__)

NAMESPACE = "AWS/Kafka"
METRIC = "UnderReplicatedPartitions"

_OPS = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


def cw_time(ts: float) -> str:
    """CloudWatch's timestamp format in events: 2019-10-02T17:04:40.985+0000."""
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def _epoch(dt: datetime) -> float:
    """Seconds since the epoch of a moto timestamp (moto keeps naive UTC datetimes)."""
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


def _short(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%d/%m/%y %H:%M:%S")


def _stat(values: list[float], stat: str) -> float:
    values = [float(v) for v in values]
    s = stat.lower()
    if s == "maximum":
        return max(values)
    if s == "minimum":
        return min(values)
    if s == "sum":
        return sum(values)
    if s == "samplecount":
        return float(len(values))
    if s == "average":
        return sum(values) / len(values)
    raise ValueError(f"statistic {stat} is not supported by the local alarm evaluator")


# ---- metric math -------------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][-+]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\"[^\"]*\")|(.))")


class MathError(ValueError):
    pass


def eval_expression(expr: str, values: dict[str, float | None]) -> float | None:
    """Evaluate a CloudWatch metric-math expression for one period. `values`: id -> value (None when
    the metric has no datapoint then). Supports + - * /, parentheses, numbers, ids, and
    SUM/MAX/MIN/AVG/FILL over ids, [lists] and METRICS()/METRICS("prefix")."""
    toks = [m.group(0).strip() for m in _TOKEN.finditer(expr) if m.group(0).strip()]
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take(want: str | None = None) -> str:
        nonlocal pos
        if pos >= len(toks):
            raise MathError(f"unexpected end of expression {expr!r}")
        t = toks[pos]
        if want is not None and t != want:
            raise MathError(f"expected {want!r} at {t!r} in {expr!r}")
        pos += 1
        return t

    def series() -> list[float | None]:
        t = peek()
        if t == "[":
            take("[")
            items = [expr_()]
            while peek() == ",":
                take(",")
                items.append(expr_())
            take("]")
            return items
        if t is not None and t.upper() == "METRICS":
            take()
            take("(")
            prefix = ""
            if peek() != ")":
                prefix = take().strip('"')
            take(")")
            return [v for k, v in sorted(values.items()) if k.startswith(prefix)]
        return [expr_()]

    def call(name: str) -> float | None:
        take("(")
        if name == "FILL":
            args = series()
            take(",")
            fill = expr_()
            take(")")
            return args[0] if args and args[0] is not None else fill
        args = [v for v in series() if v is not None]
        take(")")
        if not args:
            return None
        if name == "SUM":
            return sum(args)
        if name == "MAX":
            return max(args)
        if name == "MIN":
            return min(args)
        if name == "AVG":
            return sum(args) / len(args)
        raise MathError(f"function {name} is not supported by the local alarm evaluator")

    def atom() -> float | None:
        t = take()
        if t == "(":
            v = expr_()
            take(")")
            return v
        if t == "-":
            v = atom()
            return None if v is None else -v
        if re.fullmatch(r"\d+\.?\d*(?:[eE][-+]?\d+)?", t):
            return float(t)
        if peek() == "(":
            return call(t.upper())
        if t in values:
            return values[t]
        raise MathError(f"unknown id {t!r} in {expr!r}")

    def term() -> float | None:
        v = atom()
        while peek() in ("*", "/"):
            op = take()
            w = atom()
            if v is None or w is None:
                v = None
            elif op == "*":
                v = v * w
            else:
                v = v / w if w != 0 else None
        return v

    def expr_() -> float | None:
        v = term()
        while peek() in ("+", "-"):
            op = take()
            w = term()
            v = None if v is None or w is None else (v + w if op == "+" else v - w)
        return v

    result = expr_()
    if pos != len(toks):
        raise MathError(f"unexpected {toks[pos]!r} in {expr!r}")
    return result


# ---- the bridge --------------------------------------------------------------------------------


class AlarmBridge:
    def __init__(
        self,
        *,
        cloudwatch: Callable[[], Any],
        metadata: Callable[[], Snapshot | None],
        cluster_name: str,
        region: str,
        account_id: str,
        tick_s: float,
        event_targets: list[str],
        event_states: list[str],
        invoke: Callable[[str, bytes], tuple[int, dict, bytes]],
        sns_publish: Callable[[str, str, str], None] | None,
        journal_path: Path,
    ) -> None:
        self.cloudwatch = cloudwatch
        self.metadata = metadata
        self.cluster_name = cluster_name
        self.region = region
        self.account_id = account_id
        self.tick_s = tick_s
        self.event_targets = list(event_targets)
        self.event_states = set(event_states)
        self.invoke = invoke
        self.sns_publish = sns_publish
        self.journal_path = journal_path
        self.events: deque[dict] = deque(maxlen=200)
        self.last_published: dict[str, int] = {}
        self._known: dict[str, str] = {}
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---- lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alarm-bridge", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.tick_s - (time.time() % self.tick_s)):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the bridge must keep running
                log.exception("alarm bridge tick failed")

    def tick(self, now: float | None = None) -> dict:
        """Publish the current metrics and evaluate every alarm (also called by POST /_local/tick)."""
        now = time.time() if now is None else now
        with self._lock:
            published = self.publish(now)
            states = self.evaluate_all(now)
        return {"published": published, "alarms": states}

    # ---- metrics

    def publish(self, now: float) -> dict[str, int]:
        snap = self.metadata()
        if snap is None or not snap.ok:
            return {}
        # naive UTC, as moto stores the timestamps of PutMetricData (aware ones break its queries)
        ts = datetime.fromtimestamp(now, timezone.utc).replace(tzinfo=None)
        data = [
            {
                "MetricName": METRIC,
                "Dimensions": [
                    {"Name": "Cluster Name", "Value": self.cluster_name},
                    {"Name": "Broker ID", "Value": str(broker)},
                ],
                "Timestamp": ts,
                "Value": float(urp),
                "Unit": "Count",
            }
            for broker, urp in snap.urp_by_broker().items()
        ]
        if data:
            self.cloudwatch().put_metric_data(NAMESPACE, data)
        self.last_published = {d["Dimensions"][1]["Value"]: int(d["Value"]) for d in data}
        return self.last_published

    def _datapoints(self, namespace: str, name: str, dims: dict[str, str], stat: str, period: int,
                    n: int, now: float) -> list[tuple[float, float | None, int]]:
        """(period start, statistic or None, sample count) for the last n periods, newest first;
        the newest is the period `now` falls in."""
        cw = self.cloudwatch()
        end = (math.floor(now / period) + 1) * period
        start = end - n * period
        buckets: dict[int, list[float]] = {}
        for d in list(cw.metric_data):
            if d.namespace != namespace or d.name != name or not hasattr(d, "value"):
                continue
            if {x.name: x.value for x in d.dimensions} != dims:
                continue
            t = _epoch(d.timestamp)
            if start <= t < end:
                buckets.setdefault(int((t - start) // period), []).append(d.value)
        out = []
        for i in reversed(range(n)):
            vals = buckets.get(i)
            out.append((start + i * period, _stat(vals, stat) if vals else None, len(vals or ())))
        return out

    # ---- alarms

    def _series(self, alarm: Any, n: int, now: float) -> tuple[list[tuple[float, float | None, int]], int, str | None]:
        if alarm.metric_data_queries:
            qs = alarm.metric_data_queries
            periods = [int(q.metric_stat.period) for q in qs if q.metric_stat is not None]
            period = int(alarm.period or (periods[0] if periods else 60))
            per_id: dict[str, list[tuple[float, float | None, int]]] = {}
            for q in qs:
                if q.metric_stat is not None:
                    m = q.metric_stat.metric
                    dims = {d.name: d.value for d in m.dimensions}
                    per_id[q.id] = self._datapoints(m.namespace, m.metric_name, dims, q.metric_stat.stat,
                                                    int(q.metric_stat.period), n, now)
            ret = [q for q in qs if str(q.return_data).lower() in ("true", "1")] or [qs[-1]]
            target = ret[0]
            out = []
            for i in range(n):
                vals = {k: v[i][1] for k, v in per_id.items()}
                t0 = next(iter(per_id.values()))[i][0] if per_id else 0.0
                if target.expression:
                    v = eval_expression(target.expression, vals)
                else:
                    v = vals.get(target.id)
                out.append((t0, None if v is None else float(v), 1 if v is not None else 0))
            return out, period, None
        dims = {d.name: d.value for d in alarm.dimensions}
        stat = alarm.statistic or "Average"
        return self._datapoints(alarm.namespace, alarm.metric_name, dims, stat, int(alarm.period), n, now), int(alarm.period), stat

    def evaluate(self, alarm: Any, now: float) -> tuple[str, str, str]:
        """(state, reason, reasonData) CloudWatch would set for `alarm` now."""
        n = int(alarm.evaluation_periods or 1)
        m = int(alarm.datapoints_to_alarm or n)
        points, period, stat = self._series(alarm, n, now)
        op, words = _OPS.get(alarm.comparison_operator, (None, None))
        if op is None:
            raise ValueError(f"comparison {alarm.comparison_operator} is not supported by the local alarm evaluator")
        threshold = float(alarm.threshold)
        treat = (alarm.treat_missing_data or "missing").lower()
        present = [(t, v, c) for t, v, c in points if v is not None]
        breaching = sum(1 for _, v, _ in present if op(v, threshold))
        missing = n - len(present)
        if treat == "breaching":
            breaching += missing
        evaluable = len(present) + (missing if treat in ("breaching", "notbreaching") else 0)
        reason_data = {
            "version": "1.0",
            "queryDate": cw_time(now),
            "startDate": cw_time(points[-1][0]),
            **({"statistic": stat} if stat else {}),
            "period": period,
            "recentDatapoints": [v for _, v, _ in reversed(present)],
            "threshold": threshold,
            "evaluatedDatapoints": [
                {"timestamp": cw_time(t), **({"sampleCount": float(c)} if stat else {}), "value": v}
                for t, v, c in present
            ],
        }
        if evaluable == 0:
            if treat == "ignore":
                return alarm.state_value, alarm.state_reason, alarm.state_reason_data
            return (
                "INSUFFICIENT_DATA",
                f"Insufficient Data: {n} datapoint{'s' if n != 1 else ''} {'were' if n != 1 else 'was'} unknown.",
                json.dumps(reason_data),
            )
        shown = ", ".join(f"{v} ({_short(t)})" for t, v, _ in present) or "no datapoints"
        state = "ALARM" if breaching >= m else "OK"
        old = alarm.state_value
        if state == "ALARM":
            reason = (f"Threshold Crossed: {breaching} out of the last {n} datapoints [{shown}] "
                      f"{'was' if breaching == 1 else 'were'} {words} the threshold ({threshold}) "
                      f"(minimum {m} datapoint{'s' if m != 1 else ''} for {old} -> ALARM transition).")
        else:
            reason = (f"Threshold Crossed: {n - breaching} out of the last {n} datapoints [{shown}] "
                      f"{'was' if n - breaching == 1 else 'were'} not {words} the threshold ({threshold}) "
                      f"(minimum 1 datapoint for {old} -> OK transition).")
        return state, reason, json.dumps(reason_data)

    def evaluate_all(self, now: float) -> dict[str, str]:
        cw = self.cloudwatch()
        states = {}
        for alarm in list(cw.alarms.values()):
            if getattr(alarm, "rule", None):  # composite alarms: not evaluated locally
                continue
            try:
                state, reason, data = self.evaluate(alarm, now)
            except (ValueError, ZeroDivisionError) as e:
                log.error("alarm %s cannot be evaluated locally: %s", alarm.name, e)
                continue
            if state != alarm.state_value:
                cw.set_alarm_state(alarm.name, reason, data, state)
            states[alarm.name] = alarm.state_value
        return states

    # ---- state changes -> events and actions

    def on_state_change(self, alarm: Any, previous: dict) -> None:
        """Called right after every state change in moto (ours or SetAlarmState). Builds the event and
        the action payloads from the alarm as it is now; delivers them on a thread, as CloudWatch
        delivers asynchronously."""
        new = alarm.state_value
        if previous["value"] == new:
            return
        event = self.event(alarm, previous)
        sends: list[Callable[[], dict]] = []
        if new in self.event_states:
            body = json.dumps(event).encode()
            for target in self.event_targets:
                sends.append(lambda t=target: self._deliver(t, body, "eventbridge"))
        if alarm.actions_enabled:
            actions = {"ALARM": alarm.alarm_actions, "OK": alarm.ok_actions,
                       "INSUFFICIENT_DATA": alarm.insufficient_data_actions}.get(new) or []
            for arn in actions:
                sends.append(self._action(alarm, previous, arn))
        rec = {"ts": time.time(), "alarm": alarm.name, "from": previous["value"], "to": new,
               "reason": alarm.state_reason, "event": event, "deliveries": []}
        with self._lock:
            self.events.append(rec)
        log.info("alarm %s: %s -> %s", alarm.name, previous["value"], new)

        def run() -> None:
            for send in sends:
                try:
                    rec["deliveries"].append(send())
                except Exception as e:  # noqa: BLE001 - recorded, like a failed delivery
                    rec["deliveries"].append({"status": None, "error": f"{type(e).__name__}: {e}"})
            rec["delivered"] = True
            try:
                with open(self.journal_path, "a") as f:
                    f.write(json.dumps(rec, default=str) + "\n")
            except OSError:
                pass

        threading.Thread(target=run, name="alarm-delivery", daemon=True).start()

    def _deliver(self, function: str, payload: bytes, via: str) -> dict:
        status, headers, body = self.invoke(function, payload)
        return {
            "via": via,
            "function": function,
            "status": status,
            "function_error": headers.get("X-Amz-Function-Error"),
            "response": body.decode("utf-8", "replace")[:4000],
        }

    def _metrics_config(self, alarm: Any) -> list[dict]:
        if alarm.metric_data_queries:
            out = []
            for q in alarm.metric_data_queries:
                item: dict[str, Any] = {"id": q.id}
                if q.expression:
                    item["expression"] = q.expression
                    if q.label:
                        item["label"] = q.label
                if q.metric_stat is not None:
                    m = q.metric_stat.metric
                    item["metricStat"] = {
                        "metric": {"namespace": m.namespace, "name": m.metric_name,
                                   "dimensions": {d.name: d.value for d in m.dimensions}},
                        "period": int(q.metric_stat.period),
                        "stat": q.metric_stat.stat,
                    }
                item["returnData"] = str(q.return_data).lower() in ("true", "1")
                out.append(item)
            return out
        return [{
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)),
            "metricStat": {
                "metric": {"dimensions": {d.name: d.value for d in alarm.dimensions},
                           "name": alarm.metric_name, "namespace": alarm.namespace},
                "period": int(alarm.period),
                "stat": alarm.statistic,
            },
            "returnData": True,
        }]

    def event(self, alarm: Any, previous: dict) -> dict:
        """The EventBridge event CloudWatch sends for this state change."""
        now = _epoch(alarm.state_updated_timestamp)
        config: dict[str, Any] = {"metrics": self._metrics_config(alarm)}
        if alarm.description:
            config = {"description": alarm.description} | config
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "CloudWatch Alarm State Change",
            "source": "aws.cloudwatch",
            "account": self.account_id,
            "time": datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [alarm.alarm_arn],
            "detail": {
                "alarmName": alarm.name,
                "state": {
                    "value": alarm.state_value,
                    "reason": alarm.state_reason,
                    "reasonData": alarm.state_reason_data,
                    "timestamp": cw_time(now),
                },
                "previousState": {
                    "value": previous["value"],
                    "reason": previous["reason"],
                    **({"reasonData": previous["reason_data"]} if previous.get("reason_data") not in (None, "{}") else {}),
                    "timestamp": cw_time(previous["timestamp"]),
                },
                "configuration": config,
            },
        }

    def _action(self, alarm: Any, previous: dict, arn: str) -> Callable[[], dict]:
        """The alarm action `arn` for this change, ready to run (payload built now)."""
        now = _epoch(alarm.state_updated_timestamp)
        if arn.startswith("arn:aws:sns:") and self.sns_publish is not None:
            trigger: dict[str, Any]
            if alarm.metric_data_queries:
                trigger = {"Metrics": [
                    {k[0].upper() + k[1:]: v for k, v in m.items()} for m in self._metrics_config(alarm)
                ]}
            else:
                trigger = {
                    "MetricName": alarm.metric_name, "Namespace": alarm.namespace, "StatisticType": "Statistic",
                    "Statistic": (alarm.statistic or "").upper(), "Unit": alarm.unit,
                    "Dimensions": [{"value": d.value, "name": d.name} for d in alarm.dimensions],
                    "Period": int(alarm.period),
                }
            trigger |= {
                "EvaluationPeriods": int(alarm.evaluation_periods), "DatapointsToAlarm": alarm.datapoints_to_alarm,
                "ComparisonOperator": alarm.comparison_operator, "Threshold": float(alarm.threshold),
                "TreatMissingData": alarm.treat_missing_data or "missing", "EvaluateLowSampleCountPercentile": "",
            }
            message = {
                "AlarmName": alarm.name, "AlarmDescription": alarm.description, "AWSAccountId": self.account_id,
                "AlarmConfigurationUpdatedTimestamp": cw_time(_epoch(alarm.configuration_updated_timestamp)),
                "NewStateValue": alarm.state_value, "NewStateReason": alarm.state_reason,
                "StateChangeTime": cw_time(now), "Region": "US East (N. Virginia)" if self.region == "us-east-1" else self.region,
                "AlarmArn": alarm.alarm_arn, "OldStateValue": previous["value"], "OKActions": alarm.ok_actions,
                "AlarmActions": alarm.alarm_actions, "InsufficientDataActions": alarm.insufficient_data_actions,
                "Trigger": trigger,
            }
            subject = f'{alarm.state_value}: "{alarm.name}" in {message["Region"]}'
            publish = self.sns_publish

            def sns() -> dict:
                publish(arn, json.dumps(message), subject[:100])
                return {"via": "sns", "topic": arn, "status": 200}

            return sns
        if arn.startswith("arn:aws:lambda:"):
            payload = {
                "source": "aws.cloudwatch",
                "alarmArn": alarm.alarm_arn,
                "accountId": self.account_id,
                "time": cw_time(now),
                "region": self.region,
                "alarmData": {
                    "alarmName": alarm.name,
                    "state": {"value": alarm.state_value, "reason": alarm.state_reason,
                              "reasonData": alarm.state_reason_data, "timestamp": cw_time(now)},
                    "previousState": {"value": previous["value"], "reason": previous["reason"],
                                      "timestamp": cw_time(previous["timestamp"])},
                    "configuration": {"description": alarm.description, "metrics": self._metrics_config(alarm)},
                },
            }
            body = json.dumps(payload).encode()
            return lambda: self._deliver(arn.split(":")[6], body, "alarm-action")
        return lambda: {"via": "unsupported", "action": arn, "status": None}


def install(bridge: AlarmBridge) -> None:
    """Hook moto's SetAlarmState so every state change (API or evaluator) reaches the bridge."""
    from moto.cloudwatch.models import CloudWatchBackend

    orig = getattr(CloudWatchBackend, "_local_orig_set_alarm_state", None) or CloudWatchBackend.set_alarm_state

    def set_alarm_state(self: Any, alarm_name: str, reason: str, reason_data: str, state_value: str) -> None:
        alarm = self.alarms.get(alarm_name)
        previous = None
        if alarm is not None:
            previous = {"value": alarm.state_value, "reason": alarm.state_reason,
                        "reason_data": alarm.state_reason_data,
                        "timestamp": _epoch(alarm.state_updated_timestamp)}
        orig(self, alarm_name, reason, reason_data, state_value)
        if alarm is not None and previous is not None:
            bridge.on_state_change(alarm, previous)

    CloudWatchBackend._local_orig_set_alarm_state = orig  # type: ignore[attr-defined]
    CloudWatchBackend.set_alarm_state = set_alarm_state
