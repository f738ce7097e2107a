"""``kitaru ui``: the dashboard over this machine's own store, with no server set up.

The same application as ``kitaru server start`` on 127.0.0.1, entered once through a URL with a
one-time token (as Jupyter does): opening it sets the session cookie and the token is spent.
"""

from __future__ import annotations

import secrets
import socket

import click


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def run_ui(host: str, port: int, *, open_browser: bool, log_level: str = "warning") -> None:
    import uvicorn

    from kitaru.server.app import create_app
    from kitaru.server.dashboard.session import TokenGate
    from kitaru.store import default_store

    token = secrets.token_urlsafe(24)
    app = create_app(default_store(), gate=TokenGate(token))
    port = port or free_port(host)
    url = f"http://{host}:{port}/login?token={token}"
    click.echo(f"Kitaru dashboard on http://{host}:{port} (the store of this machine)")
    click.echo(f"open (works once): {url}")
    if open_browser:
        import threading
        import webbrowser

        # once uvicorn listens (a moment): opening first could race it
        threading.Timer(0.8, webbrowser.open, args=(url,)).start()
    uvicorn.run(app, host=host, port=port, log_level=log_level)
