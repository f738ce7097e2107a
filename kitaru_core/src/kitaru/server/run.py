"""Starting a server process: bootstrap the first admin key, recover, serve."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import click

from kitaru.errors import ConfigError
from kitaru.store.access import AccessStore
from kitaru.store.base import MetadataStore
from kitaru.store.records import Execution


def holder_is_gone(ex: Execution) -> bool:
    """Nobody holds the execution, or its holder was a process of this host that is gone: no
    client can come back for it."""
    from kitaru.store.records import parse_owner, process_is_alive, this_host

    if ex.lease_owner is None:
        return True
    host, pid = parse_owner(ex.lease_owner)
    return host == this_host() and bool(pid) and not process_is_alive(pid)


def backend_says_crashed(ex: Execution) -> bool:
    """The execution's orchestrator agrees it crashed. A job orchestrator knows a unit that is
    still starting (a cloud job can take minutes to reach Kitaru): recovering it too would start
    a second job. The store's word when the orchestrator cannot be asked."""
    from kitaru.errors import KitaruError
    from kitaru.runtime.stacks import orchestrator_of

    try:
        return orchestrator_of(ex).status(ex.id) == "crashed"
    except KitaruError:
        return True


def backend_is_idle(ex: Execution) -> bool:
    """No unit the execution's orchestrator launched for it is still on its way (a resume job
    that has not taken the lease yet). True when the orchestrator cannot be asked."""
    from kitaru.errors import KitaruError
    from kitaru.runtime.stacks import orchestrator_of

    try:
        return not orchestrator_of(ex).starting(ex.id)
    except KitaruError:
        return True


def answered_at(store: MetadataStore, ex: Execution) -> float | None:
    """When the execution's last wait got its input (None: it has no answered wait)."""
    from kitaru.store.records import WAIT

    ended = [c.ended_at or 0.0 for c in store.load_journal(ex.pk).values()
             if c.kind == WAIT and c.status != "pending"]  # fmt: skip
    return max(ended) if ended else None


def recover(
    store: MetadataStore, *, may_take: Callable[[Execution], bool],
    statuses: tuple[str, ...] = ("running", "pending", "waiting"),
    answered_before: float | None = None,
) -> list[str]:  # fmt: skip
    """Hand crashed executions, and waiting ones nobody holds whose input arrived or whose
    wait's deadline passed (its default or timeout applies), that ``may_take`` allows to their
    orchestrators. Returns their ids.

    ``answered_before``: take a waiting execution whose input arrived only if it arrived before
    then (the server's start): input that reached this server launched its resume, whose unit
    may still be starting (a cloud job takes seconds to minutes to take the lease). A waiting
    execution whose last resume failed (``executions show`` says why and how to go on) or
    whose resume unit is still starting is left alone."""
    from kitaru.runtime.launch import launch
    from kitaru.runtime.runner import RESUME_ERROR
    from kitaru.store.records import display_status, lease_is_live

    now = time.time()
    started = []
    for status in statuses:
        # waiting ones: only those with nothing left to wait for, in one query
        found = (store.waiting_to_resume(now) if status == "waiting"
                 else store.list_executions(status=status, limit=100_000))  # fmt: skip
        for ex in found:
            if lease_is_live(ex.lease_owner, ex.lease_expires, now) or not may_take(ex):
                continue
            if status == "waiting":
                if store.pending_wait(ex.pk) is None:  # its input arrived (else: timed out)
                    answered = answered_at(store, ex)
                    if answered_before is not None and (answered or 0.0) >= answered_before:
                        continue  # its input launched a resume here, maybe still starting
                if (ex.metadata or {}).get(RESUME_ERROR) or not backend_is_idle(ex):
                    continue
            elif display_status(ex, now) != "crashed" or not backend_says_crashed(ex):
                continue
            launch(store, ex, "recover", detach=True)  # on the execution's own orchestrator
            started.append(ex.id)
    return started


def use_artifact_store(url: str) -> str:
    """Make ``url`` the artifact store of the ``local`` stack as this server's clients see it
    (registered in the server's store), so every connected process writes large values to the
    same place. The flavor is the installed one that declares ``url``'s scheme
    (``Flavor.schemes``; its config takes ``path``). Returns the flavor used."""
    from kitaru.components.base import ARTIFACT_STORE
    from kitaru.plugins.manager import plugin_manager
    from kitaru.stack.model import StackSpec
    from kitaru.stack.registry import builtin_stack, register_stack

    scheme = url.partition("://")[0].lower() if "://" in url else ""
    flavor = plugin_manager().flavor_for_scheme(ARTIFACT_STORE, scheme).name
    if not scheme:  # a bare path: clients resolve it, from their own directories
        from pathlib import Path

        url = str(Path(url).expanduser().resolve())
    base = builtin_stack().model_dump()
    base["components"]["artifact_store"] = {"flavor": flavor, "name": "server-artifacts",
                                            "config": {"path": url}}  # fmt: skip
    register_stack(StackSpec.model_validate(base), replace=True)
    return flavor


def serve(
    host: str, port: int, *, log_level: str = "warning", artifact_store: str | None = None,
    flows: dict[str, Any] | None = None, queues: tuple[str, ...] = (), concurrency: int = 4,
    api: bool = True,
) -> None:  # fmt: skip
    """Run the server; with ``flows`` (``kitaru serve``) executions run in this process, and
    with ``queues`` it is also their worker; without ``api``, only that (no port)."""
    import uvicorn

    from kitaru.server import auth
    from kitaru.server.app import create_app
    from kitaru.store import default_store

    store: Any = default_store()
    if api and not isinstance(store, AccessStore):
        # a worker may take its work through a server; serving an API over one may not
        raise ConfigError("a Kitaru server's API needs the database, not a server connection",
                          hint="connect with KITARU_DB_URL; a worker of a server runs "
                          "`kitaru serve FILE.py:FLOW --queue NAME --no-api` with "
                          "KITARU_SERVER_URL")  # fmt: skip
    if artifact_store:
        flavor = use_artifact_store(artifact_store)
        click.echo(f"artifacts of the local stack: {artifact_store} ({flavor})", err=True)
    key = auth.bootstrap(store) if api else None
    if key is not None:
        click.echo("created the first admin user 'admin'; its API key (shown once, keep it):",
                   err=True)  # fmt: skip
        click.echo(f"  {key}", err=True)
    runner = None
    if flows is not None:
        from kitaru.serve import LocalRunner, deploy_changed

        for line in deploy_changed(flows):
            click.echo(line, err=True)
        runner = LocalRunner(store, flows, queues=queues, concurrency=concurrency)
        if queues:
            from kitaru.runtime.leases import keeper

            click.echo(f"worker of queue(s) {', '.join(queues)}: {concurrency} at once "
                       f"(lease owner {keeper().owner})", err=True)  # fmt: skip
        stop = threading.Event()
        threading.Thread(target=runner.loop, args=(stop,), name="kitaru-sweep",
                         daemon=True).start()  # fmt: skip
    from kitaru.schedules import Scheduler

    # due schedules fire here: kitaru serve runs what they start in its own threads, a server
    # hands it to each execution's orchestrator
    scheduler = Scheduler(store, start=runner.submit if runner is not None else None)
    threading.Thread(target=scheduler.loop, args=(threading.Event(),), name="kitaru-scheduler",
                     daemon=True).start()  # fmt: skip

    started_at = time.time()

    def recover_soon() -> None:
        from kitaru.config import settings

        # At once what no client can come back for; after one lease TTL the rest: a client that
        # outlived this server's outage renews its lease by then and keeps its execution (were
        # it taken anyway, fencing would stop it at its next write).
        for may_take in (holder_is_gone, None):
            if may_take is None:
                time.sleep(settings().lease_ttl + settings().heartbeat_interval)
            ids = recover(store, may_take=may_take or (lambda ex: True), answered_before=started_at)
            if ids:
                click.echo(f"recovering {len(ids)} execution(s): {', '.join(ids)}", err=True)
        # then, while it runs, whatever crashes later (a killed job, pod or client) and waits
        # whose deadline passes while nobody holds them (a job unit ends at a wait; its input
        # launches the resume, a timeout has nobody else to): one sweep per lease TTL
        while True:
            time.sleep(max(settings().lease_ttl, 1.0) + settings().heartbeat_interval)
            try:
                ids = recover(store, may_take=lambda ex: True, answered_before=started_at)
            except Exception as exc:  # a store outage must not end the sweeps
                click.echo(f"recovery sweep failed: {type(exc).__name__}: {exc}", err=True)
                continue
            if ids:
                click.echo(f"recovering {len(ids)} execution(s): {', '.join(ids)}", err=True)

    if runner is None:  # kitaru serve's sweep recovers in-process instead
        threading.Thread(target=recover_soon, name="kitaru-recover", daemon=True).start()
    if not api:
        click.echo("no REST API (--no-api): working until stopped", err=True)
        threading.Event().wait()  # the sweep, queue and scheduler threads do the work
        return
    app = create_app(store, runner)
    click.echo(f"kitaru server {__import__('kitaru').__version__} on http://{host}:{port} "
               f"(API under /api/v1, OpenAPI at /docs)", err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level=log_level)
