"""Flows the end-to-end tests run in containers. The orchestrator bind-mounts this directory
(``mount_code``), so the containers import this module from the same path."""

from __future__ import annotations

import os
import socket

from kitaru import checkpoint, flow
from kitaru.build import ImageSettings


def where() -> dict[str, object]:
    """Where this code runs: podman writes /run/.containerenv into every container."""
    return {"container": os.path.exists("/run/.containerenv"), "host": socket.gethostname(),
            "pid": os.getpid()}  # fmt: skip


@checkpoint(runtime="isolated")
def isolated_triple(x: int) -> dict[str, object]:
    return {"value": 3 * x, **where()}


@checkpoint(runtime="isolated")
def isolated_fails(x: int) -> int:
    raise ValueError(f"bad {x}")


@flow
def in_container(x: int) -> dict[str, object]:
    print(f"in_container got {x}")
    return {"flow": where(), "checkpoint": isolated_triple(x)}


@flow
def failing_isolated() -> int:
    return isolated_fails(2)


@checkpoint
def sleepy(marker: str) -> str:
    """The first attempt leaves ``marker`` and sleeps (to be killed); the next one returns."""
    if not os.path.exists(marker):
        open(marker, "w").close()
        import time

        time.sleep(300)
    return "second attempt"


@flow
def killable(marker: str) -> str:
    return sleepy(marker)


@flow(image=ImageSettings(secret_environment={"SVC_TOKEN": "{{secret:svc.token}}"}))
def reads_a_secret() -> dict[str, object]:
    """What the container's environment holds: digests, never the values."""
    import hashlib

    def digest(name: str) -> str:
        return hashlib.sha256(os.environ.get(name, "").encode()).hexdigest()

    return {"token": digest("SVC_TOKEN"), "api_key": digest("KITARU_API_KEY")}
