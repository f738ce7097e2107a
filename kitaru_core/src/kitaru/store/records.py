"""Typed records that cross the metadata-store boundary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Statuses an execution is stored with. ``crashed`` is derived (running + dead lease), never stored.
#: ``queued``: enqueued, waiting for a queue worker to take it (see :mod:`kitaru.queues`).
EXECUTION_STATUSES = ("queued", "pending", "running", "waiting", "completed", "failed",
                      "cancelled")  # fmt: skip
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled"})
#: seconds a pending execution may wait for its worker before it is shown as crashed
PENDING_GRACE = 60.0

#: Journal record kinds.
CHECKPOINT, WAIT, LLM, MEMORY, SAVE, LOG = "checkpoint", "wait", "llm", "memory", "save", "log"


@dataclass
class Execution:
    """One run of a flow, as stored."""

    pk: int
    id: str
    flow: str
    status: str
    module: str
    qualname: str
    source_file: str | None
    root: str | None
    inputs: dict[str, list[Any]]
    created_at: float
    started_at: float | None = None
    ended_at: float | None = None
    result: tuple[str, str | None, bytes | None, str | None] | None = None
    error: dict[str, Any] | None = None
    lease_owner: str | None = None
    lease_expires: float | None = None
    replay_of: str | None = None
    replay_from: str | None = None
    overrides: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    #: the fencing token: bumped by every lease take-over; a runner writes only under its own
    epoch: int = 0
    #: the queue it was enqueued on (None: started directly), its concurrency key, priority
    #: (higher runs first), deduplication key, and when a worker took it off the queue
    queue: str | None = None
    queue_key: str | None = None
    priority: int = 0
    dedup_key: str | None = None
    dequeued_at: float | None = None


@dataclass
class Call:
    """One journal record: a checkpoint call, wait, llm call, memory write, save or log."""

    call_id: str
    kind: str
    status: str
    seq: int
    fingerprint: bytes | None = None
    serializer: str | None = None
    type_name: str | None = None
    value: bytes | None = None
    ref: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    attempts: int = 1
    meta: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        """``research#2`` -> ``research``; a child record ``draft/llm#2`` -> ``llm``."""
        return self.call_id.rpartition("/")[2].partition("#")[0]

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return self.ended_at - self.started_at


@dataclass
class Attempt:
    """A failed attempt of a checkpoint call (the successful one is the call record itself)."""

    call_id: str
    attempt: int
    started_at: float
    ended_at: float
    error: str


@dataclass
class Blob:
    """A large value stored content-addressed in an artifact store."""

    sha256: str
    size: int
    uri: str


_HOST: list[str] = []


def this_host() -> str:
    """This process's host as lease owners name it: the host name and, where Linux tells, the
    PID namespace — processes whose pids mean something to each other. Containers on the host
    network share the host name but not their pids: a pid seen from another container says
    nothing of its process, so their leases must not be judged by it."""
    if not _HOST:
        import os
        import socket

        host = socket.gethostname().replace(":", "-")
        try:
            namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
        except OSError:
            namespace = ""
        digits = "".join(c for c in namespace if c.isdigit())
        _HOST.append(f"{host}~{digits}" if digits else host)
    return _HOST[0]


def parse_owner(owner: str) -> tuple[str, int]:
    host, _, rest = owner.partition(":")
    pid, _, _ = rest.partition(":")
    return host, int(pid or 0)


def lease_is_live(owner: str | None, expires: float | None, now: float) -> bool:
    """A lease is live while unexpired, unless its holder is a dead process on this host
    (gone, or a zombie nobody has reaped yet)."""
    if not owner or expires is None or expires < now:
        return False
    host, pid = parse_owner(owner)
    if host == this_host() and pid:
        return process_is_alive(pid)
    return True


def process_is_alive(pid: int) -> bool:
    """Whether ``pid`` is a running (or stopped) process of this host; a zombie is dead:
    it has exited and only waits for its parent to read its status."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:  # no procfs (macOS) or gone in between: trust kill()
        return os.path.exists(f"/proc/{pid}") or not os.path.isdir("/proc")
    # "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ")"
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]
    return state not in (b"Z", b"X")


def nothing_to_wait_for(wait: Call | None, now: float) -> bool:
    """A waiting execution whose pending wait is ``wait`` can go on: it has none (its input
    arrived), or the wait's deadline has passed (its default or timeout applies)."""
    deadline = ((wait.meta or {}).get("deadline") if wait is not None else None) or 0
    return wait is None or bool(deadline and deadline <= now)


def display_status(execution: Execution, now: float) -> str:
    """The status a person sees: ``crashed`` for a running execution whose lease is dead."""
    live = lease_is_live(execution.lease_owner, execution.lease_expires, now)
    if execution.status == "running" and not live:
        return "crashed"
    if execution.status == "pending" and not live and now - execution.created_at > PENDING_GRACE:
        return "crashed"  # its worker never started (or died before taking the lease)
    return execution.status
