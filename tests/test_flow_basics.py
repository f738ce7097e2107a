"""Flows and checkpoints: values, handles, parallelism, retries, logs, artifacts."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import pytest

import kitaru
from kitaru import KitaruClient
from tests import flows_basic as fb


def test_direct_call_runs_and_journals_every_checkpoint() -> None:
    assert fb.chain(5) == 5
    ex = KitaruClient().executions.list()[0]
    info = KitaruClient().executions.get(ex.id)
    assert info.status == "completed"
    assert [c.call_id for c in info.checkpoints] == [
        "add_one",
        *[f"add_one#{i}" for i in range(2, 6)],
    ]
    assert all(c.attempts == 1 and c.duration is not None for c in info.checkpoints)


def test_run_returns_handle_at_once() -> None:
    handle = fb.chain.run(3)
    assert isinstance(handle, kitaru.FlowHandle)
    assert handle.wait(timeout=10) == 3
    assert handle.status == "completed"


def test_typed_values_roundtrip_across_resume() -> None:
    assert fb.typed_values(4) == "8:fine"
    ex = KitaruClient().executions.list()[0]
    kinds = {c.call_id: c.serializer for c in KitaruClient().executions.get(ex.id).checkpoints}
    assert kinds == {"make_point": "dataclass", "make_review": "pydantic"}
    # A replay reads both back from the journal as their real types.
    h = KitaruClient().executions.replay(ex.id)
    assert h.wait(timeout=10) == "8:fine"


def test_checkpoint_outside_flow_is_plain_with_one_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert fb.exclaim("a") == "a!"
        assert fb.exclaim("b") == "b!"
    assert len([w for w in caught if "outside a flow" in str(w.message)]) <= 1
    assert KitaruClient().executions.list() == []


def test_async_flow_with_map() -> None:
    async def main() -> list[int]:
        return await fb.async_flow([1, 2, 3])

    assert asyncio.run(main()) == [2, 2, 4, 6]
    ex = KitaruClient().executions.list()[0]
    ids = [c.call_id for c in KitaruClient().executions.get(ex.id).checkpoints]
    assert sorted(ids) == ["async_double", "async_double#2", "async_double#3", "async_double#4"]


def test_submit_and_map_have_deterministic_call_ids() -> None:
    h = fb.parallel.run([1, 2, 3, 4, 5])
    assert h.wait(timeout=10) == [1, 4, 9, 16, 25]
    info = KitaruClient().executions.get(h.id)
    by_id = {c.call_id: c.preview for c in info.checkpoints}
    # numbered in submission order, whatever order they finished in
    assert by_id == {"square": "1", "square#2": "4", "square#3": "9", "square#4": "16",
                     "square#5": "25"}  # fmt: skip
    # replay reuses all of them by id
    r = KitaruClient().executions.replay(h.id)
    assert r.wait(timeout=10) == [1, 4, 9, 16, 25]
    assert fb.count("square-3") == 1


def test_retries_record_every_attempt() -> None:
    assert fb.retrying(2) == "ok"
    info = KitaruClient().executions.get(KitaruClient().executions.list()[0].id)
    assert info.checkpoints[0].attempts == 3
    assert [a.attempt for a in info.attempts] == [1, 2]
    assert all("RuntimeError" in a.error for a in info.attempts)


def test_retries_exhausted_fail_the_execution_with_user_code_origin() -> None:
    with pytest.raises(kitaru.ExecutionFailed) as err:
        fb.retrying(10)
    assert err.value.origin == "user_code"
    assert err.value.error_type == "RuntimeError"
    assert isinstance(err.value.__cause__, RuntimeError)
    info = KitaruClient().executions.get(err.value.execution_id or "")
    assert info.status == "failed" and len(info.attempts) == 4


def test_retry_resumes_failed_execution_in_place(tmp_path) -> None:
    flag = tmp_path / "fail"
    flag.write_text("x")
    with pytest.raises(kitaru.ExecutionFailed):
        fb.may_fail(str(flag))
    ex_id = KitaruClient().executions.list()[0].id
    flag.unlink()
    h = KitaruClient().executions.retry(ex_id)
    assert h.wait(timeout=10) == "Xfine"
    assert fb.count("upper") == 1  # the completed checkpoint did not run again
    assert KitaruClient().executions.get(ex_id).status == "completed"


def test_save_load_across_executions_and_log_metadata() -> None:
    h = fb.saver.run("v1")
    h.wait(timeout=10)
    assert kitaru.load(h.id, "report") == {"v": "v12"}  # latest version
    assert KitaruClient().artifacts.load(h.id, "report#2") == {"v": "v12"}
    info = KitaruClient().executions.get(h.id)
    assert info.metadata == {"stage": "saved", "n": 2}
    versions = [(a.name, a.version) for a in info.artifacts if a.kind == "save"]
    assert versions == [("report", 1), ("report", 2)]
    with pytest.raises(kitaru.NotFound):
        kitaru.load(h.id, "nope")


def test_large_values_are_content_addressed_and_deduplicated(kitaru_home) -> None:
    size = 200_000
    assert fb.big(size) == size
    assert fb.big(size) == size
    blobs = list((kitaru_home / "artifacts").rglob("*"))
    files = [b for b in blobs if b.is_file()]
    assert len(files) == 1 and files[0].stat().st_size == size
    ex = KitaruClient().executions.list()[0]
    art = next(a for a in KitaruClient().executions.get(ex.id).artifacts if a.name == "make_blob")
    assert not art.inline and art.size == size and art.sha256


def test_pickle_fallback_is_recorded() -> None:
    class Odd:
        def __init__(self) -> None:
            self.v = 1

    @kitaru.checkpoint
    def odd() -> object:
        return {1, 2}

    @kitaru.flow
    def uses_odd() -> int:
        return len(odd())  # type: ignore[arg-type]

    with pytest.warns(UserWarning, match="pickle"):
        assert uses_odd() == 2
    info = KitaruClient().executions.get(KitaruClient().executions.list()[0].id)
    assert info.checkpoints[0].serializer == "pickle"


def test_stdout_is_captured_per_checkpoint() -> None:
    @kitaru.checkpoint
    def talk() -> int:
        print("hello from talk")
        return 1

    @kitaru.flow
    def talker() -> int:
        print("flow level")
        return talk()

    h = talker.run()
    h.wait(timeout=10)
    lines = {(r["call"], r["line"]) for r in h.logs()}
    assert ("talk", "hello from talk") in lines and (None, "flow level") in lines


def test_bad_flow_inputs_are_a_usage_error() -> None:
    with pytest.raises(kitaru.UsageError, match="bad inputs for flow 'chain'"):
        fb.chain.run(1, 2)
    assert KitaruClient().executions.list() == []


def test_output_that_cannot_be_captured_does_not_fail_the_flow(tmp_path: Path) -> None:
    """KITARU_HOME/logs cannot be created (here: a file stands in its way, as a read-only home
    would refuse it): the flow's prints still work and it completes; only the capture is lost."""
    import subprocess
    import sys

    from tests.conftest import subprocess_env

    home = tmp_path / "home"
    home.mkdir()
    (home / "logs").write_text("not a folder")
    script = tmp_path / "prints.py"
    script.write_text(
        "from kitaru import checkpoint, flow\n\n@checkpoint\ndef loud(x: int) -> int:\n"
        "    print('hello', x)\n    return x + 1\n\n@flow\ndef f(x: int) -> int:\n"
        "    return loud(x)\n\nprint('result', f(1))\n"
    )
    out = subprocess.run([sys.executable, str(script)], env=subprocess_env(KITARU_HOME=str(home)),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "hello 1" in out.stdout and "result 2" in out.stdout
    assert "output is not captured" in out.stderr


def test_a_pass_that_cannot_set_up_tracing_fails_its_execution_not_its_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process that drives executions past Launch.here's early check (a worker, `kitaru
    serve`'s threads) and cannot trace as configured (KITARU_OTEL=1 without kitaru[otel]): the
    execution fails with the one-line error instead of its thread dying and its handle
    waiting for ever."""
    from kitaru.errors import ConfigError
    from kitaru.runtime import telemetry
    from kitaru.testing.flows import tiny

    asked = []

    def resolve() -> None:
        asked.append(1)
        if len(asked) > 1:  # Launch.here's check passes; the pass's own resolve fails
            raise ConfigError("KITARU_OTEL is set: this needs opentelemetry", hint="pip")

    monkeypatch.setattr(telemetry, "resolve", resolve)
    with pytest.raises(kitaru.ExecutionFailed, match="KITARU_OTEL is set"):
        tiny.run(x=1).wait(timeout=20)
