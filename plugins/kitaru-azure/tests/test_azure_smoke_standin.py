"""kitaru-azure's stand-in of ``kitaru smoke`` (``kitaru_azure.smoke.standin``), started the way
the smoke run starts it: found through the plugin's ``kitaru_standins`` hook, given a
:class:`SmokeContext` and the components of ``stacks/azureml.yaml`` as a user's CI resolves
them (production names and endpoints, a service principal for the vault). It must start Azurite
and the Azure fake, create the stack's blob container, rewrite endpoints (and the credential
Azurite needs) only, refuse a name Azure would refuse in one line, and its runner must run each
command job the AzureML fake records once, as a container of the engine, and report a failing
one. The engine tests skip when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from azure_standins import azurite_blob
from azureml_standin import kitaru_server, podman_engine

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError
from kitaru.testing import build_component

if TYPE_CHECKING:
    from tests.server.conftest import Server

pytestmark = pytest.mark.timeout(1500)  # a first podman.sh / Azurite install take minutes
BUSYBOX = "localhost/kitaru/busybox:static"
SUBSCRIPTION = "5d2c9a7e-0000-4000-8000-0000000acme1"
#: what a stand-in may change, per component type: endpoints, the registry, and the
#: credentials the stand-ins take in place of Azure's
ALLOWED = {
    "artifact_store": {"endpoint_url", "connection_string", "account_key", "sas_token",
                       "client_secret"},
    "secret_store": {"vault_url", "verify_challenge_resource", "authority_host"},
    "orchestrator": {"resource_manager_endpoint", "authority_host"},
    "container_builder": {"registry", "base_url", "token_name", "token_password"},
}  # fmt: skip


def components(
    path: str = "az://acme-artifacts/kitaru", vault: str = "https://acme-kitaru.vault.azure.net"
) -> list[ComponentUse]:
    """stacks/azureml.yaml's components as a user's CI resolves them (Azure's own endpoints)."""
    return [
        ComponentUse("orchestrator", "azureml", {
            "image": "", "subscription_id": SUBSCRIPTION, "resource_group": "acme-ml",
            "workspace_name": "acme-ws", "compute": "gpu-cluster",
            "instance_type": "Standard_NC24ads_A100_v4", "server_url": "https://kitaru.acme.example",
            "api_key": "{{secret:kitaru-server.api_key}}", "resource_manager_endpoint": ""}),
        ComponentUse("container_builder", "acr", {
            "registry_name": "acmekitaru", "repository_prefix": "kitaru", "registry": "",
            "token_name": "kitaru-push", "token_password": "{{secret:acr-token.password}}",
            "platform": "linux/amd64"}),
        ComponentUse("artifact_store", "azure", {
            "path": path, "account_name": "acmekitaru",
            "connection_string": "{{secret:blob.conn}}", "endpoint_url": ""}),
        ComponentUse("secret_store", "azure", {
            "vault_url": vault, "prefix": "kitaru-", "verify_challenge_resource": True,
            "tenant_id": "72f988bf-0000-4000-8000-00000000acme",
            "client_id": "0b5f7c1e-0000-4000-8000-00000000acme",
            "client_secret": "{{secret:sp.secret}}"}),
    ]  # fmt: skip


def starter() -> Any:
    """The starter as the smoke run finds it: through the plugin's hook, for each flavor."""
    from kitaru.plugins.manager import plugin_manager

    found = {plugin_manager().standin_for(u.type, u.flavor) for u in components()}
    (standin,) = found  # one stand-in serves all four
    assert standin is not None and standin.provider == "kitaru-azure"
    return standin.load()


def merged(use: ComponentUse, stood: StoodIn) -> dict[str, Any]:
    """The component's config as the smoke run makes it (a shallow update)."""
    return {**use.config, **stood.config.get(use.type, {})}


def listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname or "", parts.port or 443), timeout=2).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def azurite_script() -> Path:
    """Azurite installed where the starter finds it (the tests' cached npm install)."""
    return azurite_blob()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with kitaru_server(tmp_path_factory.mktemp("smoke-server") / "home") as srv:
        yield srv


def context(tmp_path: Path, server: Server, docker_host: str | None = None) -> SmokeContext:
    return SmokeContext(stack="azure", workdir=tmp_path / "smoke", server_url=server.url,
                        docker_host=docker_host, registry="127.0.0.1:5001")  # fmt: skip


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Applies a StoodIn's environment as the smoke run does (undone after the test)."""

    def apply(stood: StoodIn) -> None:
        for name, value in stood.environment.items():
            monkeypatch.setenv(name, value)

    yield apply


def test_blob_storage_key_vault_and_acr_stand_ins_rewrite_endpoints_only(
    azurite_script: Path, server: Server, tmp_path: Path, environ: Any,
) -> None:  # fmt: skip
    from kitaru_azure.smoke.standin import AZURITE_REFERENCE

    uses = [u for u in components() if u.type != "orchestrator"]
    started = time.monotonic()
    with starter()(context(tmp_path, server, "unix:///engine.sock"), uses) as stood:
        print(f"azure stand-in up: {time.monotonic() - started:.2f} s")
        for kind, changed in stood.config.items():
            assert set(changed) <= ALLOWED[kind], (kind, changed)
        blob, vault = merged(uses[1], stood), merged(uses[2], stood)
        endpoint, fake_url = blob["endpoint_url"], vault["vault_url"]
        assert endpoint.startswith("http://127.0.0.1:") and fake_url.startswith(
            "https://127.0.0.1:"
        )
        assert vault["authority_host"] == fake_url  # the service principal signs in at the fake
        assert blob["path"] == "az://acme-artifacts/kitaru" and blob["account_name"] == "acmekitaru"
        assert blob["connection_string"] == AZURITE_REFERENCE
        assert stood.config["container_builder"] == {
            "registry": "127.0.0.1:5001/kitaru", "base_url": "unix:///engine.sock",
            "token_name": None, "token_password": None}  # fmt: skip
        assert {"artifact_store", "secret_store", "container_builder"} <= set(stood.notes)
        assert "container acme-artifacts created" in stood.notes["artifact_store"]
        assert stood.runner is None  # no orchestrator asked for
        assert stood.environment["MSI_ENDPOINT"] == f"{fake_url}/msi/token"

        environ(stood)
        # what the smoke run does next: it sets the stack's secrets through the (stood-in)
        # store -- the stand-in's own one too, with whatever value: Azurite's stays
        secrets = build_component("secret_store", "azure", **vault,
                                  secrets={"{{secret:sp.secret}}": "ci-placeholder"}.__getitem__)  # fmt: skip
        secrets.set("kitaru-server", {"api_key": server.admin_key})
        secrets.set("kitaru-smoke-azurite", {"connection_string": "placeholder"})
        assert secrets.resolve("{{secret:kitaru-server.api_key}}") == server.admin_key
        store = build_component("artifact_store", "azure", **blob, secrets=secrets.resolve)
        store.verify()
        uri = store.put("ab" * 32, b"stood in")
        assert uri.startswith("az://acme-artifacts/kitaru/") and store.get(uri) == b"stood in"
    assert not listening(endpoint) and not listening(fake_url)  # both stopped on exit


@pytest.mark.parametrize(
    ("path", "vault", "component", "says"),
    [("az://Acme_Artifacts/k", "https://acme-kitaru.vault.azure.net", "artifact_store",
      "'Acme_Artifacts' is not a blob container name"),
     ("az://acme-artifacts/k", "https://acme--kitaru.vault.azure.net", "secret_store",
      "'acme--kitaru' is not a Key Vault name")],
)  # fmt: skip
def test_a_name_azure_would_refuse_is_one_line_naming_the_component(
    server: Server, tmp_path: Path, path: str, vault: str, component: str, says: str,
) -> None:  # fmt: skip
    with pytest.raises(ConfigError) as caught, starter()(context(tmp_path, server),
                                                         components(path, vault)):  # fmt: skip
        pass
    assert (
        caught.value.message.startswith(f"smoke stack azure: {component} (flavor 'azure'): ")
        and says in caught.value.message
    )
    assert "\n" not in caught.value.message
    assert not (tmp_path / "smoke").exists()  # refused before anything started


def test_without_azurite_installed_it_says_how_to_install_it(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("KITARU_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))  # no azurite-blob on it
    uses = [u for u in components() if u.type in ("artifact_store", "secret_store")]
    with pytest.raises(ConfigError) as caught, starter()(context(tmp_path, server), uses):
        pass
    assert "Azurite (azurite-blob) is not installed" in caught.value.message
    assert "npm install -g azurite" in (caught.value.hint or "")


# -- the AzureML runner, in the engine ----------------------------------------------------------


@pytest.fixture(scope="module")
def docker_host() -> str:
    return podman_engine()


def submit(orchestrator: Any, name: str) -> None:
    """A unit as the orchestrator submits it (azure-ai-ml, to the fake's workspace path)."""
    from kitaru.components.job_orchestrator import UnitSpec

    spec = UnitSpec(name=name, execution_id="exec-1", role="checkpoint", image=BUSYBOX,
                    arguments=["checkpoint", "exec-1"], environment={"ACME_FLAG": "1"},
                    time_limit=600)  # fmt: skip
    orchestrator.submit_unit(spec)


def test_the_azureml_runner_runs_each_recorded_job_once_and_reports_a_failing_one(
    docker_host: str, server: Server, tmp_path: Path, environ: Any,
) -> None:  # fmt: skip
    uses = [u for u in components() if u.type in ("orchestrator", "secret_store")]
    with starter()(context(tmp_path, server, docker_host), uses) as stood:
        assert set(stood.config["orchestrator"]) <= ALLOWED["orchestrator"]
        assert any("Standard_NC24ads_A100_v4" in line for line in stood.limits)
        assert "hand-written fake" in " ".join(stood.limits)
        environ(stood)
        runner = stood.runner
        assert runner is not None
        config = merged(uses[0], stood)
        # busybox has no python: "echo" prints the job's command; "sh" fails to open the
        # script it is given (kitaru.entrypoint)
        ok = build_component("orchestrator", "azureml", **{**config, "python": "echo"})
        failing = build_component("orchestrator", "azureml", **{**config, "python": "sh"})
        submit(ok, "kitaru-checkpoint-ok")
        submit(failing, "kitaru-checkpoint-bad")
        deadline = time.monotonic() + 180
        while {ok.unit_state(n).phase for n in ("kitaru-checkpoint-ok", "kitaru-checkpoint-bad")} - {"succeeded", "failed"}:  # fmt: skip
            assert time.monotonic() < deadline, runner.summary()
            runner.poll()
            time.sleep(0.2)
        for _ in range(5):  # later polls start nothing again
            runner.poll()
        assert ok.unit_state("kitaru-checkpoint-ok").phase == "succeeded"
        assert ok.unit_state("kitaru-checkpoint-bad").phase == "failed"
        units = runner.units  # type: ignore[attr-defined]
        assert sorted(units.units) == ["kitaru-checkpoint-bad", "kitaru-checkpoint-ok"]
        assert units.output_of("kitaru-checkpoint-ok").strip() == (
            "-m kitaru.entrypoint checkpoint exec-1"
        )
        # the job's environment: its own, and the compute's managed identity (the fake's)
        assert runner.environment["MSI_ENDPOINT"].startswith("https://127.0.0.1:")  # type: ignore[attr-defined]
        (problem,) = runner.problems()
        assert problem.startswith("checkpoint unit kitaru-checkpoint-bad exited "), problem
        assert "kitaru.entrypoint" in problem  # its last line: sh cannot open it
        summary = runner.summary()
        assert len(summary) == 2 and all("ran in the engine: exit" in s for s in summary)


def test_a_service_principal_of_the_environment_signs_in_at_the_fake_and_is_listed(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """DefaultAzureCredential tries AZURE_CLIENT_SECRET before the managed identity, and a
    StoodIn cannot unset it: it is sent to the fake, and the report says so."""
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "a-ci-secret")
    uses = [u for u in components() if u.type == "secret_store"]
    with starter()(context(tmp_path, server), uses) as stood:
        fake_url = stood.config["secret_store"]["vault_url"]
        assert stood.environment["AZURE_AUTHORITY_HOST"] == fake_url
        assert any(
            line.startswith("AZURE_CLIENT_SECRET in the environment") for line in stood.limits
        )
        assert "a-ci-secret" not in repr(stood)
