"""The plugin manager: builtin flavors plus entry points of group ``kitaru``, loaded lazily.

Nothing here runs at ``import kitaru``. Each entry point is loaded, and each hook of each plugin
called, in its own try/except: a broken plugin is recorded (``kitaru plugin list`` shows it, the
stack that needs it names it) and never breaks unrelated commands. ``KITARU_STRICT_PLUGINS=1``
makes a broken plugin fatal; ``KITARU_PLUGINS=a,b`` loads only those entry points.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pluggy

from kitaru.components.base import ARTIFACT_STORE
from kitaru.components.flavor import Flavor
from kitaru.components.standins import StandIn
from kitaru.errors import ConfigError
from kitaru.plugins import hookspecs
from kitaru.plugins.known import KNOWN_FLAVORS, KNOWN_SCHEMES, install_hint

GROUP = "kitaru"
#: every hook a plugin can implement (the specifications in hookspecs.py)
HOOKS = tuple(sorted(n for n in vars(hookspecs) if n.startswith("kitaru_")))


@dataclass
class PluginInfo:
    name: str
    distribution: str
    version: str | None
    status: str = "loaded"  # loaded | failed
    error: str | None = None
    hooks: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _strict() -> bool:
    return os.environ.get("KITARU_STRICT_PLUGINS", "").strip() not in ("", "0", "false")


class PluginManager:
    def __init__(self, *, entry_points: bool = True) -> None:
        self.pm = pluggy.PluginManager(GROUP)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        from kitaru.builtin import plugin as builtin

        self._register(builtin, PluginInfo("kitaru", "kitaru", _version("kitaru")))
        if entry_points:
            self._load_entry_points()

    def _register(self, module: Any, info: PluginInfo) -> None:
        self.pm.register(module, name=info.name)
        info.hooks = sorted(
            name
            for name in dir(module)
            if name.startswith("kitaru_") and callable(getattr(module, name))
        )
        self.infos[info.name] = info

    def _load_entry_points(self) -> None:
        from importlib.metadata import entry_points

        only = os.environ.get("KITARU_PLUGINS")
        allowed = None if only is None else {p.strip() for p in only.split(",") if p.strip()}
        for ep in entry_points(group=GROUP):
            if allowed is not None and ep.name not in allowed:
                continue
            dist = ep.dist.name if ep.dist is not None else ep.value.split(":")[0]
            info = PluginInfo(ep.name, dist, ep.dist.version if ep.dist is not None else None)
            try:
                module = ep.load()
            except Exception as exc:
                self._fail(info, exc)
                continue
            self._register(module, info)

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        info.status = "failed"
        lines = (line.strip() for line in f"{type(exc).__name__}: {exc}".splitlines())
        info.error = "; ".join(line for line in lines if line)  # one line, for the table
        self.infos[info.name] = info
        if _strict():
            raise ConfigError(
                f"plugin {info.name!r} ({info.distribution}) failed: {info.error}",
                hint="fix or uninstall it, or unset KITARU_STRICT_PLUGINS",
            ) from exc

    def _results(self, hook: str) -> Iterator[tuple[PluginInfo, Any]]:
        """Every item every plugin returns from ``hook``, one plugin failing alone."""
        for impl in getattr(self.pm.hook, hook).get_hookimpls():
            info = self.infos[impl.plugin_name]
            if info.status == "failed":
                continue
            try:
                items = impl.function() or []
            except Exception as exc:
                self._fail(info, exc)
                continue
            for item in items:
                yield info, item

    # -- what plugins provide -------------------------------------------------------------------
    def flavors(self) -> list[Flavor]:
        found: dict[tuple[str, str], Flavor] = {}
        for info, flavor in self._results("kitaru_flavors"):
            found[(flavor.type, flavor.name)] = replace(flavor, provider=info.distribution)
        return sorted(found.values(), key=lambda f: (f.type, f.name))

    def flavor(self, component_type: str, name: str) -> Flavor:
        """The flavor, or a ConfigError with an install hint or the failing plugin's error."""
        flavors = self.flavors()
        for f in flavors:
            if f.type == component_type and f.name == name:
                return f
        self._raise_if_its_plugin_failed(component_type, name)
        failed = [i for i in self.infos.values() if i.status == "failed"]
        available = ", ".join(f.name for f in flavors if f.type == component_type) or "none"
        hint = install_hint(name) or f"available {component_type} flavors: {available}"
        if failed and not install_hint(name):
            hint += "; plugins that failed to load: " + ", ".join(
                f"{i.name} ({i.error})" for i in failed
            )
        from kitaru.errors import UnknownName

        raise UnknownName(f"unknown {component_type} flavor {name!r}", hint=hint)

    def _raise_if_its_plugin_failed(self, component_type: str, name: str) -> None:
        """A ConfigError naming the plugin and its error if flavor ``name`` would come from a
        plugin that failed to load."""
        dist = KNOWN_FLAVORS.get(name)
        for info in self.infos.values():
            if info.status == "failed" and (info.name == name or info.distribution == dist):
                raise ConfigError(
                    f"{component_type} flavor {name!r} is unavailable: plugin {info.name!r} "
                    f"({info.distribution}) failed to load: {info.error}",
                    hint=f"fix or reinstall {info.distribution}; see `kitaru plugin list`",
                )

    def flavor_for_scheme(self, component_type: str, scheme: str) -> Flavor:
        """The installed flavor of ``component_type`` that declares it serves ``scheme`` URLs
        (``Flavor.schemes``; ``""``: a bare path). Otherwise a one-line ConfigError: for a
        first-party scheme (``gs``), the install hint of the flavor that serves it (or its
        plugin's load error); for any other, the schemes the installed flavors serve."""
        scheme = scheme.lower()
        flavors = [f for f in self.flavors() if f.type == component_type]
        for f in flavors:
            if scheme in f.schemes:
                return f
        known = KNOWN_SCHEMES.get(scheme) if component_type == ARTIFACT_STORE else None
        message = f"no installed {component_type} flavor serves {scheme}:// URLs"
        if known is not None:
            self._raise_if_its_plugin_failed(component_type, known)
            raise ConfigError(message, hint=install_hint(known))
        served = sorted({s for f in flavors for s in f.schemes}, key=lambda s: (not s, s))
        listed = ", ".join(f"{s}://" if s else "a bare path" for s in served) or "none"
        raise ConfigError(f"{message} (installed flavors serve: {listed})",
                          hint=f"`kitaru flavor list -t {component_type}` lists them")  # fmt: skip

    def cli_commands(self) -> list[Any]:
        return [cmd for _, cmd in self._results("kitaru_cli_commands")]

    def serializers(self) -> list[Any]:
        return [s for _, s in self._results("kitaru_serializers")]

    def stack_templates(self) -> dict[str, str]:
        return dict(t for _, t in self._results("kitaru_stack_templates"))

    def standins(self) -> list[StandIn]:
        return [replace(s, provider=info.distribution)
                for info, s in self._results("kitaru_standins")]  # fmt: skip

    def standin_for(self, component_type: str, flavor: str) -> StandIn | None:
        """The installed stand-in serving ``flavor`` of ``component_type`` (None: none)."""
        for s in self.standins():
            if (component_type, flavor) in s.serves:
                return s
        return None

    def plugins(self) -> list[PluginInfo]:
        """Every plugin with its status. Every hook of every plugin is called first, so a plugin
        whose hook raises is listed as failed with its error (not as loaded until something
        happens to call that hook)."""
        for hook in HOOKS:
            for _ in self._results(hook):
                pass
        return sorted(self.infos.values(), key=lambda i: (i.name != "kitaru", i.name))


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


_manager: PluginManager | None = None
_lock = threading.Lock()


def plugin_manager() -> PluginManager:
    """This process's plugin manager (entry points are loaded on first use)."""
    global _manager
    if _manager is None:
        with _lock:
            if _manager is None:
                _manager = PluginManager()
    return _manager


def reset_plugin_manager() -> None:
    global _manager
    _manager = None
