"""The ``artifact_registry`` container builder: kitaru-docker's ``docker`` builder, logged in to
Google Artifact Registry.

Images go to ``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/<flow>``. Before a push or an
``exists`` the builder gets an OAuth access token from google-auth (application default
credentials, or a service-account key from the stack's secret store: see ``credentials``) and
uses it as Artifact Registry's docker login (user ``oauth2accesstoken``), for the engine (push,
pulls of a base image there) and for the registry API (``exists``). google-auth refreshes the
token when it expires (an hour).

Needs kitaru-docker next to kitaru-gcp (``pip install 'kitaru-gcp[artifact-registry]'``).
"""

from __future__ import annotations

import threading
from typing import Any

from kitaru_docker.builder import DockerContainerBuilder, DockerContainerBuilderConfig
from kitaru_docker.engine import DockerError, one_line, parse_image
from pydantic import Field, model_validator

from kitaru.components.base import OptionalStr
from kitaru.errors import ConfigError
from kitaru_gcp._gcp import credentials_for, describe_error
from kitaru_gcp.config import PROJECT_PATTERN, GCPCredentials

#: Artifact Registry's docker login user for an OAuth access token
TOKEN_USER = "oauth2accesstoken"


class ArtifactRegistryBuilderConfig(DockerContainerBuilderConfig):
    """``registry`` (inherited) defaults to ``LOCATION-docker.pkg.dev/PROJECT/REPOSITORY``;
    set it to push elsewhere with the same login (a local registry in the tests)."""

    #: the repository's location, e.g. ``europe-west1`` (or ``europe`` for a multi-region)
    location: OptionalStr = Field(default=None, pattern=r"^[a-z]+(-[a-z0-9]+)*$")
    project: OptionalStr = Field(default=None, pattern=PROJECT_PATTERN)
    #: a Docker-format Artifact Registry repository (Kitaru never creates it)
    repository: OptionalStr = Field(default=None, pattern=r"^[a-z]([a-z0-9-]*[a-z0-9])?$")
    credentials: GCPCredentials = None
    #: no token, no login (a registry that needs none)
    anonymous: bool = False

    @model_validator(mode="before")
    @classmethod
    def _default_registry(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("registry"):
            where = [data.get(k) for k in ("location", "project", "repository")]
            if all(where):
                return {**data, "registry": "{}-docker.pkg.dev/{}/{}".format(*where)}
        return data

    @model_validator(mode="after")
    def _registry(self) -> ArtifactRegistryBuilderConfig:
        if self.registry_username or self.registry_password:
            raise ValueError("registry_username / registry_password come from google-auth: "
                             "leave them unset")  # fmt: skip
        if self.anonymous and self.credentials:
            raise ValueError("`anonymous: true` and `credentials` exclude each other")
        if not self.registry:
            raise ValueError("set location, project and repository (images go to "
                             "LOCATION-docker.pkg.dev/PROJECT/REPOSITORY), or registry")  # fmt: skip
        return self


class ArtifactRegistryBuilder(DockerContainerBuilder):
    config: ArtifactRegistryBuilderConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._credentials: Any = None
        self._token_lock = threading.Lock()
        self._logged_in: set[tuple[str, str]] = set()  # (registry host, token)

    @property
    def host(self) -> str:
        return parse_image(f"{str(self.config.registry).rstrip('/')}/x").registry

    def access_token(self) -> str | None:
        """A valid OAuth access token (refreshed when it expired); None when anonymous."""
        if self.config.anonymous:
            return None
        with self._token_lock:
            try:
                if self._credentials is None:
                    self._credentials = credentials_for(self, self.config)[0]  # type: ignore[arg-type]
                if not self._credentials.valid:
                    from google.auth.transport.requests import Request

                    self._credentials.refresh(Request())
            except ConfigError:
                raise
            except Exception as exc:
                raise ConfigError(
                    f"container builder {self.name!r} cannot get an access token for "
                    f"{self.host}: {describe_error(exc)}",
                    hint="check the credentials (`gcloud auth application-default login`, or "
                    "a service-account key) and that they may push (roles/artifactregistry.writer)",
                ) from None
            return str(self._credentials.token)

    def _auth(self) -> dict[str, str] | None:
        token = self.access_token()
        return None if token is None else {"username": TOKEN_USER, "password": token}

    def _engine_login(self) -> None:
        """``docker login`` on the engine, once per token: pushes, and builds whose base
        image is in Artifact Registry."""
        from docker.errors import APIError

        auth = self._auth()
        if auth is None or (self.host, auth["password"]) in self._logged_in:
            return
        try:
            self.client.login(registry=self.host, reauth=True, **auth)
        except APIError as exc:
            raise DockerError(f"logging in to {self.host} failed: {one_line(exc.explanation or exc)}",
                              hint=f"is {self.host} reachable from the engine?") from None  # fmt: skip
        self._logged_in.add((self.host, auth["password"]))

    def push(self, image: str) -> str:
        self._engine_login()
        return super().push(image)

    def verify(self) -> None:
        """A token (unless anonymous), the engine, and the registry's API root."""
        self.access_token()
        super().verify()
