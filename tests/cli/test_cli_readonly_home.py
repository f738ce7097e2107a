"""A ``KITARU_HOME`` that exists but cannot be written: ``kitaru run`` and ``kitaru secret set``
fail with one ``error:`` line and a hint, as an empty read-only home does, never with an
"internal error".

Tests often run as root, for whom file modes do not stop writes. There the CLI runs under
``setpriv`` with CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH dropped from its capability bounding
set: still root (the interpreter under /root stays readable), but bound by the modes like any
user. Each test first checks that a write really is refused, and skips if it cannot be made so.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.cli_helpers import Flows, assert_one_line_error, kitaru_argv


def _bound_by_modes() -> list[str]:
    """The command prefix under which file modes bind this process's children."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: file modes cannot be enforced")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*_bound_by_modes(), *kitaru_argv(*args)], cwd=cwd,
                          env=dict(os.environ), capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def _refused(path: Path) -> bool:
    """Whether the CLI would be refused a write to ``path`` (a folder: a new file in it)."""
    target = path / "probe" if path.is_dir() else path
    probe = subprocess.run([*_bound_by_modes(), "sh", "-c", ': >> "$0"', str(target)],
                           capture_output=True)  # fmt: skip
    return probe.returncode != 0


def _set_writable(paths: list[Path], writable: bool) -> None:
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~write)


@pytest.fixture
def used_home(kitaru_home: Path, flows: Flows) -> Iterator[Path]:
    """A home with an execution and a secret in it; made writable again afterwards."""
    done = run_cli("run", flows.target("review"), "--input", '{"topic": "a"}')
    assert done.returncode == 0, done.stderr
    assert run_cli("secret", "set", "api", "key=v1").returncode == 0
    assert (kitaru_home / "kitaru.db").exists() and (kitaru_home / "secrets.json").exists()
    yield kitaru_home
    _set_writable([kitaru_home, *kitaru_home.rglob("*")], True)


def _assert_clear(proc: subprocess.CompletedProcess[str], contains: str) -> None:
    line = assert_one_line_error(proc, contains=contains)
    assert "internal error" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[1].startswith("hint: "), proc.stderr
    assert "KITARU_HOME" in proc.stderr, proc.stderr
    assert line, proc.stderr


def test_a_read_only_home(used_home: Path, flows: Flows) -> None:
    """``chmod -R a-w`` on a home that has been used."""
    _set_writable([used_home, *used_home.rglob("*")], False)
    if not _refused(used_home):
        pytest.skip("writes are not refused here")
    run = run_cli("run", flows.target("review"), "--input", '{"topic": "b"}')
    _assert_clear(run, f"the Kitaru store at {used_home / 'kitaru.db'}")
    secret = run_cli("secret", "set", "api", "key=v2")
    _assert_clear(secret, f"the Kitaru store at {used_home / 'kitaru.db'}")


def test_a_read_only_store_file(used_home: Path, flows: Flows) -> None:
    """The folder is writable, the database file is not: the store opens (reads work) and
    the first write fails."""
    db = used_home / "kitaru.db"
    _set_writable([db], False)
    if not _refused(db):
        pytest.skip("writes are not refused here")
    assert run_cli("executions", "list").returncode == 0
    run = run_cli("run", flows.target("review"), "--input", '{"topic": "b"}')
    _assert_clear(run, f"cannot write to the Kitaru store at {db}")


def test_a_read_only_home_while_the_store_is_open(used_home: Path) -> None:
    """Another process has the store open (its WAL files exist), so the store works; the
    secret file cannot be replaced."""
    from kitaru.store import default_store

    default_store().list_stacks()  # this process holds the store open
    assert (used_home / "kitaru.db-wal").exists()
    _set_writable([used_home, used_home / "secrets.json"], False)
    if not _refused(used_home):
        pytest.skip("writes are not refused here")
    secret = run_cli("secret", "set", "api", "key=v2")
    _assert_clear(secret, f"cannot write the secret file {used_home / 'secrets.json'}")
    assert run_cli("secret", "get", "api").returncode == 0  # reading still works
