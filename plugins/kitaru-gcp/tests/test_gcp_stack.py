"""The plugin in a stack: found through its entry point without loading any Google library, a
GCS + Secret Manager stack registered and verified with the CLI (one line per component when
the stand-ins are down), and the seed flow's artifacts in GCS with its LLM key from Secret
Manager."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml
from gcp_standins import PROJECT, TIMINGS, running_drongo, running_gcs_emulator

if TYPE_CHECKING:
    from gcp_standins import Drongo, GCSEmulator

REPO = Path(__file__).resolve().parents[3]
SEED = REPO / "examples" / "review_flow.py"
SECRET = "sk-kitaru-GCP-TEST-5e4d3c2b1a09"
#: what must stay unloaded until a stack uses a flavor
SDKS = ("google", "gcsfs", "grpc", "proto", "googleapiclient")


def kitaru(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_import_kitaru_and_listing_flavors_import_no_google_module() -> None:
    """``before`` is taken at the start: google-cloud-aiplatform installs a ``-nspkg.pth`` that
    creates the empty ``google`` and ``google.cloud`` namespace modules at interpreter start,
    whatever Kitaru does. Nothing past that may be loaded, configs validated included."""
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import kitaru\n"
        "from kitaru.plugins.manager import plugin_manager\n"
        "from kitaru.stack.model import find_flavor, validate_component_config\n"
        "pm = plugin_manager()\n"
        "names = {(f.type, f.name): f.provider for f in pm.flavors()}\n"
        "assert names[('artifact_store', 'gcs')] == 'kitaru-gcp', names\n"
        "assert names[('secret_store', 'gcp')] == 'kitaru-gcp', names\n"
        "assert names[('orchestrator', 'vertex')] == 'kitaru-gcp', names\n"
        "assert names[('container_builder', 'artifact_registry')] == 'kitaru-gcp', names\n"
        "assert 'vertex' in pm.stack_templates()\n"
        "for kind, flavor, config in [('artifact_store', 'gcs', {'path': 'gs://b-1/x'}),\n"
        "                             ('secret_store', 'gcp', {'project': 'p'}),\n"
        "                             ('orchestrator', 'vertex', {'project': 'p'}),\n"
        "                             ('container_builder', 'artifact_registry',\n"
        "                              {'location': 'europe-west1', 'project': 'p',\n"
        "                               'repository': 'r'})]:\n"
        "    validate_component_config(kind, find_flavor(kind, flavor), config, source='t')\n"
        f"print(json.dumps(sorted(m for m in set(sys.modules) - before "
        f"if m.split('.')[0] in {SDKS!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_flavor_list_shows_gcs_gcp_vertex_and_artifact_registry(isolated_kitaru_home: Path) -> None:
    proc = kitaru("flavor", "list", "--output", "json", env=_env())
    assert proc.returncode == 0, proc.stderr
    rows = {(r["name"], r["type"]): r for r in json.loads(proc.stdout)["items"]}
    for key in [("gcs", "artifact_store"), ("gcp", "secret_store"), ("vertex", "orchestrator"),
                ("artifact_registry", "container_builder")]:  # fmt: skip
        assert rows[key]["provider"] == "kitaru-gcp", rows


def test_gs_urls_are_served_by_the_gcs_flavor() -> None:
    """``kitaru server start --artifact-store gs://...`` finds the flavor through its declared
    schemes (the core names no cloud)."""
    from kitaru.plugins.manager import plugin_manager

    for scheme in ("gs", "gcs"):
        flavor = plugin_manager().flavor_for_scheme("artifact_store", scheme)
        assert (flavor.name, flavor.provider) == ("gcs", "kitaru-gcp")


def _env(**values: str) -> dict[str, str]:
    import os

    return {**os.environ, **values}


def stack_yaml(gcs: str, drongo: str, bucket: str, llm: dict[str, Any] | None = None) -> str:
    """GCS + Secret Manager, local execution; the LLM gateway keyed from Secret Manager."""
    components: dict[str, Any] = {
        "orchestrator": {"flavor": "local"},
        "artifact_store": {"flavor": "gcs", "config": {
            "path": f"gs://{bucket}/kitaru", "project": PROJECT, "anonymous": True,
            "endpoint_url": gcs}},
        "secret_store": {"flavor": "gcp", "config": {
            "project": PROJECT, "anonymous": True, "endpoint_url": drongo}},
        "llm_gateway": llm or {"flavor": "litellm", "config": {
            "aliases": {"fast": "openai/gpt-4o-mini", "default": "openai/gpt-4o-mini"},
            "credentials": {"openai": "{{secret:llm.api_key}}"}}},
    }  # fmt: skip
    return yaml.safe_dump({"name": "gcp", "components": components})


def test_stack_registers_and_verifies_then_stand_ins_down_fail_one_line_each(
    isolated_kitaru_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(isolated_kitaru_home)  # no pyproject.toml [tool.kitaru] from the repo
    env = _env()
    bucket = f"kitaru-{uuid.uuid4().hex[:8]}"
    stack_file = tmp_path / "gcp.yaml"
    with (
        running_gcs_emulator(tmp_path / "gcs.log") as gcs,
        running_drongo(tmp_path / "drongo.log") as drongo,
    ):
        gcs.create_bucket(bucket)
        stack_file.write_text(stack_yaml(gcs.endpoint_url, drongo.endpoint_url, bucket))
        registered = kitaru("stack", "register", "gcp", "--file", str(stack_file), env=env)
        assert registered.returncode == 0, registered.stderr
        stored = kitaru("secret", "set", "--stack", "gcp", "llm", f"api_key={SECRET}", env=env)
        assert stored.returncode == 0, stored.stderr
        ok = kitaru("stack", "verify", "gcp", env=env)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        for line in ("ok    artifact_store gcp (gcs)", "ok    secret_store gcp (gcp)",
                     "ok    llm_gateway gcp (litellm)"):  # fmt: skip
            assert line in ok.stdout, ok.stdout
    started = time.monotonic()
    down = kitaru("stack", "verify", "gcp", env=env)
    TIMINGS["verify with stand-ins down (s)"] = round(time.monotonic() - started, 2)
    assert down.returncode == 1
    failed = [line for line in down.stdout.splitlines() if "FAIL" in line]
    assert len(failed) == 3, down.stdout
    gcs_line, secrets_line, llm_line = failed
    assert "artifact_store gcp (gcs)" in gcs_line and "is not writable" in gcs_line
    assert gcs.endpoint_url in gcs_line and "is unreachable" in gcs_line
    assert "secret_store gcp (gcp)" in secrets_line and "is unreachable" in secrets_line
    assert drongo.endpoint_url in secrets_line
    # the gateway's credential lives in the unreachable secret store
    assert "llm_gateway gcp (litellm)" in llm_line
    assert "cannot read Secret Manager secret 'kitaru-llm'" in llm_line
    assert "ok    orchestrator" in down.stdout
    assert time.monotonic() - started < 30


def test_register_names_the_bad_key(isolated_kitaru_home: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(stack_yaml("http://127.0.0.1:9", "http://127.0.0.1:9", "b-1"))
    data["components"]["artifact_store"]["config"]["path"] = "my-bucket/kitaru"  # no gs://
    stack_file = tmp_path / "bad.yaml"
    stack_file.write_text(yaml.safe_dump(data))
    proc = kitaru("stack", "register", "bad", "--file", str(stack_file), env=_env())
    assert proc.returncode != 0
    assert "path" in proc.stderr and "gs://" in proc.stderr


def test_seed_flow_artifacts_land_in_gcs_and_the_llm_key_comes_from_secret_manager(
    isolated_kitaru_home: Path, gcs_emulator: GCSEmulator, drongo: Drongo, bucket: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(isolated_kitaru_home)
    calls_log = tmp_path / "provider-calls.jsonl"
    offline = {"flavor": "offline", "config": {
        "credentials": {"offline": "{{secret:llm.api_key}}"}, "calls_log": str(calls_log)}}  # fmt: skip
    stack_file = tmp_path / "gcp.yaml"
    stack_file.write_text(stack_yaml(gcs_emulator.endpoint_url, drongo.endpoint_url, bucket,
                                     llm=offline))  # fmt: skip
    env = _env(KITARU_STACK="gcp", KITARU_INLINE_LIMIT="0")
    assert kitaru("stack", "register", "gcp", "--file", str(stack_file), env=env).returncode == 0
    stored = kitaru("secret", "set", "--stack", "gcp", "llm", f"api_key={SECRET}", env=env)
    assert stored.returncode == 0, stored.stderr
    assert SECRET not in stored.stdout + stored.stderr
    client = drongo.secret_manager()
    raw = client.access_secret_version(
        name=f"projects/{PROJECT}/secrets/kitaru-llm/versions/latest"
    )
    assert json.loads(raw.payload.data) == {"api_key": SECRET}  # in Secret Manager
    assert not (isolated_kitaru_home / "secrets.json").exists()

    flow_file = tmp_path / "review_flow.py"
    flow_file.write_bytes(SEED.read_bytes())  # the seed program, unchanged
    started = time.monotonic()
    run = kitaru("run", f"{flow_file}:review_flow", "--input", '{"topic": "Durable agents"}',
                 "--detach", env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    execution_id = run.stdout.split()[-1].strip() if run.stdout.strip() else ""
    assert execution_id, run.stdout
    assert _until_status(execution_id, {"waiting"}, env) == "waiting"
    resolved = kitaru("executions", "input", execution_id, "--value", "true", env=env)
    assert resolved.returncode == 0, resolved.stderr
    assert _until_status(execution_id, {"completed", "failed", "cancelled"}, env) == "completed"
    TIMINGS["seed flow on the gcs + gcp stack (s)"] = round(time.monotonic() - started, 2)

    calls = [json.loads(line) for line in calls_log.read_text().splitlines()]
    assert len(calls) == 2 and all(c["with_credential"] for c in calls)
    from gcsfs.core import GCSFileSystem

    fs = GCSFileSystem(project=PROJECT, token="anon", endpoint_url=gcs_emulator.endpoint_url,
                       skip_instance_cache=True)  # fmt: skip
    blobs = [p for p in fs.find(f"{bucket}/kitaru") if not p.endswith(".kitaru-verify")]
    # inputs and outputs of both checkpoints and the flow's result: several blobs, none local
    assert len(blobs) >= 3, blobs
    for path in blobs:
        sha = path.rsplit("/", 1)[-1]
        assert path == f"{bucket}/kitaru/{sha[:2]}/{sha}"
        assert SECRET.encode() not in fs.cat_file(path)
    assert not (isolated_kitaru_home / "artifacts").exists()


def _until_status(execution_id: str, wanted: set[str], env: dict[str, str]) -> str:
    deadline = time.monotonic() + 90
    status = ""
    while time.monotonic() < deadline:
        shown = kitaru("executions", "show", execution_id, "--output", "json", env=env)
        if shown.returncode == 0:
            status = json.loads(shown.stdout)["items"][0]["status"]
            if status in wanted:
                return status
        time.sleep(0.5)
    return status
