"""Talking to a Docker engine (or podman's Docker API) and to an image registry.

The ``docker`` SDK is imported inside :func:`connect` only. Connection problems become one-line
:class:`~kitaru.errors.ConfigError` messages that name the URL.
"""

from __future__ import annotations

import base64
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kitaru import errors
from kitaru.errors import ConfigError, KitaruError

if TYPE_CHECKING:
    from docker import DockerClient

DEFAULT_ENGINE = "unix:///var/run/docker.sock"
DOCKER_HUB = "registry-1.docker.io"
MANIFEST_TYPES = ", ".join(
    (
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    )
)


class DockerError(KitaruError):
    """The engine refused or failed an operation (a build step, a push, a container start)."""


def one_line(exc: BaseException | str, limit: int = 300) -> str:
    """:func:`kitaru.errors.one_line`, at most 300 characters by default."""
    return errors.one_line(exc, limit)


def engine_url(base_url: str | None) -> str:
    return base_url or os.environ.get("DOCKER_HOST") or DEFAULT_ENGINE


def connect(base_url: str | None, timeout: float) -> DockerClient:
    """A client for the engine at ``base_url`` (default: ``DOCKER_HOST``), checked with a ping."""
    try:
        import docker
    except ImportError as exc:  # pragma: no cover - a dependency of this distribution
        raise ConfigError(f"the docker SDK is not installed: {exc}",
                          hint="pip install kitaru-docker") from exc  # fmt: skip
    url = engine_url(base_url)
    try:
        client = docker.from_env(environment={**os.environ, "DOCKER_HOST": url},
                                 timeout=int(timeout))  # fmt: skip
        client.ping()
    except Exception as exc:
        raise ConfigError(
            f"Docker engine at {url} is unreachable: {one_line(exc, 200)}",
            hint="start the engine, or set base_url / DOCKER_HOST to where it listens",
        ) from exc
    return client


# -- image references -----------------------------------------------------------------------
class UsesEngine:
    """A component that talks to a Docker engine (its config has ``base_url`` and ``timeout``):
    one client, connected on first use."""

    config: Any
    _client: DockerClient | None = None

    @property
    def client(self) -> DockerClient:
        if self._client is None:
            self._client = connect(self.config.base_url, self.config.timeout)
        return self._client


@dataclass(frozen=True)
class ImageRef:
    """``registry/repository:tag`` or ``registry/repository@digest``, split."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def reference(self) -> str:
        """What the registry's manifest endpoint takes: the digest, else the tag."""
        return self.digest or self.tag or "latest"

    @property
    def name(self) -> str:
        """``registry/repository`` as the engine names it (Docker Hub: no registry)."""
        return (
            self.repository if self.registry == DOCKER_HUB else f"{self.registry}/{self.repository}"
        )


def parse_image(image: str) -> ImageRef:
    """Split a Docker image reference the way the engine does."""
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
        if registry in ("docker.io", "index.docker.io"):
            registry = DOCKER_HUB
            path = path if "/" in path.split(":")[0] else f"library/{path}"
    else:
        registry, path = DOCKER_HUB, rest
        if "/" not in path:
            path = f"library/{path}"
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
    if not path or not re.fullmatch(r"[a-z0-9]+(?:[._\-/]+[a-z0-9]+)*", path):
        raise ConfigError(f"not a valid image reference: {image!r}",
                          hint="e.g. 127.0.0.1:5001/kitaru/flow:1 or repo/name@sha256:...")  # fmt: skip
    if tag is None and not digest:
        tag = "latest"
    return ImageRef(registry, path, tag, digest or None)


def is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0][1:]
    return name in ("localhost", "::1") or name.startswith("127.")


# -- the registry's HTTP API (v2) -------------------------------------------------------------
class Registry:
    """Just enough of the registry API to ask whether a manifest exists, with basic or bearer
    token auth. ``insecure``: plain HTTP (default: for loopback registries only)."""

    def __init__(
        self,
        host: str,
        *,
        insecure: bool | None = None,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        secure = not is_loopback(host) if insecure is None else not insecure
        self.url = f"{'https' if secure else 'http'}://{host}"
        self.username = username
        self.password = password
        self.timeout = timeout
        self._token: str | None = None
        self._challenge = ""

    def _basic(self) -> str | None:
        if self.username is None:
            return None
        raw = f"{self.username}:{self.password or ''}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _open(self, method: str, path: str, headers: dict[str, str]) -> int:
        req = urllib.request.Request(self.url + path, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return int(resp.status)
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                self._challenge = exc.headers.get("WWW-Authenticate", "")
            return int(exc.code)
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConfigError(
                f"registry at {self.url} is unreachable: {one_line(reason, 200)}",
                hint="start the registry, or fix the builder's `registry` setting",
            ) from exc

    def request(self, method: str, path: str, accept: str | None = None) -> int:
        """The HTTP status of ``method path`` (authenticating once on a 401)."""
        headers = {"Accept": accept} if accept else {}
        auth = f"Bearer {self._token}" if self._token else self._basic()
        if auth:
            headers["Authorization"] = auth
        self._challenge = ""
        status = self._open(method, path, headers)
        if status == 401 and self._challenge.lower().startswith("bearer"):
            self._token = self._fetch_token(self._challenge)
            headers["Authorization"] = f"Bearer {self._token}"
            status = self._open(method, path, headers)
        return status

    def _fetch_token(self, challenge: str) -> str:
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise ConfigError(f"registry at {self.url} asks for a token without a realm")
        req = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(params)}")
        basic = self._basic()
        if basic:
            req.add_header("Authorization", basic)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                body: dict[str, Any] = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ConfigError(f"cannot get a token for {self.url} from {realm}: {one_line(exc)}",
                              hint="check the registry credentials") from exc  # fmt: skip
        token = body.get("token") or body.get("access_token")
        if not token:
            raise ConfigError(f"the token service {realm} gave no token for {self.url}")
        return str(token)

    def ping(self) -> None:
        """ConfigError unless the registry answers its API root (200, or 401: it wants auth)."""
        status = self.request("GET", "/v2/")
        if status not in (200, 401):
            raise ConfigError(f"registry at {self.url} answered HTTP {status} on /v2/",
                              hint="is this a Docker registry (API v2)?")  # fmt: skip

    def has_manifest(self, ref: ImageRef) -> bool:
        status = self.request(
            "HEAD", f"/v2/{ref.repository}/manifests/{ref.reference}", accept=MANIFEST_TYPES
        )
        if status == 200:
            return True
        if status == 404:
            return False
        if status in (401, 403):
            raise ConfigError(f"registry at {self.url} refused access to {ref.repository} "
                              f"(HTTP {status})", hint="set registry_username / registry_password")  # fmt: skip
        raise ConfigError(f"registry at {self.url} answered HTTP {status} for "
                          f"{ref.repository}:{ref.reference}")  # fmt: skip
