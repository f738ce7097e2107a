"""Where a flow's code lives, and importing it again in another process.

An execution records the flow's module, qualname and source file. A resume elsewhere imports the
module (from the recorded root) or, for a script run as ``__main__``, executes the file again as
``__main__``. Loading stops at the script's first flow invocation, so a script that starts a flow
at top level (like the seed ``review_flow``) does not start a second execution when it is loaded.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitaru.errors import ConfigError

_loading = threading.local()
#: one load of a flow's code at a time: a module (or script) is in sys.modules while it is
#: still executing, so a second thread of a worker taking the same flow at the same moment
#: would find it half-made ("no longer defines work_flow"); reentrant for a module whose load
#: loads another
_load_lock = threading.RLock()


class StopLoading(BaseException):
    """Raised by a flow invocation while its module is being loaded for a resume."""


def loading() -> bool:
    return bool(getattr(_loading, "depth", 0))


@dataclass(frozen=True)
class CodeLocation:
    module: str
    qualname: str
    source_file: str | None
    root: str | None


def locate(fn: Any) -> CodeLocation:
    """Where ``fn`` is defined, in a form another process can import."""
    module = fn.__module__
    source = getattr(sys.modules.get(module), "__file__", None)
    source = os.path.abspath(source) if source else None
    root = None
    if source:
        if module == "__main__":
            root = os.path.dirname(source)
        else:
            root = str(Path(source).parents[module.count(".")])
            if Path(source).name == "__init__.py":
                root = str(Path(source).parents[module.count(".") + 1])
    return CodeLocation(module, fn.__qualname__, source, root)


def _exec_script(path: str) -> types.ModuleType:
    main = sys.modules.get("__main__")
    if main is not None and os.path.abspath(getattr(main, "__file__", "") or "") == path:
        return main  # the script is already this process's __main__ (or was loaded before)
    module = types.ModuleType("__main__")
    module.__file__ = path
    module.__kitaru_loaded__ = True  # type: ignore[attr-defined]
    sys.modules["__main__"] = module
    directory = os.path.dirname(path)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    code = compile(Path(path).read_bytes(), path, "exec")
    _loading.depth = getattr(_loading, "depth", 0) + 1
    try:
        exec(code, module.__dict__)
    except StopLoading:
        pass
    finally:
        _loading.depth -= 1
    return module


def _import_module(name: str, root: str | None) -> types.ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    if root and root not in sys.path:
        sys.path.insert(0, root)
    _loading.depth = getattr(_loading, "depth", 0) + 1
    try:
        return importlib.import_module(name)
    except StopLoading:
        return sys.modules[name]
    finally:
        _loading.depth -= 1


def relocate(loc: CodeLocation) -> CodeLocation:
    """``loc`` with its paths mapped by ``KITARU_CODE_MAP`` ("/recorded=/here,..."): the same
    project at another place, e.g. inside a container image."""
    mapping = os.environ.get("KITARU_CODE_MAP")
    if not mapping:
        return loc

    def move(path: str | None) -> str | None:
        if path is None:
            return None
        for pair in mapping.split(","):
            old, sep, new = pair.partition("=")
            old = old.rstrip("/")
            if sep and (path == old or path.startswith(old + "/")):
                return new.rstrip("/") + path[len(old) :]
        return path

    return CodeLocation(loc.module, loc.qualname, move(loc.source_file), move(loc.root))


def load(loc: CodeLocation) -> Any:
    """Import and return the object at ``loc`` (raises ConfigError naming the file and fix)."""
    loc = relocate(loc)
    where = loc.source_file or loc.module
    if loc.source_file and not os.path.exists(loc.source_file):
        raise ConfigError(
            f"the flow's code file {loc.source_file} is gone (it defined {loc.qualname})",
            hint=f"restore {loc.source_file} (or move it back) and resume again; "
            "the execution is unchanged and still resumable",
        )
    try:
        if loc.module == "__main__":
            if not loc.source_file:
                raise ConfigError(
                    f"flow {loc.qualname} was defined interactively and cannot be imported",
                    hint="define flows in a file or module",
                )
            with _load_lock:
                module = _exec_script(loc.source_file)
        else:
            with _load_lock:
                module = _import_module(loc.module, loc.root)
    except ConfigError:
        raise
    except Exception as exc:
        from kitaru.imports import missing_extra

        if (missing := missing_extra(exc)) is not None:
            raise ConfigError(f"cannot import the flow's code from {where}: {missing[0]}",
                              hint=f"{missing[1]}; the execution is unchanged and still "
                              "resumable") from exc  # fmt: skip
        raise ConfigError(
            f"cannot import the flow's code from {where}: {type(exc).__name__}: {exc}",
            hint="fix the import error; the execution is unchanged and still resumable",
        ) from exc
    obj: Any = module
    try:
        for part in loc.qualname.split("."):
            obj = getattr(obj, part)
    except AttributeError as exc:
        raise ConfigError(
            f"{where} no longer defines {loc.qualname}",
            hint="restore the flow under its old name, then resume",
        ) from exc
    return obj


def load_file(path: str) -> types.ModuleType:
    """Execute a user's flow file as ``__main__`` (for ``kitaru run FILE.py:FLOW``)."""
    full = os.path.abspath(path)
    if not os.path.exists(full):
        from kitaru.errors import NotFound

        raise NotFound(f"no such file: {path}", hint="give a path to a Python file")
    try:
        with _load_lock:
            return _exec_script(full)
    except Exception as exc:
        from kitaru.imports import missing_extra

        if (missing := missing_extra(exc)) is not None:  # e.g. kitaru.adapters.pydantic_ai
            raise ConfigError(f"cannot load {path}: {missing[0]}", hint=missing[1]) from exc
        raise ConfigError(
            f"cannot load {path}: {type(exc).__name__}: {exc}", hint="fix the error in the file"
        ) from exc
