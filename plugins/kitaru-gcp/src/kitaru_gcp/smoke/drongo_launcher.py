"""``drongo server`` with one more management route, for the Vertex AI stand-in runner.

drongo stores CustomJobs but runs nothing: a job stays ``JOB_STATE_UNSPECIFIED`` until it is
cancelled, and no HTTP route sets the states Vertex AI would show (RUNNING, SUCCEEDED,
FAILED with its error). This launcher serves drongo unchanged plus

    POST /drongo/vertexai/state?name=projects/P/locations/L/customJobs/ID&state=STATE[&message=M]

which sets the job's state (and, with ``message``, its ``error``) in drongo's own backend,
under drongo's server lock, so that clients read it through the real REST API. Only the stand-in
runner (:class:`kitaru_gcp.smoke.vertex_jobs.VertexJobs`) and tests call it: it is the part of
Vertex AI's job state machine that drongo lacks.

Usage: ``python -m kitaru_gcp.smoke.drongo_launcher --host 127.0.0.1 --port PORT`` (drongo is
in ``pip install 'kitaru-gcp[smoke]'``).
"""

from __future__ import annotations

import argparse
import json
from urllib.parse import parse_qs, urlsplit

from drongo import server
from drongo.services.vertexai.models import vertexai_backends

ROUTE = "/drongo/vertexai/state"


class Handler(server.DrongoHTTPRequestHandler):
    """drongo's handler, plus :data:`ROUTE`."""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != ROUTE:
            return super()._dispatch()
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        name, state = query.get("name", ""), query.get("state", "")
        try:
            project = name.split("/")[1]
            with server._LOCK:  # drongo serialises every request on it
                job = vertexai_backends[project].set_state(name, state)
                if "message" in query:  # google.rpc.Status, as Vertex AI reports a failure
                    job["error"] = {"code": 13, "message": query["message"]}
                body = json.dumps(job)
            self._write((200, {"Content-Type": "application/json"}, body))
        except Exception as exc:  # an unknown job, a malformed name
            error = {"error": {"code": 404, "message": f"{type(exc).__name__}: {exc}"}}
            self._write((404, {"Content-Type": "application/json"}, json.dumps(error)))

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    httpd = server.create_server(args.host, args.port)
    httpd.RequestHandlerClass = Handler
    print(f"drongo (with {ROUTE}) listening on http://{args.host}:{args.port}", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
