"""The ``docker`` container builder: builds with a Docker engine, pushes to a registry.

Works with Docker and with podman's Docker API (``podman system service``). ``exists`` asks the
registry itself (its manifest endpoint), so an image only present in the local engine does not
count as published.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from pydantic import Field

from kitaru.components.base import SecretReference
from kitaru.components.container_builder import (
    BuildContext,
    ContainerBuilder,
    ContainerBuilderConfig,
)
from kitaru_docker.engine import (
    DockerError,
    Registry,
    UsesEngine,
    engine_url,
    one_line,
    parse_image,
)

if TYPE_CHECKING:
    pass

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


class DockerContainerBuilderConfig(ContainerBuilderConfig):
    """``registry`` (inherited): where images are pushed, e.g. ``127.0.0.1:5001/kitaru``."""

    #: the engine, e.g. ``unix:///var/run/docker.sock`` (default: ``DOCKER_HOST``)
    base_url: str | None = None
    #: ``--build-arg`` values for every build
    build_args: dict[str, str] = Field(default_factory=dict)
    #: always try to pull a newer base image
    pull: bool = False
    #: e.g. ``linux/amd64``
    platform: str | None = None
    #: plain HTTP to the registry (default: only for localhost / 127.x registries)
    insecure_registry: bool | None = None
    registry_username: str | None = None
    registry_password: SecretReference = None
    #: seconds one engine call (a whole build, a push) may take
    timeout: float = Field(default=600.0, gt=0)


class DockerContainerBuilder(ContainerBuilder, UsesEngine):
    config: DockerContainerBuilderConfig

    def _auth(self) -> dict[str, str] | None:
        if self.config.registry_username is None:
            return None
        password = self.secret(self.config.registry_password or "")
        return {"username": self.config.registry_username, "password": password}

    def registry_for(self, image: str) -> Registry:
        ref = parse_image(image)
        auth = self._auth() or {}
        return Registry(ref.registry, insecure=self.config.insecure_registry,
                        username=auth.get("username"), password=auth.get("password"))  # fmt: skip

    # -- the interface --------------------------------------------------------------------------
    def build(self, context: BuildContext) -> str:
        """Build ``context`` into ``context.tag`` on the engine, reporting each step; return
        the tag."""
        from docker.errors import APIError

        parse_image(context.tag)  # a bad tag fails here, not halfway through a build
        log: list[str] = []
        try:
            stream = self.client.api.build(
                path=context.path, dockerfile=context.dockerfile, tag=context.tag, rm=True,
                buildargs=dict(self.config.build_args) or None, pull=self.config.pull,
                platform=self.config.platform, timeout=int(self.config.timeout), decode=True,
            )  # fmt: skip
            for chunk in stream:
                error = chunk.get("error") or (chunk.get("errorDetail") or {}).get("message")
                if error:
                    tail = [t for t in log if t][-5:]
                    raise DockerError(f"building {context.tag} failed: {one_line(error)}",
                                      hint="last build output: " + " | ".join(tail) if tail else None)  # fmt: skip
                text = str(chunk.get("stream") or "").strip()
                log.append(text)
                if text.upper().startswith("STEP "):  # "Step 3/9 : RUN ..." (podman: "STEP 3/9:")
                    self.report(one_line(text, 160))
        except APIError as exc:
            raise DockerError(f"building {context.tag} failed: {one_line(exc.explanation or exc)}") from exc  # fmt: skip
        return context.tag

    def push(self, image: str) -> str:
        """Push ``image``; return ``name@digest`` when the engine reports the digest, else
        ``image``. The push stream carries errors (the call itself does not raise)."""
        from docker.errors import APIError

        ref = parse_image(image)
        if ref.digest:
            raise DockerError(f"cannot push {image}: push a tag, not a digest")
        try:
            stream = self.client.images.push(ref.name, tag=ref.tag, stream=True, decode=True,
                                             auth_config=self._auth())  # fmt: skip
            digest = None
            for line in stream:
                error = line.get("error") or (line.get("errorDetail") or {}).get("message")
                if error:
                    raise DockerError(f"pushing {image} failed: {one_line(error)}",
                                      hint=self._push_hint(image))  # fmt: skip
                status = str(line.get("status") or "")
                if (status and "progressDetail" not in line) or status == "Pushed":  # not per chunk
                    self.report(f"{line['id']}: {status}" if line.get("id") else status)
                aux = line.get("aux") or {}
                found = aux.get("Digest") or _DIGEST.search(str(line.get("status") or ""))
                if found:
                    digest = found if isinstance(found, str) else found.group(0)
        except APIError as exc:
            raise DockerError(f"pushing {image} failed: {one_line(exc.explanation or exc)}",
                              hint=self._push_hint(image)) from exc  # fmt: skip
        return f"{ref.name}@{digest}" if digest else image

    def _push_hint(self, image: str) -> str:
        return (f"is the registry {parse_image(image).registry} running and reachable from the "
                f"engine at {engine_url(self.config.base_url)}?")  # fmt: skip

    def exists(self, image: str) -> bool:
        """Does the registry hold ``image`` (its tag or digest)?"""
        return self.registry_for(image).has_manifest(parse_image(image))

    def verify(self) -> None:
        """The engine answers a ping, and the registry (when set) its API root."""
        self.client  # noqa: B018 - connecting is the check
        if self.config.registry:
            self.registry_for(self.config.registry.rstrip("/") + "/probe:latest").ping()
