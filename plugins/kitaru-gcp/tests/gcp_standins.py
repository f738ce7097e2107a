"""The Google Cloud stand-ins these tests start and stop themselves, each on a free port of
127.0.0.1: the product's own (:mod:`kitaru_gcp.smoke.services`, what ``kitaru smoke`` starts),
in the test project:

- the GCS emulator (``gcp-storage-emulator start --in-memory``), the JSON API of Cloud Storage;
- drongo (``python -m kitaru_gcp.smoke.drongo_launcher``, which adds one management route to
  set a CustomJob's state): Secret Manager, and Vertex AI's CustomJob API (stored, never run:
  ``vertex_standin`` runs them), reached with the REST transport, an ``api_endpoint`` and
  anonymous credentials.

A module of its own so tests import it by a name no other test directory uses (``import
conftest`` gets whichever directory's conftest pytest imported last)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from kitaru_gcp.smoke import services
from kitaru_gcp.smoke.services import Drongo, GCSEmulator

__all__ = ["GCP_TEST_ENVIRONMENT", "PROJECT", "TIMINGS", "Drongo", "GCSEmulator",
           "running_drongo", "running_gcs_emulator"]  # fmt: skip

#: the project every test uses: neither stand-in checks projects
PROJECT = "kitaru-test"
#: what these tests set for themselves and the processes they start (what a smoke run sets)
GCP_TEST_ENVIRONMENT = services.GCP_ENVIRONMENT
#: wall-clock numbers the tests record, printed at the end of the session
TIMINGS: dict[str, float] = {}


@contextlib.contextmanager
def running_gcs_emulator(log: Path) -> Iterator[GCSEmulator]:
    """The GCS emulator, in memory, on a free port of 127.0.0.1 (buckets in ``PROJECT``)."""
    with services.running_gcs_emulator(log, PROJECT) as emulator:
        yield emulator


@contextlib.contextmanager
def running_drongo(log: Path) -> Iterator[Drongo]:
    """drongo's server with the job-state route, on a free port of 127.0.0.1 (``PROJECT``)."""
    with services.running_drongo(log, PROJECT) as drongo:
        yield drongo
