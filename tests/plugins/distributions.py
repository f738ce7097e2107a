"""Throwaway plugin distributions, written to disk at test time: a module plus a ``.dist-info``
with an ``entry_points.txt`` (group ``kitaru``), found by ``importlib.metadata`` on sys.path."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Distribution:
    """A distribution installed into ``root`` (put ``root`` on sys.path or PYTHONPATH)."""

    root: Path
    name: str
    module: str
    entry_point: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a subprocess that sees this distribution (and the repo)."""
        from tests.conftest import subprocess_env

        env = subprocess_env()
        for var in ("KITARU_PLUGINS", "KITARU_STRICT_PLUGINS"):
            env.pop(var, None)
        env.update(extra)
        env["PYTHONPATH"] = os.pathsep.join([str(self.root), env["PYTHONPATH"]])
        return env

    def forget(self) -> None:
        """Drop the module from this process, so the next test imports its own copy."""
        sys.modules.pop(self.module, None)


def write_distribution(
    root: Path, name: str, module: str, source: str, *, entry_point: str | None = None
) -> Distribution:
    """Write ``module.py`` (with ``source``) and ``<name>-0.1.dist-info`` into ``root``."""
    entry_point = entry_point or name.replace("-", "_")
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{module}.py").write_text(source)
    info = root / f"{name.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[kitaru]\n{entry_point} = {module}\n")
    return Distribution(root, name, module, entry_point)


BROKEN = 'raise ImportError("boom from broken plugin")\n'

#: imports fine, but its ``kitaru_flavors`` hook raises
FAULTY_HOOK = """\
from kitaru.plugins import hookimpl


@hookimpl
def kitaru_flavors():
    raise RuntimeError("faulty hook")
"""

#: a working plugin: one artifact store flavor, reusing the builtin local implementation
GOOD = """\
from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl


@hookimpl
def kitaru_flavors():
    return [Flavor("good", "artifact_store",
                   "kitaru.builtin.local_artifact_store:LocalArtifactStoreConfig",
                   "kitaru.builtin.local_artifact_store:LocalArtifactStore")]
"""
