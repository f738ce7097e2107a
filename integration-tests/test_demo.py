"""`make demo` keeps working: the seed review_flow runs, waits, is approved from a second
process through the CLI, and completes."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO, subprocess_env


def test_demo_runs_end_to_end() -> None:
    out = subprocess.run([sys.executable, str(REPO / "examples" / "demo.py")], cwd=REPO,
                         env=subprocess_env(), capture_output=True, text=True, timeout=180)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "waiting" in out.stdout and "Approve draft?" in out.stdout
    assert "resolved wait 'approve_draft'" in out.stdout
    assert "Conclusion: checkpoint everything expensive." in out.stdout
    assert out.stdout.rstrip().count("completed") >= 1
