"""``kitaru smoke examples/review_flow.py:review_flow --stack vertex --answer approve_draft=true``
end to end: ``stacks/vertex.yaml`` registered as a user would, with production values (a real
project, region, bucket, service account and Artifact Registry repository; no endpoint, no
``anonymous``), and the seed flow unchanged in a project whose image is FROM the offline
runtime image (``runtime_image``, shared with ``test_gcp_deploy``).

The smoke run (the core) starts its own server and kitaru-gcp's stand-in (the GCS emulator,
drongo, the run's registry), builds and pushes with podman, runs each CustomJob drongo records
in podman (``VertexJobs``), answers the wait and prints the report; a flow importing a package
the image lacks fails the run with a reason naming it.

Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gcp_standins import TIMINGS
from vertex_standin import REPO

TEMPLATE = REPO / "stacks" / "vertex.yaml"
SEED = REPO / "examples" / "review_flow.py"
PROD = {
    "GOOGLE_CLOUD_PROJECT": "acme-ml-prod",
    "KITARU_GCP_LOCATION": "europe-west4",
    "KITARU_GCS_PATH": "gs://acme-kitaru-prod/flows",
    "KITARU_VERTEX_SERVICE_ACCOUNT": "kitaru-job@acme-ml-prod.iam.gserviceaccount.com",
    "KITARU_VERTEX_SERVER_URL": "https://kitaru.acme.example",
    "KITARU_AR_REPOSITORY": "agents",
}
#: what must not reach the run from this test process: it finds its own endpoints and settings
UNSET = ("KITARU_SERVER_URL", "KITARU_API_KEY", "KITARU_STACK", "KITARU_DB_URL",
         "STORAGE_ENDPOINT", "SECRET_MANAGER_ENDPOINT", "KITARU_VERTEX_ENDPOINT",
         "KITARU_GCP_ANONYMOUS", "KITARU_AR_REGISTRY", "NO_GCE_CHECK", "GCE_METADATA_HOST",
         "GCE_METADATA_IP", "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT")  # fmt: skip
pytestmark = pytest.mark.timeout(1800)  # a first podman.sh and wheelhouse take minutes


def kitaru(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=1500)  # fmt: skip


@pytest.fixture
def user(
    docker_host: str, runtime_image: tuple[str, Path], tmp_path: Path
) -> tuple[dict[str, str], Path]:
    """A user's machine: the ``vertex`` stack registered (production values), a project with
    the seed flow; the environment and the project folder."""
    base, wheels = runtime_image
    cache = tmp_path / "cache"  # this checkout's Kitaru wheel, as in the base image
    (cache / "wheels").mkdir(parents=True)
    for wheel in wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env |= {**PROD, "KITARU_HOME": str(tmp_path / "home"), "DOCKER_HOST": docker_host,
            "KITARU_SMOKE_REGISTRY": "127.0.0.1:5001", "KITARU_CACHE": str(cache)}  # fmt: skip
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(SEED, project / "review_flow.py")  # the seed program, unchanged
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    done = kitaru("stack", "register", "vertex", "--file", str(TEMPLATE), env=env, cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    return env, project


def test_the_seed_flow_passes_a_smoke_run_on_the_vertex_stack(
    user: tuple[dict[str, str], Path],
) -> None:
    env, project = user
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "vertex",
                  "--answer", "approve_draft=true", env=env, cwd=project)  # fmt: skip
    TIMINGS["kitaru smoke --stack vertex (s)"] = round(time.monotonic() - started, 1)
    out = done.stdout
    print(out)  # the report, in the test's output (-s, or -rA)
    assert done.returncode == 0, out + done.stderr[-3000:]
    assert out.startswith("kitaru smoke review_flow on stack 'vertex': passed"), out
    # each component and what stood in for it: the production names, served locally
    assert "bucket acme-kitaru-prod created" in out
    assert "gcp → drongo's Secret Manager at http://127.0.0.1:" in out
    assert "vertex → drongo's Vertex AI at http://127.0.0.1:" in out
    assert ("pushing to 127.0.0.1:5001/acme-ml-prod/agents (in place of "
            "europe-west4-docker.pkg.dev/acme-ml-prod/agents") in out  # fmt: skip
    assert "kitaru-server.api_key = the smoke run's server key" in out
    # both CustomJobs (the run up to the wait, the resume after it) ran in podman, once each
    units = [line for line in out.splitlines() if line.startswith("  unit: ")]
    assert len(units) == 2, out
    assert "(run) ran in the engine: exit 0" in units[0], out
    # the resume job reports the execution's end, then exits: the run lets it end first
    assert "(resume) ran in the engine: exit 0" in units[1], out
    assert "waits answered: approve_draft" in out
    assert "LLM: 2 call(s)" in out
    for limit in ("machine_type n1-standard-4", "service account kitaru-job@acme-ml-prod",
                  "region europe-west4", "IAM"):  # fmt: skip
        assert limit in out, out
    assert "result: " in out and "Rejected" not in out
    for timing in ("stand-ins", "deploy (build + push)", "run"):
        assert f"{timing} " in out


def test_a_flow_importing_a_package_missing_from_the_image_fails_naming_it(
    user: tuple[dict[str, str], Path],
) -> None:
    """pytest is installed here (the flow loads where ``kitaru smoke`` runs) but not in the
    image, as a dependency the project forgot to declare: the job fails at the import, and so
    does the run, in one line naming the package."""
    env, project = user
    flow = project / "review_flow.py"
    flow.write_text("import pytest  # noqa: F401\n" + flow.read_text())
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "vertex",
                  "--answer", "approve_draft=true", "--timeout", "300", env=env, cwd=project)  # fmt: skip
    TIMINGS["kitaru smoke, failing (s)"] = round(time.monotonic() - started, 1)
    print(done.stdout)
    assert done.returncode == 1, done.stdout + done.stderr[-3000:]
    head, reason = done.stdout.splitlines()[:2]
    assert head.endswith(": FAILED")
    assert reason.startswith("  reason: ") and "'pytest'" in reason, done.stdout
