"""The ``artifact_registry`` container builder: Kitaru's container builder contract, with the
login Artifact Registry takes — an OAuth access token from google-auth as the password of
``oauth2accesstoken``.

podman (``scripts/standins/podman.sh``) builds, and the images go to its local registry,
standing in for ``LOCATION-docker.pkg.dev`` (the ``registry`` setting points there; the registry
needs no login, so it accepts the token without checking it). The token comes from a
service-account key kept in drongo's Secret Manager, traded at a local stand-in of Google's
token endpoint (``gcp_fakes``: no stand-in serves OAuth). Skipped when there is no engine
(``podman.sh`` exits 77)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest
from gcp_fakes import ACCESS_TOKEN, fake_google, token
from gcp_standins import PROJECT
from pydantic import ValidationError
from test_gcp_errors import service_account_json

from kitaru.components.container_builder import ContainerBuilder
from kitaru.errors import ConfigError, KitaruError
from kitaru.testing import ContainerBuilderContract, build_component

if TYPE_CHECKING:
    from gcp_fakes import FakeGoogle
    from gcp_standins import Drongo

#: podman.sh's registry by a name its login API accepts without TLS
LOCAL_REGISTRY = "localhost:5001/kitaru-gcp"


@pytest.fixture(scope="module")
def docker_host() -> str:
    from vertex_standin import podman_engine

    return podman_engine()


@pytest.fixture
def oauth() -> Iterator[FakeGoogle]:
    """Google's token endpoint, answering every signed assertion with ``ACCESS_TOKEN``."""
    with fake_google(lambda method, path: token()) as fake:
        yield fake


def keyed_builder(drongo: Drongo, oauth: FakeGoogle, **config: Any) -> Any:
    """A builder whose credentials are a service-account key in Secret Manager (drongo)."""
    keys = build_component("secret_store", "gcp", project=PROJECT, anonymous=True,
                           endpoint_url=drongo.endpoint_url)  # fmt: skip
    keys.set("ar-key", {"json": service_account_json(f"{oauth.endpoint_url}/token")})
    return build_component("container_builder", "artifact_registry", name="ar",
                           credentials="{{secret:ar-key.json}}", secrets=keys.resolve,
                           **config)  # fmt: skip


@pytest.mark.timeout(1500)  # a first podman.sh installs the engine: minutes
class TestArtifactRegistryBuilder(ContainerBuilderContract):
    @pytest.fixture
    def container_builder(
        self, docker_host: str, drongo: Drongo, oauth: FakeGoogle
    ) -> ContainerBuilder:
        return keyed_builder(drongo, oauth, registry=LOCAL_REGISTRY, base_url=docker_host)  # type: ignore[no-any-return]

    def test_pushes_log_in_with_the_access_token_once(
        self, container_builder: Any, build_context: Any, oauth: FakeGoogle
    ) -> None:
        image = container_builder.build(build_context)
        container_builder.push(image)
        container_builder.push(image)
        assert container_builder._auth() == {"username": "oauth2accesstoken",
                                             "password": ACCESS_TOKEN}  # fmt: skip
        assert container_builder._logged_in == {("localhost:5001", ACCESS_TOKEN)}
        # one token for the session: google-auth refreshes it only when it expires
        assert [path for _, path, _ in oauth.requests] == ["/token"]


def test_the_registry_is_artifact_registrys_by_default() -> None:
    builder = build_component("container_builder", "artifact_registry", location="europe-west1",
                              project="my-project", repository="kitaru")  # fmt: skip
    assert builder.config.registry == "europe-west1-docker.pkg.dev/my-project/kitaru"
    assert builder.host == "europe-west1-docker.pkg.dev"
    moved = build_component("container_builder", "artifact_registry", location="europe-west1",
                            project="my-project", repository="kitaru", registry=LOCAL_REGISTRY)  # fmt: skip
    assert moved.config.registry == LOCAL_REGISTRY and moved.host == "localhost:5001"


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"location": "europe-west1", "project": "p"}, "set location, project and repository"),
        ({"registry": LOCAL_REGISTRY, "registry_username": "u"}, "come from google-auth"),
        ({"registry": LOCAL_REGISTRY, "credentials": "{\"type\": \"service_account\"}"},
         "{{secret:name.key}} reference"),
        ({"registry": LOCAL_REGISTRY, "anonymous": True, "credentials": "{{secret:k.json}}"},
         "exclude each other"),
        ({"location": "Europe West", "project": "p", "repository": "r"}, "location"),
    ],
)  # fmt: skip
def test_a_bad_config_is_refused(config: dict[str, Any], says: str) -> None:
    with pytest.raises((ValidationError, ConfigError)) as info:
        build_component("container_builder", "artifact_registry", **config)
    assert says in str(info.value)


def test_a_refused_token_is_one_line_naming_the_registry(drongo: Drongo) -> None:
    """Google's token endpoint refusing the key (a deleted key, a disabled account)."""

    def refuse(method: str, path: str) -> tuple[int, dict[str, Any]]:
        return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}

    with fake_google(refuse) as fake:
        builder = keyed_builder(drongo, fake, location="europe-west1", project="my-project",
                                repository="kitaru")  # fmt: skip
        with pytest.raises(KitaruError) as info:
            builder.verify()
    text = f"{info.value} ({info.value.hint})"
    assert "\n" not in text
    assert (
        "container builder 'ar' cannot get an access token for europe-west1-docker.pkg.dev" in text
    )
    assert "invalid_grant" in text and "roles/artifactregistry.writer" in text


def test_anonymous_pushes_without_a_login() -> None:
    builder = build_component("container_builder", "artifact_registry", registry=LOCAL_REGISTRY,
                              anonymous=True)  # fmt: skip
    assert builder.access_token() is None and builder._auth() is None
