"""What the flavors say when something is wrong: a refused permission names the store, the
object and the permission; an unreachable endpoint is one line naming it, in seconds; a
malformed config or a secret name Secret Manager cannot hold is refused before any call.

Neither stand-in enforces IAM, so refusals come from a tiny server answering with the real
services' 403 bodies (``gcp_fakes``); everything else runs against the stand-ins."""

from __future__ import annotations

import json
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from gcp_fakes import (
    ACCESS_TOKEN,
    fake_google,
    gcs_forbidden,
    gcs_not_found,
    secret_manager_forbidden,
    token,
)
from gcp_standins import PROJECT, TIMINGS
from pydantic import ValidationError

from kitaru.errors import ConfigError, NotFound
from kitaru.testing import build_component
from kitaru.testing.services import free_port

if TYPE_CHECKING:
    from gcp_standins import Drongo, GCSEmulator

SHA = "ab" + "0" * 62


def gcs(endpoint_url: str, path: str = "gs://kitaru-bucket/runs", **config: Any) -> Any:
    config.setdefault("anonymous", not config.get("credentials"))
    return build_component("artifact_store", "gcs", name="gcs", path=path, project=PROJECT,
                           endpoint_url=endpoint_url, **config)  # fmt: skip


def secrets(endpoint_url: str, **config: Any) -> Any:
    config.setdefault("anonymous", not config.get("credentials"))
    config.setdefault("project", PROJECT)
    return build_component("secret_store", "gcp", name="gcp", endpoint_url=endpoint_url,
                           **config)  # fmt: skip


def one_line(error: ConfigError) -> str:
    text = f"{error} ({error.hint})"
    assert "\n" not in text
    return text


# -- gcs: refused, missing, unreachable -------------------------------------------------------------
def test_refused_read_names_the_store_the_object_and_the_permission() -> None:
    with fake_google(lambda method, path: gcs_forbidden("storage.objects.get")) as fake:
        store = gcs(fake.endpoint_url)
        with pytest.raises(ConfigError) as info:
            store.get(store.uri_for(SHA))
    text = one_line(info.value)
    assert f"artifact store 'gcs' cannot read gs://kitaru-bucket/runs/ab/{SHA}" in text
    assert "permission storage.objects.get refused" in text
    assert "grant storage.objects.get on gs://kitaru-bucket" in text


def test_refused_write_names_the_store_the_object_and_the_permission() -> None:
    def route(method: str, path: str) -> tuple[int, dict[str, Any]]:
        # reading is allowed (the object is not there yet); creating it is not
        return gcs_not_found() if method == "GET" else gcs_forbidden("storage.objects.create")

    with fake_google(route) as fake:
        store = gcs(fake.endpoint_url)
        with pytest.raises(ConfigError) as info:
            store.put(SHA, b"data")
    text = one_line(info.value)
    assert f"artifact store 'gcs' cannot write gs://kitaru-bucket/runs/ab/{SHA}" in text
    assert "permission storage.objects.create refused" in text
    assert fake.endpoint_url in text  # where


def test_a_missing_bucket_is_named(gcs_emulator: GCSEmulator) -> None:
    store = gcs(gcs_emulator.endpoint_url, path=f"gs://no-such-{uuid.uuid4().hex[:8]}/kitaru")
    with pytest.raises(ConfigError) as info:
        store.put(SHA, b"data")
    assert f"bucket {store.bucket!r} does not exist" in one_line(info.value)
    with pytest.raises(ConfigError) as info:
        store.verify()
    assert "is not writable" in str(info.value) and "does not exist" in str(info.value)


def test_verify_says_an_unreachable_endpoint_in_seconds() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    store = gcs(endpoint)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        store.verify()
    TIMINGS["gcs verify, endpoint down (s)"] = round(time.monotonic() - started, 2)
    text = one_line(info.value)
    assert (
        f"artifact store 'gcs' at gs://kitaru-bucket/runs (project {PROJECT}, {endpoint})" in text
    )
    assert f"is not writable: {endpoint} is unreachable: ConnectionRefusedError" in text
    assert time.monotonic() - started < 10


# -- configs --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"path": "s3://bucket/x"}, "must be a gs:// URL"),
        ({"path": "gs://"}, "must be a gs:// URL"),
        ({"path": "gs://My_Bucket"}, "is not a bucket name"),
        ({"path": "gs://bucket", "credentials": '{"type": "service_account"}'},
         "{{secret:name.key}} reference holding a service-account key"),
        ({"path": "gs://bucket", "credentials": "anonymous"}, "`anonymous: true` for an emulator"),
        ({"path": "gs://bucket", "credentials": "{{secret:gcs.key}}", "anonymous": True},
         "exclude each other"),
        ({"path": "gs://bucket", "endpoint_url": "127.0.0.1:9023"}, "http:// or https:// URL"),
        ({"path": "gs://bucket", "project": "a/b"}, "should match pattern"),
        ({"path": "gs://bucket", "region": "eu"}, "Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_gcs_config_is_validated(config: dict[str, str], says: str) -> None:
    from kitaru_gcp.config import GCSArtifactStoreConfig

    with pytest.raises(ValidationError) as info:
        GCSArtifactStoreConfig(**config)
    assert says in str(info.value)


@pytest.mark.parametrize("prefix", ["kitaru/", "kitaru.", "k i"])
def test_secret_prefix_must_be_a_secret_id(prefix: str) -> None:
    from kitaru_gcp.config import GCPSecretStoreConfig

    with pytest.raises(ValidationError):
        GCPSecretStoreConfig(prefix=prefix)


def test_empty_values_mean_unset() -> None:
    """A template's ``${GCP_PROJECT:-}`` gives an empty string: the default, not an error."""
    from kitaru_gcp.config import GCPSecretStoreConfig

    config = GCPSecretStoreConfig(project="", credentials="", endpoint_url="")
    assert (config.project, config.credentials, config.endpoint_url) == (None, None, None)


# -- gcp secret store ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["team/llm", "llm.prod", "clé", "x" * 250])
def test_a_name_secret_manager_cannot_hold_is_one_line_before_any_call(
    drongo: Drongo, name: str
) -> None:
    store = secrets(drongo.endpoint_url)
    for call in (lambda: store.set(name, {"k": "v"}), lambda: store.get(name),
                 lambda: store.delete(name)):  # fmt: skip
        with pytest.raises(ConfigError) as info:
            call()
        text = one_line(info.value)
        assert f"secret name {name!r} cannot be stored in Secret Manager" in text
        assert "letters, digits, '-' and '_' only" in text
    assert list(drongo.secret_manager().list_secrets(parent=f"projects/{PROJECT}")) == []


def test_refused_read_and_write_name_the_secret_and_the_permission() -> None:
    def route(method: str, path: str) -> tuple[int, dict[str, Any]]:
        permission = (
            "secretmanager.versions.access" if method == "GET" else "secretmanager.versions.add"
        )
        return secret_manager_forbidden(permission, path.split("?")[0])

    with fake_google(route) as fake:
        store = secrets(fake.endpoint_url)
        with pytest.raises(ConfigError) as read:
            store.get("llm")
        with pytest.raises(ConfigError) as write:
            store.set("llm", {"api_key": "sk-never-shown"})
    assert ("secret store 'gcp' cannot read Secret Manager secret 'kitaru-llm' "
            f"(project {PROJECT}, {fake.endpoint_url}): permission secretmanager.versions.access "
            "refused") in one_line(read.value)  # fmt: skip
    text = one_line(write.value)
    assert "cannot write Secret Manager secret 'kitaru-llm'" in text
    assert "permission secretmanager.versions.add refused" in text
    assert "sk-never-shown" not in text


def test_verify_says_refused_credentials() -> None:
    route = lambda method, path: secret_manager_forbidden(  # noqa: E731
        "secretmanager.secrets.list", f"projects/{PROJECT}"
    )
    with fake_google(route) as fake, pytest.raises(ConfigError) as info:
        secrets(fake.endpoint_url).verify()
    text = one_line(info.value)
    assert (
        f"secret store 'gcp' (Secret Manager, project {PROJECT}, {fake.endpoint_url}) is refused"
        in text
    )
    assert "secretmanager.secrets.list" in text


def test_an_unreachable_secret_manager_is_one_line_naming_the_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}"
    store = secrets(endpoint)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        store.verify()
    TIMINGS["gcp verify, endpoint down (s)"] = round(time.monotonic() - started, 2)
    text = one_line(info.value)
    assert (
        f"secret store 'gcp' (Secret Manager, project {PROJECT}, {endpoint}) is unreachable" in text
    )
    assert "check the project, the endpoint and the credentials" in text
    with pytest.raises(ConfigError) as info:
        store.get("llm")
    text = one_line(info.value)
    assert f"cannot read Secret Manager secret 'kitaru-llm' (project {PROJECT}, {endpoint})" in text
    assert "ConnectionError" in text
    assert time.monotonic() - started < 10


def test_writes_add_versions_and_reads_take_the_latest(drongo: Drongo) -> None:
    store = secrets(drongo.endpoint_url, prefix="team_a-")
    store.set("llm", {"api_key": "one"})
    store.set("llm", {"api_key": "two", "org": "x"})
    assert store.get("llm") == {"api_key": "two", "org": "x"}
    client = drongo.secret_manager()
    secret = client.get_secret(name=f"projects/{PROJECT}/secrets/team_a-llm")
    assert dict(secret.labels) == {"managed-by": "kitaru"}
    versions = list(client.list_secret_versions(parent=secret.name))
    assert len(versions) == 2
    latest = client.access_secret_version(name=f"{secret.name}/versions/latest")
    assert json.loads(latest.payload.data) == {"api_key": "two", "org": "x"}
    # only secrets under the prefix are Kitaru's
    client.create_secret(parent=f"projects/{PROJECT}", secret_id="someone-elses",
                         secret={"replication": {"automatic": {}}})  # fmt: skip
    assert store.list() == ["llm"]
    store.delete("llm")
    assert store.list() == []


def test_a_secret_that_is_not_a_json_object_is_refused(drongo: Drongo) -> None:
    client = drongo.secret_manager()
    secret = client.create_secret(parent=f"projects/{PROJECT}", secret_id="kitaru-raw",
                                  secret={"replication": {"automatic": {}}})  # fmt: skip
    client.add_secret_version(parent=secret.name, payload={"data": b"plain text, not JSON"})
    with pytest.raises(ConfigError) as info:
        secrets(drongo.endpoint_url).get("raw")
    assert "'kitaru-raw' is not a JSON object" in one_line(info.value)
    assert "plain text" not in f"{info.value} {info.value.hint}"


def test_a_secret_without_versions_is_not_found(drongo: Drongo) -> None:
    drongo.secret_manager().create_secret(parent=f"projects/{PROJECT}", secret_id="kitaru-empty",
                                          secret={"replication": {"automatic": {}}})  # fmt: skip
    with pytest.raises(NotFound):
        secrets(drongo.endpoint_url).get("empty")


def test_no_project_is_one_line(drongo: Drongo) -> None:
    store = secrets(drongo.endpoint_url, project="")
    with pytest.raises(ConfigError) as info:
        store.get("llm")
    assert "secret store 'gcp' has no project" in one_line(info.value)


# -- credentials ------------------------------------------------------------------------------------
def service_account_json(token_uri: str) -> str:
    """A service-account key as Google issues it (a fresh RSA key), its ``token_uri`` here."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    return json.dumps({
        "type": "service_account", "project_id": "from-the-key", "private_key_id": "k1",
        "private_key": pem, "client_email": "kitaru@from-the-key.iam.gserviceaccount.com",
        "client_id": "1", "token_uri": token_uri,
    })  # fmt: skip


def test_a_service_account_key_from_the_secret_store_signs_the_requests(drongo: Drongo) -> None:
    """The key lives in Secret Manager (drongo); the store resolves its reference, google-auth
    trades it for a token at the key's ``token_uri`` and the requests carry that token."""
    key_store = secrets(drongo.endpoint_url)

    def route(method: str, path: str) -> tuple[int, dict[str, Any]]:
        return token() if path.startswith("/token") else gcs_not_found()

    with fake_google(route) as fake:
        key_store.set("gcs-key", {"json": service_account_json(f"{fake.endpoint_url}/token")})
        store = build_component("artifact_store", "gcs", name="gcs", path="gs://kitaru-bucket",
                                credentials="{{secret:gcs-key.json}}",
                                endpoint_url=fake.endpoint_url, secrets=key_store.resolve)  # fmt: skip
        assert store.exists(store.uri_for(SHA)) is False
        assert store.storage_options()["project"] == "from-the-key"
    token_request, *storage_requests = fake.requests
    assert token_request[:2] == ("POST", "/token")
    assert storage_requests and all(
        auth == f"Bearer {ACCESS_TOKEN}" for _, _, auth in storage_requests
    )


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("not-json-s3cr3t", "is not a credentials JSON object"),
        ('{"type": "external_account", "s3cr3t": 1}', "holds credentials of type 'external_account'"),
        ('{"type": "service_account", "private_key": "s3cr3t"}',
         "is not a usable service_account key"),
    ],
)  # fmt: skip
def test_a_reference_that_is_not_credentials_is_named_never_shown(
    drongo: Drongo, value: str, says: str
) -> None:
    key_store = secrets(drongo.endpoint_url)
    key_store.set("gcs-key", {"json": value})
    store = gcs("http://127.0.0.1:9", credentials="{{secret:gcs-key.json}}",
                secrets=key_store.resolve)  # fmt: skip
    with pytest.raises(ConfigError) as info:
        store.exists(store.uri_for(SHA))
    text = one_line(info.value)
    assert f"'gcs': {{{{secret:gcs-key.json}}}} {says}" in text
    assert "s3cr3t" not in text


def test_no_application_default_credentials_is_one_line() -> None:
    """No key, no ``gcloud auth application-default login``, not on Google Cloud (the
    metadata server is not asked: see ``GCP_TEST_ENVIRONMENT``)."""
    store = gcs("http://127.0.0.1:9", anonymous=False)
    with pytest.raises(ConfigError) as info:
        store.exists(store.uri_for(SHA))
    text = one_line(info.value)
    assert "'gcs': no application default credentials" in text
    assert "gcloud auth application-default login" in text
