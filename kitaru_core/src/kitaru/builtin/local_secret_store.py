"""``local`` secret store: one JSON file with 0600 permissions under ``KITARU_HOME``."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from kitaru.components.base import ComponentConfig
from kitaru.components.secret_store import SecretStore
from kitaru.errors import ConfigError, NotFound

_lock = threading.Lock()


class LocalSecretStoreConfig(ComponentConfig):
    #: the file; empty means ``KITARU_HOME/secrets.json``
    path: str = ""


class LocalSecretStore(SecretStore):
    config: LocalSecretStoreConfig

    @property
    def path(self) -> Path:
        if self.config.path:
            return Path(self.config.path).expanduser()
        from kitaru.config import settings

        return settings().home / "secrets.json"

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the secret file {self.path}: {type(exc).__name__}",
                              hint="fix or remove the file") from None  # fmt: skip

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(data, f)
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only home or folder
            home = "" if self.config.path else ", or set KITARU_HOME to a writable folder"
            raise ConfigError(
                f"cannot write the secret file {self.path}: {exc.strerror or type(exc).__name__}",
                hint=f"make {self.path.parent} writable{home}",
            ) from None

    def get(self, name: str) -> dict[str, str]:
        data = self._read()
        if name not in data:
            raise NotFound(f"no secret named {name!r}",
                           hint=f"create it with `kitaru secret set {name} KEY=VALUE`")  # fmt: skip
        return dict(data[name])

    def set(self, name: str, values: dict[str, str]) -> None:
        with _lock:
            data = self._read()
            data[name] = dict(values)
            self._write(data)

    def list(self) -> list[str]:
        return sorted(self._read())

    def delete(self, name: str) -> None:
        with _lock:
            data = self._read()
            if name not in data:
                raise NotFound(f"no secret named {name!r}")
            del data[name]
            self._write(data)

    def verify(self) -> None:
        self._read()
