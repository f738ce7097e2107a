"""Process-local settings: where Kitaru keeps its state and how the runtime behaves.

Kept free of pydantic-settings on purpose: it is read on every ``flow.run()`` and must stay cheap.
The stack framework layers its own settings (active stack, project config) on top of this.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

_overrides: dict[str, object] = {}


@dataclass(frozen=True)
class Settings:
    """Resolved runtime settings. Build with :func:`settings`."""

    home: Path
    #: Values whose serialized form is at most this many bytes live inline in the metadata store.
    inline_limit: int = 64 * 1024
    #: Seconds a worker lease lasts without a heartbeat.
    lease_ttl: float = 10.0
    #: Seconds between heartbeats.
    heartbeat_interval: float = 1.0
    #: Allow pickle as the last-resort serializer (recorded on the artifact when used).
    allow_pickle: bool = True
    #: The metadata store: a ``postgresql://`` URL, or None for SQLite under ``home``.
    db_url: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def db_path(self) -> Path:
        return self.home / "kitaru.db"

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def child_env(self) -> dict[str, str]:
        """Environment for a worker process: this process's environment plus the settings that
        say where state lives, so ``configure(home=, db_url=)`` reach the child too."""
        env = {**os.environ, "KITARU_HOME": str(self.home)}
        if self.db_url:
            env["KITARU_DB_URL"] = self.db_url
        else:  # configure(db_url="") chose the embedded store over the environment's URL
            env.pop("KITARU_DB_URL", None)
        return env


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() not in ("0", "false", "no", "off", "")


_cache: list[Any] = [None, None]
_ENV_KEYS = ("KITARU_HOME", "KITARU_INLINE_LIMIT", "KITARU_LEASE_TTL",
             "KITARU_HEARTBEAT_INTERVAL", "KITARU_ALLOW_PICKLE", "KITARU_DB_URL")  # fmt: skip


def settings() -> Settings:
    """Settings from ``KITARU_*`` environment variables and :func:`configure` overrides."""
    env = os.environ
    key = (tuple(env.get(k) for k in _ENV_KEYS), tuple(_overrides.items()))
    if _cache[0] == key:
        return _cache[1]
    value = _settings()
    _cache[0], _cache[1] = key, value
    return value


def _settings() -> Settings:
    home = Path(os.environ.get("KITARU_HOME") or Path.home() / ".kitaru").expanduser()
    base = Settings(
        home=home,
        inline_limit=int(os.environ.get("KITARU_INLINE_LIMIT", 64 * 1024)),
        lease_ttl=float(os.environ.get("KITARU_LEASE_TTL", 10.0)),
        heartbeat_interval=float(os.environ.get("KITARU_HEARTBEAT_INTERVAL", 1.0)),
        allow_pickle=_env_bool("KITARU_ALLOW_PICKLE", True),
        db_url=os.environ.get("KITARU_DB_URL") or None,
    )
    if _overrides:
        known = {k: v for k, v in _overrides.items() if k in Settings.__dataclass_fields__}
        if "home" in known:
            known["home"] = Path(str(known["home"])).expanduser()
        if "db_url" in known:  # "" resets to the embedded store, like an empty KITARU_DB_URL
            known["db_url"] = str(known["db_url"]) if known["db_url"] else None
        base = replace(base, **known)  # type: ignore[arg-type]
    return base


def configure(**values: object) -> None:
    """Set process-local defaults (e.g. ``home=``, ``db_url=``, ``inline_limit=``).

    Later calls override earlier ones; ``configure()`` with no arguments resets them.
    """
    from kitaru.errors import UsageError

    if not values:
        _overrides.clear()
    unknown = sorted(set(values) - set(Settings.__dataclass_fields__) - {"stack"})
    if unknown:
        raise UsageError(
            f"unknown setting(s) for kitaru.configure(): {', '.join(unknown)}",
            hint="known: " + ", ".join(sorted(Settings.__dataclass_fields__)),
        )
    _overrides.update(values)
    for reset in _on_change:
        reset()


#: called when configure() changes the settings (the store module drops its open stores)
_on_change: list[Callable[[], None]] = []


# -- the server this process uses (kitaru.connection connects, logs in and out) -------------------
URL_ENV, KEY_ENV = "KITARU_SERVER_URL", "KITARU_API_KEY"


def _login_file() -> Path:
    return settings().home / "server.json"


_saved: dict[Path, tuple[str, str] | None] = {}


def configured(home: Path | None = None) -> tuple[str, str] | None:
    """``(url, api_key)`` of the server this process uses, or None for the embedded store.
    (The saved login is read once per home; login/logout here reset that.)"""
    url = os.environ.get(URL_ENV)
    if url:
        key = os.environ.get(KEY_ENV)
        if not key:
            from kitaru.errors import ConfigError

            raise ConfigError(f"{URL_ENV} is set but {KEY_ENV} is not",
                              hint=f"export {KEY_ENV}=<key> or unset {URL_ENV}")  # fmt: skip
        return url, key
    if home is None:
        home = settings().home
    try:
        return _saved[home]  # the hot path of every default_store(): no file system access
    except KeyError:
        found = _saved[home] = _read_login(home / "server.json")
        return found


def _read_login(path: Path) -> tuple[str, str] | None:
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        return str(saved["url"]), str(saved["api_key"])
    except (ValueError, KeyError, TypeError):
        from kitaru.errors import ConfigError

        raise ConfigError(f"{path} is not a valid login file",
                          hint="run `kitaru logout` and `kitaru login` again") from None  # fmt: skip
