"""The metadata-store interface. The runtime, client and CLI reach storage only through it.

Implementations: :mod:`kitaru.store.sqlite` (embedded, the default). A PostgreSQL store and the
server's remote store implement the same interface and pass the same contract tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict, LeaseLost, NotFound, UsageError
from kitaru.store.records import Attempt, Blob, Call, Execution

if TYPE_CHECKING:
    from kitaru.store.changes import Changes


def check_execution_id(execution_id: str) -> None:
    if len(execution_id) != 12 or any(c not in "0123456789abcdef" for c in execution_id):
        raise UsageError(f"invalid execution id {execution_id!r}", hint="12 hex digits")


def lease_lost(execution_id: str, epoch: int, current: int | None) -> LeaseLost:
    """The error a runner's refused write raises: it no longer holds the execution."""
    return LeaseLost(
        f"execution {execution_id} was taken over by another runner (epoch {current}, this "
        f"process held {epoch}); this process stopped running it and its later work is "
        "discarded",
        hint=f"see `kitaru executions show {execution_id}`",
    )


def fence(row: tuple[str, int] | None, epoch: int | None) -> None:
    """Raise LeaseLost if the execution's ``(id, epoch)`` row has moved past the ``epoch`` a
    runner writes under (nothing to check for an unfenced write or a missing row)."""
    if epoch is not None and row is not None and row[1] != epoch:
        raise lease_lost(row[0], epoch, row[1])


class MetadataStore(ABC):
    """Executions, their journals, attempts and blob locations.

    **Fencing.** Every lease take-over bumps the execution's ``epoch``. The writes a runner
    makes (journal records, attempts, status changes, wait resolutions, metadata, logs) take
    the ``epoch`` it holds and are applied only if it is still current, checked in the same
    statement or transaction as the write; otherwise they raise :class:`~kitaru.errors.LeaseLost`
    and change nothing. ``epoch=None`` is an unfenced write (people and tools: input, cancel).
    """

    def _existing(self, execution_id: str, flow: str) -> Execution | None:
        """The execution a retried create already made, None if it does not exist."""
        check_execution_id(execution_id)
        try:
            found = self.get_execution(execution_id)
        except NotFound:
            return None
        if found.id != execution_id or found.flow != flow:
            raise Conflict(f"execution id {execution_id} is taken", hint="let the store choose")
        return found

    # -- executions ---------------------------------------------------------------------------
    @abstractmethod
    def create_execution(
        self,
        *,
        flow: str,
        module: str,
        qualname: str,
        source_file: str | None,
        root: str | None,
        inputs: dict[str, list[Any]],
        status: str = "pending",
        replay_of: str | None = None,
        replay_from: str | None = None,
        overrides: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
        calls: Iterable[Call] = (),
        lease: tuple[str, float] | None = None,
        execution_id: str | None = None,
    ) -> Execution:
        """Create an execution (optionally seeding its journal and taking its lease as
        ``(owner, ttl)``) in one transaction. ``execution_id`` (12 hex digits) chosen by the
        caller makes creation idempotent: if it exists for the same flow, it is returned."""

    @abstractmethod
    def get_execution(self, execution_id: str) -> Execution:
        """By full id or unique prefix; raises NotFound."""

    @abstractmethod
    def list_executions(
        self, *, flow: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[Execution]:
        """Newest first."""

    @abstractmethod
    def set_status(
        self,
        pk: int,
        status: str,
        *,
        only_if: Iterable[str] | None = None,
        result: tuple[str, str | None, bytes | None, str | None] | None = None,
        error: dict[str, Any] | None = None,
        release_owner: str | None = None,
        epoch: int | None = None,
    ) -> bool:
        """Change status (conditionally); terminal statuses stamp ``ended_at``.

        ``release_owner`` also drops the lease if that owner holds it. Returns False when
        ``only_if`` did not match.
        """

    @abstractmethod
    def update_metadata(
        self, pk: int, metadata: dict[str, Any], *, epoch: int | None = None
    ) -> None:
        """Merge into the execution's metadata."""

    @abstractmethod
    def update_options(self, pk: int, options: dict[str, Any]) -> None:
        """Merge into the execution's run options (a retry's new budget, say)."""

    # -- captured logs (kept in the store when a process is connected to a server) -------------
    @abstractmethod
    def append_logs(
        self, pk: int, records: list[dict[str, Any]], *, epoch: int | None = None
    ) -> None:
        """Append log records (``t``, ``call``, ``stream``, ``line``) in order."""

    @abstractmethod
    def read_logs(self, pk: int, after: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        """Records numbered after ``after``, oldest first, each with its number ``n``."""

    # -- leases -------------------------------------------------------------------------------
    @abstractmethod
    def acquire_lease(
        self, pk: int, owner: str, ttl: float, *, statuses: Iterable[str], set_status: str | None
    ) -> int | None:
        """Take the lease if it is free, expired or held by a dead local process: the new
        epoch (every take-over bumps it), or None if the lease was not free."""

    @abstractmethod
    def renew_leases(self, owner: str, ttl: float) -> dict[int, str]:
        """Extend every lease ``owner`` holds; returns {pk: current status}."""

    @abstractmethod
    def release_lease(self, pk: int, owner: str) -> None:
        """Drop the lease if ``owner`` holds it."""

    # -- journal ------------------------------------------------------------------------------
    @abstractmethod
    def load_journal(self, pk: int) -> dict[str, Call]:
        """Every record of an execution, by call id."""

    @abstractmethod
    def put_call(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        """Insert or replace one journal record (one transaction)."""

    @abstractmethod
    def put_calls(self, pk: int, calls: Iterable[Call], *, epoch: int | None = None) -> None:
        """Insert or replace several records in one transaction."""

    @abstractmethod
    def suspend_on_wait(self, pk: int, call: Call, *, epoch: int | None = None) -> None:
        """Record a pending wait (unless already there) and mark the execution waiting."""

    @abstractmethod
    def resolve_wait(
        self,
        pk: int,
        call_id: str,
        *,
        serializer: str | None,
        type_name: str | None,
        value: bytes | None,
        meta: dict[str, Any] | None = None,
        status: str = "completed",
        epoch: int | None = None,
    ) -> bool:
        """Pending → ``status`` (completed with the input, or failed for a timeout/abort).

        False if it was not pending: someone else won.
        """

    @abstractmethod
    def pending_wait(self, pk: int) -> Call | None:
        """The execution's pending wait, if any."""

    def waiting_to_resume(self, now: float, limit: int = 10_000) -> list[Execution]:
        """Waiting executions with nothing left to wait for — their wait was answered, or its
        deadline passed — oldest first (whoever holds them is the caller's to check). The SQL
        stores answer with one query; this default asks per execution."""
        from kitaru.store.records import nothing_to_wait_for

        found = [ex for ex in self.list_executions(status="waiting", limit=100_000)
                 if nothing_to_wait_for(self.pending_wait(ex.pk), now)]  # fmt: skip
        return sorted(found, key=lambda e: e.pk)[:limit]

    @abstractmethod
    def add_attempt(self, pk: int, attempt: Attempt, *, epoch: int | None = None) -> None:
        """Record a failed attempt."""

    @abstractmethod
    def attempts(self, pk: int) -> list[Attempt]:
        """Failed attempts of an execution, in order."""

    @abstractmethod
    def find_calls(self, pk: int, name: str, kind: str | None = None) -> list[Call]:
        """Records whose call id is ``name`` or ``name#n``, in call order."""

    @abstractmethod
    def get_call(self, pk: int, call_id: str) -> Call | None:
        """One journal record, fresh from the store."""

    @abstractmethod
    def cache_lookup(self, key: bytes) -> tuple[str, Call] | None:
        """A completed call stored under a cross-execution cache key: (execution id, call)."""

    @abstractmethod
    def cache_put(self, key: bytes, pk: int, call_id: str, *, epoch: int | None = None) -> None:
        """Index a completed call under a cross-execution cache key."""

    # -- blobs --------------------------------------------------------------------------------
    @abstractmethod
    def put_blob(self, blob: Blob) -> None:
        """Remember where a content-addressed value lives (idempotent)."""

    @abstractmethod
    def get_blob(self, sha256: str) -> Blob:
        """Raises NotFound."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def changes(self) -> Changes | None:
        """This process's listener for the store's change notifications, None where the
        store announces nothing (waiters poll it; :mod:`kitaru.store.changes`)."""
        return None

    # -- stacks and components ----------------------------------------------------------------
    @abstractmethod
    def put_component(self, component: ComponentRecord) -> None:
        """Create or replace a registered component (keeps its creation time)."""

    @abstractmethod
    def get_component(self, component_type: str, name: str) -> ComponentRecord | None:
        """A registered component, or None."""

    @abstractmethod
    def list_components(self, component_type: str | None = None) -> list[ComponentRecord]:
        """Registered components by type and name."""

    @abstractmethod
    def delete_component(self, component_type: str, name: str) -> None:
        """Remove a component; NotFound if absent, Conflict if a stack uses it."""

    @abstractmethod
    def stacks_using_component(self, component_type: str, name: str) -> list[str]:
        """Names of the registered stacks that use the component."""

    @abstractmethod
    def put_stack(
        self,
        name: str,
        components: Mapping[str, str],
        new_components: Iterable[ComponentRecord] = (),
    ) -> None:
        """Create or replace stack ``name`` (component type -> component name), registering
        ``new_components`` in the same transaction."""

    @abstractmethod
    def get_stack(self, name: str) -> StackRecord | None:
        """A registered stack, or None."""

    @abstractmethod
    def list_stacks(self) -> list[StackRecord]:
        """Registered stacks by name."""

    @abstractmethod
    def delete_stack(self, name: str) -> list[tuple[str, str]]:
        """Remove a stack (NotFound if absent) and the components it registered inline that no
        other stack uses; returns those components as ``(type, name)``."""

    # -- memory -------------------------------------------------------------------------------
    @abstractmethod
    def memory_put(
        self,
        scope: str,
        scope_key: str,
        key: str,
        *,
        serializer: str | None,
        type_name: str | None,
        value: bytes | None,
        deleted: bool = False,
        execution_id: str | None = None,
        call_id: str | None = None,
        if_version: int | None = None,
    ) -> MemoryRecord:
        """Write the next version of ``key`` (a tombstone when ``deleted``) in one transaction.

        With ``if_version``, raise Conflict unless the latest version (0: none) is that one.
        """

    @abstractmethod
    def memory_get(
        self, scope: str, scope_key: str, key: str, version: int | None = None
    ) -> MemoryRecord | None:
        """The latest version of ``key`` (tombstones included), or exactly ``version``."""

    @abstractmethod
    def memory_list(self, scope: str, scope_key: str) -> list[MemoryRecord]:
        """The latest version of every live (not deleted) key, by key."""

    @abstractmethod
    def memory_history(self, scope: str, scope_key: str, key: str) -> list[MemoryRecord]:
        """Every version of ``key``, oldest first."""

    @abstractmethod
    def memory_scopes(self) -> list[tuple[str, str, int]]:
        """``(scope, scope_key, live key count)`` of every scope that holds any version."""


@dataclass(frozen=True)
class ComponentRecord:
    """A registered component. ``config`` is stored as given: secret references, no values.
    ``owner`` is the stack that registered it inline, if any."""

    type: str
    name: str
    flavor: str
    config: dict[str, Any]
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class StackRecord:
    """A registered stack: component type -> registered component name."""

    name: str
    components: dict[str, str]
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True)
class MemoryRecord:
    """One version of a memory key. A tombstone (``deleted``) has no value."""

    scope: str
    scope_key: str
    key: str
    version: int
    serializer: str | None
    type_name: str | None
    value: bytes | None
    deleted: bool
    execution_id: str | None
    call_id: str | None
    created_at: float
