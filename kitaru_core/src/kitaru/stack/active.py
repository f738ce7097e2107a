"""Which stack is active, and the :class:`~kitaru.stack.model.Stack` object for it.

Precedence, first that names a stack wins:

1. ``explicit``: ``flow.run(stack=...)`` or ``@flow(stack=...)``
2. ``kitaru.configure(stack=...)``
3. the ``KITARU_STACK`` environment variable
4. ``stack = "..."`` under ``[tool.kitaru]`` in the project's ``pyproject.toml`` (searched
   from the working directory upward)
5. ``active_stack`` in the global config file ``KITARU_HOME/config.yaml`` (``kitaru stack use``)
6. ``local``

Layers 3-5 are pydantic-settings sources, imported only when a layer must be consulted. A name
that resolves to no stack is an error naming the layer it came from, never a fallback.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kitaru.errors import ConfigError

if TYPE_CHECKING:
    from kitaru.stack.model import Stack

DEFAULT_STACK = "local"
GLOBAL_KEY = "active_stack"

_lock = threading.Lock()
_stacks: dict[tuple[str, str | None, str | None, str], Stack] = {}


# -- the global config file -------------------------------------------------------------------
def global_config_path() -> Path:
    from kitaru.config import settings

    return settings().home / "config.yaml"


def read_global_config() -> dict[str, Any]:
    path = global_config_path()
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}".splitlines()[0],
                          hint="fix or delete the file") from None  # fmt: skip
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings", hint="fix or delete the file")
    return data


def write_global_config(**values: Any) -> None:
    """Merge ``values`` into the global config file (``None`` removes a key)."""
    import yaml

    data = read_global_config()
    for key, value in values.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    path = global_config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=True))
    os.replace(tmp, path)


# -- pydantic-settings layers -----------------------------------------------------------------
def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` from ``start`` (default: the working directory) upward."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def _settings_class() -> Any:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

    class GlobalConfigSource(PydanticBaseSettingsSource):
        """``active_stack`` from ``KITARU_HOME/config.yaml``."""

        def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
            return self().get(field_name), field_name, False

        def __call__(self) -> dict[str, Any]:
            value = read_global_config().get(GLOBAL_KEY)
            return {"stack": str(value)} if value else {}

    class StackSettings(BaseSettings):
        """The active stack from the environment, the project and the global config."""

        model_config = SettingsConfigDict(
            env_prefix="KITARU_",
            env_ignore_empty=True,
            extra="ignore",
            pyproject_toml_table_header=("tool", "kitaru"),
        )

        stack: str | None = None

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, *(source for _, source in _sources(settings_cls)))

    StackSettings.global_source = GlobalConfigSource  # type: ignore[attr-defined]
    return StackSettings


_settings_cls: list[Any] = []


def stack_settings_class() -> Any:
    """The pydantic-settings class (``StackSettings().stack`` is layers 3-5), built lazily."""
    if not _settings_cls:
        _settings_cls.append(_settings_class())
    return _settings_cls[0]


def _sources(cls: Any) -> list[tuple[str, Any]]:
    """``(label, pydantic-settings source)`` for layers 3-5, highest precedence first."""
    from pydantic_settings import EnvSettingsSource, PyprojectTomlConfigSettingsSource

    layers: list[tuple[str, Any]] = [("environment variable KITARU_STACK", EnvSettingsSource(cls))]
    pyproject = find_pyproject()
    try:  # always present (None finds nothing), so its table header is never "unused"
        source = PyprojectTomlConfigSettingsSource(cls, pyproject)
    except Exception as exc:
        raise ConfigError(f"cannot read {pyproject}: {type(exc).__name__}: {exc}",
                          hint="fix the TOML") from None  # fmt: skip
    layers.append((f"[tool.kitaru] in {pyproject}", source))
    layers.append((f"the global config {global_config_path()}", cls.global_source(cls)))
    return layers


def resolve_active(explicit: str | None = None) -> tuple[str, str]:
    """The active stack's name and where it came from (for messages)."""
    if explicit:
        return explicit, "the stack= argument"
    from kitaru.config import _overrides

    override = _overrides.get("stack")
    if override:
        return str(override), "kitaru.configure(stack=...)"
    for label, source in _sources(stack_settings_class()):
        try:
            value = source().get("stack")
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"cannot read {label}: {type(exc).__name__}: {exc}",
                              hint="fix the file") from None  # fmt: skip
        if value:
            return str(value), label
    return DEFAULT_STACK, "the default"


def active_stack_name(explicit: str | None = None) -> str:
    """The name of the stack to use, by the precedence in this module's docstring."""
    return resolve_active(explicit)[0]


def active_stack(explicit: str | None = None) -> Stack:
    """The active :class:`~kitaru.stack.model.Stack` (ConfigError if it is not registered).

    Stack objects are cached per store and spec, so their components are built once.
    """
    from kitaru.config import settings
    from kitaru.stack import registry
    from kitaru.stack.model import Stack

    name, origin = resolve_active(explicit)
    try:
        spec = registry.get_stack(name)
    except ConfigError as exc:
        if origin == "the default":
            raise
        raise ConfigError(f"{exc.message} (set by {origin})", hint=exc.hint) from None
    import os

    s = settings()  # a stack's local components depend on the home; its spec on the store
    key = (str(s.db_path), s.db_url, os.environ.get("KITARU_SERVER_URL"), spec.model_dump_json())
    stack = _stacks.get(key)
    if stack is None:
        with _lock:
            stack = _stacks.setdefault(key, Stack(spec))
    return stack


#: bumped whenever built stacks are forgotten, so caches of answers about them (the runtime's
#: orchestrators by stack) know to drop theirs
generation = [0]


def reset_stack_cache() -> None:
    """Forget built stacks (tests, or after a component's config changed)."""
    with _lock:
        _stacks.clear()
        _settings_cls.clear()
        generation[0] += 1
