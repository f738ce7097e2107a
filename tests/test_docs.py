"""The guide's Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, subprocess_env

BLOCKS = re.findall(r"```python\n(.*?)```", (REPO / "docs/guide.md").read_text(), re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_guide_example_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
