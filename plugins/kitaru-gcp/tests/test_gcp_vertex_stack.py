"""``stacks/vertex.yaml`` (the template the plugin offers): it registers with ``--template``
(``kitaru stack templates`` lists it), and ``kitaru stack verify`` reaches Vertex AI (drongo),
GCS (the emulator) and Secret Manager (drongo); the builder's Docker engine is deliberately
absent here (one line). With the stand-ins down, each component fails in one line saying
why, in seconds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gcp_standins import PROJECT, TIMINGS, running_drongo, running_gcs_emulator

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "stacks" / "vertex.yaml"


def kitaru(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def register(name: str, env: dict[str, str]) -> None:
    """With ``--template vertex`` (what a user of the installed plugin runs)."""
    done = kitaru("stack", "register", name, "--template", "vertex", env=env)
    assert done.returncode == 0, done.stderr


def template_env(drongo: str, gcs: str, bucket: str) -> dict[str, str]:
    return {**os.environ, "GOOGLE_CLOUD_PROJECT": PROJECT, "KITARU_GCS_PATH": f"gs://{bucket}/k",
            "KITARU_GCP_ANONYMOUS": "true", "KITARU_VERTEX_ENDPOINT": drongo,
            "SECRET_MANAGER_ENDPOINT": drongo, "STORAGE_ENDPOINT": gcs,
            "KITARU_AR_REGISTRY": "localhost:5001/kitaru-gcp",
            "KITARU_VERTEX_SERVER_URL": "https://kitaru.example.com",
            "DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # fmt: skip


def test_the_plugin_offers_the_vertex_template(isolated_kitaru_home: Path) -> None:
    from kitaru.plugins.manager import plugin_manager

    assert plugin_manager().stack_templates()["vertex"] == TEMPLATE.read_text()
    listed = kitaru("stack", "templates", env=dict(os.environ))
    assert listed.returncode == 0 and "vertex" in listed.stdout, listed.stdout + listed.stderr


def test_vertex_template_registers_and_verifies(
    isolated_kitaru_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(isolated_kitaru_home)  # no pyproject.toml [tool.kitaru] from the repo
    with (
        running_gcs_emulator(tmp_path / "gcs.log") as gcs,
        running_drongo(tmp_path / "drongo.log") as drongo,
    ):
        gcs.create_bucket("kitaru-vertex")
        env = template_env(drongo.endpoint_url, gcs.endpoint_url, "kitaru-vertex")
        register("vx", env)
        shown = kitaru("stack", "export", "vx", env=env)
        assert "flavor: vertex" in shown.stdout and "flavor: artifact_registry" in shown.stdout
        assert "api_key: '{{secret:kitaru-server.api_key}}'" in shown.stdout
        for secret in ("llm", "kitaru-server"):  # verify resolves every reference
            stored = kitaru("secret", "set", "--stack", "vx", secret, "api_key=x", env=env)
            assert stored.returncode == 0, stored.stderr
        verify = kitaru("stack", "verify", "vx", env=env)
    out = verify.stdout
    for line in ("ok    orchestrator vx (vertex)", "ok    artifact_store vx (gcs)",
                 "ok    secret_store vx (gcp)", "ok    llm_gateway vx (litellm)"):  # fmt: skip
        assert line in out, out
    (builder,) = [line for line in out.splitlines() if "container_builder" in line]
    assert "FAIL" in builder and "/nonexistent/docker.sock" in builder, out
    assert verify.returncode == 1


def test_vertex_template_with_the_stand_ins_down_fails_one_line_per_component(
    isolated_kitaru_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(isolated_kitaru_home)
    with (
        running_gcs_emulator(tmp_path / "gcs.log") as gcs,
        running_drongo(tmp_path / "drongo.log") as drongo,
    ):
        env = template_env(drongo.endpoint_url, gcs.endpoint_url, "kitaru-vertex")
        register("vertex", env)
    started = time.monotonic()
    down = kitaru("stack", "verify", "vertex", env=env)
    TIMINGS["vertex stack verify, stand-ins down (s)"] = round(time.monotonic() - started, 2)
    assert down.returncode == 1
    failed = {line.split()[1]: line for line in down.stdout.splitlines() if "FAIL" in line}
    assert set(failed) == {"orchestrator", "container_builder", "artifact_store", "secret_store",
                           "llm_gateway"}, down.stdout  # fmt: skip
    assert "cannot list CustomJobs (Vertex AI" in failed["orchestrator"]
    assert "/nonexistent/docker.sock" in failed["container_builder"]
    assert "is not writable" in failed["artifact_store"]
    assert "is unreachable" in failed["secret_store"]
    assert "cannot read Secret Manager secret 'kitaru-llm'" in failed["llm_gateway"]
    for kind in ("orchestrator", "secret_store", "llm_gateway"):
        assert drongo.endpoint_url in failed[kind], failed[kind]
    assert gcs.endpoint_url in failed["artifact_store"]
    assert time.monotonic() - started < 40
