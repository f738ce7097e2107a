"""The builtin ``local`` secret store passes the secret store contract; its file is private
(0600) and its values reach no output and no log."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from kitaru.builtin.local_secret_store import LocalSecretStore
from kitaru.errors import NotFound
from kitaru.testing import SecretStoreContract, build_component
from kitaru.testing.contracts.secret_store import CANARY


class TestLocalSecretStore(SecretStoreContract):
    FLAVOR = "local"

    @pytest.fixture(params=["default", "explicit-file"])
    def secret_store(self, request: pytest.FixtureRequest, tmp_path: Path) -> LocalSecretStore:
        path = "" if request.param == "default" else str(tmp_path / "nested" / "secrets.json")
        return build_component("secret_store", self.FLAVOR, path=path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_default_file_is_under_kitaru_home_and_0600(kitaru_home: Path) -> None:
    store = build_component("secret_store", "local")
    store.set("db", {"password": CANARY})
    assert store.path == kitaru_home / "secrets.json"
    assert mode(store.path) == 0o600


def test_file_stays_0600_whatever_the_umask(tmp_path: Path) -> None:
    store = build_component("secret_store", "local", path=str(tmp_path / "s.json"))
    old = os.umask(0)
    try:
        store.set("a", {"k": CANARY})
        store.set("a", {"k": "overwritten"})
        store.set("b", {"k": "v"})
        store.delete("b")
    finally:
        os.umask(old)
    assert mode(tmp_path / "s.json") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]  # no temporary file left


def test_values_reach_no_output_and_no_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    store = build_component("secret_store", "local", path=str(tmp_path / "s.json"))
    store.set("api", {"token": CANARY})
    assert store.get("api") == {"token": CANARY}
    assert store.resolve("{{secret:api.token}}") == CANARY
    store.list()
    store.verify()
    with pytest.raises(NotFound):
        store.resolve("{{secret:api.missing}}")
    out, err = capfd.readouterr()
    assert CANARY not in out + err
    assert CANARY not in caplog.text
    home = Path(os.environ["KITARU_HOME"])
    for f in home.rglob("*") if home.exists() else []:
        if f.is_file():
            assert CANARY.encode() not in f.read_bytes(), f


def test_unreadable_file_is_a_config_error_without_its_content(tmp_path: Path) -> None:
    from kitaru.errors import ConfigError

    path = tmp_path / "s.json"
    path.write_text('{"api": {"token": "' + CANARY + '"')  # truncated JSON
    store = build_component("secret_store", "local", path=str(path))
    with pytest.raises(ConfigError) as info:
        store.list()
    assert CANARY not in f"{info.value} {info.value.hint}"
