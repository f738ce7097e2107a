"""The builtin plugin: local flavors and the local stack template, through the public hooks."""

from __future__ import annotations

from kitaru.components.flavor import Flavor
from kitaru.plugins import hookimpl

_B = "kitaru.builtin"


@hookimpl
def kitaru_flavors() -> list[Flavor]:
    return [
        Flavor("local", "orchestrator", f"{_B}.local_orchestrator:LocalOrchestratorConfig",
               f"{_B}.local_orchestrator:LocalOrchestrator",
               description="runs executions in this machine's processes"),
        Flavor("local", "artifact_store", f"{_B}.local_artifact_store:LocalArtifactStoreConfig",
               f"{_B}.local_artifact_store:LocalArtifactStore",
               description="a folder, default KITARU_HOME/artifacts", schemes=("file", "")),
        Flavor("local", "secret_store", f"{_B}.local_secret_store:LocalSecretStoreConfig",
               f"{_B}.local_secret_store:LocalSecretStore",
               description="a 0600 file under KITARU_HOME"),
        Flavor("offline", "llm_gateway", f"{_B}.offline_llm:OfflineLLMConfig",
               f"{_B}.offline_llm:OfflineLLMGateway",
               description="deterministic responses, no network (demos and tests)"),
        Flavor("litellm", "llm_gateway", f"{_B}.litellm_gateway:LiteLLMConfig",
               f"{_B}.litellm_gateway:LiteLLMGateway", install_hint="pip install 'kitaru[litellm]'",
               description="any provider litellm supports, or an OpenAI-compatible server"),
    ]  # fmt: skip


LOCAL_STACK = """\
# The default stack: everything on this machine, nothing to configure.
name: local
components:
  orchestrator:
    flavor: local
  artifact_store:
    flavor: local
  secret_store:
    flavor: local
  llm_gateway:
    flavor: offline
"""


@hookimpl
def kitaru_stack_templates() -> list[tuple[str, str]]:
    return [("local", LOCAL_STACK)]
