"""Read models returned by :class:`~kitaru.client.KitaruClient` (and printed by the CLI)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Model:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class AttemptInfo(_Model):
    call_id: str
    attempt: int
    started_at: float
    ended_at: float
    error: str
    #: the user's traceback of that attempt (Kitaru's own frames left out)
    traceback: str | None = None


@dataclass
class LLMUsage(_Model):
    """LLM calls summed up: over a checkpoint's child calls or a whole execution. Calls reused
    from a replay's source are counted in ``cached`` and cost nothing here."""

    calls: int = 0
    cached: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0

    def add(self, meta: dict[str, Any]) -> None:
        self.calls += 1
        if meta.get("cached_from"):
            self.cached += 1
            return
        self.tokens_in += int(meta.get("tokens_in") or 0)
        self.tokens_out += int(meta.get("tokens_out") or 0)
        self.cost_usd += float(meta.get("cost_usd") or 0.0)
        self.latency_s += float(meta.get("latency_s") or 0.0)


@dataclass
class CallInfo(_Model):
    """A journal record: checkpoint call, wait, save, log, llm call or memory write."""

    call_id: str
    name: str
    kind: str
    status: str
    seq: int
    started_at: float | None
    ended_at: float | None
    duration: float | None
    attempts: int
    serializer: str | None
    type_name: str | None
    size: int | None
    preview: str | None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: a checkpoint's LLM calls summed up (its own, for an LLM call); None without any
    usage: LLMUsage | None = None


@dataclass
class WaitInfo(_Model):
    call_id: str
    status: str
    question: str | None
    schema: dict[str, Any] | None
    deadline: float | None
    timed_out: bool
    value_preview: str | None


@dataclass
class ArtifactInfo(_Model):
    execution_id: str
    name: str
    call_id: str
    kind: str
    version: int
    serializer: str | None
    type_name: str | None
    size: int
    sha256: str | None
    preview: str | None
    inline: bool


@dataclass
class ResumeError(_Model):
    """Why the last attempt to resume an execution elsewhere (a worker started after a wait's
    input, a recovery) failed; cleared when a resume succeeds."""

    message: str
    at: float
    hint: str


@dataclass
class ExecutionInfo(_Model):
    id: str
    flow: str
    status: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    duration: float | None
    error: dict[str, Any] | None
    replay_of: str | None
    replay_from: str | None
    result_preview: str | None
    metadata: dict[str, Any]
    source_file: str | None
    pending_wait: WaitInfo | None = None
    checkpoints: list[CallInfo] = field(default_factory=list)
    waits: list[WaitInfo] = field(default_factory=list)
    attempts: list[AttemptInfo] = field(default_factory=list)
    artifacts: list[ArtifactInfo] = field(default_factory=list)
    calls: list[CallInfo] = field(default_factory=list)
    llm_calls: list[CallInfo] = field(default_factory=list)
    #: every LLM call of the execution summed up; None when it made none
    usage: LLMUsage | None = None
    #: the last resume attempt failed (and none succeeded since)
    resume_error: ResumeError | None = None
    #: a crashed execution: why its orchestrator's unit ended, when the backend says
    crash_reason: str | None = None


# -- artifacts browsing and cross-run diff ----------------------------------------------------
@dataclass
class ArtifactDetail(_Model):
    """One artifact with a longer preview; ``location`` is the blob URI of a large one."""

    artifact: ArtifactInfo
    status: str
    created_at: float | None
    preview: str | None
    location: str | None


@dataclass
class ValueChange(_Model):
    """One structural change: ``op`` is "changed", "added" or "removed"; ``path`` is a
    JSON-pointer-like path ("" for the whole value)."""

    path: str
    op: str
    old: Any = None
    new: Any = None


@dataclass
class ValueDiff(_Model):
    """How two stored values differ: ``kind`` is "text" (unified diff ``lines``),
    "structural" (``changes``) or "opaque" (sizes and sha256 only)."""

    kind: str
    lines: list[str] = field(default_factory=list)
    changes: list[ValueChange] = field(default_factory=list)
    a_size: int | None = None
    b_size: int | None = None
    a_sha256: str | None = None
    b_sha256: str | None = None
    a_type: str | None = None
    b_type: str | None = None


@dataclass
class CallDiff(_Model):
    """One checkpoint call id (or the flow's result): ``status`` is "same", "changed",
    "only in A" or "only in B"."""

    call_id: str
    status: str
    a_status: str | None = None
    b_status: str | None = None
    a_preview: str | None = None
    b_preview: str | None = None
    diff: ValueDiff | None = None


@dataclass
class ExecutionDiff(_Model):
    """``KitaruClient().executions.diff(a, b)``: inputs, checkpoints in call order, result."""

    a: str
    b: str
    flow_a: str
    flow_b: str
    status_a: str
    status_b: str
    inputs: list[ValueChange] = field(default_factory=list)
    checkpoints: list[CallDiff] = field(default_factory=list)
    result: CallDiff | None = None

    @property
    def changed(self) -> list[str]:
        """Call ids whose status is not "same"."""
        return [c.call_id for c in self.checkpoints if c.status != "same"]
