"""The tools' outputs: pydantic models, so every tool publishes an output schema and a client
gets ``structured_content`` it can rely on.

They hold what ``kitaru ... -o json`` prints (the ``to_dict()`` of :mod:`kitaru.models` and the
store's records), times as ISO-8601 UTC strings like the CLI's JSON. ``Out.of(data)`` builds
one from such a dict (times converted; keys a model does not name are dropped).
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field

from kitaru.cli.output import iso_times

Time = str  # ISO-8601 UTC, e.g. 2026-12-06T10:11:28.123Z


class Out(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @classmethod
    def of(cls, data: dict[str, Any]) -> Self:
        return cls.model_validate(iso_times(data))


# -- executions -----------------------------------------------------------------------------------
class PendingWait(Out):
    name: str = Field(description="the wait's call id (executions_input's `name`)")
    question: str | None
    input_schema: dict[str, Any] | None = Field(description="JSON schema the answer must match")
    deadline: Time | None
    example: Any = Field(description="a value of the schema's shape, for executions_input")


class Usage(Out):
    calls: int
    cached: int
    tokens_in: int
    tokens_out: int
    cost_usd: float
    latency_s: float


class Call(Out):
    call_id: str
    name: str
    kind: str = Field(description="checkpoint, wait, llm, save, memory, log")
    status: str
    started_at: Time | None
    ended_at: Time | None
    duration: float | None
    attempts: int
    type_name: str | None
    size: int | None
    preview: str | None
    usage: Usage | None = None


class Wait(Out):
    call_id: str
    status: str
    question: str | None
    deadline: Time | None
    timed_out: bool
    value_preview: str | None


class Attempt(Out):
    call_id: str
    attempt: int
    started_at: Time
    ended_at: Time
    error: str
    traceback: str | None = None


class Artifact(Out):
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


class ResumeError(Out):
    message: str
    at: Time
    hint: str


class Execution(Out):
    """One execution as ``executions list`` shows it."""

    id: str
    flow: str
    status: Literal["pending", "running", "waiting", "completed", "failed", "cancelled",
                    "crashed"]  # fmt: skip
    created_at: Time
    started_at: Time | None
    ended_at: Time | None
    duration: float | None = Field(description="seconds")
    error: dict[str, Any] | None
    replay_of: str | None
    replay_from: str | None
    result_preview: str | None


class ExecutionDetail(Execution):
    """One execution with its calls, as ``executions show`` shows it."""

    source_file: str | None
    metadata: dict[str, Any]
    pending_wait: PendingWait | None
    checkpoints: list[Call]
    llm_calls: list[Call]
    waits: list[Wait]
    attempts: list[Attempt]
    artifacts: list[Artifact]
    usage: Usage | None
    resume_error: ResumeError | None
    crash_reason: str | None


class Executions(Out):
    executions: list[Execution]


class LogRecord(Out):
    t: Time | None = None
    call: str | None = Field(default=None, description="the call id it came from (None: the flow)")
    stream: str | None = Field(default=None, description="stdout, stderr or a logger's level")
    line: str = ""


class Logs(Out):
    execution_id: str
    records: list[LogRecord]


class ValueChange(Out):
    path: str
    op: str = Field(description="changed, added or removed")
    old: Any = None
    new: Any = None


class ValueDiff(Out):
    kind: str = Field(description="text (lines), structural (changes) or opaque")
    lines: list[str]
    changes: list[ValueChange]
    a_size: int | None
    b_size: int | None
    a_sha256: str | None
    b_sha256: str | None
    a_type: str | None
    b_type: str | None


class CallDiff(Out):
    call_id: str
    status: str = Field(description="same, changed, only in A, only in B")
    a_status: str | None
    b_status: str | None
    a_preview: str | None
    b_preview: str | None
    diff: ValueDiff | None


class Diff(Out):
    a: str
    b: str
    flow_a: str
    flow_b: str
    status_a: str
    status_b: str
    inputs: list[ValueChange]
    checkpoints: list[CallDiff]
    result: CallDiff | None
    changed: list[str] = Field(description="call ids whose status is not `same`")


class Outcome(Out):
    """What an action did, and where the execution stands now."""

    execution_id: str
    status: str
    message: str = Field(description="what happened, in the CLI's words")
    pending_wait: PendingWait | None = Field(
        default=None, description="the wait to answer with executions_input, when waiting"
    )
    result: Any = Field(default=None, description="the flow's result (JSON), when completed")
    error: dict[str, Any] | None = None
    settled: bool = Field(description="false when `wait` timed out before the execution ended "
                          "or reached a wait (or it was not asked to wait)")  # fmt: skip


# -- workspace ------------------------------------------------------------------------------------
class Deployment(Out):
    flow: str
    version: int
    tags: list[str]
    stack: str
    image: str | None
    source_file: str | None
    parameters: dict[str, Any] = Field(description="JSON schema of the inputs")
    options: dict[str, Any]
    code_hash: str
    created_at: Time


class Deployments(Out):
    deployments: list[Deployment]


class Artifacts(Out):
    execution_id: str
    artifacts: list[Artifact]


class ArtifactValue(Out):
    execution_id: str
    call_id: str
    serializer: str | None
    type_name: str | None
    encoding: Literal["json", "text", "base64"]
    value: Any


class MemoryEntry(Out):
    scope: str
    scope_key: str
    key: str
    version: int
    preview: str | None
    deleted: bool
    execution_id: str | None
    call_id: str | None
    created_at: Time


class MemoryEntries(Out):
    entries: list[MemoryEntry]


class MemoryScope(Out):
    scope: str
    name: str
    keys: int


class MemoryScopes(Out):
    scopes: list[MemoryScope]


class MemoryValue(Out):
    key: str
    found: bool
    value: Any


class MemoryWrite(Out):
    key: str
    version: int
    deleted: bool


class Component(Out):
    name: str
    flavor: str
    config: dict[str, Any] = Field(description="as written: secret references, never values")


class Stack(Out):
    name: str
    active: bool
    builtin: bool
    components: dict[str, Component]


class Stacks(Out):
    stacks: list[Stack]


class Flavor(Out):
    name: str
    type: str
    provider: str
    description: str
    install_hint: str | None
    docs_url: str | None


class Flavors(Out):
    flavors: list[Flavor]


class Plugin(Out):
    name: str
    distribution: str
    version: str | None
    status: str = Field(description="loaded or failed")
    error: str | None


class Plugins(Out):
    plugins: list[Plugin]


# -- access (on the server) -----------------------------------------------------------------------
class Principal(Out):
    name: str
    kind: str
    role: str
    workspace: str
    created_at: Time
    description: str


class Principals(Out):
    principals: list[Principal]


class ApiKey(Out):
    key_id: str
    principal: str
    label: str
    created_at: Time
    revoked_at: Time | None
    active: bool


class ApiKeys(Out):
    api_keys: list[ApiKey]
