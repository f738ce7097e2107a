"""An execution's timeline (Gantt), drawn as SVG on the server.

Checkpoint calls, waits and LLM calls are bars on a time axis. Calls that overlap in time (a
``.map()`` or ``.submit()`` fan-out) get lanes of their own, packed greedily so a sequential
flow is one lane; an LLM call is a thin bar inside its checkpoint's lane; failed attempts of a
retried call are red marks on its bar. Every bar has a ``<title>`` (the browser's tooltip).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from markupsafe import Markup, escape

from kitaru.models import CallInfo, ExecutionInfo

WIDTH = 960
LABEL = 0  # bars carry their own labels
LANE = 28
AXIS = 22
COLORS = {"completed": "#3b82f6", "failed": "#dc2626", "pending": "#f59e0b",
          "running": "#22c55e", "cancelled": "#9ca3af"}  # fmt: skip
KIND_COLORS = {"wait": "#f59e0b", "llm": "#a855f7"}


@dataclass
class Bar:
    call: CallInfo
    start: float
    end: float
    lane: int = 0


def _span(c: CallInfo, now: float) -> tuple[float, float] | None:
    if c.started_at is None:
        return None
    end = c.ended_at if c.ended_at is not None else now
    return c.started_at, max(end, c.started_at)


def lanes(info: ExecutionInfo, now: float | None = None) -> list[Bar]:
    """Checkpoints and waits in lanes (overlapping calls side by side), in start order."""
    now = now or time.time()
    bars = []
    for c in info.calls:
        if c.kind in ("checkpoint", "wait") and (span := _span(c, now)) is not None:
            bars.append(Bar(c, *span))
    bars.sort(key=lambda b: (b.start, b.call.seq))
    ends: list[float] = []
    for bar in bars:
        free = [i for i, end in enumerate(ends) if end <= bar.start + 1e-6]
        bar.lane = free[0] if free else len(ends)
        if free:
            ends[bar.lane] = bar.end
        else:
            ends.append(bar.end)
    return bars


def _rect(x: float, y: float, w: float, h: float, color: str, title: str, cls: str) -> str:
    return (f'<g class="{cls}"><rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 2):.1f}" '
            f'height="{h}" rx="3" fill="{color}"/><title>{escape(title)}</title></g>')  # fmt: skip


def svg(info: ExecutionInfo, now: float | None = None) -> Markup:
    """The timeline of ``info`` as an inline ``<svg>`` element."""
    now = now or time.time()
    bars = lanes(info, now)
    if not bars:
        return Markup('<p class="muted">No calls yet.</p>')
    t0 = min(b.start for b in bars)
    t1 = max([b.end for b in bars] + [t0 + 1e-3])
    scale = (WIDTH - 10) / (t1 - t0)
    n_lanes = max(b.lane for b in bars) + 1
    height = AXIS + n_lanes * LANE + 6
    by_lane = {b.call.call_id: b.lane for b in bars}
    parts = [f'<svg class="timeline" viewBox="0 0 {WIDTH} {height}" width="100%" '
             f'role="img" aria-label="timeline of {len(bars)} calls in {n_lanes} lanes" '
             f'data-lanes="{n_lanes}">']  # fmt: skip
    for i in range(6):  # the axis: seconds since the first call started
        x = 5 + i * (WIDTH - 10) / 5
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"  # the ends stay inside
        label = tick((t1 - t0) * i / 5, t1 - t0)
        parts.append(f'<line x1="{x:.1f}" y1="{AXIS - 4}" x2="{x:.1f}" y2="{height}" '
                     f'class="grid"/><text x="{x:.1f}" y="12" class="tick" '
                     f'text-anchor="{anchor}">{label}</text>')  # fmt: skip
    for b in bars:
        x, y = 5 + (b.start - t0) * scale, AXIS + b.lane * LANE
        w = (b.end - b.start) * scale
        color = KIND_COLORS.get(b.call.kind) or COLORS.get(b.call.status, "#6b7280")
        usage = b.call.usage
        extra = (
            f", ${usage.cost_usd:.6f}, {usage.tokens_in + usage.tokens_out} tokens" if usage else ""
        )
        title = (f"{b.call.kind} {b.call.call_id}: {b.call.status}, {b.end - b.start:.3f}s, "
                 f"{b.call.attempts} attempt(s){extra}")  # fmt: skip
        parts.append(_rect(x, y, w, LANE - 8, color, title, f"bar {b.call.kind} {b.call.status}"))
        label = escape(b.call.call_id)
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}" class="label">{label}</text>')
    for a in info.attempts:  # failed attempts of retried calls
        lane = by_lane.get(a.call_id)
        if lane is None or not a.error:
            continue
        x = 5 + (a.started_at - t0) * scale
        w = (a.ended_at - a.started_at) * scale
        parts.append(_rect(x, AXIS + lane * LANE + LANE - 12, w, 4, "#dc2626",
                           f"attempt {a.attempt} of {a.call_id} failed: {a.error}", "attempt"))  # fmt: skip
    for c in info.llm_calls:  # thin bars in their checkpoint's lane
        span = _span(c, now)
        lane = by_lane.get(str(c.metadata.get("parent") or ""))
        if span is None or lane is None:
            continue
        x, w = 5 + (span[0] - t0) * scale, (span[1] - span[0]) * scale
        meta = c.metadata
        parts.append(_rect(x, AXIS + lane * LANE + LANE - 10, w, 3, KIND_COLORS["llm"],
                           f"llm {c.call_id}: {meta.get('model')}, {span[1] - span[0]:.3f}s, "
                           f"${float(meta.get('cost_usd') or 0):.6f}", "bar llm"))  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))


def tick(seconds: float, span: float) -> str:
    """An axis label: milliseconds on a timeline shorter than a second (every label of a fast
    run would read 0.00s), seconds otherwise."""
    return f"{seconds * 1000:.1f} ms" if span < 1 else f"{seconds:.2f}s"
