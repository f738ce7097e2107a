"""SIGKILL a real process mid-flow; resume it from another process; nothing completed reruns.

Runs embedded and connected to a server over PostgreSQL (``e2e_mode``, see e2e_modes.py)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from kitaru import KitaruClient
from tests.conftest import subprocess_env

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from kitaru import checkpoint, flow

    COUNTS = Path(os.environ["COUNTS_FILE"])

    @checkpoint
    def step(i: int) -> int:
        with open(COUNTS, "a") as f:
            f.write(f"start {i}\\n")
        time.sleep(0.01)
        with open(COUNTS, "a") as f:
            f.write(f"end {i}\\n")
        return i

    @flow
    def fifty(n: int) -> int:
        total = 0
        for i in range(n):
            total += step(i)
        return total

    handle = fifty.run(50)
    print(handle.id, flush=True)
    print(handle.wait())
    """
)

RESUME = "import sys; from kitaru import KitaruClient; print(KitaruClient().executions.resume(sys.argv[1]).wait())"


def test_sigkill_at_random_points_then_resume(tmp_path: Path, e2e_mode: str) -> None:
    script = tmp_path / "fifty.py"
    script.write_text(SCRIPT)
    rng = random.Random(1234)
    crashed_rounds = 0
    for round_ in range(10):
        counts = tmp_path / f"counts-{round_}.txt"
        env = subprocess_env(COUNTS_FILE=str(counts))
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                                env=env, cwd=tmp_path)  # fmt: skip
        assert proc.stdout is not None
        ex_id = proc.stdout.readline().strip()
        time.sleep(rng.uniform(0.02, 0.6))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        client = KitaruClient()
        info = client.executions.get(ex_id)
        completed_at_kill = {c.call_id for c in info.checkpoints if c.status == "completed"}
        if info.status == "completed":
            continue  # the kill came too late this round; nothing to recover
        assert info.status == "crashed", info.status
        crashed_rounds += 1
        assert client.executions.list(status="crashed")[0].id == ex_id

        out = subprocess.run([sys.executable, "-c", RESUME, ex_id], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip().splitlines()[-1] == str(sum(range(50)))
        assert client.executions.get(ex_id).status == "completed"

        ends: dict[int, int] = {}
        for line in counts.read_text().splitlines():
            kind, i = line.split()
            if kind == "end":
                ends[int(i)] = ends.get(int(i), 0) + 1
        assert sorted(ends) == list(range(50))
        for i, n in ends.items():
            call_id = "step" if i == 0 else f"step#{i + 1}"
            if call_id in completed_at_kill:
                assert n == 1, f"completed checkpoint {call_id} ran {n} times"
            else:
                assert n <= 2, f"in-flight checkpoint {call_id} ran {n} times"
    assert crashed_rounds >= 5, "the kills came too late to test recovery"


def test_a_killed_runner_not_yet_reaped_frees_its_execution_at_once(
    tmp_path: Path, e2e_mode: str
) -> None:
    """SIGKILLed, its parent has not reaped it (a zombie): resume at once, not after the TTL."""
    script = tmp_path / "fifty.py"
    script.write_text(SCRIPT)
    counts = tmp_path / "counts.txt"
    env = subprocess_env(COUNTS_FILE=str(counts), KITARU_LEASE_TTL="3600")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env=env, cwd=tmp_path)  # fmt: skip
    try:
        assert proc.stdout is not None
        ex_id = proc.stdout.readline().strip()
        while "end 3" not in (counts.read_text() if counts.exists() else ""):
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        stat = Path(f"/proc/{proc.pid}/stat")
        while stat.read_bytes().rsplit(b")", 1)[1].split()[0] != b"Z":
            time.sleep(0.01)  # dead, and nobody has reaped it
        assert KitaruClient().executions.get(ex_id).status == "crashed"
        out = subprocess.run([sys.executable, "-m", "kitaru.cli", "executions", "resume", ex_id],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert out.returncode == 0, out.stderr
        assert KitaruClient().executions.get(ex_id).status == "completed"
    finally:
        proc.wait()
