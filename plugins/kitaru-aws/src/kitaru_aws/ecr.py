"""The ``ecr`` container builder: kitaru-docker's ``docker`` builder, logged in to Amazon ECR.

Before a push or an ``exists`` it asks ECR for a login token (``GetAuthorizationToken``, boto3,
the default AWS credential chain), decodes it into the docker login ``AWS`` / password, logs
the engine in to the token's registry and passes the same credentials with the push and to the
registry API. A token is reused until five minutes before it expires (ECR: 12 hours).

Needs kitaru-docker next to kitaru-aws (``pip install 'kitaru-aws[ecr]'``); kitaru-docker
itself never imports boto3.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlparse

from kitaru_docker.builder import DockerContainerBuilder, DockerContainerBuilderConfig
from kitaru_docker.engine import DockerError, one_line, parse_image
from pydantic import model_validator

from kitaru.components.base import OptionalStr
from kitaru.errors import ConfigError
from kitaru_aws._aws import client, describe_error, where

#: ``<account>.dkr.ecr.<region>.amazonaws.com``
_ECR_HOST = re.compile(r"^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$")
#: renew a cached token this many seconds before ECR says it expires
RENEW_BEFORE = 300


@dataclass(frozen=True)
class ECRLogin:
    """What ``docker login`` gets: ``registry`` is a host (``proxyEndpoint`` without scheme)."""

    registry: str
    username: str
    password: str
    expires_at: float


def decode_token(token: str) -> tuple[str, str]:
    """ECR's ``authorizationToken`` is ``base64("AWS:<password>")``."""
    try:
        username, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"ECR returned an authorization token that is not base64: {exc}") from None  # fmt: skip
    if not sep or not username:
        raise ConfigError("ECR returned an authorization token without 'user:password'")
    return username, password


class ECRContainerBuilderConfig(DockerContainerBuilderConfig):
    """``registry`` (required): ``<account>.dkr.ecr.<region>.amazonaws.com[/prefix]``."""

    #: the ECR API's region (default: the registry host's region, else the AWS default)
    region: OptionalStr = None
    #: another ECR API endpoint (moto, a VPC endpoint)
    endpoint_url: OptionalStr = None
    #: the account whose registry to log in to (default: the registry host's, else the caller's)
    registry_id: OptionalStr = None
    #: create an image's repository before its first push (ecr:CreateRepository)
    create_repository: bool = True
    #: for repositories this builder creates (tags are content hashes: IMMUTABLE is safe)
    tag_mutability: Literal["MUTABLE", "IMMUTABLE"] = "MUTABLE"

    @model_validator(mode="after")
    def _ecr_gives_the_credentials(self) -> ECRContainerBuilderConfig:
        if not self.registry:
            raise ValueError("registry is required, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/kitaru")  # fmt: skip
        if self.registry_username or self.registry_password:
            raise ValueError("registry_username / registry_password come from ECR: leave them unset")  # fmt: skip
        return self

    def ecr_host(self) -> tuple[str | None, str | None]:
        """The registry id and region: as configured, else read off an ECR registry host."""
        match = _ECR_HOST.match((self.registry or "").split("/", 1)[0])
        return (self.registry_id or (match.group(1) if match else None),
                self.region or (match.group(2) if match else None))  # fmt: skip


class ECRContainerBuilder(DockerContainerBuilder):
    config: ECRContainerBuilderConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._login: ECRLogin | None = None
        self._renew_at = 0.0
        self._login_lock = threading.Lock()
        self._logged_in: set[str] = set()
        self._repositories: set[str] = set()

    def _ecr(self) -> Any:
        return client("ecr", self.config.ecr_host()[1], self.config.endpoint_url, max_attempts=2)

    def login(self) -> ECRLogin:
        """ECR's login for the registry (cached until shortly before it expires)."""
        from botocore.exceptions import BotoCoreError, ClientError

        with self._login_lock:
            cached = self._login
            if cached and self._renew_at > time.time():
                return cached
            registry_id, region = self.config.ecr_host()
            ids = {"registryIds": [registry_id]} if registry_id else {}
            try:
                data = self._ecr().get_authorization_token(**ids)["authorizationData"][0]
            except (BotoCoreError, ClientError) as exc:
                raise ConfigError(
                    f"container builder {self.name!r} cannot get an ECR login token "
                    f"({where(region, self.config.endpoint_url)}): {describe_error(exc)}",
                    hint="check the region, the endpoint and the credentials (ecr:GetAuthorizationToken)",
                ) from None
            username, password = decode_token(data["authorizationToken"])
            # the engine logs in to the host images are pushed to: the token's proxyEndpoint
            # for an ECR host, else the configured host (a proxy in front of ECR)
            endpoint = str(data.get("proxyEndpoint") or "")
            configured = parse_image(f"{(self.config.registry or '').rstrip('/')}/x").registry
            if _ECR_HOST.match(configured):
                registry = urlparse(endpoint).netloc or endpoint or configured
            else:
                registry = configured
            expires = data.get("expiresAt")
            expires_at = expires.timestamp() if expires is not None else time.time() + 3600
            self._login = ECRLogin(registry, username, password, expires_at)
            # a token that looks expired on arrival (a skewed clock; moto's are from 2015) is
            # still used, for a minute
            self._renew_at = max(expires_at - RENEW_BEFORE, time.time() + 60)
            self._logged_in.clear()
            return self._login

    def _auth(self) -> dict[str, str] | None:
        login = self.login()
        return {"username": login.username, "password": login.password}

    def _engine_login(self, login: ECRLogin) -> None:
        """``docker login`` on the engine, once per token."""
        from docker.errors import APIError

        if login.registry in self._logged_in:
            return
        try:
            self.client.login(username=login.username, password=login.password,
                              registry=login.registry, reauth=True)  # fmt: skip
        except APIError as exc:
            raise DockerError(
                f"logging in to ECR registry {login.registry} failed: "
                f"{one_line(exc.explanation or exc)}",
                hint=f"is {login.registry} reachable from the engine? (check the region and registry_id)",
            ) from None
        self._logged_in.add(login.registry)

    def ensure_repository(self, image: str) -> None:
        """Create the image's ECR repository unless it exists (ECR refuses pushes to a
        repository nobody created); off with ``create_repository: false``."""
        from botocore.exceptions import BotoCoreError, ClientError

        name = parse_image(image).repository
        if not self.config.create_repository or name in self._repositories:
            return
        registry_id, region = self.config.ecr_host()
        ids = {"registryId": registry_id} if registry_id else {}
        ecr = self._ecr()
        try:
            try:
                ecr.describe_repositories(repositoryNames=[name], **ids)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "RepositoryNotFoundException":
                    raise
                try:
                    ecr.create_repository(repositoryName=name,
                                          imageTagMutability=self.config.tag_mutability, **ids)  # fmt: skip
                except ClientError as again:  # another deploy created it meanwhile
                    code = again.response.get("Error", {}).get("Code")
                    if code != "RepositoryAlreadyExistsException":
                        raise
        except (BotoCoreError, ClientError) as exc:
            raise ConfigError(
                f"container builder {self.name!r} cannot create ECR repository {name!r} "
                f"({where(region, self.config.endpoint_url)}): {describe_error(exc)}",
                hint="create it yourself (`aws ecr create-repository`) and set "
                "create_repository: false, or allow ecr:DescribeRepositories and "
                "ecr:CreateRepository",
            ) from None
        self._repositories.add(name)

    def push(self, image: str) -> str:
        login = self.login()
        self.ensure_repository(image)
        self._engine_login(login)
        return super().push(image)

    def verify(self) -> None:
        """A login token, the engine, and the registry's API root."""
        self.login()
        super().verify()
