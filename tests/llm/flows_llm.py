"""Flows that call ``kitaru.llm()`` (importable, so retries and replays can load them)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

import kitaru
from kitaru import checkpoint, flow


def fail_marker() -> Path:
    return Path(os.environ["KITARU_HOME"]) / "fail-draft"


@checkpoint
def research(topic: str) -> str:
    return kitaru.llm(prompt=f"Research: {topic}. Return a brief.", model="fast")


@checkpoint
def draft(brief: str) -> str:
    text = kitaru.llm(prompt=f"Write a draft from this brief:\n{brief}", model="fast")
    if fail_marker().exists():  # fail after the (paid) call: a retry must not call again
        raise RuntimeError("draft failed after its llm call")
    return text


@flow
def three_calls(topic: str) -> dict[str, str]:
    """research/llm and draft/llm inside checkpoints; two flow-level calls, one of which
    depends on the draft and one that does not."""
    brief = research(topic)
    text = draft(brief)
    tagline = kitaru.llm(prompt=f"A tagline about {topic}", model="fast")
    title = kitaru.llm(prompt=f"A title for:\n{text}", model="smart", name="title")
    return {"text": text, "tagline": tagline, "title": title}


@flow(max_cost_usd=0.00005)
def on_a_budget(topic: str) -> str:
    brief = research(topic)  # ~$0.00004
    return draft(brief)  # takes it to ~$0.00008


class Verdict(BaseModel):
    approved: bool
    reason: str


def get_weather(city: str, days: int = 1) -> str:
    """Forecast for a city."""
    return f"sunny in {city}"


@flow
def structured(topic: str) -> dict[str, object]:
    verdict = kitaru.llm(prompt=f"Is {topic} good?", model="fast", response_format=Verdict,
                         system="You judge ideas.")  # fmt: skip
    response = kitaru.llm(messages=[{"role": "user", "content": "Weather in Paris?"}],
                          model="fast", tools=[get_weather])  # fmt: skip
    call = response.tool_calls[0]
    return {"approved": verdict.approved, "tool": call.name, "args": call.arguments,
            "tokens_in": response.usage.tokens_in}  # fmt: skip


@checkpoint
def ask(question: str) -> str:
    return kitaru.llm(prompt=question, model="fast")


@flow
def parallel(n: int) -> list[str]:
    return ask.map([f"question {i}" for i in range(n)])
