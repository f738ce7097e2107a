"""What a smoke run found, and how it is printed: one screen, the reason first if it failed."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ComponentLine:
    type: str
    flavor: str
    #: what stood in for it ("moto 5.2.5 at http://…"), or how it runs as it is
    stood_in: str


@dataclass
class SmokeReport:
    flow: str
    stack: str
    passed: bool = False
    #: the one-line reason it failed (None: it passed)
    reason: str | None = None
    #: required inputs not given, filled with a sample of their type
    inputs_generated: dict[str, Any] = field(default_factory=dict)
    execution_id: str | None = None
    status: str | None = None
    components: list[ComponentLine] = field(default_factory=list)
    #: how each referenced secret got its value in the stand-in (never the value)
    secrets: dict[str, str] = field(default_factory=dict)
    #: seconds: stand-ins, build + push (deploy), run (invoke to the end)
    timings: dict[str, float] = field(default_factory=dict)
    waits_answered: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    llm: str = ""
    limits: list[str] = field(default_factory=list)
    result: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def render(self) -> str:
        head = "passed" if self.passed else "FAILED"
        lines = [f"kitaru smoke {self.flow} on stack {self.stack!r}: {head}"]
        if self.reason:
            lines.append(f"  reason: {self.reason}")
        if self.inputs_generated:
            lines.append(
                "  inputs not given, sampled: "
                + ", ".join(f"{k}={json.dumps(v)}" for k, v in self.inputs_generated.items())
            )
        if self.execution_id:
            lines.append(f"  execution {self.execution_id}: {self.status}")
        width = max((len(c.type) for c in self.components), default=0)
        for c in self.components:
            lines.append(f"  {c.type:<{width}}  {c.flavor} → {c.stood_in}")
        if self.secrets:
            lines.append("  secrets: " + "; ".join(f"{k} = {v}" for k, v in self.secrets.items()))
        if self.timings:
            lines.append(
                "  times: " + " · ".join(f"{k} {v:.1f} s" for k, v in self.timings.items())
            )
        if self.waits_answered:
            lines.append("  waits answered: " + ", ".join(self.waits_answered))
        lines += [f"  unit: {u}" for u in self.units]
        if self.llm:
            lines.append(f"  LLM: {self.llm}")
        if self.limits:
            lines.append("  not stood in for:")
            lines += [f"    - {limit}" for limit in self.limits]
        if self.result is not None:
            lines.append(f"  result: {self.result}")
        return "\n".join(lines)
