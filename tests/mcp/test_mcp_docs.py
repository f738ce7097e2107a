"""docs/mcp.md's tool table is the real tool list; nothing loads the SDK before it is used; a
server without ``kitaru[mcp]`` starts and says what to install at ``/mcp``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import REPO, subprocess_env

ROW = re.compile(r"^\| `(\w+)` \| (reads|writes) \| (both|stdio|server) \|", re.M)


def offered(where: str) -> dict[str, bool]:
    """Tool name -> writes, as the local (``kitaru mcp``) or server (``/mcp``) toolbox offers."""
    from kitaru.mcp.server import tools
    from kitaru.mcp.tools_access import ServerToolbox

    box: Any = ServerToolbox.__new__(ServerToolbox)  # only the tools' marks are read
    return {name: marks.writes for name, _, marks in tools(box, where=where)}


def test_the_docs_table_lists_every_tool_where_it_is_offered() -> None:
    rows = ROW.findall((REPO / "docs" / "mcp.md").read_text())
    assert len(rows) == len({name for name, _, _ in rows})
    local, server = offered("local"), offered("server")
    for name, kind, where in rows:
        assert (name in local, name in server) == {"both": (True, True), "stdio": (True, False),
                                                   "server": (False, True)}[where], name  # fmt: skip
        assert kind == ("writes" if {**local, **server}[name] else "reads"), name
    assert {name for name, _, _ in rows} == set(local) | set(server)


def test_read_only_keeps_exactly_the_reading_tools() -> None:
    from kitaru.mcp.server import Toolbox, tools

    box: Any = Toolbox.__new__(Toolbox)
    kept = {name for name, _, _ in tools(box, read_only=True)}
    assert kept == {name for name, writes in offered("local").items() if not writes}


#: modules of the optional extras (and Kitaru's modules that import them)
EXTRAS = ("mcp", "kitaru.mcp", "opentelemetry", "kitaru.runtime.otel", "pydantic_ai",
          "kitaru.adapters.pydantic_ai")  # fmt: skip
PROBE = f"""
import json, sys
from kitaru.cli.main import cli
try:
    cli.main(["--help"], prog_name="kitaru")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules
                        if m in {EXTRAS!r} or m.startswith(tuple(e + "." for e in {EXTRAS!r})))),
      file=sys.stderr)
"""


@pytest.mark.parametrize("otel", [None, "1"])
def test_kitaru_help_loads_no_module_of_an_optional_extra(otel: str | None) -> None:
    """``kitaru --help`` imports nothing of kitaru[mcp], kitaru[otel] or kitaru[pydantic-ai],
    with ``KITARU_OTEL=1`` too."""
    env = subprocess_env()
    env.pop("KITARU_OTEL", None)
    if otel is not None:
        env["KITARU_OTEL"] = otel
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env,
                         check=True)  # fmt: skip
    assert "mcp" in out.stdout  # the command is listed, from the table
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []


def test_a_server_without_the_extra_starts_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from fastapi.testclient import TestClient

    from kitaru.server.app import create_app
    from kitaru.store import default_store

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "mcp" else real(name, *a))  # fmt: skip
    app = create_app(default_store(), gate=None)
    with TestClient(app) as http:
        assert http.get("/health").status_code == 200
        r = http.post("/mcp", json={})
    assert r.status_code == 501
    assert r.json()["error"] == {
        "type": "ConfigError",
        "message": "this needs mcp, from kitaru's 'mcp' extra, which is not installed",
        "hint": "pip install 'kitaru[mcp]'",
    }


def test_kitaru_mcp_without_the_extra_says_what_to_install() -> None:
    blocked = (
        "import sys; sys.modules['mcp'] = None; from kitaru.cli.main import main; main(['mcp'])"
    )
    out = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True,
                         env=subprocess_env(), timeout=60)  # fmt: skip
    assert out.returncode == 1
    assert out.stderr.strip() == ("error: this needs mcp, from kitaru's 'mcp' extra, which is not "
                                  "installed\nhint: pip install 'kitaru[mcp]'")  # fmt: skip
