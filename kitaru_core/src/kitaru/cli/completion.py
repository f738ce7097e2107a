"""``kitaru completion bash|zsh|fish``: the shell's completion script, and the completers that
offer execution ids, stack and component names (click's shell completion).

    eval "$(kitaru completion bash)"      # in ~/.bashrc (zsh: ~/.zshrc)
    kitaru completion fish > ~/.config/fish/completions/kitaru.fish
"""

from __future__ import annotations

from typing import Any

import click

SHELLS = ("bash", "zsh", "fish")


def _items(values: list[tuple[str, str]], incomplete: str) -> list[Any]:
    from click.shell_completion import CompletionItem

    return [CompletionItem(v, help=h) for v, h in values if v.startswith(incomplete)]


def execution_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """The 50 most recent executions' ids, with their flow and status."""
    try:
        from kitaru.client import KitaruClient

        infos = KitaruClient().executions.list(limit=50)
    except Exception:  # completion must never print an error into the shell
        return []
    return _items([(i.id, f"{i.flow} {i.status}") for i in infos], incomplete)


def stack_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    try:
        from kitaru.stack import registry

        specs = registry.list_stacks()
    except Exception:
        return []
    return _items([(s.name, "stack") for s in specs], incomplete)


def component_names(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Registered components of the type given before the name."""
    kind = ctx.params.get("component_type")
    try:
        from kitaru.stack import registry

        found = registry.list_components(kind) if kind else []
    except Exception:
        return []
    return _items([(c.name, c.flavor) for c in found], incomplete)


@click.command()
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    eval "$(kitaru completion bash)"      # add to ~/.bashrc (zsh: ~/.zshrc)
    kitaru completion fish > ~/.config/fish/completions/kitaru.fish
    """
    from click.shell_completion import get_completion_class

    from kitaru.cli.main import cli

    cls = get_completion_class(shell)
    assert cls is not None  # every choice has one
    click.echo(cls(cli, {}, "kitaru", "_KITARU_COMPLETE").source())
