"""``kitaru component ...``: register, list, describe, delete, flavor-options.

``--option key=value`` is checked against the flavor's config class; ``kitaru component
flavor-options TYPE FLAVOR`` lists the keys a flavor accepts (``register --help`` can't: it
does not know the flavor yet).
"""

from __future__ import annotations

import json
import types
from typing import Any, Union, get_args, get_origin

import click

from kitaru.cli.completion import component_names
from kitaru.cli.output import output_option, yes_option
from kitaru.cli.stack import COMPONENT_TYPE, TYPES, command_name, config_text, render_rows


def _is_text(annotation: Any) -> bool:
    """True for ``str`` and ``str | None``: option values for these stay strings."""
    if annotation is str:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        return args == [str]
    return False


def parse_options(items: tuple[str, ...], config_class: Any) -> dict[str, Any]:
    """``key=value`` pairs; values of non-string fields are read as JSON when they parse."""
    from kitaru.errors import UsageError

    config: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageError(f"--option {item!r} is not key=value",
                             hint="e.g. --option path=/data/kitaru")  # fmt: skip
        if key in config:
            raise UsageError(f"--option {key} is given twice")
        field = config_class.model_fields.get(key)
        value: Any = raw
        if field is not None and not _is_text(field.annotation):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        config[key] = value
    return config


def type_text(annotation: Any) -> str:
    text = getattr(annotation, "__name__", None) if isinstance(annotation, type) else None
    return text or str(annotation).replace("typing.", "")


def flavor_fields(component_type: str, flavor_name: str) -> list[dict[str, Any]]:
    """The config keys of a flavor: name, type, required, default, secret, description."""
    from pydantic_core import PydanticUndefined

    from kitaru.stack.model import find_flavor, is_secret_field

    config_class = find_flavor(component_type, flavor_name).load_config_class()
    fields = []
    for name, field in config_class.model_fields.items():
        default = None if field.default is PydanticUndefined else field.default
        if field.default_factory is not None:
            default = field.default_factory()
        fields.append({
            "name": name, "type": type_text(field.annotation), "required": field.is_required(),
            "default": default, "secret": is_secret_field(name, field),
            "description": field.description or "",
        })  # fmt: skip
    return fields


@click.group()
def component() -> None:
    """Register, list, describe and delete stack components.

    A component is a flavor with its config, registered under a name so stacks can use it
    (kitaru stack register NAME -o ORCHESTRATOR -a ARTIFACT_STORE ...).
    """


@component.command()
@click.argument("component_type", metavar="TYPE", type=COMPONENT_TYPE)
@click.argument("name")
@click.option("--flavor", "-f", required=True, help="Flavor (see `kitaru flavor list`).")
@click.option(
    "--option",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A config value (repeatable); see `kitaru component flavor-options TYPE FLAVOR`. "
    "Non-string values are JSON. Write secrets as {{secret:name.key}}.",
)
@click.option("--replace", is_flag=True, help="Overwrite a component of the same name.")
@output_option
@click.pass_context
def register(
    ctx: click.Context,
    component_type: str,
    name: str,
    flavor: str,
    options: tuple[str, ...],
    replace: bool,
    output: str,
) -> None:
    """Register a component of TYPE named NAME.

    \b
    kitaru component register artifact_store data --flavor local --option path=/data
    kitaru component flavor-options artifact_store local    # the keys it accepts
    """
    from kitaru.cli import output as out
    from kitaru.errors import ConfigError
    from kitaru.stack import registry
    from kitaru.stack.model import find_flavor

    config_class = find_flavor(component_type, flavor).load_config_class()
    config = parse_options(options, config_class)
    try:
        info = registry.register_component(component_type, name, flavor, config,
                                           replace=replace)  # fmt: skip
    except ConfigError as exc:
        if "config key" in exc.message:
            exc.hint = (exc.hint + "; " if exc.hint else "") + (
                f"see `kitaru component flavor-options {component_type} {flavor}`"
            )
        raise
    if output == "json":
        out.print_json(command_name(ctx), [info.to_dict()])
    else:
        click.echo(f"registered {component_type} {name} (flavor {flavor})")


@component.command("flavor-options")
@click.argument("component_type", metavar="TYPE", type=COMPONENT_TYPE)
@click.argument("flavor")
@output_option
@click.pass_context
def flavor_options(ctx: click.Context, component_type: str, flavor: str, output: str) -> None:
    """List the config keys a flavor accepts (for --option KEY=VALUE)."""
    from kitaru.cli import output as out

    fields = flavor_fields(component_type, flavor)
    if output == "json":
        out.print_json(command_name(ctx), fields)
        return
    rows = [
        (f["name"], f["type"], "yes" if f["required"] else "no",
         "-" if f["required"] else json.dumps(f["default"], default=str),
         "yes" if f["secret"] else "", f["description"])
        for f in fields
    ]  # fmt: skip
    render_rows(("key", "type", "required", "default", "secret ref", "description"), rows,
                f"{component_type} flavor {flavor!r} takes no options")  # fmt: skip


@component.command("list")
@click.option("--type", "-t", "component_type", type=COMPONENT_TYPE, help="Only this type.")
@output_option
@click.pass_context
def list_(ctx: click.Context, component_type: str | None, output: str) -> None:
    """List components (the builtin `local` ones included)."""
    from kitaru.cli import output as out
    from kitaru.stack import registry

    infos = registry.list_components(component_type)
    if output == "json":
        out.print_json(command_name(ctx), [i.to_dict() for i in infos])
        return
    rows = [
        (i.type, i.name + (" (builtin)" if i.builtin else ""), i.flavor,
         ", ".join(i.used_by) or "-", config_text(i.config))
        for i in infos
    ]  # fmt: skip
    render_rows(("type", "name", "flavor", "used by", "config"), rows, "no components")


@component.command()
@click.argument("component_type", metavar="TYPE", type=COMPONENT_TYPE)
@click.argument("name", shell_complete=component_names)
@output_option
@click.pass_context
def describe(ctx: click.Context, component_type: str, name: str, output: str) -> None:
    """Show a component: flavor, config (secret references as written), stacks using it."""
    from kitaru.cli import output as out
    from kitaru.stack import registry

    info = registry.get_component(component_type, name)
    if output == "json":
        out.print_json(command_name(ctx), [info.to_dict()])
        return
    click.echo(f"{info.type} {info.name}" + (" (builtin)" if info.builtin else ""))
    click.echo(f"  flavor:  {info.flavor}")
    click.echo(f"  used by: {', '.join(info.used_by) or '-'}")
    rows = [(k, json.dumps(v) if not isinstance(v, str) else v) for k, v in info.config.items()]
    render_rows(("key", "value"), rows, "  no config")


@component.command()
@click.argument("component_type", metavar="TYPE", type=COMPONENT_TYPE)
@click.argument("name", shell_complete=component_names)
@yes_option
def delete(component_type: str, name: str, yes: bool) -> None:
    """Delete a component (refused while a stack uses it)."""
    from kitaru.cli.output import confirm
    from kitaru.stack import registry

    registry.delete_component(component_type, name, confirm=lambda: confirm(
        f"delete {component_type} {name!r}", yes))  # fmt: skip
    click.echo(f"deleted {component_type} {name}")


__all__ = ["TYPES", "component"]
