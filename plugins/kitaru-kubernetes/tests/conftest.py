"""The real single-node cluster of ``scripts/standins/k8s.sh`` (built once, ~8 min, cached
under ~/.cache/kitaru/k8s; then started in ~15 s, or found running at once). Tests skip only
when the machine cannot run it at all (exit 77: not Linux, not root, not Debian bookworm, ...);
any other failure of the script fails them. The cluster is left running for the next session,
like the podman stand-in. ``scripts/run_tests.sh`` runs the script before pytest, outside any
test timeout; a test that is the first to need it gets a longer timeout here."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from k8s_standin import (
    SCRIPT,
    SETUP_TIMEOUT,
    TIMINGS,
    admin,
    create_namespace,
    delete_namespace,
    start_cluster,
)

_CLUSTER_FIXTURES = {"kubeconfig", "cluster", "namespace"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if (
            here in Path(str(item.fspath)).parents
            and _CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ()))
            and item.get_closest_marker("timeout") is None
        ):
            item.add_marker(pytest.mark.timeout(SETUP_TIMEOUT))


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    """The admin kubeconfig's path (the cluster started, or found running)."""
    started = time.monotonic()
    try:
        proc = start_cluster()
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{SCRIPT} took over {SETUP_TIMEOUT - 60} s: {exc.stderr!r}")
    if proc.returncode == 77:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    if proc.returncode != 0:
        pytest.fail(f"{SCRIPT} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    TIMINGS["cluster start or check (s)"] = round(time.monotonic() - started, 1)
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def cluster(kubeconfig: str) -> Iterator[Any]:
    """An admin ``ApiClient`` for the tests' own setup."""
    api = admin(kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="session")
def namespace(cluster: Any) -> Iterator[str]:
    """A namespace of this session's own (deleted at the end, asynchronously)."""
    name = create_namespace(cluster)
    yield name
    delete_namespace(cluster, name)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "kitaru-kubernetes timings: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items())
        )
