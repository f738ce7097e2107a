"""The GCS emulator and drongo, started and stopped by these tests (one process each per
session, on free ports of 127.0.0.1). Each test gets a fresh bucket, and drongo emptied."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_standins import (
    GCP_TEST_ENVIRONMENT,
    TIMINGS,
    Drongo,
    GCSEmulator,
    running_drongo,
    running_gcs_emulator,
)


@pytest.fixture(scope="session", autouse=True)
def gcp_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No ambient Google settings: an emulator address or a developer's credentials (their
    variables, gcloud's config folder) must not leak into the tests; restored at the end."""
    names = ["STORAGE_EMULATOR_HOST", "GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CLOUD_PROJECT",
             "GCLOUD_PROJECT", "CLOUDSDK_CONFIG", *GCP_TEST_ENVIRONMENT]  # fmt: skip
    saved = {name: os.environ.pop(name, None) for name in names}
    os.environ.update(GCP_TEST_ENVIRONMENT)
    os.environ["CLOUDSDK_CONFIG"] = str(tmp_path_factory.mktemp("gcloud"))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GCSEmulator]:
    with running_gcs_emulator(tmp_path_factory.mktemp("gcs") / "gcs.log") as server:
        TIMINGS["GCS emulator start (s)"] = round(server.start_seconds, 2)
        yield server


@pytest.fixture(scope="session")
def drongo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drongo]:
    with running_drongo(tmp_path_factory.mktemp("drongo") / "drongo.log") as server:
        TIMINGS["drongo start (s)"] = round(server.start_seconds, 2)
        yield server


@pytest.fixture
def drongo(drongo_server: Drongo) -> Drongo:
    """The server, emptied for this test."""
    drongo_server.reset()
    return drongo_server


@pytest.fixture(scope="session")
def docker_host() -> str:
    """podman's Docker API (``scripts/standins/podman.sh``); skips where podman cannot run."""
    from tests.job_standins import podman_engine

    return podman_engine()


@pytest.fixture(scope="session")
def runtime_image(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Debian + python3 with kitaru and kitaru-gcp (and their pinned dependencies) installed
    from a local wheelhouse, offline: a project's ``[tool.kitaru.image] base_image``. Its tag,
    and the folder of the wheels of this checkout (a build's wheel cache holds the same kitaru
    wheel, as in the image)."""
    from tests.job_standins import runtime_image as build

    tag, wheels, seconds = build(docker_host, tmp_path_factory.mktemp("gcp-runtime"), "kitaru-gcp")
    if seconds is not None:
        TIMINGS["runtime image build (s)"] = round(seconds, 1)
    return tag, wheels


@pytest.fixture
def bucket(gcs_emulator: GCSEmulator) -> str:
    name = f"kitaru-test-{uuid.uuid4().hex[:8]}"
    gcs_emulator.create_bucket(name)
    return name


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "kitaru-gcp timings: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items())
        )
