"""Fixtures for the adapter tests: an isolated KITARU_HOME and an agent flow file per test."""

from __future__ import annotations

import importlib
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pydantic_ai  # noqa: F401 - the dev group installs kitaru[pydantic-ai]: without it, fail
import pytest

from tests.cli.cli_helpers import Flows

AGENT_FLOWS = '''
import time
from pathlib import Path

from pydantic_ai import Agent
from pydantic_ai.messages import ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from pydantic_ai.models.function import FunctionModel

from kitaru import flow
from kitaru.adapters.pydantic_ai import KitaruDurability

HERE = Path(__file__).parent


def _count(name: str) -> None:
    with open(HERE / f"ran-{name}.txt", "a") as f:
        f.write("x")


def _returns(messages):
    return [p for m in messages for p in m.parts if isinstance(p, ToolReturnPart)]


def plan(messages, info):
    """Turn 1: the weather; turn 2: book; turn 3: answer with what the tools returned."""
    _count("model")
    returns = _returns(messages)
    if not returns:
        return ModelResponse(parts=[ToolCallPart("get_weather", {"city": "Paris"})])
    if len(returns) == 1:
        return ModelResponse(parts=[ToolCallPart("book", {"city": "Paris"})])
    return ModelResponse(parts=[TextPart(" / ".join(str(r.content) for r in returns))])


trip_agent = Agent(FunctionModel(plan), name="trip", capabilities=[KitaruDurability()])


@trip_agent.tool_plain
def get_weather(city: str) -> str:
    _count("get_weather")
    return f"sunny in {city}"


@trip_agent.tool_plain
def book(city: str) -> str:
    _count("book")
    if (HERE / "SLOW").exists():
        (HERE / "in-book").write_text("yes")
        time.sleep(60)
    return f"booked {city}"


@flow
def trip(question: str) -> str:
    return trip_agent.run_sync(question).output


def support_model(messages, info):
    returns = _returns(messages)
    if not returns:
        return ModelResponse(parts=[ToolCallPart("refund", {"order": "A1", "amount": 50})])
    return ModelResponse(parts=[TextPart(f"done: {returns[-1].content}")])


support_agent = Agent(FunctionModel(support_model), name="support",
                      capabilities=[KitaruDurability()])


@support_agent.tool_plain(requires_approval=True)
def refund(order: str, amount: float) -> str:
    """Refund an order."""
    _count("refund")
    return f"refunded {amount} on {order}"


@flow
def support(question: str) -> str:
    return support_agent.run_sync(question).output
'''


@pytest.fixture(autouse=True)
def kitaru_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from kitaru.store import reset_default_store

    home = tmp_path / "home"
    monkeypatch.setenv("KITARU_HOME", str(home))
    reset_default_store()
    path = list(sys.path)
    yield home
    reset_default_store()
    sys.path[:] = path


@pytest.fixture
def agent_flows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Flows:
    """The agent flow file under a unique module name, imported."""
    name = f"agent_flows_{uuid.uuid4().hex[:8]}"
    path = tmp_path / f"{name}.py"
    path.write_text(AGENT_FLOWS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    return Flows(path, importlib.import_module(name))
