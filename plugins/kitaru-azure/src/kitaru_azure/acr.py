"""The ``acr`` container builder: kitaru-docker's ``docker`` builder, logged in to Azure
Container Registry with an ACR token.

Images go to ``NAME.azurecr.io[/repository_prefix]/<flow>``. The login is a repository-scoped
ACR token (``az acr token create``): its name is the docker user name and one of its
passwords — a ``{{secret:name.key}}`` reference, resolved through the stack's secret store —
the password, for the engine (push, pulls of a base image there) and for the registry API
(``exists``). Needs kitaru-docker next to kitaru-azure (``pip install 'kitaru-azure[acr]'``).
"""

from __future__ import annotations

from typing import Any

from kitaru_docker.builder import DockerContainerBuilder, DockerContainerBuilderConfig
from kitaru_docker.engine import parse_image
from pydantic import Field, model_validator

from kitaru.components.base import OptionalStr, SecretReference


class ACRBuilderConfig(DockerContainerBuilderConfig):
    """``registry`` (inherited) defaults to ``NAME.azurecr.io[/repository_prefix]``; set it to
    push elsewhere with the same login (a local registry in the tests)."""

    #: the registry's name (``NAME`` of ``NAME.azurecr.io``: 5-50 letters and digits)
    registry_name: OptionalStr = Field(default=None, pattern=r"^[a-zA-Z0-9]{5,50}$")
    #: a repository path under the registry, e.g. ``kitaru`` (a token's scope map names it)
    repository_prefix: OptionalStr = Field(default=None, pattern=r"^[a-z0-9]+([._/-][a-z0-9]+)*$")
    #: the ACR token's name (the docker user name)
    token_name: OptionalStr = None
    #: one of the token's passwords: a reference, never the value
    token_password: SecretReference = None

    @model_validator(mode="before")
    @classmethod
    def _default_registry(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("registry") and data.get("registry_name"):
            host = f"{str(data['registry_name']).lower()}.azurecr.io"
            prefix = data.get("repository_prefix")
            return {**data, "registry": f"{host}/{prefix}" if prefix else host}
        return data

    @model_validator(mode="after")
    def _login(self) -> ACRBuilderConfig:
        if self.registry_username or self.registry_password:
            raise ValueError("use token_name / token_password (an ACR token) instead of "
                             "registry_username / registry_password")  # fmt: skip
        if bool(self.token_name) != bool(self.token_password):
            raise ValueError("token_name and token_password go together (an ACR token), or "
                             "neither (a registry that needs no login)")  # fmt: skip
        if not self.registry:
            raise ValueError("set registry_name (images go to NAME.azurecr.io), or registry")
        return self


class ACRBuilder(DockerContainerBuilder):
    """The docker builder; its registry login is the ACR token."""

    config: ACRBuilderConfig

    @property
    def host(self) -> str:
        return parse_image(f"{str(self.config.registry).rstrip('/')}/x").registry

    def _auth(self) -> dict[str, str] | None:
        if not self.config.token_name:
            return None
        password = self.secret(self.config.token_password or "")
        return {"username": self.config.token_name, "password": password}
