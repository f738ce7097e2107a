"""``kitaru ui``: the dashboard over the local store, on 127.0.0.1."""

from __future__ import annotations

import click


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (keep it local: the token is the only lock).")  # fmt: skip
@click.option("--port", default=0, type=click.IntRange(0, 65535),
              help="Port (default: a free one).")  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Print the URL only; do not open a browser.")
def ui(host: str, port: int, no_browser: bool) -> None:
    """Open the dashboard over this machine's store, no server needed.

    Prints a URL with a one-time token (it signs the first browser that opens it in) and opens
    it in the browser unless --no-browser. Stop with Ctrl-C.
    """
    from kitaru.server.ui import run_ui

    run_ui(host, port, open_browser=not no_browser)
