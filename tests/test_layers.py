"""The layers of docs/architecture.md hold, and no module imports itself round a cycle.

`make lint` runs the same import-linter contracts; this test keeps them in `make test` too.
Imports under ``if TYPE_CHECKING:`` are annotations, not dependencies, and do not count.
"""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

#: cycles that stay, each with why
ALLOWED_CYCLES = {
    # resolving the active stack reads the registry; using or deleting a stack writes the
    # active selection
    frozenset({"kitaru.stack.active", "kitaru.stack.registry"}),
}


def test_the_import_linter_contracts_are_kept() -> None:
    lint = REPO / ".venv" / "bin" / "lint-imports"
    command = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    out = subprocess.run([*command, "--no-cache"], cwd=REPO, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def cycles(package: str) -> list[frozenset[str]]:
    """The strongly connected groups of more than one module (Tarjan, iteratively)."""
    import grimp

    graph = grimp.build_graph(package, exclude_type_checking_imports=True)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(frozenset(group))
    return found


def test_no_import_cycles_but_the_named_ones() -> None:
    found = cycles("kitaru")
    unexpected = [sorted(c) for c in found if c not in ALLOWED_CYCLES]
    assert unexpected == [], unexpected
    assert set(found) >= ALLOWED_CYCLES, "a named cycle is gone: drop it from ALLOWED_CYCLES"
