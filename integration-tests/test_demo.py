"""`make demo` keeps working: the seed review_flow, verbatim, runs, waits, is approved from a
second process through the CLI, and completes, showing tokens and cost per checkpoint."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import REPO, subprocess_env


def seed_program(text: str) -> str:
    start = r"```python[^\n]*\n(import kitaru\nfrom kitaru import checkpoint, flow\n\n@checkpoint\n"
    found = re.search(start + r"def research.*?)```", text, re.S)
    assert found, "no seed program block"
    return found.group(1)


def test_the_example_is_the_seed_program_verbatim() -> None:
    example = (REPO / "examples" / "review_flow.py").read_text()
    assert example == seed_program((REPO / "docs" / "guide.md").read_text())
    assert example == seed_program((REPO / "README.md").read_text())


def test_demo_runs_end_to_end() -> None:
    out = subprocess.run([sys.executable, str(REPO / "examples" / "demo.py")], cwd=REPO,
                         env=subprocess_env(), capture_output=True, text=True, timeout=180)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "waiting" in out.stdout and "Approve draft?" in out.stdout
    assert "resolved wait 'approve_draft'" in out.stdout
    assert "[offline answer" in out.stdout  # the draft, written by kitaru.llm()
    assert out.stdout.rstrip().count("completed") >= 1
    assert "tokens in/out" in out.stdout and "fast → offline/echo" in out.stdout
    per_checkpoint = re.findall(r"^(research|draft)\s+(\d+) tokens in\s+(\d+) out\s+\$(\S+)$",
                                out.stdout, re.M)  # fmt: skip
    assert [p[0] for p in per_checkpoint] == ["research", "draft"]
    assert all(int(i) > 0 and int(o) > 0 and float(c) > 0 for _, i, o, c in per_checkpoint)


def test_diff_of_two_seed_runs_with_different_topics(tmp_path: Path) -> None:
    """`kitaru executions diff` on the verbatim seed flow run with two topics."""
    import json

    env = subprocess_env()
    kitaru = [sys.executable, "-m", "kitaru.cli"]
    ids = []
    for topic in ("Durable agents", "Vector stores"):
        started = subprocess.run([*kitaru, "run", "examples/review_flow.py:review_flow",
                                  "--input", json.dumps({"topic": topic}), "--detach"],
                                 cwd=REPO, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
        assert started.returncode == 0, started.stderr
        ids.append(re.search(r"[0-9a-f]{12}", started.stdout).group(0))  # type: ignore[union-attr]
    for execution in ids:
        for _ in range(300):
            shown = subprocess.run([*kitaru, "executions", "show", execution, "-o", "json"],
                                   cwd=REPO, env=env, capture_output=True, text=True)  # fmt: skip
            if json.loads(shown.stdout)["items"][0]["status"] == "waiting":
                break
            time.sleep(0.1)
        subprocess.run([*kitaru, "executions", "input", execution, "--value", "true"],
                       cwd=REPO, env=env, check=True, capture_output=True, timeout=60)  # fmt: skip
    out = subprocess.run([*kitaru, "executions", "diff", *ids], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "research" in out.stdout and "draft" in out.stdout
    assert "Durable agents" in out.stdout and "Vector stores" in out.stdout
    data = json.loads(subprocess.run([*kitaru, "executions", "diff", *ids, "-o", "json"],
                                     cwd=REPO, env=env, capture_output=True, text=True).stdout)  # fmt: skip
    changed = {c["call_id"]: c["status"] for c in data["items"][0]["checkpoints"]}
    assert changed["research"] == "changed" and changed["draft"] == "changed"
