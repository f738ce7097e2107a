"""``POST /api/v1/store/{method}``: the metadata-store interface over HTTP.

This is how a process connected to a server (``kitaru.connect``) runs flows: its runtime calls
the same store methods as with the embedded store, and :class:`~kitaru.store.remote.RemoteStore`
sends each call here. Only the methods of :class:`~kitaru.store.base.MetadataStore` can be
called; arguments and results are encoded by :mod:`kitaru.store.codec`.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field, TypeAdapter, ValidationError

from kitaru.errors import NotFound, UsageError
from kitaru.store import codec
from kitaru.store.base import MetadataStore
from kitaru.store.remote import REMOTE_METHODS
from kitaru.validation import check_text

METHODS = frozenset(REMOTE_METHODS)
#: every integer a store column holds (BIGINT)
INT64 = (-(2**63), 2**63 - 1)
HINT = "this route is for kitaru clients of the same version"

Checker = Callable[[tuple[Any, ...], dict[str, Any]], inspect.BoundArguments]


def _eager(tp: Any) -> Any:
    """``tp`` with every ``Iterable[X]`` read as ``list[X]``: pydantic validates an iterable
    lazily, so a bad item would only fail inside the store, after it began writing."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is collections.abc.Iterable:
        return list[_eager(args[0])]  # type: ignore[misc]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_eager(a) for a in args)]  # noqa: UP007 - built at run time
    return tp


def _fields(value: Any) -> Any:
    """A store record as a dict of its fields (lists and tuples of them too), so that pydantic
    builds it again with every field checked (an instance would be taken as it is)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return type(value)(_fields(v) for v in value)
    return value


def _stored_as_text(value: Any, tp: Any, where: str) -> Iterator[tuple[Any, str]]:
    """``(value, where)`` for every str and int inside a validated argument that a store keeps
    in a column (record fields, list items, tuple members), by its annotation ``tp``. JSON
    payloads (``Any``-valued dicts: inputs, metadata, configs) are stored as escaped JSON and
    left alone."""
    if value is None or tp is Any:
        return
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is str or tp is int:
        yield value, where
    elif origin in (typing.Union, types.UnionType):
        for arg in args:
            kind = typing.get_origin(arg) or arg
            if arg is not type(None) and isinstance(kind, type) and isinstance(value, kind):
                yield from _stored_as_text(value, arg, where)
                return
    elif origin in (list, collections.abc.Iterable, collections.abc.Sequence) and args:
        for i, item in enumerate(value):
            yield from _stored_as_text(item, args[0], f"{where}[{i}]")
    elif origin is tuple and args:
        items = args if Ellipsis not in args else (args[0],) * len(value)
        for i, (item, item_tp) in enumerate(zip(value, items, strict=False)):
            yield from _stored_as_text(item, item_tp, f"{where}[{i}]")
    elif origin in (dict, collections.abc.Mapping) and len(args) == 2 and Any not in args:
        for k, v in value.items():
            yield from _stored_as_text(k, args[0], f"{where} key")
            yield from _stored_as_text(v, args[1], f"{where}[{k!r}]")
    elif isinstance(tp, type) and dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        for f in dataclasses.fields(tp):
            yield from _stored_as_text(getattr(value, f.name), hints[f.name], f"{where}.{f.name}")


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
    return f"{loc.lstrip('.') + ': ' if loc else ''}{err['msg']}"


def argument_checker(method: Callable[..., Any], name: str) -> Checker:
    """Binds RPC arguments to ``method``'s signature and validates each against its type
    annotation (once per method: the signature is read, and the validators built, here);
    names and ids must be text a store can hold and integers must fit a BIGINT. Raises one
    line of UsageError naming the method and the argument."""
    signature = inspect.signature(method, eval_str=True)
    params = [p for p in signature.parameters.values() if p.name != "self"]
    signature = signature.replace(parameters=params)
    adapters = {p.name: (TypeAdapter(_eager(p.annotation)), p.annotation) for p in params
                if p.annotation is not inspect.Parameter.empty}  # fmt: skip

    def check(args: tuple[Any, ...], kwargs: dict[str, Any]) -> inspect.BoundArguments:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UsageError(f"store.{name}: {exc}", hint=HINT) from None
        for arg, value in bound.arguments.items():
            if arg not in adapters:
                continue
            adapter, tp = adapters[arg]
            try:
                value = bound.arguments[arg] = adapter.validate_python(_fields(value))
            except ValidationError as exc:
                raise UsageError(f"store.{name}: argument {arg}: {_first_error(exc)}",
                                 hint=HINT) from None  # fmt: skip
            for item, where in _stored_as_text(value, _eager(tp), arg):
                if isinstance(item, str):
                    check_text(item, f"store.{name}: argument {where}")
                elif isinstance(item, int) and not INT64[0] <= item <= INT64[1]:
                    raise UsageError(f"store.{name}: argument {where}: {item} is out of range "
                                     "(a 64-bit integer)", hint=HINT)  # fmt: skip
        return bound

    return check


class StoreCall(BaseModel):
    args: list[Any] = Field(default_factory=list, description="positional arguments (encoded)")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="keyword arguments (encoded)")


class StoreResult(BaseModel):
    result: Any = Field(description="the method's return value (encoded)")


def add(api: APIRouter, store: MetadataStore) -> None:
    checkers: dict[str, Checker] = {}

    @api.post("/store/{method}", tags=["store"], response_model=StoreResult)
    def call(method: str, body: StoreCall) -> dict[str, Any]:
        """Call one metadata-store method (used by connected SDKs and workers). Arguments are
        checked against the method's signature first: a wrong one is a 400, never a 500."""
        if method not in METHODS:
            raise NotFound(f"no store method {method!r}")
        try:
            args, kwargs = codec.decode(body.args), codec.decode(body.kwargs)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UsageError(f"store.{method}: cannot decode arguments: {exc}") from None
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise UsageError(f"store.{method}: args must be a list and kwargs an object")
        check = checkers.get(method)
        if check is None:
            check = checkers[method] = argument_checker(getattr(store, method), method)
        bound = check(tuple(args), kwargs)
        try:
            result = getattr(store, method)(*bound.args, **bound.kwargs)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise UsageError(f"store.{method}: bad arguments: {type(exc).__name__}: {exc}",
                             hint="this route is for kitaru clients of the same version") from None  # fmt: skip
        return {"result": codec.encode(result)}
