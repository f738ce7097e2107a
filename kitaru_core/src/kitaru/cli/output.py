"""What the CLI prints: the ``-o json`` envelope and compact rich tables for people.

JSON output is always ``{"command": "<group> <command>", "items": [...]}`` where items are the
``to_dict()`` of :mod:`kitaru.models` objects (show commands: a one-element list). rich is
imported only when a table is actually rendered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click

from kitaru.answers import answer_command

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from kitaru.models import ExecutionInfo, LLMUsage, WaitInfo

FORMATS = ("table", "json")

STATUS_STYLE = {
    "queued": "dim blue",
    "pending": "blue",
    "running": "cyan",
    "waiting": "yellow",
    "completed": "green",
    "failed": "red",
    "cancelled": "dim",
    "crashed": "bold magenta",
}


def format_option(*flags: str) -> Any:
    """The output-format option under the given flags (stored as ``output``)."""
    return click.option(
        *flags,
        "output",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format; json prints {command, items}.",
    )


#: ``-o/--output [table|json]``
output_option = format_option("-o", "--output")


# -- JSON -------------------------------------------------------------------------------------
#: keys whose numbers are times (seconds since the epoch): JSON shows them as ISO-8601 UTC
TIME_KEYS = ("at", "t", "deadline", "expires", "last_used", "next_fire")


def iso_times(value: Any) -> Any:
    """``value`` with every time (a key ending in ``_at`` or one of TIME_KEYS) as an ISO-8601
    UTC string, e.g. ``2026-12-06T10:11:28.123Z``."""
    if isinstance(value, Mapping):
        return {k: _iso(v) if _is_time(k, v) else iso_times(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [iso_times(v) for v in value]
    return value


def _is_time(key: Any, value: Any) -> bool:
    timed = isinstance(key, str) and (key.endswith("_at") or key in TIME_KEYS)
    return timed and isinstance(value, (int, float)) and not isinstance(value, bool)


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def envelope(command: str, items: Iterable[Mapping[str, Any]]) -> str:
    body = {"command": command, "items": iso_times(list(items))}
    return json.dumps(body, indent=2, default=str)


def print_json(command: str, items: Iterable[Mapping[str, Any]]) -> None:
    click.echo(envelope(command, items))


def result_text(value: Any) -> str:
    """A flow's result: JSON when it is JSON data, else its repr."""
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


# -- small formatters ---------------------------------------------------------------------------
def local_time(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def millis(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def usd(amount: float | None) -> str:
    if amount is None:
        return "-"
    return f"${amount:.6f}" if amount < 0.01 else f"${amount:.4f}"


def tokens(usage: LLMUsage | None) -> str:
    return "-" if usage is None else f"{usage.tokens_in}/{usage.tokens_out}"


def size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


def clip(text: str | None, width: int = 60) -> str:
    if text is None:
        return "-"
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- waits ------------------------------------------------------------------------------------
def waiting_lines(
    execution_id: str, name: str, question: str | None, schema: Mapping[str, Any] | None
) -> list[str]:
    """The two lines printed when an execution waits for input."""
    asked = f": {question}" if question else ""
    return [
        f"execution {execution_id} is waiting on {name!r}{asked}",
        f"answer with: {answer_command(execution_id, schema)}",
    ]


# -- rich tables ------------------------------------------------------------------------------
def console() -> Console:
    import os
    import sys

    from rich.console import Console

    # Piped output (logs, CI, `| less`) gets 120 columns rather than rich's 80: tables of calls
    # stay one line per row. COLUMNS still wins.
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 120
    return Console(highlight=False, soft_wrap=False, width=width)


def _table(title: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    return Table(
        title=title,
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
    )


def _status(status: str, *, resume_failed: bool = False) -> Any:
    from rich.text import Text

    text = Text(status, style=STATUS_STYLE.get(status, ""))
    if resume_failed:
        text.append(" (resume failed)", style="red")
    return text


def _t(value: Any) -> Any:
    """User data as literal text (never interpreted as rich markup)."""
    from rich.text import Text

    return Text("-" if value is None else str(value))


def render_executions(infos: list[ExecutionInfo]) -> None:
    out = console()
    if not infos:
        out.print("no executions", style="dim")
        return
    table = _table()
    for name in ("id", "flow", "status", "created", "duration"):
        table.add_column(name, no_wrap=True, justify="right" if name == "duration" else "left")
    for i in infos:
        table.add_row(
            _t(i.id),
            _t(i.flow),
            _status(i.status, resume_failed=i.resume_error is not None),
            _t(local_time(i.created_at)),
            _t(duration(i.duration)),
        )
    out.print(table)


def _pending_wait(info: ExecutionInfo) -> WaitInfo | None:
    return info.pending_wait if info.status == "waiting" else None


def render_execution(info: ExecutionInfo, *, tracebacks: bool = False) -> None:
    from rich.table import Table
    from rich.text import Text

    out = console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column()
    head.add_row("execution", Text(info.id, style="bold"))
    head.add_row("flow", _t(info.flow))
    head.add_row("status", _status(info.status, resume_failed=info.resume_error is not None))
    head.add_row("created", _t(local_time(info.created_at)))
    head.add_row("started", _t(local_time(info.started_at)))
    if info.ended_at is not None:
        head.add_row("ended", _t(local_time(info.ended_at)))
    head.add_row("duration", _t(duration(info.duration)))
    if info.replay_of:
        origin = info.replay_of + (f" (from {info.replay_from})" if info.replay_from else "")
        head.add_row("replay of", _t(origin))
    if info.source_file:
        head.add_row("source", _t(info.source_file))
    if info.error:
        err = info.error
        text = f"{err.get('type', 'Error')}: {err.get('message', '')}"
        if err.get("origin"):
            text += f"  (origin: {err['origin']})"
        head.add_row("error", Text(_squash(text), style="red"))
    if info.crash_reason:
        head.add_row("crashed", Text(_squash(info.crash_reason), style="red"))
    if info.resume_error is not None:
        failed = info.resume_error
        head.add_row(
            "resume failed",
            Text(f"{local_time(failed.at)}: {_squash(failed.message)}", style="red"),
        )
        head.add_row("fix", _t(failed.hint))  # fmt: skip
    if info.result_preview is not None:
        head.add_row("result", _t(clip(info.result_preview, 100)))
    if info.usage is not None:
        u = info.usage
        cached = f", {u.cached} reused" if u.cached else ""
        head.add_row("llm", _t(f"{u.calls} calls{cached}, {u.tokens_in} tokens in / "
                               f"{u.tokens_out} out, {usd(u.cost_usd)}"))  # fmt: skip
    wait = _pending_wait(info)
    if wait is not None:
        asked = f": {wait.question}" if wait.question else ""
        head.add_row("waiting on", Text(f"{wait.call_id!r}{asked}", style="yellow"))
        head.add_row("answer with", _t(answer_command(info.id, wait.schema)))
    out.print(head)
    traceback = (info.error or {}).get("traceback")
    if traceback and not tracebacks:
        out.print()
        out.print(Text("traceback of the failure (your code)", style="bold"))
        out.print(Text(traceback.rstrip(), style="red"), soft_wrap=True)  # paths stay whole
    _render_sections(out, info)
    if tracebacks:
        for attempt in info.attempts:
            out.print()
            out.print(Text(f"{attempt.call_id}, attempt {attempt.attempt}", style="bold"))
            out.print(
                Text((attempt.traceback or attempt.error).rstrip(), style="red"), soft_wrap=True
            )
        if traceback:
            out.print()
            out.print(Text("the execution's failure", style="bold"))
            out.print(Text(traceback.rstrip(), style="red"), soft_wrap=True)  # paths stay whole


def _render_sections(out: Console, info: ExecutionInfo) -> None:
    """The tables under the header, each preceded by a blank line; empty ones are left out."""
    if info.checkpoints:
        llm = info.usage is not None
        t = _table("checkpoints")
        columns: tuple[str, ...] = ("call id", "status", "duration ms", "attempts")
        columns += ("tokens in/out", "cost") if llm else ()
        for name in (*columns, "preview"):
            t.add_column(name, no_wrap=name != "preview",
                         justify="left" if name in ("call id", "status") else "right")  # fmt: skip
        t.columns[-1].justify = "left"
        for c in info.checkpoints:
            cells = [_t(c.call_id), _status(c.status), _t(millis(c.duration)), _t(c.attempts)]
            if llm:
                cells += [_t(tokens(c.usage)), _t(usd(c.usage.cost_usd) if c.usage else "-")]
            t.add_row(*cells, _t(clip(c.preview, 50)))
        out.print()
        out.print(t)
    if info.llm_calls:
        t = _table("llm calls")
        credentials = any(c.metadata.get("credential") for c in info.llm_calls)
        for name in ("call id", "model", "status", "tokens in/out", "ms", "cost"):
            t.add_column(name, no_wrap=True, justify="right" if name in ("ms", "cost") else "left")
        if credentials:
            t.add_column("credential", no_wrap=True)
        for c in info.llm_calls:
            m = c.metadata
            model = m.get("resolved_model") or "-"
            if m.get("alias"):
                model = f"{m['alias']} → {model}"
            status = "reused" if m.get("cached_from") else c.status
            cells = [_t(c.call_id), _t(model), _status(status), _t(tokens(c.usage)),
                     _t(millis(m.get("latency_s"))), _t(usd(m.get("cost_usd")))]  # fmt: skip
            if credentials:
                cells.append(_t(m.get("credential")))
            t.add_row(*cells)
        out.print()
        out.print(t)
    if info.waits:
        t = _table("waits")
        for name in ("name", "status", "question", "input"):
            t.add_column(name)
        for w in info.waits:
            status = "timed out" if w.timed_out else w.status
            t.add_row(
                _t(w.call_id),
                _status(status),
                _t(clip(w.question, 50)),
                _t(clip(w.value_preview, 40)),
            )
        out.print()
        out.print(t)
    if info.attempts:
        t = _table("failed attempts")
        for name in ("call id", "attempt", "duration ms", "error"):
            t.add_column(name)
        for attempt in info.attempts:
            t.add_row(
                _t(attempt.call_id),
                _t(attempt.attempt),
                _t(millis(attempt.ended_at - attempt.started_at)),
                _t(clip(attempt.error, 80)),
            )
        out.print()
        out.print(t)
    if info.metadata:
        t = _table("metadata")
        t.add_column("key", no_wrap=True)
        t.add_column("value")
        for key, value in info.metadata.items():
            t.add_row(_t(key), _t(clip(result_text(value), 80)))
        out.print()
        out.print(t)
    if info.artifacts:
        t = _table("artifacts")
        for name in ("name", "call id", "kind", "version", "type", "size", "preview"):
            t.add_column(name, no_wrap=name != "preview")
        for a in info.artifacts:
            t.add_row(
                _t(a.name),
                _t(a.call_id),
                _t(a.kind),
                _t(a.version),
                _t(a.type_name or a.serializer),  # a builtin value has no type name
                _t(size(a.size)),
                _t(clip(a.preview, 40)),
            )
        out.print()
        out.print(t)


def log_line(record: Mapping[str, Any]) -> str:
    """One captured log record as ``HH:MM:SS.mmm [call] line``."""
    ts = record.get("t")
    stamp = "--:--:--.---"
    if isinstance(ts, (int, float)):
        stamp = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
    where = record.get("call") or "flow"
    stream = record.get("stream")
    tag = "" if stream in (None, "stdout") else f" {stream}"
    return f"{stamp} [{where}]{tag} {record.get('line', '')}"


def _squash(text: str) -> str:
    """Whitespace (newlines included) collapsed to single spaces."""
    return " ".join(str(text).split())


# -- confirmation -----------------------------------------------------------------------------
#: ``--yes/-y`` on destructive commands
yes_option = click.option("--yes", "-y", "yes", is_flag=True,
                          help="Do it without asking (required when not in a terminal).")  # fmt: skip


def interactive() -> bool:
    """A person at a terminal can answer a question."""
    import sys

    return sys.stdin.isatty()


def confirm(action: str, yes: bool) -> None:
    """Ask before ``action`` (e.g. ``delete stack 'prod'``) unless ``yes``; without a terminal
    to ask in, refuse: a script must say ``--yes``."""
    from kitaru.errors import UsageError

    if yes:
        return
    if not interactive():
        raise UsageError(f"refusing to {action} without --yes (no terminal to ask in)",
                         hint="pass --yes to confirm")  # fmt: skip
    if not click.confirm(f"{action[0].upper()}{action[1:]}?", default=False, err=True):
        raise click.exceptions.Exit(1)
