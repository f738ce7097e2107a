"""``docs/plugins.md`` documents every hook with its signature, and its copies of the example
plugin's files (and excerpts of them) are the files themselves."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import pytest

from kitaru.plugins import hookspecs
from tests.conftest import REPO

DOC = (REPO / "docs" / "plugins.md").read_text()
#: fenced blocks whose first line is a comment naming a file of the repository
FILE_BLOCKS = re.findall(r"```\w+\n# (examples/\S+)\n(.*?)```", DOC, re.S)
#: fenced blocks whose first line is ``# examples/... (excerpt)``: a part of that file
EXCERPTS = re.findall(r"```\w+\n# (examples/\S+) \(excerpt\)\n(.*?)```", DOC, re.S)


def hooks() -> dict[str, Callable[..., Any]]:
    return {name: fn for name, fn in vars(hookspecs).items()
            if name.startswith("kitaru_") and hasattr(fn, "kitaru_spec")}  # fmt: skip


def signature(fn: Callable[..., Any]) -> str:
    """``name(arg: type, ...) -> type``, annotations as written in hookspecs.py."""
    sig = inspect.signature(fn)
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{fn.__name__}({params}) -> {sig.return_annotation}"


def test_there_are_hooks() -> None:
    assert {"kitaru_flavors", "kitaru_cli_commands", "kitaru_serializers",
            "kitaru_stack_templates"} <= set(hooks())  # fmt: skip


@pytest.mark.parametrize("name", sorted(hooks()))
def test_plugin_hook_is_documented(name: str) -> None:
    heading = f"### `{signature(hooks()[name])}`"
    assert heading in DOC.splitlines(), f"docs/plugins.md has no heading {heading}"


def test_documented_hooks_exist() -> None:
    documented = re.findall(r"^### `(kitaru_\w+)\(", DOC, re.M)
    assert sorted(documented) == sorted(hooks())


@pytest.mark.parametrize("path, text", FILE_BLOCKS, ids=[p for p, _ in FILE_BLOCKS])
def test_example_files_are_quoted_verbatim(path: str, text: str) -> None:
    assert text == (REPO / path).read_text(), f"docs/plugins.md is out of date for {path}"


@pytest.mark.parametrize("path, text", EXCERPTS, ids=[p for p, _ in EXCERPTS])
def test_example_excerpts_are_quoted_verbatim(path: str, text: str) -> None:
    assert text in (REPO / path).read_text(), f"docs/plugins.md is out of date for {path}"


def test_the_example_is_quoted() -> None:
    quoted = {p.rsplit("/", 1)[-1] for p, _ in FILE_BLOCKS}
    assert {"pyproject.toml", "plugin.py", "prefixed_store.py", "stack.yaml",
            "test_prefixed_store.py", "subprocess_job.py", "jobs-stack.yaml"} <= quoted  # fmt: skip
    assert {p.rsplit("/", 1)[-1] for p, _ in EXCERPTS} == {"test_subprocess_job.py"}
