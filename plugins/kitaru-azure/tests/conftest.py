"""Azurite and the Azure fake, started and stopped by these tests (one each per session, on
free ports of 127.0.0.1). Each test gets a fresh container, and the fake emptied.

The session runs as code on an AzureML compute does: ``DefaultAzureCredential`` finds the
compute's managed identity through ``MSI_ENDPOINT`` / ``MSI_SECRET`` (here, the fake's), and
``REQUESTS_CA_BUNDLE`` trusts the fake's certificate (the one thing a real host would not need).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure_standins import TIMINGS, Azurite, azurite_blob, running_azurite
from fake_azure import FakeAzure, running_fake

#: what would leak a developer's Azure login (or a real endpoint) into the tests
AMBIENT = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST",
           "AZURE_FEDERATED_TOKEN_FILE", "AZURE_STORAGE_CONNECTION_STRING", "IDENTITY_ENDPOINT",
           "IDENTITY_HEADER", "AZUREML_CURRENT_CLOUD", "ARM_CLOUD_METADATA_URL")  # fmt: skip


@pytest.fixture(scope="session")
def fake_azure(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAzure]:
    with running_fake(tmp_path_factory.mktemp("fake-azure")) as fake:
        import certifi

        # the CAs this process trusted stay trusted besides the fake's (pip fetching a
        # wheelhouse through a company proxy, say)
        trusted = os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()
        bundle = str(fake.ca_file.parent / "trusted-and-fake.pem")
        Path(bundle).write_text(Path(trusted).read_text() + "\n" + fake.ca_file.read_text())
        names = [*AMBIENT, "MSI_ENDPOINT", "MSI_SECRET", "REQUESTS_CA_BUNDLE", "AZURE_CONFIG_DIR"]
        saved = {name: os.environ.pop(name, None) for name in names}
        os.environ.update({**fake.environment(), "REQUESTS_CA_BUNDLE": bundle})
        os.environ["AZURE_CONFIG_DIR"] = str(tmp_path_factory.mktemp("az"))
        yield fake
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def fake(fake_azure: FakeAzure) -> FakeAzure:
    """The fake, emptied for this test."""
    fake_azure.reset()
    return fake_azure


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    script = azurite_blob()
    with running_azurite(tmp_path_factory.mktemp("azurite") / "azurite.log", script) as server:
        TIMINGS["Azurite start (s)"] = round(server.start_seconds, 2)
        yield server


@pytest.fixture
def container(azurite: Azurite) -> str:
    name = f"kitaru-test-{uuid.uuid4().hex[:8]}"
    azurite.create_container(name)
    return name


@pytest.fixture(scope="session")
def azurite_oauth(fake_azure: FakeAzure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:  # fmt: skip
    """A second Azurite, for Entra ID: HTTPS with the fake's certificate, and bearer tokens
    accepted (``--oauth basic``: issuer, audience ``https://storage.azure.com`` and lifetime are
    checked, not the signature) besides its key. The fake's managed identity issues such tokens.

    adlfs talks to it through aiohttp, which trusts neither ``REQUESTS_CA_BUNDLE`` nor a later
    ``SSL_CERT_FILE`` (it builds its default context once, at import): the fake's CA is added to
    that context, as the session's requests trust it through ``REQUESTS_CA_BUNDLE``."""
    import aiohttp.connector

    aiohttp.connector._SSL_CONTEXT_VERIFIED.load_verify_locations(cafile=str(fake_azure.ca_file))
    script = azurite_blob()
    log = tmp_path_factory.mktemp("azurite-oauth") / "azurite.log"
    tls = (fake_azure.ca_file, fake_azure.key_file)
    with running_azurite(log, script, tls=tls, oauth=True) as server:
        yield server


@pytest.fixture
def oauth_container(azurite_oauth: Azurite) -> str:
    """A fresh container of :func:`azurite_oauth` (created with its key)."""
    name = f"kitaru-entra-{uuid.uuid4().hex[:8]}"
    azurite_oauth.create_container(name)
    return name


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """azure-ai-ml's schemas warn about marshmallow 4 (hundreds of warnings, once per process,
    in whichever test imports it first): not this plugin's concern."""
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(
                pytest.mark.filterwarnings("ignore::marshmallow.warnings.Marshmallow4Warning")
            )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.write_line(
            "kitaru-azure timings: " + ", ".join(f"{k} {v}" for k, v in TIMINGS.items())
        )


@pytest.fixture(scope="session")
def docker_host() -> str:
    """podman's engine (``scripts/standins/podman.sh``); skips where podman cannot run."""
    from tests.job_standins import podman_engine

    return podman_engine()


@pytest.fixture(scope="session")
def runtime_image(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """Debian + python3 with kitaru and kitaru-azure (and their pinned dependencies) installed
    from a local wheelhouse; its tag and the wheels of this checkout (shared by the deploy and
    smoke tests)."""
    from tests.job_standins import runtime_image as build

    tag, wheels, seconds = build(docker_host, tmp_path_factory.mktemp("azure-runtime"),
                                 "kitaru-azure")  # fmt: skip
    if seconds is not None:
        TIMINGS["runtime image build (s)"] = round(seconds, 1)
    return tag, wheels
