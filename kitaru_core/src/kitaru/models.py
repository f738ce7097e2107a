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
