"""``kitaru --help`` stays cheap: it imports no client, pydantic, rich, jsonschema or fsspec."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.cli.cli_helpers import Invoke, kitaru

HEAVY = ("pydantic", "rich", "jsonschema", "fsspec", "jinja2", "starlette", "fastapi", "uvicorn")
#: packages of kitaru itself that help must not load (the dashboard: a server or `kitaru ui` does)
HEAVY_KITARU = ("kitaru.client", "kitaru.server.dashboard")


def imported_modules(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Modules imported by ``python -X importtime -m kitaru.cli.main ARGS``."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "kitaru.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    modules = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name != "imported package":
                modules.add(name)
    return modules, proc


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["run", "--help"],
        ["executions", "--help"],
        ["executions", "show", "--help"],
        ["ui", "--help"],
        ["server", "--help"],
    ],
)
def test_help_loads_no_heavy_modules(args: list[str]) -> None:
    modules, proc = imported_modules(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Usage:" in proc.stdout
    assert "click" in modules  # the parse worked: importtime lines were read
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY
                   or any(m == k or m.startswith(k + ".") for k in HEAVY_KITARU))  # fmt: skip
    assert heavy == [], f"`kitaru {' '.join(args)}` imported {heavy}"


def test_root_help_does_not_import_subcommand_modules() -> None:
    modules, proc = imported_modules("--help")
    assert proc.returncode == 0
    assert "kitaru.cli.executions" not in modules
    assert "kitaru.cli.run" not in modules
    assert "executions" in proc.stdout and "run" in proc.stdout


def test_python_dash_m_kitaru_cli_works() -> None:
    proc = kitaru("--help")
    assert proc.returncode == 0, proc.stderr
    assert "Usage: kitaru" in proc.stdout
    for command in ("run", "executions"):
        assert command in proc.stdout


def test_version(invoke: Invoke) -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("kitaru ")


def test_every_command_has_help_text(invoke: Invoke) -> None:
    result = invoke("executions", "--help")
    assert result.exit_code == 0
    for command in ("list", "show", "logs", "input", "resume", "retry", "replay", "cancel"):
        assert f"  {command} " in result.stdout
        sub = invoke("executions", command, "--help")
        assert sub.exit_code == 0, sub.output
        assert len(sub.stdout.splitlines()) > 4
