"""``kitaru serve``: a long-lived local process that runs executions in itself, warm.

It serves the REST API (like ``kitaru server start``) and runs, in its own threads: invocations
of deployed flows, executions whose wait was answered (at once, not through a cold worker),
waits whose timeout passed while nobody held them, and executions whose process died (at
start and whenever it notices). Flows given on the command line are imported once and deployed
when their code changed, so invoking them costs no import.

With ``--queue NAME`` it is a queue worker (:mod:`kitaru.queues`): it takes queued executions
of its queues, up to ``--concurrency`` at once in this process (the queue's own limits hold
across all workers), and every few seconds recovers its queues' crashed executions. Its sweep
then leaves other executions alone (any number of workers share one database).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from kitaru.errors import Conflict, KitaruError

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.store.base import MetadataStore


#: seconds between a queue worker's looks for crashed executions of its queues
RECOVER_EVERY = 2.0


class LocalRunner:
    """Runs executions in this process; ``sweep()`` finds the ones that need running."""

    def __init__(
        self, store: MetadataStore, flows: dict[str, Flow[Any]], workers: int = 16, *,
        queues: tuple[str, ...] = (), concurrency: int = 4,
    ) -> None:  # fmt: skip
        self.store = store
        self.flows = flows
        self.queues = list(queues)
        self.concurrency = concurrency
        workers = max(workers, concurrency + 4)  # room for recoveries and invocations too
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kitaru-serve")
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self.ran: list[str] = []  # ids of executions this process drove (for logs and tests)
        self._recovered_at = 0.0

    def submit(self, execution_id: str, reason: str = "recover") -> None:
        with self._lock:
            if execution_id in self._active:
                return
            self._active.add(execution_id)
        self._pool.submit(self._run, execution_id, reason)

    def _run(self, execution_id: str, reason: str = "recover") -> None:
        from kitaru.runtime.launch import launch

        try:
            ex = self.store.get_execution(execution_id)
            flow = self.flows.get(ex.flow)
            if flow is not None and flow.location.source_file != ex.source_file:
                flow = None  # another version of the code: import that one
            # in this worker thread when the execution's orchestrator runs it here (local)
            if launch(self.store, ex, reason, flow=flow, in_caller=True).took_it:
                self.ran.append(execution_id)
        except Conflict:
            pass  # someone else holds it, or it is done
        except KitaruError as exc:
            from kitaru.runtime.worker import note_failure

            note_failure(execution_id, exc)
        finally:
            with self._lock:
                self._active.discard(execution_id)

    def sweep(self) -> None:
        """Submit what nobody runs: pending executions, waits answered or timed out while
        released, crashed executions (a queue worker: of its queues only, every few seconds)."""
        from kitaru.store.records import display_status, lease_is_live

        now = time.time()
        if self.queues:
            if now - self._recovered_at >= RECOVER_EVERY:
                from kitaru.queues import orphans

                self._recovered_at = now
                for ex in orphans(self.store, self.queues, now):
                    self.submit(ex.id)
            if not self.flows:
                return
        for status in ("pending", "waiting", "running"):
            # waiting ones: only those whose input arrived or whose deadline passed, in one
            # query (thousands may wait at once; asking each for its wait was a query apiece)
            found = (self.store.waiting_to_resume(now) if status == "waiting" else
                     self.store.list_executions(status=status, limit=10_000))  # fmt: skip
            for ex in found:
                if self.queues and ex.flow not in self.flows:
                    continue  # a queue worker also runs the flows it serves, nothing else
                if ex.id in self._active or lease_is_live(ex.lease_owner, ex.lease_expires, now):
                    continue
                if status == "running" and display_status(ex, now) != "crashed":
                    continue
                self.submit(ex.id)

    def pull(self) -> int:
        """Take queued executions of this worker's queues while it has free slots; how many."""
        from kitaru.config import settings
        from kitaru.runtime.leases import keeper

        taken = 0
        for queue in self.queues:
            with self._lock:
                free = self.concurrency - len(self._active)
            if free <= 0:
                break
            store: Any = self.store  # a SQL store: queue workers connect to the database
            for ex in store.dequeue(queue, keeper().owner, settings().lease_ttl, free):
                self.submit(ex.id, "dequeue")
                taken += 1
        return taken

    def loop(self, stop: threading.Event, interval: float = 0.2) -> None:
        while not stop.is_set():
            took = 0
            try:
                self.sweep()
                took = self.pull()
            except Exception as exc:  # the store may be briefly unavailable: keep serving
                print(f"kitaru serve: sweep failed: {type(exc).__name__}: {exc}", flush=True)
            # more may be waiting: ask again soon (each ask is one short transaction)
            stop.wait(interval / 10 if took else interval)


def deploy_changed(flows: dict[str, Flow[Any]]) -> list[str]:
    """Deploy each flow whose code differs from its ``default`` version; lines to print."""
    from kitaru.deployments import code_hash, deploy
    from kitaru.store import default_store
    from kitaru.store.deployments import DEFAULT_TAG

    store: Any = default_store()
    lines = []
    for name, flow in flows.items():
        current = store.tag_version(name, DEFAULT_TAG)
        d = store.get_deployment(name, current) if current is not None else None
        if (
            d is None
            or d.code_hash != code_hash(flow)
            or d.source_file != flow.location.source_file
        ):
            d = deploy(flow)
            lines.append(f"deployed {name} v{d.version}")
        else:
            lines.append(f"serving {name} v{d.version} (unchanged)")
        cron = getattr(flow, "schedule", None)
        if cron:  # @flow(schedule=...): kept under the flow's name, in UTC
            from kitaru import schedules

            found = store.get_schedule(name)
            if found is None or found.cron != cron or found.tz != "UTC":
                schedules.create(name, cron=cron, tz="UTC", store=store)
                lines.append(f"scheduled {name}: {cron} (UTC)")
    return lines
