"""Starting a server process: bootstrap the first admin key, recover, serve."""

from __future__ import annotations

import threading
import time
from typing import Any

import click

from kitaru.store.base import MetadataStore


def recover(store: MetadataStore) -> list[str]:
    """Hand crashed executions (and waiting ones whose input arrived while nobody held them)
    to workers on this machine. Returns their ids."""
    from kitaru.runtime.runner import launch_worker
    from kitaru.store.records import display_status, lease_is_live

    now = time.time()
    started = []
    for status in ("running", "pending", "waiting"):
        for ex in store.list_executions(status=status, limit=100_000):
            if lease_is_live(ex.lease_owner, ex.lease_expires, now):
                continue
            if status == "waiting":
                wait = store.pending_wait(ex.pk)
                if wait is not None:  # still waiting for input: nothing to do
                    continue
            elif display_status(ex, now) != "crashed":
                continue
            launch_worker(ex)
            started.append(ex.id)
    return started


def serve(host: str, port: int, *, log_level: str = "warning") -> None:
    import uvicorn

    from kitaru.server import auth
    from kitaru.server.app import create_app
    from kitaru.store import default_store

    store: Any = default_store()
    key = auth.bootstrap(store)
    if key is not None:
        click.echo("created the first admin user 'admin'; its API key (shown once, keep it):",
                   err=True)  # fmt: skip
        click.echo(f"  {key}", err=True)
    app = create_app(store)

    def recover_soon() -> None:
        ids = recover(store)
        if ids:
            click.echo(f"recovering {len(ids)} execution(s): {', '.join(ids)}", err=True)

    threading.Thread(target=recover_soon, name="kitaru-recover", daemon=True).start()
    click.echo(f"kitaru server {__import__('kitaru').__version__} on http://{host}:{port} "
               f"(API under /api/v1, OpenAPI at /docs)", err=True)  # fmt: skip
    uvicorn.run(app, host=host, port=port, log_level=log_level)
