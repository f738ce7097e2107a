"""The Python blocks of the PydanticAI and observability pages run as written (no network)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, subprocess_env

PAGES = ("docs/wrap-your-agent.md", "docs/pydantic-ai.md", "docs/observability.md")
BLOCKS = [
    (page, i, code)
    for page in PAGES
    for i, code in enumerate(re.findall(r"```python\n(.*?)```", (REPO / page).read_text(), re.S))
]


@pytest.mark.parametrize(("page", "i", "code"), BLOCKS, ids=[f"{p}#{i}" for p, i, _ in BLOCKS])
def test_doc_block_runs(page: str, i: int, code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    for line, shown in zip(out.stdout.splitlines(), _printed(code), strict=False):
        assert shown is None or line == shown, (line, shown)


def _printed(code: str) -> list[str | None]:
    """What each ``print(...)  # expected`` line of a block says it prints."""
    return [m.group(1) if (m := re.search(r"^print\(.*\)\s+# (.*)$", line)) else None
            for line in code.splitlines() if line.startswith("print(")]  # fmt: skip
