"""Commands from the kitaru_cli_commands hook become `kitaru <name>`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.plugins.distributions import write_distribution

SOURCE = """\
import click
from kitaru.plugins import hookimpl


@click.command("hello")
@click.argument("name")
def hello(name):
    \"\"\"Say hello (from a plugin).\"\"\"
    click.echo(f"hello {name} from a plugin")


@hookimpl
def kitaru_cli_commands():
    return [hello]
"""


def test_plugin_command_runs(tmp_path: Path) -> None:
    dist = write_distribution(tmp_path / "site", "kitaru-hello", "kitaru_hello", SOURCE)
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", "hello", "ada"], env=dist.env(),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello ada from a plugin"
    unknown = subprocess.run([sys.executable, "-m", "kitaru.cli", "nope"], env=dist.env(),
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert unknown.returncode == 2 and "No such command" in unknown.stderr
