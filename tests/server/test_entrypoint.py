"""``python -m kitaru.entrypoint``: the in-container command remote orchestrators run, here as
a plain process: embedded, relocated with KITARU_CODE_MAP, and connected to a server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kitaru import KitaruClient, flow
from kitaru.store.base import MetadataStore
from tests.conftest import subprocess_env
from tests.server.conftest import Server

FLOW = """
from kitaru import checkpoint, flow

@checkpoint
def shout(text: str) -> str:
    return text.upper() + "!"

@flow
def greet(name: str) -> str:
    return shout(f"hello {name}")
"""


@flow
def greet_signature(name: str) -> str:
    """Same parameters as greet.py's flow: builds its inputs record without loading the file."""
    return name


def entrypoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.entrypoint", *args], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_run_a_pending_execution_with_relocated_code(tmp_path: Path) -> None:
    from kitaru.store import default_store

    here = tmp_path / "image" / "app"
    here.mkdir(parents=True)
    (here / "greet.py").write_text(FLOW)
    store = default_store()
    execution_id = create_pending_with_flow(store, here, "/home/someone/project")
    missing = entrypoint("run", execution_id, env=subprocess_env())
    assert missing.returncode == 1
    assert "/home/someone/project/greet.py" in missing.stderr
    mapped = entrypoint("run", execution_id,
                        env=subprocess_env(KITARU_CODE_MAP=f"/home/someone/project={here}"))  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr
    info = KitaruClient().executions.get(execution_id)
    assert info.status == "completed" and info.result_preview == "HELLO ADA!"


def test_the_entrypoint_talks_to_a_server(server: Server, tmp_path: Path) -> None:
    from kitaru.store.remote import RemoteStore

    (tmp_path / "greet.py").write_text(FLOW)
    remote = RemoteStore(server.url, server.admin_key)  # type: ignore[abstract]
    execution_id = create_pending_with_flow(remote, tmp_path, str(tmp_path), name="grace")
    out = entrypoint("run", execution_id, env=server.env())
    assert out.returncode == 0, out.stderr
    assert remote.get_execution(execution_id).status == "completed"
    again = entrypoint("run", execution_id, env=server.env())  # not pending any more
    assert again.returncode == 0 and "completed" in again.stderr


def test_usage_errors() -> None:
    assert entrypoint(env=subprocess_env()).returncode == 2
    assert entrypoint("run", env=subprocess_env()).returncode == 2
    assert entrypoint("checkpoint", "x", env=subprocess_env()).returncode == 2


def create_pending_with_flow(
    store: MetadataStore, code_dir: Path, recorded_dir: str, name: str = "ada"
) -> str:
    """A pending execution of greet.py's flow as a deployment records it (code at
    recorded_dir; the file itself is in code_dir)."""
    assert (code_dir / "greet.py").exists()
    ex = store.create_execution(
        flow="greet", module="__main__", qualname="greet",
        source_file=f"{recorded_dir}/greet.py", root=recorded_dir,
        inputs=greet_signature.inputs_record({"name": name}), status="pending",
        options={"stack": "local", "retries": 0},
    )  # fmt: skip
    return ex.id


def test_retry_runs_a_failed_execution_again_in_place(tmp_path: Path) -> None:
    """What a job orchestrator's unit runs for `kitaru executions retry` (a `resume` unit
    refused a failed execution: the retry did nothing)."""
    script = tmp_path / "flaky.py"
    script.write_text(
        "import os\nfrom kitaru import flow\n\n@flow\ndef flaky() -> str:\n"
        "    if os.environ.get('FAIL'):\n        raise ValueError('not yet')\n    return 'ok'\n"
    )
    env = subprocess_env(FAIL="1")
    ran = subprocess.run([sys.executable, "-m", "kitaru.cli", "run", f"{script}:flaky"],
                         env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ran.returncode == 1, ran.stderr
    (execution,) = KitaruClient().executions.list()
    assert execution.status == "failed"
    env.pop("FAIL")
    out = entrypoint("retry", execution.id, env=env)
    assert out.returncode == 0, out.stderr
    assert KitaruClient().executions.get(execution.id).status == "completed"
    assert entrypoint("retry", execution.id, env=env).returncode == 0  # nothing to retry now
