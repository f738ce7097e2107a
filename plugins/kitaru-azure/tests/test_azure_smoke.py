"""``kitaru smoke examples/review_flow.py:review_flow --stack azure --answer
approve_draft=true`` as a user's CI runs it: ``stacks/azureml.yaml`` (unchanged) registered with
production values (a subscription, a workspace, a Key Vault, a storage account, an ACR; no
endpoint), a project whose pyproject names the offline runtime image as its base, podman as the
engine and ``podman.sh``'s registry. The smoke run stands Azurite in for Blob Storage and the
hand-written fake for Key Vault / AzureML / Entra ID (kitaru-azure's ``kitaru_standins``),
builds and pushes the image, runs the command jobs in the engine, answers the wait and exits 0.

Skipped when there is no engine (``podman.sh`` exits 77) or no npm for Azurite."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from azure_standins import TIMINGS, azurite_blob
from azureml_standin import REPO

pytestmark = pytest.mark.timeout(1500)
TEMPLATE = REPO / "stacks" / "azureml.yaml"
SEED = REPO / "examples" / "review_flow.py"
#: what a user's CI job exports for stacks/azureml.yaml (none of it exists on this machine)
PRODUCTION = {
    "AZURE_SUBSCRIPTION_ID": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
    "KITARU_AZURE_RESOURCE_GROUP": "acme-ml",
    "KITARU_AZUREML_WORKSPACE": "acme-ws",
    "KITARU_AZUREML_COMPUTE": "cpu-cluster",
    "KITARU_AZURE_BLOB_PATH": "az://kitaru/ci",
    "KITARU_AZURE_STORAGE_ACCOUNT": "acmekitaru",
    "KITARU_KEY_VAULT_URL": "https://acme-kitaru.vault.azure.net",
    "KITARU_ACR_NAME": "acmekitaru",
}


def test_smoke_run_of_the_seed_flow_on_the_azureml_stack_passes(
    docker_host: str, runtime_image: tuple[str, Path], tmp_path: Path,
    isolated_kitaru_home: Path,
) -> None:  # fmt: skip
    base, wheels = runtime_image
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(SEED, project / "review_flow.py")  # the seed program, unchanged
    (project / "pyproject.toml").write_text(
        f'[project]\nname = "seed"\nversion = "0"\n\n[tool.kitaru.image]\nbase_image = "{base}"\n'
    )
    cache = tmp_path / "cache"  # this checkout's Kitaru wheel, as in the base image
    (cache / "wheels").mkdir(parents=True)
    for wheel in wheels.glob("kitaru-*.whl"):
        shutil.copy2(wheel, cache / "wheels")
    # the CI job's environment: no Kitaru server, no Azure login or endpoint of its own
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AZURE_", "MSI_", "IDENTITY_", "KITARU_SERVER", "KITARU_API_KEY",
                                "KITARU_STACK", "KITARU_AZURE", "KITARU_KEY_VAULT"))}  # fmt: skip
    env.update(PRODUCTION, DOCKER_HOST=docker_host, KITARU_SMOKE_REGISTRY="127.0.0.1:5001",
               KITARU_CACHE=str(cache), KITARU_HOME=str(isolated_kitaru_home),
               PATH=f"{azurite_blob().parent}{os.pathsep}{os.environ.get('PATH', '')}")  # fmt: skip

    def kitaru(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env, cwd=project,
                              capture_output=True, text=True, timeout=1200)  # fmt: skip

    registered = kitaru("stack", "register", "azure", "--file", str(TEMPLATE))
    assert registered.returncode == 0, registered.stdout + registered.stderr
    started = time.monotonic()
    done = kitaru("smoke", "review_flow.py:review_flow", "--stack", "azure",
                  "--answer", "approve_draft=true")  # fmt: skip
    TIMINGS["kitaru smoke --stack azure (s)"] = round(time.monotonic() - started, 1)
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    out = done.stdout
    assert out.startswith("kitaru smoke review_flow on stack 'azure': passed"), out
    lines = out.splitlines()
    for kind in ("orchestrator", "artifact_store", "secret_store", "container_builder"):
        (line,) = [x for x in lines if x.strip().startswith(kind)]
        assert "→" in line, line
    assert "acr → pushes to 127.0.0.1:5001/kitaru in place of acmekitaru.azurecr.io" in out
    assert "container kitaru created" in out
    assert "kitaru-server.api_key = the smoke run's server key" in out
    assert "waits answered: approve_draft" in out and "LLM: 2 call(s)" in out
    units = [x for x in lines if x.strip().startswith("unit: ")]
    assert len(units) == 2 and all("exit 0" in x for x in units), units
    assert "not stood in for:" in out and "result: " in out
