"""A real image built offline: the Debian + python3 base of podman.sh, with this checkout's
kitaru and kitaru-docker installed from a local wheelhouse (no package index in the build)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import Engine, RuntimeImage

# with the end-to-end tests: one worker builds the image
pytestmark = pytest.mark.xdist_group("kitaru-docker-image")


def test_kitaru_runs_in_the_built_image(engine: Engine, runtime_image: RuntimeImage) -> None:
    import docker

    import kitaru

    print(f"podman setup {engine.setup_seconds:.1f} s; wheelhouse "
          f"{runtime_image.wheelhouse_seconds:.1f} s; image build "
          f"{runtime_image.build_seconds:.1f} s{' (cached)' if runtime_image.cached else ''}")  # fmt: skip
    client = docker.DockerClient(base_url=engine.docker_host)
    out = client.containers.run(
        runtime_image.tag,
        ["python", "-c", "import kitaru, kitaru_docker; print(kitaru.__version__)"],
        remove=True,
        network_mode="none",  # nothing inside needs the network
    )
    assert out.decode().strip() == kitaru.__version__
