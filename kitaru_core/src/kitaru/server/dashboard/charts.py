"""Bar charts drawn as SVG on the server: cost and tokens per checkpoint, cost per day."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from kitaru.models import ExecutionInfo

ROW = 22
LABEL = 180
WIDTH = 720


@dataclass
class Row:
    label: str
    cost: float
    tokens: int


def per_checkpoint(info: ExecutionInfo) -> list[Row]:
    """Checkpoints that made LLM calls, with what those calls cost."""
    return [Row(c.call_id, c.usage.cost_usd, c.usage.tokens_in + c.usage.tokens_out)
            for c in info.checkpoints if c.usage is not None]  # fmt: skip


def bars(rows: list[Row], title: str) -> Markup:
    """Two bars per row (cost, tokens), each scaled to its own maximum."""
    if not rows:
        return Markup('<p class="muted">No LLM calls.</p>')
    top_cost = max(r.cost for r in rows) or 1.0
    top_tokens = max(r.tokens for r in rows) or 1
    half = (WIDTH - LABEL - 20) / 2
    height = 24 + len(rows) * ROW
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
           f'aria-label="{escape(title)}"><text x="{LABEL}" y="14" class="tick">cost (USD)</text>'
           f'<text x="{LABEL + half + 10}" y="14" class="tick">tokens (in + out)</text>']  # fmt: skip
    for i, r in enumerate(rows):
        y = 22 + i * ROW
        span = half - 80  # room for the value written after each bar
        cw, tw = span * r.cost / top_cost, span * r.tokens / top_tokens
        out.append(
            f'<g class="row" data-label="{escape(r.label)}"><text x="{LABEL - 6}" y="{y + 13}" '
            f'text-anchor="end" class="label-dark">{escape(r.label)}</text>'
            f'<rect x="{LABEL}" y="{y}" width="{max(cw, 1):.1f}" height="{ROW - 6}" '
            f'fill="#10b981"><title>${r.cost:.6f}</title></rect>'
            f'<text x="{LABEL + max(cw, 1) + 4:.1f}" y="{y + 13}" class="tick">${r.cost:.6f}</text>'
            f'<rect x="{LABEL + half + 10}" y="{y}" width="{max(tw, 1):.1f}" height="{ROW - 6}" '
            f'fill="#6366f1"><title>{r.tokens} tokens</title></rect>'
            f'<text x="{LABEL + half + 14 + max(tw, 1):.1f}" y="{y + 13}" class="tick">'
            f"{r.tokens}</text></g>"
        )  # fmt: skip
    out.append("</svg>")
    return Markup("".join(out))
