"""Names a store cannot hold (a NUL, an unpaired surrogate) are refused by the SDK with one
UsageError and a hint, the same on every store: embedded SQLite, embedded PostgreSQL
(``KITARU_DB_URL``) and a server on PostgreSQL. PostgreSQL used to fail the execution with a
raw ``psycopg.DataError`` while SQLite stored the NUL."""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator

import pytest

import kitaru
from kitaru import KitaruClient, flow
from kitaru.validation import check_text
from tests.store.conftest import pg_database, pg_url  # noqa: F401 - PostgreSQL for "postgres"

_modes = importlib.import_module("integration-tests.e2e_modes")
e2e_server = _modes.e2e_server

NUL = "a\x00b"
SURROGATE = "a\ud800b"


@pytest.fixture(params=["sqlite", "postgres", "server+postgres"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The store this test's SDK calls reach: each test runs once per backend."""
    from kitaru.store import reset_default_store

    if request.param == "postgres":
        monkeypatch.setenv("KITARU_DB_URL", request.getfixturevalue("pg_url"))
    elif request.param == "server+postgres":
        srv = request.getfixturevalue("e2e_server")
        monkeypatch.setenv("KITARU_SERVER_URL", srv.url)
        monkeypatch.setenv("KITARU_API_KEY", srv.admin_key)
    reset_default_store()
    yield request.param
    reset_default_store()


@flow
def saves_under(name: str) -> int:
    kitaru.save(name, 1)
    return 1


@flow
def waits_for(name: str) -> bool:
    return bool(kitaru.wait(name=name, schema=bool))


@flow
def remembers(key: str) -> int:
    return kitaru.memory.set(key, 1)


def _refused_in_flow(exc: pytest.ExceptionInfo[kitaru.ExecutionFailed], what: str) -> None:
    """The execution failed with the UsageError of the SDK call, not a DataError."""
    assert exc.value.error_type == "UsageError", exc.value
    assert f"{what} 'a\\x00b' contains a NUL character" in exc.value.message
    cause = exc.value.__cause__
    assert isinstance(cause, kitaru.UsageError) and cause.hint and "NUL" in cause.hint
    assert "\n" not in str(cause)


@pytest.mark.usefixtures("backend")
def test_save_with_a_nul_in_its_name_fails_the_flow_with_a_usage_error() -> None:
    with pytest.raises(kitaru.ExecutionFailed) as exc:
        saves_under(NUL)
    _refused_in_flow(exc, "artifact name")


@pytest.mark.usefixtures("backend")
def test_wait_with_a_nul_in_its_name_fails_the_flow_with_a_usage_error() -> None:
    handle = waits_for.run(NUL)
    deadline = time.time() + 20
    while handle.status not in ("failed", "waiting", "completed") and time.time() < deadline:
        time.sleep(0.02)
    assert handle.status == "failed"  # SQLite used to wait for input under that name
    with pytest.raises(kitaru.ExecutionFailed) as exc:
        handle.wait(timeout=10)
    _refused_in_flow(exc, "wait name")


@pytest.mark.usefixtures("backend")
def test_memory_key_with_a_nul_fails_the_flow_with_a_usage_error() -> None:
    with pytest.raises(kitaru.ExecutionFailed) as exc:
        remembers(NUL)
    _refused_in_flow(exc, "memory key")


@pytest.mark.usefixtures("backend")
@pytest.mark.parametrize("bad", [NUL, SURROGATE])
def test_memory_outside_a_flow_refuses_bad_keys_and_scope_names(bad: str) -> None:
    calls = [
        lambda: kitaru.memory.set(bad, 1),
        lambda: kitaru.memory.get(bad),
        lambda: kitaru.memory.delete(bad),
        lambda: kitaru.memory.history(bad),
        lambda: kitaru.memory.set("k", 1, namespace=bad),
        lambda: kitaru.memory.get("k", flow=bad),
        lambda: kitaru.memory.entries(namespace=bad),
    ]
    for call in calls:
        with pytest.raises(kitaru.UsageError, match=r"NUL character|not valid UTF-8") as exc:
            call()
        assert exc.value.hint
    assert kitaru.memory.set("fine", 1) >= 1  # nothing broke the store


@pytest.mark.usefixtures("backend")
def test_client_lookups_refuse_bad_ids_and_names() -> None:
    client = KitaruClient()
    for call in [
        lambda: client.executions.get(NUL),
        lambda: client.executions.list(flow=NUL),
        lambda: client.executions.list(status=NUL),
        lambda: client.deployments.list(NUL),
    ]:
        with pytest.raises(kitaru.UsageError, match="NUL character"):
            call()
    assert client.executions.list() == [] or client.executions.list()


def test_check_text() -> None:
    assert check_text("fine é 名前", "name") == "fine é 名前"
    assert check_text(None, "name") is None
    with pytest.raises(kitaru.UsageError, match=r"^name 'a\\x00b' contains a NUL character$"):
        check_text(NUL, "name")
    with pytest.raises(kitaru.UsageError, match="not valid UTF-8"):
        check_text(SURROGATE, "name")
    with pytest.raises(kitaru.UsageError, match="must be a string, not int"):
        check_text(3, "name")
    long = "x" * 100 + "\x00"
    with pytest.raises(kitaru.UsageError) as exc:
        check_text(long, "name")
    assert len(exc.value.message) < 120


@kitaru.checkpoint(retries=1)
def raises_text(text: str) -> None:
    print(f"about to fail: {text}")
    raise ValueError(f"bad {text}")


@flow
def fails_with(text: str) -> None:
    raises_text(text)


def test_free_text_a_store_cannot_hold_is_stored_escaped(backend: str) -> None:
    """A user's error message or printed line may hold anything: it is stored with the NUL as
    ``\\x00`` on every store, and the execution fails with the user's ValueError, never a
    DataError."""
    with pytest.raises(kitaru.ExecutionFailed) as exc:
        fails_with(NUL)
    assert exc.value.error_type == "ValueError", exc.value
    info = KitaruClient().executions.list()[0]
    detail = KitaruClient().executions.get(info.id)
    assert [a.error.startswith("ValueError: bad a") for a in detail.attempts] == [True, True]
    assert all("\x00" not in a.error for a in detail.attempts)
    lines = [r["line"] for r in KitaruClient().executions.logs(info.id)]
    assert any(line.startswith("about to fail: a") for line in lines), lines
    assert all("\x00" not in line for line in lines)


def test_a_value_with_an_unpaired_surrogate_is_one_usage_error(backend: str) -> None:
    """UTF-8 cannot hold it: a flow input or a memory value with one is refused in one line,
    not a raw UnicodeEncodeError."""
    with pytest.raises(kitaru.UsageError, match="unpaired surrogate"):
        fails_with(SURROGATE)
    with pytest.raises(kitaru.UsageError, match="unpaired surrogate"):
        kitaru.memory.set("k", SURROGATE)
