"""moto in server mode, started and stopped by these tests (one process per session, on a free
port of 127.0.0.1). Each test gets fresh state (``POST /moto-api/reset``) and a bucket."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_moto import CREDENTIALS, TIMINGS, Moto, running_moto


@pytest.fixture(scope="session")
def aws_credentials() -> Iterator[None]:
    """moto's fake credentials in this process's environment (restored at the end)."""
    saved = {k: os.environ.get(k) for k in [*CREDENTIALS, "AWS_PROFILE", "AWS_ENDPOINT_URL"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update(CREDENTIALS)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def moto_server(aws_credentials: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    """One server for the session; its start time is printed in the terminal summary."""
    with running_moto(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        TIMINGS["moto start (s)"] = round(server.start_seconds, 2)
        yield server


@pytest.fixture
def moto(moto_server: Moto) -> Moto:
    """The server, emptied for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def bucket(moto: Moto) -> str:
    name = f"kitaru-test-{uuid.uuid4().hex[:8]}"
    moto.client("s3").create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


@pytest.fixture
def aws_env(
    isolated_kitaru_home: Path, moto: Moto, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """What the stack templates read, pointing at moto (also set in this process)."""
    values = {
        "AWS_REGION": "us-east-1",
        "KITARU_S3_PATH": f"s3://{bucket}/kitaru",
        "AWS_ENDPOINT_URL": moto.endpoint_url,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(isolated_kitaru_home)  # no pyproject.toml [tool.kitaru] from the repo
    yield dict(os.environ)


@pytest.fixture(scope="session")
def docker_host() -> str:
    """podman's engine (``scripts/standins/podman.sh``); skips where podman cannot run."""
    from sagemaker_standin import podman_engine

    return podman_engine()


@pytest.fixture(scope="session")
def runtime_image(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Debian + python3 with kitaru and kitaru-aws (and their pinned dependencies) installed
    from a local wheelhouse; its tag and the wheels of this checkout. Shared by the deploy and
    smoke tests: built once per session (and kept by the engine while its recipe is the same)."""
    from tests.job_standins import runtime_image as build

    tag, wheels, _ = build(docker_host, tmp_path_factory.mktemp("aws-runtime"), "kitaru-aws")
    return tag, wheels


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "kitaru-aws timings: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items())
        )
