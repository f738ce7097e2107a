"""``kitaru secret ...``: set, get, list, delete secrets in the active stack's secret store.

Values are never printed (``****``) unless ``secret get --show`` asks for them, and never
logged. Stacks refer to them as ``{{secret:NAME.KEY}}``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from kitaru.cli.output import output_option, yes_option
from kitaru.cli.stack import command_name, render_rows

if TYPE_CHECKING:
    from kitaru.components.secret_store import SecretStore

MASK = "****"


def _stack_option(fn: Any) -> Any:
    return click.option(
        "--stack", "stack_name", metavar="NAME", help="Use this stack's secret store."
    )(fn)


def _secret_store(stack_name: str | None) -> SecretStore:
    from kitaru.stack.active import active_stack

    if stack_name:
        from kitaru.stack import registry
        from kitaru.stack.model import Stack

        return Stack(registry.get_stack(stack_name)).secret_store
    return active_stack().secret_store


@click.group()
def secret() -> None:
    """Manage secrets in the active stack's secret store.

    Stack and component configs refer to them as {{secret:NAME.KEY}}; the reference is
    stored, and resolved only when a component uses it.
    """


@secret.command("set")
@click.argument("name")
@click.argument("pairs", nargs=-1, required=True, metavar="KEY=VALUE...")
@_stack_option
def set_(name: str, pairs: tuple[str, ...], stack_name: str | None) -> None:
    """Create or replace secret NAME with the given keys.

    A bare KEY (no =) prompts for its value without echo, keeping it out of shell history.
    """
    from kitaru.errors import UsageError

    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not key:
            raise UsageError(f"{pair.split('=')[0]!r} is not KEY=VALUE",
                             hint=f"kitaru secret set {name} api_key=...")  # fmt: skip
        if not sep:
            value = click.prompt(f"{name}.{key}", hide_input=True, err=True)
        values[key] = value
    _secret_store(stack_name).set(name, values)
    keys = ", ".join(sorted(values))
    click.echo(f"secret {name} set ({keys}); refer to it as {{{{secret:{name}.KEY}}}}")


@secret.command()
@click.argument("name")
@click.option("--show", is_flag=True, help="Print the values instead of ****.")
@_stack_option
@output_option
@click.pass_context
def get(ctx: click.Context, name: str, show: bool, stack_name: str | None, output: str) -> None:
    """Show the keys of secret NAME (values masked unless --show)."""
    from kitaru.cli import output as out

    values = _secret_store(stack_name).get(name)
    shown = {k: (v if show else MASK) for k, v in sorted(values.items())}
    if output == "json":
        out.print_json(command_name(ctx), [{"name": name, "values": shown}])
        return
    render_rows(("key", "value"), list(shown.items()), f"secret {name} has no keys")


@secret.command("list")
@_stack_option
@output_option
@click.pass_context
def list_(ctx: click.Context, stack_name: str | None, output: str) -> None:
    """List secret names (never values)."""
    from kitaru.cli import output as out

    names = _secret_store(stack_name).list()
    if output == "json":
        out.print_json(command_name(ctx), [{"name": n} for n in names])
        return
    render_rows(("secret",), [(n,) for n in names], "no secrets")


@secret.command()
@click.argument("name")
@_stack_option
@yes_option
def delete(name: str, stack_name: str | None, yes: bool) -> None:
    """Delete secret NAME."""
    from kitaru.cli.output import confirm

    store = _secret_store(stack_name)
    store.get(name)  # NotFound first: nothing to confirm
    confirm(f"delete secret {name!r}", yes)
    store.delete(name)
    click.echo(f"deleted secret {name}")
