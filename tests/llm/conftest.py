"""A stack whose offline gateway logs every provider call, so tests count real calls."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class Provider:
    """What the offline gateway of the test stack was really asked (one line per call)."""

    def __init__(self, log: Path) -> None:
        self.log = log

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def count(self) -> int:
        return len(self.calls())


@pytest.fixture
def register_llm_stack(
    kitaru_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Provider]:
    def register(name: str = "llmtest", **gateway: Any) -> Provider:
        from kitaru.stack.loader import parse_stack_text
        from kitaru.stack.registry import register_stack

        log = kitaru_home / f"{name}-provider-calls.jsonl"
        config = {"calls_log": str(log), **gateway}
        components = {
            "orchestrator": {"flavor": "local"},
            "artifact_store": {"flavor": "local"},
            "secret_store": {"flavor": "local"},
            "llm_gateway": {"flavor": "offline", "name": f"{name}-llm", "config": config},
        }
        text = json.dumps({"name": name, "components": components})
        spec = parse_stack_text(text, source="test")
        register_stack(spec)
        monkeypatch.setenv("KITARU_STACK", name)
        return Provider(log)

    return register


@pytest.fixture
def provider(register_llm_stack: Callable[..., Provider]) -> Provider:
    return register_llm_stack()
