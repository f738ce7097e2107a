"""``@flow``: the durable boundary. ``f.run(...)`` starts an execution and returns a handle."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from kitaru.errors import UsageError
from kitaru.runtime import codeloc
from kitaru.runtime.serialization import decode_input as _decode
from kitaru.runtime.serialization import encode_input as _encode

if TYPE_CHECKING:
    from types import ModuleType

    from kitaru.handle import FlowHandle

R = TypeVar("R")


def _typed(flow: Flow[Any], name: str, value: dict[str, Any]) -> Any:
    """A JSON object given for a pydantic-model or dataclass parameter, as that type."""
    import dataclasses

    from kitaru.checkpoint import _type_hints

    annotation = _type_hints(flow.fn).get(name)
    if isinstance(annotation, type) and (
        dataclasses.is_dataclass(annotation) or hasattr(annotation, "model_validate")
    ):
        from kitaru.runtime.serialization import validate_as

        return validate_as(value, annotation)
    return value


class Flow(Generic[R]):
    """A function wrapped by ``@flow``."""

    #: how the runtime tells a flow from another object found at a recorded location
    is_kitaru_flow = True

    def __init__(
        self,
        fn: Callable[..., R],
        *,
        name: str | None = None,
        stack: str | None = None,
        retries: int = 0,
        cache: bool = False,
        image: Any = None,
        max_cost_usd: float | None = None,
        schedule: str | None = None,
    ) -> None:
        self.fn = fn
        #: a cron expression (UTC): `kitaru serve` keeps a schedule of this flow under its name
        self.schedule = schedule
        self.name = name or fn.__name__
        self.stack = stack
        self.retries = retries
        self.cache = cache
        self.image = image
        self.max_cost_usd = max_cost_usd
        self.is_async = inspect.iscoroutinefunction(fn)
        self.signature = inspect.signature(fn)
        self._location: codeloc.CodeLocation | None = None
        functools.update_wrapper(self, fn)

    @property
    def location(self) -> codeloc.CodeLocation:
        """Where the flow's code lives (recorded on every execution)."""
        if self._location is None:
            self._location = codeloc.locate(self.fn)
        return self._location

    # -- inputs ---------------------------------------------------------------------------------
    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(
                f"bad inputs for flow {self.name!r}: {exc}",
                hint=f"the flow takes {self.name}{self.signature}",
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    def inputs_record(self, arguments: dict[str, Any]) -> dict[str, list[Any]]:
        return {k: _encode(v) for k, v in arguments.items()}

    def inputs_from_record(
        self, record: dict[str, list[Any]]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        values = {k: _decode(v) for k, v in record.items()}
        for name, value in values.items():
            if isinstance(value, dict):  # JSON inputs (an invocation) for a typed parameter
                values[name] = _typed(self, name, value)
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for p in self.signature.parameters.values():
            if p.name not in values:
                continue
            if p.kind is p.POSITIONAL_ONLY:
                args.append(values[p.name])
            elif p.kind is p.VAR_POSITIONAL:
                args.extend(values[p.name])
            elif p.kind is p.VAR_KEYWORD:
                kwargs.update(values[p.name])
            else:
                kwargs[p.name] = values[p.name]
        return tuple(args), kwargs

    def parameter_annotation(self, name: str) -> Any:
        from kitaru.checkpoint import _type_hints

        if name not in self.signature.parameters:
            raise UsageError(
                f"flow {self.name!r} has no parameter {name!r}",
                hint="parameters: " + ", ".join(self.signature.parameters),
            )
        return _type_hints(self.fn).get(name, Any)

    # -- running --------------------------------------------------------------------------------
    def run(self, *args: Any, **kwargs: Any) -> FlowHandle[R]:
        """Start an execution and return its handle at once."""
        if codeloc.loading():
            raise codeloc.StopLoading()
        return self._launch(self.bind(args, kwargs))

    def enqueue(
        self, *args: Any, queue: Any, key: str | None = None, priority: int | None = None,
        dedup_key: str | None = None, **kwargs: Any,
    ) -> FlowHandle[R]:  # fmt: skip
        """Store an execution on ``queue`` (a :class:`kitaru.Queue` or a queue's name) for a
        worker (``kitaru serve --queue NAME``) to run; returns its handle at once.

        ``key``: the per-key concurrency key; ``priority``: higher runs first (default: the
        queue's); ``dedup_key``: while an execution of the queue with this key is queued or
        running, its handle is returned instead of a new one. (These four names are taken: a
        flow parameter of the same name is passed positionally.)"""
        from kitaru.queues import enqueue

        if codeloc.loading():
            raise codeloc.StopLoading()
        return enqueue(self, self.bind(args, kwargs), queue=queue, key=key, priority=priority,
                       dedup_key=dedup_key)  # fmt: skip

    def _launch(self, arguments: dict[str, Any], **how: Any) -> FlowHandle[R]:
        """Create the execution and hand it to its stack's orchestrator (``how``: see
        :class:`kitaru.runtime.launch.Launch`)."""
        from kitaru.handle import FlowHandle
        from kitaru.runtime.launch import launch, new_execution

        new = new_execution(self, arguments)
        return FlowHandle._launched(launch(new.store, new, "run", flow=self, **how))

    def secret_environment(self) -> dict[str, str]:
        """Environment variable -> secret reference of the flow's image settings, resolved
        for each unit that runs it elsewhere."""
        from kitaru.build import secret_environment

        return secret_environment(self)

    def deploy(self, *, stack: str | None = None, tag: str | None = "default") -> Any:
        """Record a new immutable deployment version (see :mod:`kitaru.deployments`)."""
        from kitaru.deployments import deploy

        return deploy(self, stack=stack, tag=tag)

    def invoke(
        self, inputs: dict[str, Any] | None = None, *, tag: str | None = None,
        version: int | None = None, **kwargs: Any,
    ) -> FlowHandle[R]:  # fmt: skip
        """Run a deployed version of this flow (``tag`` default: ``default``); inputs as a
        dict or as keyword arguments. Returns the handle at once."""
        from kitaru.deployments import invoke

        return invoke(self.name, {**(inputs or {}), **kwargs}, tag=tag, version=version)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        """Run and wait: the flow's return value, or ExecutionFailed."""
        if self.is_async:
            return self._acall(*args, **kwargs)  # type: ignore[return-value]
        if codeloc.loading():
            raise codeloc.StopLoading()
        # driven in the calling thread when the orchestrator runs it here, held through waits
        handle = self._launch(self.bind(args, kwargs), in_caller=True, hold=True)
        outcome = handle._outcome
        if outcome is not None and outcome.kind == "completed":
            return outcome.value
        return handle.wait()

    async def _acall(self, *args: Any, **kwargs: Any) -> R:
        import asyncio

        handle = self.run(*args, **kwargs)
        return await asyncio.to_thread(handle.wait)

    def __repr__(self) -> str:
        return f"<flow {self.name}>"


@overload
def flow(fn: Callable[..., R], /) -> Flow[R]: ...
@overload
def flow(
    *,
    name: str | None = None,
    stack: str | None = None,
    retries: int = 0,
    cache: bool = False,
    image: Any = None,
    max_cost_usd: float | None = None,
    schedule: str | None = None,
) -> Callable[[Callable[..., R]], Flow[R]]: ...
def flow(fn: Callable[..., R] | None = None, /, **options: Any) -> Any:
    """Mark a function as a durable flow: ``@flow`` or ``@flow(retries=2, ...)``."""
    if fn is not None:
        return Flow(fn, **options)
    return lambda f: Flow(f, **options)


def _split_target(target: str) -> tuple[str, str | None]:
    path, sep, name = target.rpartition(":")
    if sep and name.isidentifier() and path:
        return path, name
    return target, None


def _flows_in(module: ModuleType) -> list[str]:
    return sorted(k for k, v in vars(module).items() if isinstance(v, Flow) and k.isidentifier())


def load_flow(target: str) -> Flow[Any]:
    """Load ``FILE.py:FLOW`` (``FILE.py`` alone when the file defines exactly one flow)."""
    path, name = _split_target(target)
    module = codeloc.load_file(path)
    flows = _flows_in(module)
    found = "flows in the file: " + (
        ", ".join(flows) if flows else "none (decorate one with @flow)"
    )
    if name is None:
        if len(flows) == 1:
            name = flows[0]
        else:
            raise UsageError(f"say which flow of {path} to run, as {path}:FLOW", hint=found)
    obj = getattr(module, name, None)
    if obj is None:
        from kitaru.errors import NotFound

        raise NotFound(f"{path} defines no flow named {name!r}", hint=found)
    if not isinstance(obj, Flow):
        raise UsageError(f"{name!r} in {path} is a {type(obj).__name__}, not a @flow", hint=found)
    return obj
