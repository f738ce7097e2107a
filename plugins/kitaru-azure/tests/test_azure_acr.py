"""The ``acr`` container builder: Kitaru's container builder contract, with ACR's login — an
ACR token's name and password (the password from Key Vault, through the fake).

podman (``scripts/standins/podman.sh``) builds, and the images go to its local registry,
standing in for ``NAME.azurecr.io`` (the ``registry`` setting points there; that registry needs
no login, so it accepts the token without checking it: what ACR does with it is not proven
here). Skipped when there is no engine (``podman.sh`` exits 77)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from kitaru.components.container_builder import ContainerBuilder
from kitaru.errors import ConfigError
from kitaru.testing import ContainerBuilderContract, build_component

if TYPE_CHECKING:
    from fake_azure import FakeAzure

#: podman.sh's registry by a name its login API accepts without TLS
LOCAL_REGISTRY = "localhost:5001/kitaru-azure"


@pytest.fixture(scope="module")
def docker_host() -> str:
    from azureml_standin import podman_engine

    return podman_engine()


def token_builder(fake: FakeAzure, **config: Any) -> Any:
    """A builder whose ACR token password is in Key Vault (the fake)."""
    vault = build_component("secret_store", "azure", vault_url=fake.vault_url,
                            verify_challenge_resource=False)  # fmt: skip
    vault.set("acr-token", {"password": "acr-token-password-1"})
    return build_component("container_builder", "acr", name="acr", token_name="kitaru-push",
                           token_password="{{secret:acr-token.password}}",
                           secrets=vault.resolve, **config)  # fmt: skip


@pytest.mark.timeout(1500)  # a first podman.sh installs the engine: minutes
class TestACRBuilder(ContainerBuilderContract):
    @pytest.fixture
    def container_builder(self, docker_host: str, fake: FakeAzure) -> ContainerBuilder:
        return token_builder(fake, registry=LOCAL_REGISTRY, base_url=docker_host)  # type: ignore[no-any-return]

    def test_pushes_and_registry_calls_log_in_with_the_token(
        self, container_builder: Any, build_context: Any, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from docker.models.images import ImageCollection

        sent: list[Any] = []
        push = ImageCollection.push

        def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
            sent.append(kwargs.get("auth_config"))
            return push(self, *args, **kwargs)

        # `client.images` is a new collection per access: record at the class
        monkeypatch.setattr(ImageCollection, "push", recording)
        image = container_builder.build(build_context)
        container_builder.push(image)
        token = {"username": "kitaru-push", "password": "acr-token-password-1"}
        assert sent == [token]
        registry = container_builder.registry_for(image)
        assert (registry.username, registry.password) == ("kitaru-push", "acr-token-password-1")
        assert container_builder.exists(image)


def test_the_registry_is_acrs_by_default() -> None:
    builder = build_component("container_builder", "acr", registry_name="MyTeamKitaru",
                              repository_prefix="kitaru")  # fmt: skip
    assert builder.config.registry == "myteamkitaru.azurecr.io/kitaru"
    assert builder.host == "myteamkitaru.azurecr.io"
    moved = build_component("container_builder", "acr", registry_name="myteamkitaru",
                            registry=LOCAL_REGISTRY)  # fmt: skip
    assert moved.config.registry == LOCAL_REGISTRY and moved.host == "localhost:5001"
    assert moved._auth() is None  # no token: no login


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({}, "set registry_name"),
        ({"registry_name": "ab"}, "registry_name"),
        ({"registry_name": "myregistry", "token_name": "t"}, "go together"),
        ({"registry_name": "myregistry", "token_name": "t", "token_password": "plain"},
         "token_password"),
        ({"registry_name": "myregistry", "registry_username": "u"}, "instead of"),
    ],
)  # fmt: skip
def test_a_bad_config_is_refused(config: dict[str, Any], says: str) -> None:
    with pytest.raises((ValidationError, ConfigError)) as info:
        build_component("container_builder", "acr", **config)
    assert says in str(info.value)
