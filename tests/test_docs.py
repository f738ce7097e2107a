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


def test_no_reference_to_a_document_that_is_not_there() -> None:
    """Budgets and sections are cited by the document that has them (docs/architecture.md),
    never as "§10" of a design document the repository does not have."""
    import json

    texts = {p: p.read_text() for p in [REPO / "README.md", REPO / "benchmarks/README.md",
                                         REPO / "benchmarks/run.py", *(REPO / "docs").rglob("*.md")]}  # fmt: skip
    latest = json.loads((REPO / "benchmarks/results/latest.json").read_text())
    texts[REPO / "benchmarks/results/latest.json"] = latest["table_text"]
    for path, text in texts.items():
        assert "§" not in text and "DESIGN" not in text, path
    assert "budget (docs/architecture.md)" in latest["table_text"]
    assert "Testing and measuring" in (REPO / "benchmarks/README.md").read_text()
    assert "## Testing and measuring" in (REPO / "docs/architecture.md").read_text()
