"""docs/stacks.md: its Python example runs and its YAML example registers."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, subprocess_env

DOC = (REPO / "docs" / "stacks.md").read_text()


def test_python_example_runs(tmp_path: Path) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC, re.S)
    script = tmp_path / "example.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         env=subprocess_env(), timeout=120, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "artifact_store local True ok" in out.stdout


def test_yaml_example_registers() -> None:
    from kitaru.stack import registry
    from kitaru.stack.loader import parse_stack_text

    (text,) = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
    spec = registry.register_stack(parse_stack_text(text, source="docs/stacks.md"))
    assert spec.name == "prod"
    assert spec.components["llm_gateway"].config == {
        "credentials": {"openai": "{{secret:openai.api_key}}"}
    }
