"""``@checkpoint``: a unit of work whose result is journaled and never recomputed on resume."""

from __future__ import annotations

import functools
import hashlib
import inspect
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar, overload

from kitaru.errors import UsageError
from kitaru.runtime.checkpoints import registry as _registry
from kitaru.runtime.context import current_execution, current_frame
from kitaru.runtime.serialization import fingerprint
from kitaru.validation import check_text

R = TypeVar("R")

_warned: set[str] = set()
#: checkpoints by name, so replay can validate an override against the return annotation.
registry: dict[str, Checkpoint[Any]] = _registry


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, stacklevel=4)


class Checkpoint(Generic[R]):
    """A function wrapped by ``@checkpoint``. Call it like the function; it returns the value."""

    def __init__(
        self,
        fn: Callable[..., R],
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 0.0,
        cache: bool = False,
        runtime: str = "inline",
        type: str | None = None,
    ) -> None:
        if runtime not in ("inline", "isolated"):
            raise UsageError(
                f"@checkpoint(runtime={runtime!r}) is not a runtime",
                hint='use runtime="inline" or runtime="isolated"',
            )
        if retries < 0:
            raise UsageError("@checkpoint(retries=) must be >= 0")
        self.fn = fn
        self.name = check_text(name or fn.__name__, "checkpoint name")
        if "#" in self.name or "/" in self.name:
            raise UsageError(f"checkpoint name {self.name!r} may not contain '#' or '/'")
        self.retries = retries
        self.retry_delay = retry_delay
        self.cache = cache
        self.runtime = runtime
        self.type = type
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature: inspect.Signature | None = None
        self._simple: tuple[str, ...] | None = None
        self._code_fp: bytes | None = None
        functools.update_wrapper(self, fn)
        registry[self.name] = self

    # -- identity -------------------------------------------------------------------------------
    @property
    def signature(self) -> inspect.Signature:
        if self._signature is None:
            sig = self._signature = inspect.signature(self.fn)
            params = sig.parameters.values()
            if all(p.kind is p.POSITIONAL_OR_KEYWORD and p.default is p.empty for p in params):
                self._simple = tuple(sig.parameters)
        return self._signature

    @property
    def return_annotation(self) -> Any:
        hints = _type_hints(self.fn)
        return hints.get("return", Any)

    def fingerprint_inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
        """sha256 over the bound arguments: positional or keyword, the same call matches."""
        sig = self.signature
        simple = self._simple
        if simple is not None and not kwargs and len(args) == len(simple):
            return fingerprint(dict(zip(simple, args, strict=True)))  # the common, fast case
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"bad arguments for checkpoint {self.name!r}: {exc}") from None
        bound.apply_defaults()
        return fingerprint(bound.arguments)

    def cache_key(self, input_fp: bytes) -> bytes:
        """Cross-execution cache key: name + inputs + the function's code."""
        if self._code_fp is None:
            try:
                source = inspect.getsource(self.fn).encode()
            except (OSError, TypeError):
                source = self.fn.__code__.co_code
            self._code_fp = hashlib.sha256(source).digest()
        return hashlib.sha256(self.name.encode() + b"\0" + input_fp + self._code_fp).digest()

    # -- calling --------------------------------------------------------------------------------
    def _context(self) -> Any:
        ctx = current_execution.get()
        if ctx is None:
            _warn_once(
                f"outside:{self.name}",
                f"kitaru: checkpoint {self.name!r} called outside a flow runs as a plain "
                "function (not journaled)",
            )
            return None
        if current_frame.get() is not None:
            _warn_once(
                f"nested:{self.name}",
                f"kitaru: checkpoint {self.name!r} called inside another checkpoint runs as a "
                "plain function (not journaled)",
            )
            return None
        return ctx

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        ctx = self._context()
        if ctx is None:
            return self.fn(*args, **kwargs)
        call_id = ctx.next_call_id(self.name)
        if self.is_async:
            from kitaru.runtime.engine import call_checkpoint_async

            return call_checkpoint_async(ctx, self, call_id, args, kwargs)  # type: ignore[return-value]
        from kitaru.runtime.engine import call_checkpoint

        return call_checkpoint(ctx, self, call_id, args, kwargs)

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        """Start the call in parallel; returns a future (an ``asyncio.Task`` for async ones).

        Call ids are given in submission order, so they are stable across resume and replay.
        """
        ctx = self._context()
        if self.is_async:
            import asyncio

            return asyncio.ensure_future(self(*args, **kwargs))  # type: ignore[call-overload]
        if ctx is None:
            done: Future[R] = Future()
            try:
                done.set_result(self.fn(*args, **kwargs))
            except Exception as exc:
                done.set_exception(exc)
            return done
        from kitaru.runtime.engine import call_checkpoint

        call_id = ctx.next_call_id(self.name)
        return ctx.submit(call_checkpoint, ctx, self, call_id, args, kwargs)

    def map(self, iterable: Iterable[Any]) -> Any:
        """Call once per item in parallel; returns the list of results in input order.

        For an ``async def`` checkpoint, returns an awaitable of that list.
        """
        futures = [self.submit(item) for item in iterable]
        if self.is_async:
            import asyncio

            return asyncio.gather(*futures)
        return [f.result() for f in futures]

    def __repr__(self) -> str:
        return f"<checkpoint {self.name}>"


@functools.lru_cache(maxsize=512)
def _type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    import typing

    try:
        return typing.get_type_hints(fn)
    except Exception:
        return dict(getattr(fn, "__annotations__", {}))


@overload
def checkpoint(fn: Callable[..., R], /) -> Checkpoint[R]: ...
@overload
def checkpoint(
    *,
    name: str | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    cache: bool = False,
    runtime: str = "inline",
    type: str | None = None,
) -> Callable[[Callable[..., R]], Checkpoint[R]]: ...
def checkpoint(fn: Callable[..., R] | None = None, /, **options: Any) -> Any:
    """Mark a function as a checkpoint: ``@checkpoint`` or ``@checkpoint(retries=3, ...)``."""
    if fn is not None:
        return Checkpoint(fn, **options)
    return lambda f: Checkpoint(f, **options)
