"""``kitaru stack ...``: register, list, describe, use, update, delete, export, verify.

Implementations are imported inside each command, so ``kitaru stack --help`` costs only click.
Note that in ``register`` and ``update`` ``-o`` names the orchestrator; their output format
option is ``--output`` only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from kitaru.cli.completion import stack_names
from kitaru.cli.output import format_option, output_option, yes_option

if TYPE_CHECKING:
    from kitaru.stack.model import StackSpec

#: the component types, spelled out here so ``--help`` imports nothing (see components.base)
TYPES = ("orchestrator", "artifact_store", "secret_store", "container_builder", "llm_gateway")

#: (type, short flag) of the options that name registered components
COMPONENT_FLAGS = (
    ("orchestrator", "-o"),
    ("artifact_store", "-a"),
    ("secret_store", "-s"),
    ("container_builder", "-c"),
    ("llm_gateway", "-l"),
)


class ComponentType(click.ParamType):
    """A component type; ``artifact-store`` and ``artifact_store`` both work."""

    name = "TYPE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        text = str(value).strip().replace("-", "_")
        if text not in TYPES:
            self.fail(f"{value!r} is not a component type ({', '.join(TYPES)})", param, ctx)
        return text

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "[" + "|".join(TYPES) + "]"


COMPONENT_TYPE = ComponentType()


def command_name(ctx: click.Context) -> str:
    """``stack list`` for the JSON envelope (the command path without the program)."""
    return " ".join(ctx.command_path.split()[1:])


#: ``--output [table|json]`` without ``-o`` (which names the orchestrator here)
long_output_option = format_option("--output")


def render_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], empty: str) -> None:
    """A compact rich table (user data is never read as markup)."""
    from kitaru.cli import output as out

    con = out.console()
    if not rows:
        con.print(empty, style="dim")
        return
    table = out._table()
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(out._t(v) for v in row))
    con.print(table)


def config_text(config: dict[str, Any]) -> str:
    """A config on one line, as stored (secret references stay references)."""
    import json

    return json.dumps(config, sort_keys=True) if config else "-"


def _component_options(fn: Any) -> Any:
    for kind, flag in reversed(COMPONENT_FLAGS):
        fn = click.option(
            flag,
            f"--{kind.replace('_', '-')}",
            kind,
            metavar="NAME",
            help=f"Registered {kind.replace('_', ' ')} to use.",
        )(fn)
    return fn


def _links(values: dict[str, str | None]) -> dict[str, str]:
    return {kind: name for kind, name in values.items() if name}


def _stack_item(spec: StackSpec, active: str | None) -> dict[str, Any]:
    from kitaru.stack import registry

    return {
        **spec.to_dict(),
        "active": spec.name == active,
        "builtin": spec.name == registry.BUILTIN and not registry.is_registered(spec.name),
    }


def _active_name() -> str | None:
    from kitaru.errors import ConfigError
    from kitaru.stack.active import active_stack_name

    try:
        return active_stack_name()
    except ConfigError:
        return None


def _show_stack(ctx: click.Context, spec: StackSpec, output: str, headline: str) -> None:
    from kitaru.cli import output as out

    item = _stack_item(spec, _active_name())
    if output == "json":
        out.print_json(command_name(ctx), [item])
        return
    click.echo(headline)
    _render_components(item)


def _render_components(item: dict[str, Any]) -> None:
    rows = [
        (kind, c["name"], c["flavor"], config_text(c["config"]))
        for kind, c in item["components"].items()
    ]
    render_rows(("type", "component", "flavor", "config"), rows, "no components")


@click.group()
def stack() -> None:
    """Register, inspect, switch and verify stacks.

    A stack names one component per type: orchestrator and artifact_store are required,
    secret_store (local) and llm_gateway (offline) default to the builtin ones,
    container_builder is optional. The builtin stack `local` always exists.
    """


@stack.command()
@click.argument("name", required=False)
@click.option(
    "--file",
    "-f",
    "file",
    type=click.Path(dir_okay=False),
    help="A stack file (YAML or JSON, e.g. from `kitaru stack export`); NAME overrides the "
    "name in the file.",
)
@click.option("--template", "-t", "template",
              help="A stack template a plugin offers (`kitaru stack templates`); NAME "
              "overrides its name, ${ENV} placeholders come from the environment.")  # fmt: skip
@_component_options
@click.option("--replace", is_flag=True, help="Overwrite a stack of the same name.")
@click.option("--use", "use_it", is_flag=True, help="Make it the active stack.")
@long_output_option
@click.pass_context
def register(
    ctx: click.Context,
    name: str | None,
    file: str | None,
    template: str | None,
    replace: bool,
    use_it: bool,
    output: str,
    **components: str | None,
) -> None:
    """Register a stack from a stack file, a plugin's template or registered components.

    \b
    kitaru stack register prod --file prod.yaml     # e.g. from `kitaru stack export`
    kitaru stack register vertex --template vertex  # see `kitaru stack templates`
    kitaru stack register dev -o local -a data -s local
    """
    from kitaru.errors import UsageError
    from kitaru.stack import registry

    links = _links(components)
    if sum(bool(x) for x in (file, template, links)) > 1:
        raise UsageError("give one of --file, --template or component options",
                         hint="put every component in the file")  # fmt: skip
    if file:
        from kitaru.stack.loader import load_stack_file

        spec = registry.register_stack(load_stack_file(file, name=name), replace=replace,
                                       source=file)  # fmt: skip
    elif template:
        from kitaru.stack.loader import load_stack_template

        spec = registry.register_stack(load_stack_template(template, name=name),
                                       replace=replace, source=f"template {template!r}")  # fmt: skip
    else:
        if not name:
            raise UsageError("a stack NAME is required",
                             hint="kitaru stack register NAME -o ORCHESTRATOR -a ARTIFACT_STORE")  # fmt: skip
        missing = [f"{flag}/--{k.replace('_', '-')}" for k, flag in COMPONENT_FLAGS[:2]
                   if k not in links]  # fmt: skip
        if missing:
            raise UsageError(f"missing {' and '.join(missing)}",
                             hint="or register from a file with --file FILE")  # fmt: skip
        spec = registry.register_stack_from(name, links, replace=replace)
    headline = f"registered stack {spec.name}"
    if use_it:
        registry.use_stack(spec.name)
        headline += " (now active)"
    _show_stack(ctx, spec, output, headline)


@stack.command()
@output_option
@click.pass_context
def templates(ctx: click.Context, output: str) -> None:
    """Stack templates the installed plugins offer (register one with --template)."""
    from kitaru.cli import output as out
    from kitaru.plugins.manager import plugin_manager

    items = []
    for name, text in sorted(plugin_manager().stack_templates().items()):
        description = _description(text)
        items.append({"template": name, "about": _first_sentence(description),
                      "description": description})  # fmt: skip
    if output == "json":
        out.print_json(command_name(ctx), items)
        return
    render_rows(("template", "about"), [(i["template"], i["about"]) for i in items],
                "no templates")  # fmt: skip


def _description(text: str) -> str:
    """A template's leading comment paragraph (after the schema line), on one line: it ends at
    the first line that is no comment, an empty or indented one, or its ``Needs:`` line."""
    said: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        words = line[1:].strip()
        if "$schema" in words:
            continue
        if not words or line[1:].startswith("  ") or words.startswith("Needs"):
            break
        said.append(words)
    return " ".join(said)


def _first_sentence(text: str) -> str:
    import re

    return re.split(r"(?<=[.!?])\s+(?=[A-Z])", text, maxsplit=1)[0]


@stack.command("list")
@output_option
@click.pass_context
def list_(ctx: click.Context, output: str) -> None:
    """List stacks; * marks the active one."""
    from kitaru.cli import output as out
    from kitaru.stack import registry

    active = _active_name()
    items = [_stack_item(spec, active) for spec in registry.list_stacks()]
    if output == "json":
        out.print_json(command_name(ctx), items)
        return
    kinds = [k for k in TYPES if any(k in item["components"] for item in items)]
    rows = [
        (
            "*" if item["active"] else "",
            item["name"] + (" (builtin)" if item["builtin"] else ""),
            *(_short(item["components"].get(k)) for k in kinds),
        )
        for item in items
    ]
    render_rows(("", "stack", *(SHORT.get(k, k) for k in kinds)), rows, "no stacks")


#: column titles of `stack list`
SHORT = {"artifact_store": "artifacts", "secret_store": "secrets",
         "container_builder": "builder", "llm_gateway": "llm"}  # fmt: skip


def _short(component: dict[str, Any] | None) -> str:
    """``name`` when it is also the flavor, else ``name (flavor)``."""
    if component is None:
        return "-"
    name, flavor = component["name"], component["flavor"]
    return name if name == flavor else f"{name} ({flavor})"


@stack.command()
@click.argument("name", required=False, shell_complete=stack_names)
@output_option
@click.pass_context
def describe(ctx: click.Context, name: str | None, output: str) -> None:
    """Show a stack's components and configs (default: the active stack).

    Secret references are shown as written ({{secret:name.key}}), never resolved.
    """
    from kitaru.cli import output as out
    from kitaru.stack import registry
    from kitaru.stack.active import resolve_active

    active, origin = resolve_active()
    spec = registry.get_stack(name or active)
    item = _stack_item(spec, active)
    if output == "json":
        out.print_json(command_name(ctx), [item])
        return
    state = f"active, set by {origin}" if item["active"] else "not active"
    kind = "builtin" if item["builtin"] else "registered"
    click.echo(f"stack {spec.name} ({kind}, {state})")
    _render_components(item)


@stack.command()
@click.argument("name", shell_complete=stack_names)
def use(name: str) -> None:
    """Make NAME the active stack (saved in KITARU_HOME/config.yaml).

    KITARU_STACK, [tool.kitaru] stack in pyproject.toml and kitaru.configure(stack=) still
    take precedence where they are set.
    """
    from kitaru.stack import registry
    from kitaru.stack.active import resolve_active

    registry.use_stack(name)
    click.echo(f"active stack: {name}")
    current, origin = resolve_active()
    if current != name:
        click.echo(f"note: {origin} selects {current!r}, which takes precedence here", err=True)


@stack.command()
@click.argument("name", shell_complete=stack_names)
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False),
              help="Replace the stack with the one in this YAML file.")  # fmt: skip
@_component_options
@click.option(
    "--remove",
    "remove",
    multiple=True,
    type=COMPONENT_TYPE,
    help="Drop an optional component (secret_store and llm_gateway revert to the builtin).",
)
@long_output_option
@click.pass_context
def update(
    ctx: click.Context,
    name: str,
    file: str | None,
    remove: tuple[str, ...],
    output: str,
    **components: str | None,
) -> None:
    """Change some components of a stack (or replace it from a file)."""
    from kitaru.errors import UsageError
    from kitaru.stack import registry

    links = _links(components)
    if file and (links or remove):
        raise UsageError("give --file or component options, not both")
    if file:
        from kitaru.stack.loader import load_stack_file

        registry.get_stack(name)
        spec = registry.register_stack(load_stack_file(file, name=name), replace=True,
                                       source=file)  # fmt: skip
    else:
        if not links and not remove:
            raise UsageError("nothing to update",
                             hint="pass component options (-o, -a, -s, -c, -l), --remove or --file")  # fmt: skip
        spec = registry.update_stack(name, links, remove)
    _show_stack(ctx, spec, output, f"updated stack {spec.name}")


@stack.command()
@click.argument("name", shell_complete=stack_names)
@yes_option
def delete(name: str, yes: bool) -> None:
    """Unregister a stack (not the active one). Components it registered inline are deleted
    with it unless another stack uses them."""
    from kitaru.cli.output import confirm
    from kitaru.stack import registry

    removed = registry.delete_stack(name, confirm=lambda: confirm(f"delete stack {name!r}", yes))
    click.echo(f"deleted stack {name}")
    for kind, component in removed:
        click.echo(f"deleted {kind} {component}")


@stack.command()
@click.argument("name", required=False, shell_complete=stack_names)
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="Format of the stack file (both are read back).")  # fmt: skip
def export(name: str | None, output: str) -> None:
    """Print a stack as YAML or JSON (default: the active one); `register --file` reads it."""
    from kitaru.stack import registry
    from kitaru.stack.active import active_stack_name
    from kitaru.stack.loader import dump_stack

    spec = registry.get_stack(name or active_stack_name())
    click.echo(dump_stack(spec, output), nl=False)


@stack.command()
@click.argument("name", required=False, shell_complete=stack_names)
@output_option
@click.pass_context
def verify(ctx: click.Context, name: str | None, output: str) -> None:
    """Check each component of a stack (credentials, connectivity); one line per component.

    Exits 1 if any component failed.
    """
    import sys

    from kitaru.cli import output as out
    from kitaru.errors import one_line
    from kitaru.stack.active import active_stack

    if name:
        from kitaru.stack import registry
        from kitaru.stack.model import Stack

        target = Stack(registry.get_stack(name))
    else:
        target = active_stack()
    results = target.verify()
    if output == "json":
        items = [
            {"type": r.type, "name": r.name, "flavor": target.spec.components[r.type].flavor,  # type: ignore[index]
             "ok": r.ok, "message": r.message}
            for r in results
        ]  # fmt: skip
        out.print_json(command_name(ctx), items)
    else:
        click.echo(f"stack {target.name}")
        for r in results:
            flavor = target.spec.components[r.type].flavor  # type: ignore[index]
            label = f"{r.type} {r.name} ({flavor})"
            click.echo(f"  {'ok  ' if r.ok else 'FAIL'}  {label}"
                       + ("" if r.ok else f": {one_line(r.message)}"))  # fmt: skip
    if not all(r.ok for r in results):
        sys.exit(1)
