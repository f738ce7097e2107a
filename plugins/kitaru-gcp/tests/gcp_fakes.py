"""A tiny HTTP server that answers the way Google's APIs answer what no stand-in does: a 403
naming the refused permission (neither the GCS emulator nor drongo enforces IAM), and an OAuth
token endpoint (a service-account key's ``token_uri``, so google-auth can sign in offline).

It answers from a function of ``(method, path)`` and records every request's method, path and
Authorization header. Bodies are the JSON shapes of the real services' errors."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from kitaru.testing.services import free_port

#: ``(method, path) -> (status, JSON body)``
Route = Callable[[str, str], tuple[int, dict[str, Any]]]
#: the principal the 403s name, as Google's messages do
PRINCIPAL = "kitaru-client@kitaru-test.iam.gserviceaccount.com"
ACCESS_TOKEN = "ya29.kitaru-test-token"


@dataclass
class FakeGoogle:
    endpoint_url: str
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)


def gcs_forbidden(permission: str) -> tuple[int, dict[str, Any]]:
    """Cloud Storage's 403 (JSON API), naming the permission as GCS does."""
    message = (f"{PRINCIPAL} does not have {permission} access to the Google Cloud Storage "
               f"object. Permission '{permission}' denied on resource (or it may not exist).")  # fmt: skip
    return 403, {"error": {"code": 403, "message": message,
                           "errors": [{"message": message, "domain": "global",
                                       "reason": "forbidden"}]}}  # fmt: skip


def gcs_not_found() -> tuple[int, dict[str, Any]]:
    return 404, {"error": {"code": 404, "message": "No such object"}}


def secret_manager_forbidden(permission: str, resource: str) -> tuple[int, dict[str, Any]]:
    """Secret Manager's 403 (REST), naming the permission as Secret Manager does."""
    message = f"Permission '{permission}' denied for resource '{resource}' (or it may not exist)."
    return 403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}


def token() -> tuple[int, dict[str, Any]]:
    """What Google's OAuth endpoint answers a service account's signed assertion."""
    return 200, {"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}


@contextlib.contextmanager
def fake_google(route: Route) -> Iterator[FakeGoogle]:
    """The server on a free port of 127.0.0.1, answering with ``route``; shut down after."""
    port = free_port()
    fake = FakeGoogle(f"http://127.0.0.1:{port}")

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            fake.requests.append((self.command, self.path, self.headers.get("Authorization")))
            status, body = route(self.command, self.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the test reads fake.requests

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
