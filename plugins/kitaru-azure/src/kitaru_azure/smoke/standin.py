"""The starter of kitaru-azure's stand-ins (``kitaru_azure.smoke.standin:start``): what takes
the place of a stack's Azure components in ``kitaru smoke``.

- ``artifact_store: azure`` -> Azurite's blob service. The stack's container is created there.
  Azurite checks request signatures against its own development account, so the store signs in
  with Azurite's connection string in place of the stack's credential: the config's key fields
  become one reference, ``{{secret:kitaru-smoke-azurite.connection_string}}``, which this
  starter sets (pinned) in the Key Vault fake. That needs the stack's secret store to be the
  ``azure`` one too; another secret store is refused in one line.
- ``secret_store: azure`` and ``orchestrator: azureml`` -> the hand-written HTTPS fake of Key
  Vault, AzureML, Entra ID and a compute's managed identity (:mod:`kitaru_azure.smoke.fake`):
  ``vault_url`` / ``resource_manager_endpoint`` (and ``authority_host`` where a service
  principal signs in) point at it. This process signs in as the fake's managed identity
  (``MSI_ENDPOINT``); a service principal of the environment (``AZURE_CLIENT_SECRET``...), which
  ``DefaultAzureCredential`` would try first, is sent to the fake (``AZURE_AUTHORITY_HOST``),
  never to Azure, and listed in the limits. The AzureML runner (:class:`~kitaru_azure.smoke.azureml.AzureMLJobs`) runs the
  recorded command jobs in the engine.
- ``container_builder: acr`` -> kitaru-docker's builder on the smoke run's engine, pushing to
  the smoke run's registry (``ctx.registry``) under the stack's repository path, without the
  ACR token's login (the local registry takes none).

A name Azure would refuse (a blob container, a vault, a workspace, a registry) fails first, in
one line naming the component. Everything started is stopped on exit, also on error.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kitaru.components.standins import ComponentUse, SmokeContext, StoodIn
from kitaru.errors import ConfigError, one_line

#: the Kitaru secret holding Azurite's connection string in the Key Vault fake
AZURITE_SECRET = "kitaru-smoke-azurite"
AZURITE_REFERENCE = f"{{{{secret:{AZURITE_SECRET}.connection_string}}}}"
#: an environment credential DefaultAzureCredential tries before the managed identity
AMBIENT = ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE",
           "AZURE_USERNAME", "IDENTITY_ENDPOINT")  # fmt: skip
#: a Key Vault's name (``NAME.vault.azure.net``): 3-24 letters, digits and single dashes
_VAULT = re.compile(r"^[A-Za-z](?!.*--)[A-Za-z0-9-]{1,22}[A-Za-z0-9]$")
_VAULT_DOMAINS = (".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net")


def _checked(ctx: SmokeContext, use: ComponentUse) -> Any:
    """The component's config, validated as registration would: a name Azure refuses (the
    config classes carry Azure's naming rules) is one line naming the component."""
    from kitaru.stack.model import find_flavor, validate_component_config

    config = validate_component_config(use.type, find_flavor(use.type, use.flavor), use.config,
                                       source=f"smoke stack {ctx.stack}")  # fmt: skip
    if use.type == "secret_store":
        host = urlsplit(str(getattr(config, "vault_url", ""))).hostname or ""
        name, _, domain = host.partition(".")
        if f".{domain}" in _VAULT_DOMAINS and not _VAULT.match(name):
            raise ConfigError(f"smoke stack {ctx.stack}: secret_store (flavor 'azure'): config "
                              f"key 'vault_url': {name!r} is not a Key Vault name (3-24 "
                              "letters, digits and single '-', starting with a letter)",
                              hint="Azure would refuse it too: fix vault_url")  # fmt: skip
    return config


def _ca_bundle(ca_file: Path) -> Path:
    """The public CAs (certifi's) plus the fake's, in one file: what REQUESTS_CA_BUNDLE and
    SSL_CERT_FILE name for the run, so that a real endpoint (an LLM provider given a key)
    still verifies."""
    import certifi

    bundle = ca_file.parent / "ca-bundle.pem"
    bundle.write_text(Path(certifi.where()).read_text() + "\n" + ca_file.read_text())
    return bundle


@contextlib.contextmanager
def start(ctx: SmokeContext, components: list[ComponentUse]) -> Iterator[StoodIn]:
    """Start what ``components`` need and yield what changed (see the module doc)."""
    uses = {use.type: use for use in components}
    configs = {use.type: _checked(ctx, use) for use in components}  # names first: nothing started
    blob = uses.get("artifact_store")
    if blob is not None and "secret_store" not in uses:
        raise ConfigError("artifact_store (azure): its Azurite stand-in needs the stack's "
                          "secret store to be the azure Key Vault (stood in with it)",
                          hint="a smoke run of this stack is not supported")  # fmt: skip
    stood = StoodIn()
    with contextlib.ExitStack() as stack:
        fake = None
        if {"secret_store", "orchestrator"} & set(uses):
            fake = stack.enter_context(_fake(ctx, configs.get("orchestrator"),
                                             configs.get("secret_store")))  # fmt: skip
            bundle = _ca_bundle(fake.ca_file)
            # this process (and what it starts) signs in as the fake's managed identity
            stood.environment.update({**fake.environment(), "REQUESTS_CA_BUNDLE": str(bundle),
                                      "SSL_CERT_FILE": str(bundle)})  # fmt: skip
            ambient = [name for name in AMBIENT if os.environ.get(name)]
            if ambient:  # a StoodIn cannot unset them: they sign in at the fake, not at Azure
                stood.environment["AZURE_AUTHORITY_HOST"] = fake.url
                stood.limits.append(
                    f"{', '.join(ambient)} in the environment: DefaultAzureCredential uses "
                    f"them (at the fake, AZURE_AUTHORITY_HOST) before the managed identity; "
                    "unset them for the run as an AzureML job has none"
                )
            stood.limits.append(
                "Key Vault and AzureML are a hand-written fake (kitaru_azure.smoke.fake): no "
                "RBAC, soft-delete retention, token expiry or paging"
            )
        if "secret_store" in uses and fake is not None:
            config = configs["secret_store"]
            stood.config["secret_store"] = {"vault_url": fake.vault_url,
                                            "verify_challenge_resource": False,
                                            **_authority(config, fake.url)}  # fmt: skip
            stood.notes["secret_store"] = (f"Key Vault fake at {fake.vault_url} in place of "
                                           f"{config.vault_url}")  # fmt: skip
        if blob is not None and fake is not None:
            _azurite(ctx, stack, stood, configs["artifact_store"], configs["secret_store"], fake)
        if "orchestrator" in uses and fake is not None:
            _azureml(ctx, stood, configs["orchestrator"], fake)
        if "container_builder" in uses:
            _acr(ctx, stood, configs["container_builder"])
        if stood.runner is not None:
            stack.callback(stood.runner.close)
        yield stood


def _authority(config: Any, url: str) -> dict[str, str]:
    """A service principal signs in at the fake (any client id and secret is accepted)."""
    return {"authority_host": url} if config.client_secret else {}


@contextlib.contextmanager
def _fake(ctx: SmokeContext, orchestrator: Any, secrets: Any) -> Iterator[Any]:
    from kitaru_azure.smoke.fake import running_fake

    workspace: dict[str, Any] = {}
    if orchestrator is not None:  # the fake serves the stack's own workspace path
        workspace = {"subscription": orchestrator.subscription_id,
                     "resource_group": orchestrator.resource_group,
                     "workspace": orchestrator.workspace_name}  # fmt: skip
    # its challenges name the stack's tenant: a credential bound to one refuses another
    tenant = (secrets and secrets.tenant_id) or (orchestrator and orchestrator.tenant_id)
    if tenant:
        workspace["tenant"] = tenant
    folder = ctx.workdir / "azure-fake"
    with running_fake(folder, any_client=True, **workspace) as fake:
        ctx.say(f"Azure fake (Key Vault, AzureML, Entra ID) at {fake.url}")
        yield fake


def _azurite(
    ctx: SmokeContext, stack: contextlib.ExitStack, stood: StoodIn, config: Any,
    secrets: Any, fake: Any,
) -> None:  # fmt: skip
    from kitaru_azure import names
    from kitaru_azure.smoke.azurite import running_azurite

    server = stack.enter_context(running_azurite(ctx.workdir / "azurite" / "azurite.log"))
    ctx.say(f"Azurite at {server.endpoint_url}")
    container = config.path.partition("://")[2].split("/", 1)[0].split("@", 1)[0]
    try:
        server.create_container(container)
    except Exception as exc:  # Azurite refuses it: Azure would too
        raise ConfigError(f"artifact_store (azure): container {container!r} cannot be created: "
                          f"{one_line(exc)}", hint="fix the path's container name") from None  # fmt: skip
    fake.pin(f"{secrets.prefix}{names.encode(AZURITE_SECRET)}",
             {"connection_string": server.connection_string})  # fmt: skip
    was = [k for k in ("connection_string", "account_key", "sas_token", "client_secret")
           if getattr(config, k)]  # fmt: skip
    stood.config["artifact_store"] = {
        "endpoint_url": server.endpoint_url, "connection_string": AZURITE_REFERENCE,
        "account_key": None, "sas_token": None, "client_secret": None,
    }  # fmt: skip
    credential = ", ".join(f"{k} {getattr(config, k)}" for k in was) or "Entra ID"
    stood.notes["artifact_store"] = (
        f"Azurite at {server.endpoint_url} in place of {config.endpoint_url or config.path}; "
        f"container {container} created; signs in with Azurite's account key "
        f"({AZURITE_REFERENCE}, set in the Key Vault fake) in place of {credential}"
    )
    stood.limits.append("Blob Storage is Azurite: its development account and key, no Entra ID "
                        "or RBAC on blobs, no firewall or private endpoint")  # fmt: skip


def _azureml(ctx: SmokeContext, stood: StoodIn, config: Any, fake: Any) -> None:
    from kitaru_docker.smoke import ContainerUnits

    from kitaru_azure.smoke.azureml import AzureMLJobs

    units = ContainerUnits(ctx.docker_host)
    ca = str(fake.ca_file.parent)  # the jobs' CA bundle and the fake's CA, at the same path
    bundle = str(fake.ca_file.parent / "ca-bundle.pem")
    environment = {**fake.environment(), "REQUESTS_CA_BUNDLE": bundle, "SSL_CERT_FILE": bundle}
    stood.runner = AzureMLJobs(fake, units, environment=environment,
                               volumes={ca: {"bind": ca, "mode": "ro"}})  # fmt: skip
    stood.config["orchestrator"] = {"resource_manager_endpoint": fake.url,
                                    **_authority(config, fake.url)}  # fmt: skip
    stood.notes["orchestrator"] = (
        f"AzureML fake at {fake.url} (workspace {config.workspace_name}) in place of "
        f"{config.resource_manager_endpoint or 'https://management.azure.com'}; its command "
        f"jobs run as containers of the engine at {ctx.docker_host}, as the fake's managed "
        "identity"
    )
    computes = sorted({x for x in (config.compute, config.checkpoint_compute) if x})
    sizes = sorted({x for x in (config.instance_type, config.checkpoint_instance_type) if x})
    stood.limits.append(
        f"AzureML compute {', '.join(computes)}"
        + (f" (instance type {', '.join(sizes)})" if sizes else "")
        + ": jobs run as containers on this machine, not on that compute or VM size"
    )
    stood.limits.append("AzureML's job lifecycle is the fake's: NotStarted, Running, then "
                        "Completed/Failed/Canceled; no queueing, provisioning or preemption")  # fmt: skip


def _acr(ctx: SmokeContext, stood: StoodIn, config: Any) -> None:
    if ctx.registry is None:
        raise ConfigError("container_builder (acr): the smoke run has no registry to push to",
                          hint="kitaru smoke --registry HOST:PORT (see docs/ci.md)")  # fmt: skip
    original = str(config.registry)
    path = original.split("/", 1)[1] if "/" in original else "kitaru"
    registry = f"{ctx.registry}/{path}"
    stood.config["container_builder"] = {"registry": registry, "base_url": ctx.docker_host,
                                         "token_name": None, "token_password": None}  # fmt: skip
    stood.notes["container_builder"] = (f"pushes to {registry} in place of {original} "
                                        "(no ACR token login: the local registry takes none)")  # fmt: skip
    stood.limits.append(f"ACR {original}: the token's scope map and login are not exercised")
