"""``kitaru server start``: the Kitaru server (FastAPI + uvicorn) over a metadata store."""

from __future__ import annotations

import os

import click


@click.group()
def server() -> None:
    """Run a Kitaru server: one process over a metadata DB and an artifact store."""


@server.command()
@click.option("--db", "db_url", metavar="URL",
              help="postgresql://... (default: the SQLite store under KITARU_HOME).")  # fmt: skip
@click.option(
    "--artifact-store",
    metavar="URL",
    help="Where connected clients of the `local` stack keep large values (a shared "
    "folder, s3://bucket/prefix, ...). Default: each client's KITARU_HOME/artifacts.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8237, show_default=True, type=click.IntRange(1, 65535))
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))  # fmt: skip
def start(
    db_url: str | None, artifact_store: str | None, host: str, port: int, log_level: str
) -> None:
    """Start the server in the foreground.

    On first start (no users yet) it creates an admin user and prints its API key once.
    Crashed executions recorded in the store are resumed by workers on this machine.
    """
    if db_url:
        os.environ["KITARU_DB_URL"] = db_url  # workers this server starts use it too
    from kitaru.server.run import serve

    serve(host, port, log_level=log_level, artifact_store=artifact_store)


@server.command("create-admin")
@click.argument("name")
@click.option("--db", "db_url", metavar="URL",
              help="The server's database: postgresql://... (default: KITARU_DB_URL, else the "
              "SQLite store under KITARU_HOME).")  # fmt: skip
def create_admin(name: str, db_url: str | None) -> None:
    """Create admin user NAME directly in the server's database and print its API key once
    (recovery when the first admin's key is lost). Needs access to the database, not the
    server: run it where the database can be reached."""
    if db_url:
        os.environ["KITARU_DB_URL"] = db_url
    from kitaru.server import auth
    from kitaru.store import default_store

    store = default_store()
    if store.__class__.__name__ == "RemoteStore":
        from kitaru.errors import UsageError

        raise UsageError("create-admin writes to the server's database, not through a server",
                         hint="run it with --db URL (or KITARU_DB_URL) where the database is "
                         "reachable, without KITARU_SERVER_URL")  # fmt: skip
    auth.create_principal(store, name, kind="user", role="admin")  # type: ignore[arg-type]
    key = auth.issue_key(store, name)[1]  # type: ignore[arg-type]
    click.echo(f"created admin {name}; its API key (shown once):", err=True)
    click.echo(key)


@click.command("serve")
@click.argument("targets", nargs=-1, metavar="[FILE.py:FLOW ...]")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8237, show_default=True, type=click.IntRange(1, 65535))
@click.option("--log-level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))  # fmt: skip
@click.option("--queue", "queues", multiple=True, metavar="NAME",
              help="Be a worker of queue NAME (repeatable): run its queued executions and "
              "recover its crashed ones. Any number of workers may share one database.")  # fmt: skip
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 1000),
              help="Queued executions this process runs at once (the queue's own limits hold "
              "across all workers).")  # fmt: skip
@click.option("--no-api", is_flag=True,
              help="Serve no REST API (a worker only: no port taken).")  # fmt: skip
def serve_command(
    targets: tuple[str, ...], host: str, port: int, log_level: str, queues: tuple[str, ...],
    concurrency: int, no_api: bool,
) -> None:  # fmt: skip
    """Serve deployed flows from this process, warm, with the full durability contract.

    The flows given are imported once and deployed when their code changed. Invocations, waits
    answered through the API, waits that time out and crashed executions all run here. With
    --queue, it takes the queue's executions (`flow.enqueue(...)`, `kitaru run --queue`) and
    recovers only executions of its queues.
    """
    from kitaru.cli.run import resolve_flow
    from kitaru.server.run import serve

    flows = {}
    for target in targets:
        flow = resolve_flow(target)
        flows[flow.name] = flow
    serve(host, port, log_level=log_level, flows=flows, queues=queues, concurrency=concurrency,
          api=not no_api)  # fmt: skip
