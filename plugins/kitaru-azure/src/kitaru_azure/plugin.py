"""The plugin module (entry point ``kitaru = azure``): it only describes its flavors and its
stack template.

Config classes live in :mod:`kitaru_azure.config` and :mod:`kitaru_azure.azureml_config`
(pydantic only); implementations in modules that import adlfs and the azure libraries, imported
only when a stack uses them.
"""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.components.standins import StandIn
from kitaru.plugins import hookimpl, templates_in

_HINT = "pip install kitaru-azure"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor(
            name="azure",
            type="artifact_store",
            config_class="kitaru_azure.config:AzureBlobArtifactStoreConfig",
            implementation="kitaru_azure.blob:AzureBlobArtifactStore",
            install_hint=_HINT,
            description="blobs in an Azure Blob Storage container (`path: az://container/prefix`), through adlfs",
            schemes=("az", "abfs", "abfss"),
        ),
        Flavor(
            name="azure",
            type="secret_store",
            config_class="kitaru_azure.config:AzureKeyVaultSecretStoreConfig",
            implementation="kitaru_azure.secrets:AzureKeyVaultSecretStore",
            install_hint=_HINT,
            description="one Azure Key Vault secret (JSON) per Kitaru secret, under `prefix`",
        ),
        Flavor(
            name="azureml",
            type="orchestrator",
            config_class="kitaru_azure.azureml_config:AzureMLOrchestratorConfig",
            implementation="kitaru_azure.azureml:AzureMLOrchestrator",
            install_hint=_HINT,
            description="one AzureML command job per unit of work, from `image`",
        ),
        Flavor(
            name="acr",
            type="container_builder",
            config_class="kitaru_azure.acr:ACRBuilderConfig",
            implementation="kitaru_azure.acr:ACRBuilder",
            install_hint="pip install 'kitaru-azure[acr]'",
            description="the `docker` builder (kitaru-docker), logged in to Azure Container Registry with an ACR token",
        ),
    ]


@hookimpl
def kitaru_stack_templates() -> list[tuple[str, str]]:
    """``azureml`` (AzureML, ACR, Blob Storage, Key Vault, litellm):
    ``kitaru stack register NAME --template azureml``."""
    return templates_in("kitaru_azure")


@hookimpl
def kitaru_standins() -> list[StandIn]:
    """In a smoke run Azurite stands in for Blob Storage, a hand-written HTTPS fake for Key Vault
    and AzureML (its command jobs run in the engine), the smoke run's registry for ACR."""
    return [
        StandIn(
            name="Azurite and the Azure fake",
            serves=(
                ("artifact_store", "azure"),
                ("secret_store", "azure"),
                ("orchestrator", "azureml"),
                ("container_builder", "acr"),
            ),
            implementation="kitaru_azure.smoke.standin:start",
            install_hint="pip install 'kitaru-azure[smoke]' and npm install -g azurite",
            description="Azurite (blobs), a fake of Key Vault/AzureML/Entra ID (jobs run in "
            "the engine), the smoke run's registry for ACR",
        )
    ]
