"""The demo's outputs: the short text report and an SVG chart of URP and throughput over time with
the remediation steps marked. Plain SVG written here (no plotting dependency)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

# Events worth a vertical marker on the chart, and their colour.
_MARK = {"alarm": "#d62728", "detector": "#9467bd", "brokers": "#2ca02c", "done": "#1f77b4", "urp": "#7f7f7f",
         "step": "#ff7f0e"}
_STEP_MARKS = ("ScaleBrokers", "CaptureAssignment", "PlanReassignment", "ExecuteReassignment", "ConfirmHealed",
               "NotifySuccess", "NotifyFailure", "WaitForApproval")


def _marks(events: Sequence[Any]) -> list[tuple[float, str, str]]:
    out: list[tuple[float, str, str]] = []
    for e in events:
        kind, text, t = e.kind, e.text, e.t
        if kind == "step":
            name = text.split(":")[0].split(" ")[0]
            # One mark per step: when it was entered (for stages: when the stage started).
            if name not in _STEP_MARKS or (name == "ExecuteReassignment") != (":" in text):
                continue
            label = text.split(":")[1].strip().split(" started")[0] if name == "ExecuteReassignment" else name
            out.append((t, label, _MARK["step"]))
        elif kind == "alarm" and text.endswith("ALARM"):
            out.append((t, "alarm", _MARK["alarm"]))
        elif kind == "detector" and text.startswith("started"):
            out.append((t, "detector: " + text.split(" ")[0], _MARK["detector"]))
        elif kind == "brokers":
            out.append((t, text.split(" in ")[0], _MARK["brokers"]))
        elif kind == "done":
            out.append((t, text, _MARK["done"]))
    return out


def render_svg(samples: Sequence[Any], events: Sequence[Any], width: int = 1100, height: int = 520) -> str:
    left, right, top, bottom = 60, 60, 40, 200
    pw, ph = width - left - right, height - top - bottom
    t_max = max([s.t for s in samples] + [e.t for e in events] + [1.0])
    urp_max = max([s.urp for s in samples] + [1])
    mb_max = max([s.mb_per_s or 0.0 for s in samples] + [0.5])
    x = lambda t: left + pw * t / t_max  # noqa: E731
    yu = lambda v: top + ph - ph * v / (urp_max * 1.15)  # noqa: E731
    ym = lambda v: top + ph - ph * v / (mb_max * 1.15)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
           f'font-size="11"><rect width="100%" height="100%" fill="white"/>',
           f'<text x="{left}" y="20" font-size="14" font-weight="bold">msk-autoheal demo: under-replicated '
           f'partitions and producer throughput</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    # Axes: time below, URP left, MB/s right.
    step = max(10, int(t_max / 10 / 10 + 1) * 10)
    for t in range(0, int(t_max) + 1, step):
        out.append(f'<line x1="{x(t):.1f}" y1="{top + ph}" x2="{x(t):.1f}" y2="{top + ph + 4}" stroke="#999"/>'
                   f'<text x="{x(t):.1f}" y="{top + ph + 15}" text-anchor="middle">{t}s</text>')
    for v in range(0, urp_max + 1, max(1, urp_max // 5)):
        out.append(f'<text x="{left - 6}" y="{yu(v) + 4:.1f}" text-anchor="end" fill="#d62728">{v}</text>')
    for i in range(6):
        v = mb_max * i / 5
        out.append(f'<text x="{left + pw + 6}" y="{ym(v) + 4:.1f}" fill="#1f77b4">{v:.1f}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" fill="#d62728" transform="rotate(-90 14 {top + ph / 2})" '
               f'text-anchor="middle">URP (brokers\' metadata)</text>')
    out.append(f'<text x="{width - 12}" y="{top + ph / 2}" fill="#1f77b4" '
               f'transform="rotate(90 {width - 12} {top + ph / 2})" text-anchor="middle">producer MB/s (acked)</text>')
    # Broker count as a shaded band behind the curves.
    for i, s in enumerate(samples):
        if s.brokers > 2:
            t1 = samples[i + 1].t if i + 1 < len(samples) else s.t
            out.append(f'<rect x="{x(s.t):.1f}" y="{top}" width="{max(0.5, x(t1) - x(s.t)):.1f}" height="{ph}" '
                       f'fill="#2ca02c" fill-opacity="0.06"/>')
    if samples:
        pts = " ".join(f"{x(s.t):.1f},{ym(s.mb_per_s):.1f}" for s in samples if s.mb_per_s is not None)
        if pts:
            out.append(f'<polyline points="{pts}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>')
        # URP as a step line.
        path = []
        for i, s in enumerate(samples):
            path.append(f"{'M' if i == 0 else 'L'}{x(s.t):.1f},{yu(s.urp):.1f}")
            if i + 1 < len(samples):
                path.append(f"L{x(samples[i + 1].t):.1f},{yu(s.urp):.1f}")
        out.append(f'<path d="{" ".join(path)}" fill="none" stroke="#d62728" stroke-width="2"/>')
    # Markers with labels stacked under the plot so they never overlap the curves.
    for i, (t, label, colour) in enumerate(_marks(events)):
        xx = x(t)
        ly = top + ph + 30 + (i % 10) * 15
        out.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{ly - 9}" stroke="{colour}" '
                   f'stroke-dasharray="3,3" stroke-opacity="0.7"/>'
                   f'<text x="{xx + 2:.1f}" y="{ly}" fill="{colour}">{escape(label)} ({t:.0f}s)</text>')
    out.append(f'<text x="{left}" y="{height - 6}" fill="#555">red: under-replicated partitions; blue: acknowledged '
               f'MB/s; green band: 4 brokers; dashed: alarm, detector, workflow steps</text>')
    out.append("</svg>")
    return "\n".join(out)


def text_report(r: dict) -> str:
    t = r.get("timings", {})
    plan = r.get("plan") or {}
    lines = [
        "=" * 78,
        f"msk-autoheal demo ({r.get('mode')} mode): execution {r.get('execution_status')}",
        "=" * 78,
        f"brokers            {r.get('brokers_before')} -> {r.get('brokers_after')}",
        f"URP                peak {r.get('urp_before')} on 2 brokers ({r.get('urp_peak')} over the run), "
        f"after: {r.get('urp_after')} (brokers' own metadata, same load)",
        f"replicas/broker    {r.get('replicas_per_broker')}  spread {r.get('replica_spread')}",
        f"leaders/broker     {r.get('leaders_per_broker_topic')} (topic stress-test)",
    ]
    if plan:
        lines.append(f"plan               {plan.get('moves')} moves (lower bound {plan.get('lower_bound')}), "
                     f"{plan.get('stages')} stages, {(plan.get('bytes_moved') or 0) / 1e6:.0f} MB copied")
    load = r.get("load") or {}
    if load:
        lines.append(f"load               {load.get('generator', 'producer')}: {load.get('records_per_s'):g} records/s of "
                     f"{load.get('record_bytes', 0) // 1024} KB, acks={load.get('acks')}, {load.get('compression')}, "
                     f"{load.get('producers')} producer connections ({load.get('partitioner', '-')} partitioner)")
        if load.get("summary"):
            lines.append(f"                   {load['summary']}")
    lines += [
        f"messages           {r.get('messages_acked')} acknowledged, {r.get('messages_read_back')} read back: "
        + ("nothing lost (count and checksum equal in every partition)" if r.get("nothing_lost")
           else "MISMATCH, see per_partition in demo-report.json"),
        f"timings            first URP {t.get('first_urp_after_load_s')}s after the load started; alarm at "
        f"{t.get('alarm_at_s')}s; execution ended at {t.get('execution_end_at_s')}s; URP 0 held from "
        f"{t.get('urp_zero_held_at_s')}s; time to heal (alarm -> URP 0 held) {t.get('time_to_heal_s')}s",
        f"                   stack start {t.get('stack_start_s')}s, Lambdas {t.get('lambdas_start_s')}s, read-back "
        f"{t.get('read_back_s')}s, teardown {t.get('teardown_s')}s, wall {t.get('wall_s')}s "
        f"(+ build {t.get('build_s')}s)",
        "steps (first entered at / time inside / times entered):",
    ]
    for name, st in (t.get("steps") or {}).items():
        lines.append(f"  {name:<22} {st['first_entered_s']:7.1f}s {st['seconds']:7.1f}s  x{st['times']}")
    lines.append(f"chart: {r.get('chart')}   report: demo-report.json")
    return "\n".join(lines)
