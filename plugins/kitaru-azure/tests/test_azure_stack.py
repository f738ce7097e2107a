"""The plugin in a stack: found through its entry point without loading any Azure library,
``kitaru flavor list`` showing its four flavors, ``az://`` URLs served by its store, and the
``azureml`` template (``stacks/azureml.yaml``) registering and verifying against the stand-ins
(the builder's Docker engine deliberately absent: one line), one line per component when they
are down."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from azure_standins import TIMINGS
from fake_azure import RESOURCE_GROUP, SUBSCRIPTION, WORKSPACE

if TYPE_CHECKING:
    from azure_standins import Azurite
    from fake_azure import FakeAzure

REPO = Path(__file__).resolve().parents[3]
TEMPLATE = REPO / "stacks" / "azureml.yaml"
#: what must stay unloaded until a stack uses a flavor
SDKS = ("azure", "adlfs", "msal", "msrest", "marshmallow", "opentelemetry")


def kitaru(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kitaru.cli", *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_import_kitaru_and_validating_configs_load_no_azure_module() -> None:
    code = (
        "import json, sys\n"
        "before = set(sys.modules)\n"
        "import kitaru\n"
        "from kitaru.plugins.manager import plugin_manager\n"
        "from kitaru.stack.model import find_flavor, validate_component_config\n"
        "pm = plugin_manager()\n"
        "names = {(f.type, f.name): f.provider for f in pm.flavors()}\n"
        "for key in [('artifact_store', 'azure'), ('secret_store', 'azure'),\n"
        "            ('orchestrator', 'azureml'), ('container_builder', 'acr')]:\n"
        "    assert names[key] == 'kitaru-azure', names\n"
        "assert 'azureml' in pm.stack_templates()\n"
        "for kind, flavor, config in [\n"
        "        ('artifact_store', 'azure', {'path': 'az://c-1/x', 'account_name': 'acct1'}),\n"
        "        ('secret_store', 'azure', {'vault_url': 'https://v.vault.azure.net'}),\n"
        "        ('orchestrator', 'azureml', {'subscription_id': 's', 'resource_group': 'rg',\n"
        "                                     'workspace_name': 'wsp'}),\n"
        "        ('container_builder', 'acr', {'registry_name': 'myregistry'})]:\n"
        "    validate_component_config(kind, find_flavor(kind, flavor), config, source='t')\n"
        f"print(json.dumps(sorted(m for m in set(sys.modules) - before "
        f"if m.split('.')[0] in {SDKS!r})))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_flavor_list_shows_the_four_flavors(isolated_kitaru_home: Path) -> None:
    proc = kitaru("flavor", "list", "--output", "json", env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    rows = {(r["name"], r["type"]): r for r in json.loads(proc.stdout)["items"]}
    for key in [("azure", "artifact_store"), ("azure", "secret_store"),
                ("azureml", "orchestrator"), ("acr", "container_builder")]:  # fmt: skip
        assert rows[key]["provider"] == "kitaru-azure", rows


def test_az_urls_are_served_by_the_azure_flavor() -> None:
    from kitaru.plugins.manager import plugin_manager

    for scheme in ("az", "abfs", "abfss"):
        flavor = plugin_manager().flavor_for_scheme("artifact_store", scheme)
        assert (flavor.name, flavor.provider) == ("azure", "kitaru-azure")


def test_the_plugin_offers_the_azureml_template(isolated_kitaru_home: Path) -> None:
    from kitaru.plugins.manager import plugin_manager

    assert plugin_manager().stack_templates()["azureml"] == TEMPLATE.read_text()
    listed = kitaru("stack", "templates", env=dict(os.environ))
    assert listed.returncode == 0 and "azureml" in listed.stdout, listed.stdout + listed.stderr


def template_env(fake: FakeAzure, azurite: Azurite, container: str) -> dict[str, str]:
    return {**os.environ, "AZURE_SUBSCRIPTION_ID": SUBSCRIPTION,
            "KITARU_AZURE_RESOURCE_GROUP": RESOURCE_GROUP, "KITARU_AZUREML_WORKSPACE": WORKSPACE,
            "KITARU_AZURE_ARM_ENDPOINT": fake.url, "KITARU_KEY_VAULT_URL": fake.vault_url,
            "KITARU_KEY_VAULT_VERIFY_CHALLENGE": "false",
            "KITARU_AZURE_BLOB_PATH": f"az://{container}/k",
            "KITARU_AZURE_BLOB_CONNECTION": "{{secret:blob.conn}}",
            "KITARU_ACR_NAME": "kitarutest", "KITARU_ACR_REGISTRY": "localhost:5001/kitaru-azure",
            "KITARU_AZUREML_SERVER_URL": "https://kitaru.example.com",
            "DOCKER_HOST": "unix:///nonexistent/docker.sock"}  # fmt: skip


def test_azureml_template_registers_and_verifies_then_fails_one_line_each_when_down(
    isolated_kitaru_home: Path, fake: FakeAzure, azurite: Azurite, container: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(isolated_kitaru_home)  # no pyproject.toml [tool.kitaru] from the repo
    env = template_env(fake, azurite, container)
    done = kitaru("stack", "register", "az", "--template", "azureml", env=env)
    assert done.returncode == 0, done.stderr
    shown = kitaru("stack", "export", "az", env=env).stdout
    assert "flavor: azureml" in shown and "flavor: acr" in shown
    assert "api_key: '{{secret:kitaru-server.api_key}}'" in shown
    for secret, value in (("llm", "api_key=x"), ("kitaru-server", "api_key=x"),
                          ("acr-token", "password=x"), ("blob", f"conn={azurite.connection_string}")):  # fmt: skip
        stored = kitaru("secret", "set", "--stack", "az", secret, value, env=env)
        assert stored.returncode == 0, stored.stderr
    verify = kitaru("stack", "verify", "az", env=env)
    out = verify.stdout
    for line in ("ok    orchestrator az (azureml)", "ok    artifact_store az (azure)",
                 "ok    secret_store az (azure)", "ok    llm_gateway az (litellm)"):  # fmt: skip
        assert line in out, out + verify.stderr
    (builder,) = [line for line in out.splitlines() if "container_builder" in line]
    assert "FAIL" in builder and "/nonexistent/docker.sock" in builder, out
    assert verify.returncode == 1

    down = {**env, "KITARU_AZURE_ARM_ENDPOINT": "https://127.0.0.1:9",
            "KITARU_KEY_VAULT_URL": "https://127.0.0.1:9"}  # fmt: skip
    assert kitaru("stack", "register", "down", "--template", "azureml", env=down).returncode == 0
    started = time.monotonic()
    failed_run = kitaru("stack", "verify", "down", env=down)
    TIMINGS["azureml stack verify, stand-ins down (s)"] = round(time.monotonic() - started, 2)
    assert failed_run.returncode == 1
    failed = {line.split()[1]: line for line in failed_run.stdout.splitlines() if "FAIL" in line}
    assert {"orchestrator", "secret_store", "llm_gateway"} <= set(failed), failed_run.stdout
    assert "cannot list jobs (AzureML workspace" in failed["orchestrator"]
    assert "(Key Vault https://127.0.0.1:9) is unreachable" in failed["secret_store"]
    assert time.monotonic() - started < 40
