"""Fixtures for CLI tests: an isolated KITARU_HOME per test, a flow file, an in-process runner."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.cli.cli_helpers import Flows

FLOWS_SOURCE = """
import kitaru
from pathlib import Path
from kitaru import checkpoint, flow

HERE = Path(__file__).parent


def _count(name: str) -> None:
    with open(HERE / f"ran-{name}.txt", "a") as f:
        f.write("x")


@checkpoint
def research(topic: str) -> str:
    _count("research")
    print(f"researching {topic}")
    return f"brief on {topic}"


@checkpoint
def draft(brief: str) -> str:
    _count("draft")
    if (HERE / "FAIL").exists():
        raise ValueError("draft failed")
    if (HERE / "SLOW").exists():
        (HERE / "in-draft").write_text("yes")
        import time
        time.sleep(60)
    return brief.upper()


@flow
def review(topic: str) -> str:
    return draft(research(topic))


@flow
def approval(topic: str) -> str:
    text = draft(research(topic))
    approved = kitaru.wait(name="approve_draft", question="Approve draft?", schema=bool)
    return text if approved else "Rejected"


@flow
def returns_object(n: int) -> object:
    return {1, 2, n}


not_a_flow = 42

if __name__ == "__main__":
    # Loading this file for `kitaru run` stops here; it must not start a second execution.
    print(review.run(topic="from the script").wait())
"""


@pytest.fixture(autouse=True)
def kitaru_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every CLI test gets its own store under tmp_path/home."""
    from kitaru.store import reset_default_store

    home = tmp_path / "home"
    monkeypatch.setenv("KITARU_HOME", str(home))
    monkeypatch.delenv("KITARU_DEBUG", raising=False)
    reset_default_store()
    main_module = sys.modules.get("__main__")
    path = list(sys.path)
    yield home
    reset_default_store()
    # `kitaru run` in-process loads the flow file as __main__; undo that for the next test.
    if main_module is not None:
        sys.modules["__main__"] = main_module
    sys.path[:] = path


@pytest.fixture
def flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flows:
    """Write the flow file into tmp_path under a unique module name and import it."""
    name = f"cli_flows_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(FLOWS_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    module = importlib.import_module(name)
    return Flows(path, module)


@pytest.fixture
def invoke() -> Callable[..., Result]:
    """Run the CLI in-process with click's CliRunner (stdout and stderr kept apart)."""
    from kitaru.cli.main import cli

    def run(*args: str, **kwargs: Any) -> Result:
        return CliRunner().invoke(cli, list(args), catch_exceptions=False, **kwargs)

    return run
