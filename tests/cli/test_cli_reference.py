"""docs/cli.md is the reference generated from the commands; every KITARU_* variable the code
reads, every hook and every command is documented somewhere in docs/."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"


def test_cli_reference_is_current() -> None:
    from click.testing import CliRunner

    from kitaru.cli.main import cli
    from kitaru.cli.reference import render

    # commands already run in this process (click caches their help option) render the same
    CliRunner().invoke(cli, ["executions", "show", "--help"])

    assert (DOCS / "cli.md").read_text() == render(), (
        "docs/cli.md is stale: python -m kitaru.cli.reference > docs/cli.md"
    )


def all_docs() -> str:
    return "\n".join(p.read_text() for p in sorted(DOCS.rglob("*.md")))


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    sources = [*REPO.glob("kitaru_core/src/kitaru/**/*.py"), *REPO.glob("plugins/*/src/**/*.py")]
    read = set()
    for path in sources:
        read |= set(re.findall(r"\b(KITARU_[A-Z0-9_]+)\b", path.read_text()))
    documented = set(re.findall(r"\b(KITARU_[A-Z0-9_]+)\b", all_docs()))
    assert sorted(read - documented) == []


def test_every_hook_is_documented() -> None:
    from kitaru.plugins import hookspecs

    hooks = [name for name in dir(hookspecs) if name.startswith("kitaru_")]
    docs = all_docs()
    assert hooks and [h for h in hooks if h not in docs] == []


def test_every_command_is_in_the_reference() -> None:
    from kitaru.cli.main import COMMANDS

    reference = (DOCS / "cli.md").read_text()
    assert [c for c in COMMANDS if f"## kitaru {c}\n" not in reference] == []


def test_every_list_show_and_describe_command_takes_output_json() -> None:
    import click

    from kitaru.cli.main import COMMANDS, cli

    ctx = click.Context(cli, info_name="kitaru")
    missing = []
    for name in COMMANDS:
        group = cli.get_command(ctx, name)
        if not isinstance(group, click.Group):
            continue
        for sub in group.list_commands(ctx):
            command = group.get_command(ctx, sub)
            if sub in ("list", "show", "describe", "logs", "history", "templates"):
                assert command is not None
                if not any(p.name == "output" for p in command.params):
                    missing.append(f"{name} {sub}")
    assert missing == []
