"""Templates: one Jinja2 environment over the package's ``templates/`` folder, with filters for
times, durations, money and sizes. Autoescaping is on for every template."""

from __future__ import annotations

import datetime as dt
import functools
import json
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

HERE = Path(__file__).parent
STATIC = HERE / "static"


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def seconds(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def usd(value: float | None) -> str:
    return "-" if value is None else f"${value:.6f}" if value < 0.01 else f"${value:.4f}"


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return f"{n} B"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@functools.cache
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"]), trim_blocks=True,
                      lstrip_blocks=True)  # fmt: skip
    env.filters.update(when=when, seconds=seconds, usd=usd, size=size, pretty=pretty)
    return env


def html(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with ``context`` (templates read ``viewer`` and ``csrf`` from it)."""
    body = environment().get_template(template).render(**context)
    return HTMLResponse(body, status_code=status)
