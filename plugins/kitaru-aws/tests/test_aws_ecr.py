"""The ``ecr`` container builder against moto: the login token flow, and Kitaru's container
builder contract.

moto's ECR is API-only (a token with a fake ``proxyEndpoint``, no registry to push to), so most
of these tests assert the token request, the credentials derived from it and what the engine is
asked to do (a stub Docker client), and that an unreachable ECR API or registry fails in one
line. ``TestECRContainerBuilder`` runs the contract for real: moto's ECR issues the token and
gets the repositories, podman (``scripts/standins/podman.sh``) builds, and the images go to its
local registry, standing in for ECR's registry endpoint (the builder logs in there with the ECR
token as it would to a proxy in front of ECR). Skipped when there is no engine (``podman.sh``
exits 77)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

import pytest
from pydantic import ValidationError

from kitaru.components.container_builder import BuildContext, ContainerBuilder
from kitaru.errors import ConfigError, KitaruError
from kitaru.testing import ContainerBuilderContract, build_component

if TYPE_CHECKING:
    from aws_moto import Moto

ACCOUNT = "123456789012"
REGISTRY = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/kitaru"
LOCAL_REGISTRY = "localhost:5001/kitaru"


def builder(moto: Moto | None = None, **extra: Any) -> Any:
    config: dict[str, Any] = {"registry": REGISTRY, **extra}
    if moto is not None:
        config.setdefault("endpoint_url", moto.endpoint_url)
    return build_component("container_builder", "ecr", name="ecr", **config)


class StubEngine:
    """Records ``login`` and ``images.push``; the push stream reports a digest."""

    def __init__(self, login_error: Exception | None = None) -> None:
        self.logins: list[dict[str, Any]] = []
        self.pushes: list[dict[str, Any]] = []
        self.login_error = login_error
        self.images = self

    def login(self, **kwargs: Any) -> dict[str, str]:
        self.logins.append(kwargs)
        if self.login_error:
            raise self.login_error
        return {"Status": "Login Succeeded"}

    def push(self, name: str, **kwargs: Any) -> Any:
        self.pushes.append({"name": name, **kwargs})
        return iter([{"status": "pushed"}, {"aux": {"Digest": "sha256:" + "a" * 64}}])


@pytest.fixture(scope="module")
def docker_host() -> str:
    from sagemaker_standin import podman_engine

    return podman_engine()


@pytest.mark.timeout(1500)  # a first podman.sh installs the engine: minutes
class TestECRContainerBuilder(ContainerBuilderContract):
    @pytest.fixture
    def container_builder(self, moto: Moto, docker_host: str) -> ContainerBuilder:
        # podman.sh's registry by a name its login API accepts without TLS, in front of ECR
        return builder(moto, registry=LOCAL_REGISTRY, registry_id=ACCOUNT, region="us-east-1",
                       base_url=docker_host)  # fmt: skip

    def test_pushes_create_their_ecr_repository(
        self, container_builder: ContainerBuilder, build_context: BuildContext, moto: Moto
    ) -> None:
        container_builder.push(container_builder.build(build_context))
        client: Any = moto.client("ecr")
        names = [r["repositoryName"] for r in client.describe_repositories()["repositories"]]
        assert names == ["kitaru/kitaru-contract"]


def test_login_decodes_the_token_moto_issues(moto: Moto) -> None:
    ecr = builder(moto)
    login = ecr.login()
    client: Any = moto.client("ecr")
    data = client.get_authorization_token(registryIds=[ACCOUNT])["authorizationData"][0]
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    assert (login.username, login.password) == (username, password) == ("AWS", password)
    assert password
    assert login.registry == data["proxyEndpoint"].removeprefix("https://")
    assert login.expires_at == data["expiresAt"].timestamp()
    assert ecr.login() is login  # cached until shortly before it expires
    # the same credentials for the registry API (exists) as for the engine (push)
    registry = ecr.registry_for(f"{REGISTRY}/flow:1")
    assert (registry.username, registry.password) == ("AWS", password)
    assert registry.url == f"https://{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"


def test_push_logs_the_engine_in_once_then_pushes_with_the_token(moto: Moto) -> None:
    ecr = builder(moto)
    engine = StubEngine()
    ecr._client = engine
    image = f"{REGISTRY}/flow:abc"
    pushed = ecr.push(image)
    ecr.push(image)
    login = ecr.login()
    assert engine.logins == [{"username": "AWS", "password": login.password,
                              "registry": login.registry, "reauth": True}]  # fmt: skip
    assert [p["auth_config"] for p in engine.pushes] == [
        {"username": "AWS", "password": login.password}] * 2  # fmt: skip
    assert engine.pushes[0]["name"] == f"{REGISTRY}/flow" and engine.pushes[0]["tag"] == "abc"
    assert pushed == f"{REGISTRY}/flow@sha256:" + "a" * 64


def test_push_creates_the_repository_once(moto: Moto) -> None:
    ecr = builder(moto)
    ecr._client = StubEngine()
    client: Any = moto.client("ecr")
    ecr.push(f"{REGISTRY}/flow:1")
    (repo,) = client.describe_repositories()["repositories"]
    assert repo["repositoryName"] == "kitaru/flow"
    client.delete_repository(repositoryName="kitaru/flow", force=True)
    ecr.push(f"{REGISTRY}/flow:2")  # known to this builder: not asked again
    assert client.describe_repositories()["repositories"] == []
    # another builder (another deploy) finds it created meanwhile: no error, no second one
    client.create_repository(repositoryName="kitaru/flow")
    other = builder(moto)
    other._client = StubEngine()
    other.push(f"{REGISTRY}/flow:3")
    assert len(client.describe_repositories()["repositories"]) == 1


def test_create_repository_off_leaves_ecr_alone(moto: Moto) -> None:
    ecr = builder(moto, create_repository=False)
    ecr._client = StubEngine()
    ecr.push(f"{REGISTRY}/flow:1")
    client: Any = moto.client("ecr")
    assert client.describe_repositories()["repositories"] == []


def test_a_proxy_in_front_of_ecr_gets_the_token(moto: Moto) -> None:
    # a registry host that is not ECR's (a pull-through proxy, the tests' local registry):
    # the engine logs in there with ECR's token, and the repository is created in ECR
    ecr = builder(moto, registry="127.0.0.1:5001/kitaru", registry_id=ACCOUNT, region="us-east-1")
    engine = StubEngine()
    ecr._client = engine
    ecr.push("127.0.0.1:5001/kitaru/flow:1")
    assert [x["registry"] for x in engine.logins] == ["127.0.0.1:5001"]
    client: Any = moto.client("ecr")
    assert [r["repositoryName"] for r in client.describe_repositories()["repositories"]] == [
        "kitaru/flow"
    ]


def test_registry_id_and_region_come_from_the_registry_host() -> None:
    config = builder().config
    assert config.ecr_host() == (ACCOUNT, "us-east-1")
    other = builder(registry="127.0.0.1:5001/kitaru", region="eu-west-1").config
    assert other.ecr_host() == (None, "eu-west-1")


def test_config_refuses_static_credentials_and_a_missing_registry() -> None:
    with pytest.raises(ValidationError, match="come from ECR"):
        builder(registry_username="AWS", registry_password="{{secret:ecr.password}}")
    with pytest.raises(ValidationError, match="registry is required"):
        build_component("container_builder", "ecr", name="ecr")


def assert_one_line(exc: BaseException, *needles: str) -> str:
    text = str(exc)
    assert "\n" not in text, text
    for needle in needles:
        assert needle in text, text
    return text


def test_unreachable_ecr_api_is_one_line(aws_credentials: None) -> None:
    ecr = builder(endpoint_url="http://127.0.0.1:9")
    ecr._client = StubEngine()
    with pytest.raises(ConfigError) as info:
        ecr.push(f"{REGISTRY}/flow:1")
    assert_one_line(info.value, "cannot get an ECR login token", "127.0.0.1:9", "us-east-1")
    assert "ecr:GetAuthorizationToken" in (info.value.hint or "")
    assert ecr._client.pushes == []


def test_unreachable_ecr_registry_is_one_line(moto: Moto) -> None:
    import docker.errors

    # the engine cannot reach the token's registry (moto's proxyEndpoint does not exist)
    refused = docker.errors.APIError(
        "500 Server Error", explanation='Get "https://x/v2/": dial tcp: lookup x: no such host\n'
    )
    ecr = builder(moto)
    ecr._client = StubEngine(login_error=refused)
    with pytest.raises(KitaruError) as info:
        ecr.push(f"{REGISTRY}/flow:1")
    assert_one_line(info.value, "logging in to ECR registry", "no such host")
    assert ecr._client.pushes == []
    # exists() asks the registry API itself: a registry that is not there, one line
    with pytest.raises(ConfigError) as info2:
        ecr.exists("127.0.0.1:9/kitaru/flow:1")
    assert_one_line(info2.value, "127.0.0.1:9", "unreachable")
