"""``kitaru artifacts ...``: list, show and load the artifacts of an execution.

Artifacts are checkpoint outputs (by call id) and values stored with ``kitaru.save``. Nothing is
unpickled unless ``load --allow-pickle`` asks for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitaru.cli.completion import execution_ids
from kitaru.cli.output import output_option

if TYPE_CHECKING:
    from kitaru.client import KitaruClient
    from kitaru.models import ArtifactDetail


def _client() -> KitaruClient:
    from kitaru.client import KitaruClient

    return KitaruClient()


def _command_name(ctx: click.Context) -> str:
    return " ".join(ctx.command_path.split()[1:])


@click.group()
def artifacts() -> None:
    """List, show and load the artifacts of an execution.

    EXEC may be any unique prefix of an execution id; NAME is a checkpoint call id
    (research, research#2) or a name given to kitaru.save.
    """


@artifacts.command("list")
@click.argument("execution_id", metavar="EXEC", shell_complete=execution_ids)
@output_option
@click.pass_context
def list_(ctx: click.Context, execution_id: str, output: str) -> None:
    """List an execution's artifacts in call order."""
    from kitaru.cli import output as out

    items = _client().artifacts.list(execution_id)
    if output == "json":
        out.print_json(_command_name(ctx), [a.to_dict() for a in items])
        return
    con = out.console()
    if not items:
        con.print("no artifacts", style="dim")
        return
    table = out._table()
    for name in ("call id", "kind", "v", "type", "size", "stored", "preview"):
        table.add_column(
            name, no_wrap=name != "preview", justify="right" if name == "v" else "left"
        )
    for a in items:
        kind = a.type_name.rpartition(":")[2] if a.type_name else a.serializer
        if a.serializer not in (None, "str", "bytes", "json"):
            kind = f"{kind} ({a.serializer})"
        table.add_row(
            *(
                out._t(v)
                for v in (
                    a.call_id, a.kind, a.version, kind, out.size(a.size),
                    "inline" if a.inline else (a.sha256 or "")[:12], out.clip(a.preview, 30),
                )
            )
        )  # fmt: skip
    con.print(table)


@artifacts.command()
@click.argument("execution_id", metavar="EXEC", shell_complete=execution_ids)
@click.argument("name")
@output_option
@click.pass_context
def show(ctx: click.Context, execution_id: str, name: str, output: str) -> None:
    """Show one artifact's metadata and a longer preview (never unpickles).

    A large artifact shows its sha256 and where it is stored.
    """
    from kitaru.cli import output as out

    detail = _client().artifacts.show(execution_id, name)
    if output == "json":
        out.print_json(_command_name(ctx), [detail.to_dict()])
        return
    _render_detail(detail)


def _render_detail(d: ArtifactDetail) -> None:
    from rich.table import Table
    from rich.text import Text

    from kitaru.cli import output as out

    a = d.artifact
    con = out.console()
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold", no_wrap=True)
    head.add_column(overflow="fold")
    head.add_row("artifact", Text(a.call_id, style="bold"))
    rows: list[tuple[str, Any]] = [
        ("execution", a.execution_id),
        ("kind", a.kind),
        ("version", a.version),
        ("type", a.type_name or "-"),
        ("serializer", a.serializer),
        ("size", out.size(a.size)),
        ("stored", "inline" if a.inline else "artifact store"),
        ("created", out.local_time(d.created_at)),
    ]
    if a.sha256:
        rows.append(("sha256", a.sha256))
    if d.location:
        rows.append(("location", d.location))
    for key, value in rows:
        head.add_row(key, out._t(value))
    con.print(head)
    if d.preview is not None:
        con.print()
        con.print(Text("preview", style="bold"))
        con.print(Text(d.preview))


@artifacts.command()
@click.argument("execution_id", metavar="EXEC", shell_complete=execution_ids)
@click.argument("name")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the value to FILE (required for bytes).",
)
@click.option(
    "--allow-pickle",
    is_flag=True,
    help="Load a pickled value (runs code from the pickle; only for artifacts you trust).",
)
def load(execution_id: str, name: str, out_file: str | None, allow_pickle: bool) -> None:
    """Print an artifact's value: JSON data as JSON, strings as text.

    Bytes need --out FILE; pickled values are loaded only with --allow-pickle.
    """
    from pathlib import Path

    from kitaru.errors import KitaruError, UsageError, one_line

    client = _client()
    detail = client.artifacts.show(execution_id, name)
    a = detail.artifact
    ref = f"{a.execution_id} {a.call_id}"
    if a.serializer == "pickle" and not allow_pickle:
        raise UsageError(
            f"artifact {a.call_id!r} of execution {a.execution_id} is a pickle ({a.type_name})",
            hint=f"loading it runs code from the pickle; if you trust it: "
            f"kitaru artifacts load {ref} --allow-pickle",
        )
    if a.serializer == "bytes" and out_file is None:
        raise UsageError(
            f"artifact {a.call_id!r} of execution {a.execution_id} is {a.size} bytes of binary data",
            hint=f"write it to a file: kitaru artifacts load {ref} --out FILE",
        )
    try:
        value = client.artifacts.load(a.execution_id, a.call_id)
    except (KitaruError, AttributeError, ImportError) as exc:
        if a.serializer not in ("pydantic", "dataclass"):
            raise
        # its type cannot be imported here: the stored JSON is the value, minus the type
        why = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        click.echo(f"note: {a.type_name} cannot be loaded here ({one_line(why)}); "
                   "showing its JSON data", err=True)  # fmt: skip
        value = client.artifacts.data(a.execution_id, a.call_id)
    if isinstance(value, bytes):
        data = value
    elif isinstance(value, str):
        data = value.encode()
    else:
        data = (_as_json(value) + "\n").encode()
    if out_file is None:
        click.echo(data.decode(), nl=not data.endswith(b"\n"))
        return
    Path(out_file).write_bytes(data)
    click.echo(f"wrote {len(data)} bytes to {out_file}", err=True)


def _as_json(value: Any) -> str:
    """JSON when the value is (or converts to) JSON data, else its repr."""
    import dataclasses
    import json

    from kitaru.client import to_jsonable
    from kitaru.errors import UsageError

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    try:
        return json.dumps(to_jsonable(value), indent=2, ensure_ascii=False)
    except UsageError:
        return repr(value)
