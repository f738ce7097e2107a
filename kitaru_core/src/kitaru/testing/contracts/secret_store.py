"""The contract every secret store flavor passes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from kitaru.components.secret_store import SecretStore
from kitaru.errors import NotFound

#: a value no message, hint, listing or description may ever contain
CANARY = "s3cr3t-canary-value"


class SecretStoreContract:
    """Subclass as ``TestMySecrets`` and override the ``secret_store`` fixture.

    Each test works on secrets named ``kitaru-contract-<random>`` and deletes them afterwards,
    so the suite can run against a shared store.
    """

    @pytest.fixture
    def secret_store(self) -> SecretStore:
        raise NotImplementedError("override the `secret_store` fixture to return your store")

    @pytest.fixture
    def secret_name(self, secret_store: SecretStore) -> Iterator[str]:
        name = f"kitaru-contract-{uuid.uuid4().hex[:10]}"
        yield name
        try:
            secret_store.delete(name)
        except NotFound:
            pass

    def test_is_a_secret_store(self, secret_store: SecretStore) -> None:
        assert isinstance(secret_store, SecretStore)
        assert secret_store.TYPE == "secret_store"

    def test_set_get(self, secret_store: SecretStore, secret_name: str) -> None:
        secret_store.set(secret_name, {"user": "ada", "password": CANARY})
        assert secret_store.get(secret_name) == {"user": "ada", "password": CANARY}

    def test_values_keep_every_character(self, secret_store: SecretStore, secret_name: str) -> None:
        values = {"pem": "-----BEGIN-----\nline two\n", "unicode": "pässwörd ✓", "empty": ""}
        secret_store.set(secret_name, values)
        assert secret_store.get(secret_name) == values

    def test_overwrite_replaces_all_keys(self, secret_store: SecretStore, secret_name: str) -> None:
        secret_store.set(secret_name, {"old": "1", "kept": "2"})
        secret_store.set(secret_name, {"kept": "3"})
        assert secret_store.get(secret_name) == {"kept": "3"}

    def test_list_names_never_values(self, secret_store: SecretStore, secret_name: str) -> None:
        secret_store.set(secret_name, {"password": CANARY})
        names = secret_store.list()
        assert secret_name in names
        assert all(isinstance(n, str) for n in names)
        assert CANARY not in repr(names)

    def test_delete(self, secret_store: SecretStore, secret_name: str) -> None:
        secret_store.set(secret_name, {"k": "v"})
        secret_store.delete(secret_name)
        assert secret_name not in secret_store.list()
        with pytest.raises(NotFound):
            secret_store.get(secret_name)

    def test_get_missing_raises_not_found(
        self, secret_store: SecretStore, secret_name: str
    ) -> None:
        with pytest.raises(NotFound) as info:
            secret_store.get(secret_name)
        assert secret_name in str(info.value)

    def test_delete_missing_raises_not_found(
        self, secret_store: SecretStore, secret_name: str
    ) -> None:
        with pytest.raises(NotFound):
            secret_store.delete(secret_name)

    def test_resolve_reference(self, secret_store: SecretStore, secret_name: str) -> None:
        secret_store.set(secret_name, {"api_key": CANARY, "other": "x"})
        assert secret_store.resolve(f"{{{{secret:{secret_name}.api_key}}}}") == CANARY

    def test_resolve_missing_key_hints_keys_never_values(
        self, secret_store: SecretStore, secret_name: str
    ) -> None:
        secret_store.set(secret_name, {"api_key": CANARY, "region": "eu-west-1"})
        with pytest.raises(NotFound) as info:
            secret_store.resolve(f"{{{{secret:{secret_name}.token}}}}")
        error = info.value
        assert "token" in str(error)
        assert error.hint is not None
        assert "api_key" in error.hint and "region" in error.hint
        assert CANARY not in f"{error} {error.hint}"
        assert "eu-west-1" not in f"{error} {error.hint}"

    def test_resolve_missing_secret_raises_not_found(
        self, secret_store: SecretStore, secret_name: str
    ) -> None:
        with pytest.raises(NotFound):
            secret_store.resolve(f"{{{{secret:{secret_name}.key}}}}")

    def test_describe_and_repr_hold_no_values(
        self, secret_store: SecretStore, secret_name: str
    ) -> None:
        secret_store.set(secret_name, {"password": CANARY})
        assert CANARY not in repr(secret_store)
        assert CANARY not in repr(secret_store.describe())

    def test_verify_ok(self, secret_store: SecretStore) -> None:
        secret_store.verify()  # raises ConfigError saying what is wrong
