"""W3C trace context across processes: the ``TRACEPARENT`` variable a unit or worker inherits.

Every layer may need it (the job orchestrators that start units sit below the runtime), so it
lives at the bottom and imports OpenTelemetry only if the process already has: a process that
traces nothing pays one dictionary lookup.
"""

from __future__ import annotations

import re
import sys
from typing import Any

#: the environment variable a process started for an execution finds its trace parent in
TRACEPARENT_ENV = "TRACEPARENT"
#: the execution metadata key that keeps the trace every process of the execution joins
METADATA_KEY = "traceparent"
#: version, trace id, parent span id, flags (W3C Trace Context, level 1)
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}")


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of this thread's current span, when one is being recorded."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:  # nothing in this process traces
        return None
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def valid_traceparent(value: str | None) -> str | None:
    """``value`` if it is a W3C ``traceparent`` a trace can join, else None: a caller's header
    that is malformed, of the invalid version ``ff`` or with an all-zero id is ignored (as the
    W3C recommendation says), never an error."""
    found = _TRACEPARENT.fullmatch((value or "").strip())
    if found is None or found[1] == "ff" or not found[2].strip("0") or not found[3].strip("0"):
        return None
    return found[0]


def traceparent_for(metadata: dict[str, Any] | None) -> str | None:
    """What a process started for an execution should join: the current span (a checkpoint
    unit started from inside its checkpoint's span), else the trace the execution recorded."""
    return current_traceparent() or (metadata or {}).get(METADATA_KEY)
