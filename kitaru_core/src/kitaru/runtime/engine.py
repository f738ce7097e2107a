"""The durable engine: checkpoint calls, waits and flow bodies against the journal.

A checkpoint call is looked up in the execution's own journal (resume), then in the replay
source (replay), then in the cross-execution cache (``cache=True``); only on a miss does its body
run, and its result is journaled in one write before the flow goes on.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from kitaru.errors import KitaruError, LeaseLost
from kitaru.redact import scrub
from kitaru.runtime.context import CallFrame, ExecutionContext, current_frame
from kitaru.store.records import CHECKPOINT, Attempt, Call
from kitaru.validation import storable

if TYPE_CHECKING:
    from kitaru.checkpoint import Checkpoint

_MISS = object()


class Suspended(BaseException):
    """Unwinds a flow body that reached a wait with no input yet (not an error)."""

    def __init__(self, call_id: str) -> None:
        super().__init__(call_id)
        self.call_id = call_id


# -- checkpoint calls -----------------------------------------------------------------------------
def _lookup(ctx: ExecutionContext, cp: Checkpoint, call_id: str, fp: bytes) -> Any:
    """The stored result of this call, or ``_MISS``."""
    rec = ctx.journal.get(call_id)
    if rec is not None and rec.status == "completed" and rec.fingerprint == fp:
        return ctx.values.load(rec.serializer or "json", rec.type_name, rec.value, rec.ref)
    replay = ctx.replay
    if replay is not None:
        if call_id in replay.overrides:
            from kitaru.runtime.serialization import validate_as

            value = validate_as(replay.overrides[call_id], cp.return_annotation)
            now = time.time()
            ctx.record(
                Call(call_id, CHECKPOINT, "completed", ctx.next_seq(), fp, *ctx.values.dump(value),
                     started_at=now, ended_at=now, attempts=0, meta={"overridden": True})
            )  # fmt: skip
            return value
        src = replay.journal.get(call_id)
        if (
            src is not None
            and call_id not in replay.forced
            and src.kind == CHECKPOINT
            and src.status == "completed"
            and src.fingerprint == fp
        ):
            meta = {**(src.meta or {}), "cached_from": replay.source_id}
            ctx.record(replace(src, seq=ctx.next_seq(), meta=meta))
            return ctx.values.load(src.serializer or "json", src.type_name, src.value, src.ref)
    if cp.cache or ctx.flow.cache:
        hit = ctx.store.cache_lookup(cp.cache_key(fp))
        if hit is not None:
            source_id, cached = hit
            ctx.record(
                replace(
                    cached,
                    call_id=call_id,
                    seq=ctx.next_seq(),
                    meta={**(cached.meta or {}), "cached_from": source_id},
                )
            )
            return ctx.values.load(
                cached.serializer or "json", cached.type_name, cached.value, cached.ref
            )
    return _MISS


def _failed_attempt(
    ctx: ExecutionContext, call_id: str, n: int, started: float, exc: BaseException
) -> None:
    from kitaru.errors import user_traceback

    # the first line is what tables show; the user's traceback follows (AttemptInfo splits it)
    error = f"{type(exc).__name__}: {exc}\n{user_traceback(exc)[-8000:]}"
    ctx.store.add_attempt(ctx.pk, Attempt(call_id, n, started, time.time(),
                                          storable(scrub(error))), epoch=ctx.epoch)  # fmt: skip


def _record_failure(
    ctx: ExecutionContext, call_id: str, fp: bytes, n: int, started: float, frame: CallFrame,
    exc: BaseException,
) -> None:  # fmt: skip
    meta = {**frame.metadata, "error": {"type": type(exc).__name__, "message": scrub(str(exc))}}
    ctx.record(Call(call_id, CHECKPOINT, "failed", ctx.next_seq(), fp, started_at=started,
                    ended_at=time.time(), attempts=n, meta=meta))  # fmt: skip


def _record_success(
    ctx: ExecutionContext, cp: Checkpoint, call_id: str, fp: bytes, n: int, started: float,
    frame: CallFrame, value: Any,
) -> None:  # fmt: skip
    stored = ctx.values.dump(value)
    ctx.record(Call(call_id, CHECKPOINT, "completed", ctx.next_seq(), fp, *stored,
                    started_at=started, ended_at=time.time(), attempts=n,
                    meta=frame.metadata or None))  # fmt: skip
    if cp.cache or ctx.flow.cache:
        ctx.store.cache_put(cp.cache_key(fp), ctx.pk, call_id, epoch=ctx.epoch)


def call_checkpoint(
    ctx: ExecutionContext, cp: Checkpoint, call_id: str, args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:  # fmt: skip
    fp = cp.fingerprint_inputs(args, kwargs)
    value = _lookup(ctx, cp, call_id, fp)
    if value is not _MISS:
        return value
    attempts = cp.retries + 1
    for n in range(1, attempts + 1):
        ctx.check_runnable()
        frame = CallFrame(call_id)
        started = time.time()
        token = current_frame.set(frame)
        tel = ctx.telemetry
        try:
            if tel is None:  # the common case: no tracing, nothing more than this test
                value = _body(ctx, cp, args, kwargs)
            else:
                value = tel.checkpoint(ctx, cp.name, call_id, n, _body, ctx, cp, args, kwargs)
        except LeaseLost:
            raise  # a nested call found the execution taken over: not this body's failure
        except Exception as exc:
            _failed_attempt(ctx, call_id, n, started, exc)
            if n < attempts and getattr(exc, "retryable", True):
                time.sleep(cp.retry_delay)
                continue
            _record_failure(ctx, call_id, fp, n, started, frame, exc)
            raise
        finally:
            current_frame.reset(token)
        _record_success(ctx, cp, call_id, fp, n, started, frame, value)
        return value
    raise AssertionError("unreachable")


def _body(
    ctx: ExecutionContext, cp: Checkpoint[Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    if cp.runtime == "isolated":
        from kitaru.runtime.isolated import run_isolated

        return run_isolated(ctx, cp, args, kwargs)
    return cp.fn(*args, **kwargs)


async def call_checkpoint_async(
    ctx: ExecutionContext, cp: Checkpoint, call_id: str, args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:  # fmt: skip
    fp = cp.fingerprint_inputs(args, kwargs)
    value = _lookup(ctx, cp, call_id, fp)
    if value is not _MISS:
        return value
    attempts = cp.retries + 1
    for n in range(1, attempts + 1):
        ctx.check_runnable()
        frame = CallFrame(call_id)
        started = time.time()
        token = current_frame.set(frame)
        tel = ctx.telemetry
        try:
            if cp.runtime == "isolated":
                import asyncio

                value = await asyncio.to_thread(_body, ctx, cp, args, kwargs)
            elif tel is None:
                value = await cp.fn(*args, **kwargs)
            else:
                value = await tel.checkpoint_async(ctx, cp.name, call_id, n,
                                                   lambda: cp.fn(*args, **kwargs))  # fmt: skip
        except LeaseLost:
            raise
        except Exception as exc:
            _failed_attempt(ctx, call_id, n, started, exc)
            if n < attempts and getattr(exc, "retryable", True):
                import asyncio

                await asyncio.sleep(cp.retry_delay)
                continue
            _record_failure(ctx, call_id, fp, n, started, frame, exc)
            raise
        finally:
            current_frame.reset(token)
        _record_success(ctx, cp, call_id, fp, n, started, frame, value)
        return value
    raise AssertionError("unreachable")


# -- flow bodies ----------------------------------------------------------------------------------
@dataclass
class Outcome:
    """How one pass over a flow body ended."""

    kind: str  # completed | failed | suspended | cancelled | lost (taken over by another runner)
    value: Any = None
    error: BaseException | None = None
    wait_call_id: str | None = None


def error_record(exc: BaseException, origin: str = "user_code") -> dict[str, Any]:
    from kitaru.errors import user_traceback

    message = str(exc)
    if type(exc).__name__ == "ValidationError" and type(exc).__module__.startswith("pydantic"):
        from kitaru.runtime.serialization import validation_message

        message = validation_message(exc)  # type: ignore[arg-type]  # one line, no doc links
    return {
        "type": type(exc).__name__,
        "message": scrub(message),
        "origin": getattr(exc, "origin", origin),
        "traceback": scrub(user_traceback(exc))[-8000:],
    }


def run_body(ctx: ExecutionContext) -> Outcome:
    """Run the flow body once from the top, in this thread (in its ``execution`` span when
    this process traces: see :mod:`kitaru.runtime.telemetry`)."""
    from kitaru.runtime.telemetry import resolve

    ctx.telemetry = None
    try:
        tel = ctx.telemetry = resolve()
    except KitaruError as exc:  # KITARU_OTEL=1 without kitaru[otel]: the execution fails in
        return Outcome("failed", error=exc)  # one line; its driving thread must not die
    if tel is None:
        return _run_body(ctx)
    return tel.execution_pass(ctx, lambda: _run_body(ctx))


def _run_body(ctx: ExecutionContext) -> Outcome:
    from kitaru.errors import ExecutionCancelled
    from kitaru.runtime.context import current_execution
    from kitaru.runtime.logs import install

    install()
    token = current_execution.set(ctx)
    try:
        # inside the try: inputs that do not validate fail the execution, never its thread
        args, kwargs = ctx.flow.inputs_from_record(ctx.execution.inputs)
        result = ctx.flow.fn(*args, **kwargs)
        if ctx.flow.is_async:
            import asyncio  # only async flows pay for it

            result = asyncio.run(_await(result))
        ctx.join()
        return Outcome("completed", value=result)
    except Suspended as s:
        ctx.join()
        return Outcome("suspended", wait_call_id=s.call_id)
    except ExecutionCancelled as exc:
        ctx.join()
        return Outcome("cancelled", error=exc)
    except Exception as exc:
        ctx.join()
        if ctx.lost is not None or isinstance(exc, LeaseLost):
            # whatever the flow made of it (caught it, failed otherwise): not ours to record
            return Outcome("lost", error=ctx.lost or exc)
        return Outcome("failed", error=exc)
    finally:
        current_execution.reset(token)
        ctx.close()


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
