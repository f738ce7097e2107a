"""A local OTLP/HTTP receiver for tests: the real wire format, decoded with opentelemetry-proto.

Binds 127.0.0.1 on a free port, accepts ``POST /v1/traces`` and ``/v1/metrics`` (protobuf, or
JSON by content type) and keeps what arrived, flattened for asserts. Not a collector: no
pipelines, retries or batching of its own.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf.json_format import MessageToDict, Parse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_ROUTES: dict[str, tuple[type, type]] = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}


def _attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:
        value = MessageToDict(kv.value)  # int64 arrives as a string (proto3 JSON mapping)
        out[kv.key] = next(iter(value.values())) if value else None
    return out


class OTLPReceiver:
    """``with OTLPReceiver() as rx:`` — ``rx.base_url`` for OTEL_EXPORTER_OTLP_ENDPOINT,
    ``rx.spans`` (dicts: name, trace_id, span_id, parent_span_id, attributes, resource) and
    ``rx.metric_names`` once exporters sent them."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.metric_names: set[str] = set()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                route = _ROUTES.get(self.path)
                if route is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                request = route[0]()
                if "json" in self.headers.get("Content-Type", ""):
                    Parse(body, request)
                else:
                    request.ParseFromString(body)
                receiver._add(request)
                out = route[1]().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_port}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _add(self, request: Any) -> None:
        with self._lock:
            for rs in getattr(request, "resource_spans", []):
                resource = _attributes(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for s in ss.spans:
                        self.spans.append({
                            "name": s.name, "trace_id": s.trace_id.hex(),
                            "span_id": s.span_id.hex(), "parent_span_id": s.parent_span_id.hex(),
                            "attributes": _attributes(s.attributes), "resource": resource,
                        })  # fmt: skip
            for rm in getattr(request, "resource_metrics", []):
                for sm in rm.scope_metrics:
                    self.metric_names.update(m.name for m in sm.metrics)

    def __enter__(self) -> OTLPReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()
