"""Flows defined in a `__main__` script are resumable from another process; a missing file is
named in the error and the execution stays resumable."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kitaru import KitaruClient
from tests.conftest import subprocess_env

SCRIPT = textwrap.dedent(
    """
    import kitaru
    from kitaru import checkpoint, flow

    @checkpoint
    def shout(text: str) -> str:
        return text.upper()

    @flow
    def greet(name: str) -> str:
        loud = shout(name)
        ok = kitaru.wait(name="ok", schema=bool)
        return loud if ok else "no"

    h = greet.run("ada")
    print(h.id, flush=True)
    """
)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], capture_output=True,
                          text=True, env=subprocess_env(), cwd=cwd, timeout=120)  # fmt: skip


def test_main_script_flow_resumes_elsewhere_and_missing_file_is_named(tmp_path: Path) -> None:
    script = tmp_path / "greet.py"
    script.write_text(SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=subprocess_env(), cwd=tmp_path, timeout=60)  # fmt: skip
    ex_id = out.stdout.strip()
    client = KitaruClient()
    assert client.executions.get(ex_id).status == "waiting"

    moved = tmp_path / "moved.py"
    script.rename(moved)
    # Input is stored even though nobody can run the flow right now ...
    client.executions.input(ex_id, True)
    time.sleep(1.0)  # the worker started by input() fails to import and leaves it alone
    info = client.executions.get(ex_id)
    assert info.status == "waiting" and info.waits[0].status == "completed"
    assert info.resume_error is not None and "is gone" in info.resume_error.message
    # ... and `kitaru executions resume` says which file is missing, in one line, changing nothing.
    res = cli("executions", "resume", ex_id, cwd=tmp_path)
    assert res.returncode != 0
    assert str(script) in res.stderr and "is gone" in res.stderr
    assert "Traceback" not in res.stderr
    assert client.executions.get(ex_id).status == "waiting"

    moved.rename(script)
    res = cli("executions", "resume", ex_id, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "ADA" in res.stdout
    assert client.executions.get(ex_id).status == "completed"
