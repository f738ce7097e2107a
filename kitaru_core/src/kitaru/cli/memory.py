"""``kitaru memory ...``: scope list, get, set, list, history, delete.

Scope options mirror :mod:`kitaru.memory`: ``--scope namespace|flow|execution`` (inferred from
``--namespace``/``--flow``/``--execution`` when one is given; else the ``default`` namespace).
Every command imports the implementation inside its body.
"""

from __future__ import annotations

from typing import Any

import click

from kitaru.cli.output import output_option


def _command_name(ctx: click.Context) -> str:
    return " ".join(ctx.command_path.split()[1:])


def _scope_options(fn: Any) -> Any:
    for option in reversed(
        [
            click.option("--scope", help="namespace, flow or execution."),
            click.option("--namespace", help="A namespace name (scope namespace)."),
            click.option("--flow", help="A flow name (scope flow)."),
            click.option("--execution", help="An execution id or prefix (scope execution)."),
        ]
    ):
        fn = option(fn)
    return fn


def _where(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: kw[k] for k in ("scope", "namespace", "flow", "execution")}


def _label(kw: dict[str, Any]) -> str:
    for name in ("namespace", "flow", "execution"):
        if kw.get(name):
            return f"{name} {kw[name]}"
    return str(kw.get("scope") or "namespace default")


@click.group()
def memory() -> None:
    """Versioned key-value memory in namespace, flow and execution scopes."""


@memory.group()
def scope() -> None:
    """Inspect memory scopes."""


@scope.command("list")
@output_option
@click.pass_context
def scope_list(ctx: click.Context, output: str) -> None:
    """List the scopes that hold memory and how many live keys each has."""
    from kitaru import memory as mem
    from kitaru.cli import output as out

    rows = [{"scope": s, "name": n, "keys": c} for s, n, c in mem.scopes()]
    if output == "json":
        out.print_json(_command_name(ctx), rows)
        return
    if not rows:
        click.echo("no memory yet")
        return
    table = out._table()
    for col in ("SCOPE", "NAME", "KEYS"):
        table.add_column(col)
    for r in rows:
        table.add_row(out._t(r["scope"]), out._t(r["name"]), out._t(r["keys"]))
    out.console().print(table)


@memory.command("get")
@click.argument("key")
@_scope_options
@click.option("--version", "version", type=int, help="Read exactly this version.")
@output_option
@click.pass_context
def get_(ctx: click.Context, key: str, version: int | None, output: str, **kw: Any) -> None:
    """Print the latest value of KEY (or --version N) as JSON."""
    import json

    from kitaru import memory as mem
    from kitaru.cli import output as out
    from kitaru.errors import NotFound

    missing = object()
    value = mem.get(key, missing, version=version, **_where(kw))
    if value is missing:
        which = f"version {version} of " if version is not None else ""
        raise NotFound(f"no {which}memory key {key!r} in {_label(kw)}",
                       hint="list keys with `kitaru memory list`")  # fmt: skip
    if output == "json":
        out.print_json(_command_name(ctx), [{"key": key, "value": _jsonable(value)}])
    else:
        click.echo(json.dumps(_jsonable(value), indent=2, default=str))


def _jsonable(value: Any) -> Any:
    from kitaru.client import to_jsonable

    return to_jsonable(value)


@memory.command("set")
@click.argument("key")
@click.option("--value", "value_json", required=True, help="The value as JSON.")
@_scope_options
@click.option("--if-version", type=int, help="Write only if the latest version is N (0: new).")
@output_option
@click.pass_context
def set_(
    ctx: click.Context, key: str, value_json: str, if_version: int | None, output: str, **kw: Any
) -> None:
    """Write a new version of KEY."""
    from kitaru import memory as mem
    from kitaru.cli import output as out
    from kitaru.cli.params import parse_json

    value = parse_json("--value", value_json)
    version = mem.set(key, value, if_version=if_version, **_where(kw))
    if output == "json":
        out.print_json(_command_name(ctx), [{"key": key, "version": version}])
    else:
        click.echo(f"set {key!r} (version {version})")


@memory.command("list")
@_scope_options
@output_option
@click.pass_context
def list_(ctx: click.Context, output: str, **kw: Any) -> None:
    """List the live keys of a scope with their latest version."""
    from kitaru import memory as mem
    from kitaru.cli import output as out

    entries = mem.entries(**_where(kw))
    if output == "json":
        out.print_json(_command_name(ctx), [e.to_dict() for e in entries])
        return
    if not entries:
        click.echo(f"no keys in {_label(kw)}")
        return
    table = out._table()
    for col in ("KEY", "VERSION", "VALUE", "EXECUTION", "UPDATED"):
        table.add_column(col)
    for e in entries:
        table.add_row(out._t(e.key), out._t(e.version), out._t(e.preview),
                      out._t(e.execution_id), out._t(out.local_time(e.created_at)))  # fmt: skip
    out.console().print(table)


@memory.command()
@click.argument("key")
@_scope_options
@output_option
@click.pass_context
def history(ctx: click.Context, key: str, output: str, **kw: Any) -> None:
    """List every version of KEY, oldest first (deletes included)."""
    from kitaru import memory as mem
    from kitaru.cli import output as out
    from kitaru.errors import NotFound

    versions = mem.history(key, **_where(kw))
    if output == "json":
        out.print_json(_command_name(ctx), [v.to_dict() for v in versions])
        return
    if not versions:
        raise NotFound(f"no memory key {key!r} in {_label(kw)}")
    table = out._table()
    for col in ("VERSION", "VALUE", "EXECUTION", "CALL", "CREATED"):
        table.add_column(col)
    for v in versions:
        shown = "(deleted)" if v.deleted else v.preview
        table.add_row(out._t(v.version), out._t(shown), out._t(v.execution_id),
                      out._t(v.call_id), out._t(out.local_time(v.created_at)))  # fmt: skip
    out.console().print(table)


@memory.command()
@click.argument("key")
@_scope_options
@click.option("--if-version", type=int, help="Delete only if the latest version is N.")
@output_option
@click.pass_context
def delete(ctx: click.Context, key: str, if_version: int | None, output: str, **kw: Any) -> None:
    """Delete KEY (a tombstone version: it reads as missing but stays in history)."""
    from kitaru import memory as mem
    from kitaru.cli import output as out

    version = mem.delete(key, if_version=if_version, **_where(kw))
    if output == "json":
        out.print_json(_command_name(ctx), [{"key": key, "version": version, "deleted": True}])
    else:
        click.echo(f"deleted {key!r} (version {version})")
