"""``kitaru deploy``, ``kitaru invoke`` and ``kitaru deployments list/show/tag/curl``."""

from __future__ import annotations

import json
from typing import Any

import click

from kitaru.cli.output import output_option


def _inputs(value: str | None) -> dict[str, Any]:
    from kitaru.errors import UsageError

    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise UsageError(
            f"--input is not valid JSON: {exc}", hint='e.g. --input \'{"topic": "x"}\''
        ) from None
    if not isinstance(data, dict):
        raise UsageError("--input must be a JSON object of the flow's parameters")
    return data


@click.command()
@click.argument("target", metavar="FILE.py:FLOW")
@click.option("--stack", metavar="NAME", help="The stack its executions run on (default: active).")
@click.option(
    "--tag", default="default", show_default=True, help="Tag to point at the new version."
)
def deploy(target: str, stack: str | None, tag: str) -> None:
    """Record a new immutable version of a flow (and move TAG to it)."""
    from kitaru.cli.run import resolve_flow
    from kitaru.deployments import deploy as do_deploy

    d = do_deploy(
        resolve_flow(target), stack=stack, tag=tag, progress=click.echo, steps=build_steps()
    )
    click.echo(
        f"deployed {d.flow} v{d.version} on stack {d.stack!r} (tags: {', '.join(d.tags) or '-'})"
    )


def build_steps() -> Any:
    """Where the builder's own lines go (each build step, each pushed layer): dimmed on
    stderr in a terminal; nowhere otherwise (logs of scripts stay short)."""
    import sys

    if not sys.stderr.isatty():
        return None
    return lambda line: click.secho(f"  {line}", err=True, dim=True)


@click.command()
@click.argument("target", metavar="FILE.py:FLOW")
@click.option("--stack", metavar="NAME", help="Build for this stack (default: the active one).")
def build(target: str, stack: str | None) -> None:
    """Build and push the image FLOW's executions run in (a no-op for stacks that need none).

    The image is tagged with the hash of the project, so an unchanged project is not rebuilt.
    """
    from kitaru.build import build as do_build
    from kitaru.cli.run import resolve_flow

    image = do_build(resolve_flow(target), stack=stack, progress=click.echo, steps=build_steps())
    if image:
        click.echo(image)


@click.command()
@click.argument("flow")
@click.option(
    "--input", "input_json", metavar="JSON", help="The flow's parameters as a JSON object."
)
@click.option("--tag", help="Which version, by tag (default: default).")
@click.option("--version", type=click.IntRange(min=1), help="Which version, by number.")
@click.option("--wait", "wait_result", is_flag=True, help="Wait for the result and print it.")
def invoke(flow: str, input_json: str | None, tag: str | None, version: int | None,
           wait_result: bool) -> None:  # fmt: skip
    """Run a deployed flow; prints the execution id (and, with --wait, each wait it reaches
    with the command that answers it, then its result)."""
    from kitaru.cli.progress import follow
    from kitaru.deployments import invoke as do_invoke

    handle = do_invoke(flow, _inputs(input_json), tag=tag, version=version)
    click.echo(handle.id)
    if wait_result:
        follow(handle)


@click.group()
def deployments() -> None:
    """Deployed flows: versions, tags, invocation."""


@deployments.command("list")
@click.argument("flow", required=False)
@output_option
@click.pass_context
def list_(ctx: click.Context, flow: str | None, output: str) -> None:
    """Every version (of FLOW), with its tags."""
    import dataclasses

    from kitaru.cli import output as out
    from kitaru.client import KitaruClient

    found = KitaruClient().deployments.list(flow)
    if output == "json":
        out.print_json(
            ctx.command_path.removeprefix("kitaru "), [dataclasses.asdict(d) for d in found]
        )
        return
    if not found:
        click.echo("no deployments")
        return
    table = out._table()
    for name in ("flow", "version", "tags", "stack", "image", "created"):
        table.add_column(name, no_wrap=True)
    for d in found:
        table.add_row(out._t(d.flow), out._t(d.version), out._t(", ".join(d.tags) or "-"),
                      out._t(d.stack), out._t(d.image or "-"), out._t(out.local_time(d.created_at)))  # fmt: skip
    out.console().print(table)


@deployments.command()
@click.argument("flow")
@click.option("--tag", help="By tag (default: default).")
@click.option("--version", type=click.IntRange(min=1))
@output_option
@click.pass_context
def show(ctx: click.Context, flow: str, tag: str | None, version: int | None, output: str) -> None:
    """One version: code, stack, image, parameters, options."""
    import dataclasses

    from kitaru.cli import output as out
    from kitaru.cli.stack import command_name, render_rows
    from kitaru.client import KitaruClient

    d = KitaruClient().deployments.get(flow, tag=tag, version=version)
    fields = dataclasses.asdict(d)
    if output == "json":
        out.print_json(command_name(ctx), [fields])
        return
    rows = [(key, out.local_time(value) if key.endswith("_at") else
             value if isinstance(value, str) else json.dumps(value, default=str))
            for key, value in fields.items()]  # fmt: skip
    render_rows(("field", "value"), rows, "")


@deployments.command()
@click.argument("flow")
@click.argument("tag")
@click.argument("version", type=click.IntRange(min=1))
def tag(flow: str, tag: str, version: int) -> None:
    """Point TAG of FLOW at VERSION (moved from wherever it was)."""
    from kitaru.client import KitaruClient

    KitaruClient().deployments.tag(flow, tag, version)
    click.echo(f"{flow}: {tag} -> v{version}")


@deployments.command()
@click.argument("flow")
@click.option("--tag")
@click.option("--version", type=click.IntRange(min=1))
@click.option("--url", help="Server URL (default: the one you are logged in to).")
def curl(flow: str, tag: str | None, version: int | None, url: str | None) -> None:
    """Print a curl command that invokes FLOW through the server's REST API."""
    from kitaru.deployments import curl_command

    click.echo(curl_command(flow, tag=tag, version=version, url=url))
