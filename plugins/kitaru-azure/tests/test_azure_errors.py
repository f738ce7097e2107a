"""What the stores say when something is wrong, and the Key Vault name encoding.

Key Vault refusals, missing secrets, soft-deleted names and a missing token come from the
fake, which answers with the real service's bodies (``ForbiddenByRbac``, ``SecretNotFound``,
``ObjectIsDeletedButRecoverable``, the 401 challenge); blob errors from Azurite."""

from __future__ import annotations

import json
import ssl
import time
import urllib.request
from typing import TYPE_CHECKING, Any

import pytest
from fake_azure import CLIENT_ID, CLIENT_SECRET, TENANT
from kitaru_azure import names
from pydantic import ValidationError

from kitaru.errors import ConfigError, NotFound
from kitaru.testing import build_component
from kitaru.testing.services import free_port

if TYPE_CHECKING:
    from azure_standins import Azurite
    from fake_azure import FakeAzure

SHA = "ab" + "0" * 62


def vault(fake: FakeAzure, **config: Any) -> Any:
    return build_component("secret_store", "azure", name="kv", vault_url=fake.vault_url,
                           verify_challenge_resource=False, **config)  # fmt: skip


def one_line(error: ConfigError) -> str:
    text = f"{error} ({error.hint})"
    assert "\n" not in text
    return text


# -- the name encoding --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "encoded"),
    [("llm", "llm"), ("kitaru-server", "kitaru-2dserver"), ("OpenAI_Key", "-4fpen-41-49-5f-4bey"),
     ("a.b/c", "a-2eb-2fc"), ("é", "-e9"), ("日本", "--0065e5--00672c"), ("9", "9")],
)  # fmt: skip
def test_names_encode_to_key_vault_names_and_back(name: str, encoded: str) -> None:
    assert names.encode(name) == encoded
    assert all(c.isascii() and (c.isalnum() or c == "-") for c in encoded)
    assert names.decode(encoded) == name
    assert names.decode(encoded.upper()) == name  # Key Vault compares names case-insensitively


def test_names_that_differ_only_in_case_stay_two_secrets() -> None:
    assert names.encode("LLM").lower() != names.encode("llm").lower()


@pytest.mark.parametrize("foreign", ["-", "-zz", "a-b", "--12", "x-4"])
def test_a_name_that_is_no_encoding_decodes_to_none(foreign: str) -> None:
    assert names.decode(foreign) is None


def test_secrets_round_trip_through_the_vault_with_any_name(fake: FakeAzure) -> None:
    store = vault(fake)
    odd = ["OpenAI_Key", "team.llm", "Kitaru-Server", "kitaru-server", "ünïcode"]
    for name in odd:
        store.set(name, {"k": name})
    assert sorted(store.list()) == sorted(odd)
    assert all(store.get(name) == {"k": name} for name in odd)
    stored = sorted(fake.secrets)
    assert "kitaru-kitaru-2dserver" in stored and "kitaru--4bitaru-2d-53erver" in stored
    bundle = fake.secrets["kitaru-team-2ellm"][-1]
    assert bundle["contentType"] == "application/json" and bundle["tags"]["managed-by"] == "kitaru"


def test_a_foreign_secret_under_the_prefix_is_not_listed(fake: FakeAzure) -> None:
    """A secret someone wrote by hand under the prefix (``kitaru-not-ours`` is no encoding)."""
    store = vault(fake)
    store.set("mine", {"k": "v"})
    foreign = dict(fake.secrets["kitaru-mine"][-1], id=f"{fake.url}/secrets/kitaru-not-ours/1")
    fake.secrets["kitaru-not-ours"] = [foreign]
    assert store.list() == ["mine"]


def test_a_name_too_long_for_key_vault_is_refused_before_any_call(fake: FakeAzure) -> None:
    with pytest.raises(ConfigError) as info:
        vault(fake).set("A" * 60, {"k": "v"})
    assert "at most 127 characters" in one_line(info.value)
    assert fake.requests == []


# -- Key Vault errors ---------------------------------------------------------------------------
def test_a_missing_secret_is_not_found_naming_the_vault_secret(fake: FakeAzure) -> None:
    with pytest.raises(NotFound) as info:
        vault(fake).get("nope")
    assert f"Key Vault secret 'kitaru-nope' in {fake.vault_url}" in str(info.value)


@pytest.mark.parametrize(
    ("operation", "action"),
    [("get", "secrets/getSecret/action"), ("set", "secrets/setSecret/action"),
     ("list", "secrets/readMetadata/action"), ("delete", "secrets/delete")],
)  # fmt: skip
def test_a_refused_operation_names_the_rbac_action(
    fake: FakeAzure, operation: str, action: str
) -> None:
    store = vault(fake)
    store.set("llm", {"api_key": "x"})
    fake.denied.add(f"Microsoft.KeyVault/vaults/{action}")
    call = {"get": lambda: store.get("llm"), "set": lambda: store.set("llm", {"k": "v"}),
            "list": store.list, "delete": lambda: store.delete("llm")}[operation]  # fmt: skip
    with pytest.raises(ConfigError) as info:
        call()
    text = one_line(info.value)
    assert f"Microsoft.KeyVault/vaults/{action} refused" in text
    assert "secret store 'kv'" in text and fake.vault_url in text


def test_a_deleted_unpurged_name_says_recover_or_purge(fake: FakeAzure) -> None:
    store = vault(fake, purge_on_delete=False)
    store.set("llm", {"k": "v"})
    store.delete("llm")
    assert "kitaru-llm" in fake.deleted
    with pytest.raises(ConfigError) as info:
        store.set("llm", {"k": "v2"})
    text = one_line(info.value)
    assert "deleted but recoverable" in text and "az keyvault secret recover" in text


def test_delete_purges_so_the_name_can_be_used_again(fake: FakeAzure) -> None:
    store = vault(fake)
    store.set("llm", {"k": "v"})
    store.delete("llm")
    assert (
        fake.deleted == {}
        and ("DELETE", "/deletedsecrets/kitaru-llm", "msi:system") in fake.requests
    )
    store.set("llm", {"k": "v2"})
    assert store.get("llm") == {"k": "v2"}


def test_the_fake_refuses_a_request_without_a_token_with_key_vaults_challenge(
    fake: FakeAzure,
) -> None:
    context = ssl.create_default_context(cafile=str(fake.ca_file))
    request = urllib.request.Request(f"{fake.vault_url}/secrets/kitaru-llm/?api-version=7.6")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert info.value.code == 401
    assert f"login.microsoftonline.com/{TENANT}" in info.value.headers["WWW-Authenticate"]
    request.add_header("Authorization", "Bearer not-one-the-fake-issued")
    with pytest.raises(urllib.error.HTTPError) as again:
        urllib.request.urlopen(request, context=context, timeout=10)
    assert again.value.code == 401


def test_a_service_principal_signs_in_through_entra_ids_client_credentials(fake: FakeAzure) -> None:
    """``tenant_id``/``client_id``/``client_secret`` (a reference) against the fake's Entra
    ID endpoints (``authority_host``): the token it issues opens the vault."""
    secrets = {"{{secret:sp.secret}}": CLIENT_SECRET}
    store = build_component("secret_store", "azure", name="kv", vault_url=fake.vault_url,
                            verify_challenge_resource=False, tenant_id=TENANT,
                            client_id=CLIENT_ID, client_secret="{{secret:sp.secret}}",
                            authority_host=fake.url, secrets=secrets.__getitem__)  # fmt: skip
    store.set("llm", {"k": "v"})
    assert ("PUT", "/secrets/kitaru-llm", f"app:{CLIENT_ID}") in fake.requests
    wrong = {"{{secret:sp.secret}}": "wrong"}
    bad = build_component("secret_store", "azure", name="kv", vault_url=fake.vault_url,
                          verify_challenge_resource=False, tenant_id=TENANT, client_id=CLIENT_ID,
                          client_secret="{{secret:sp.secret}}", authority_host=fake.url,
                          secrets=wrong.__getitem__)  # fmt: skip
    with pytest.raises(ConfigError) as info:
        bad.get("llm")
    text = one_line(info.value)
    assert "AADSTS7000215" in text and "wrong" not in text.split("AADSTS")[0]


def test_verify_with_the_vault_down_is_one_line_in_seconds() -> None:
    url = f"https://127.0.0.1:{free_port()}"
    store = build_component("secret_store", "azure", name="kv", vault_url=url)
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        store.verify()
    assert time.monotonic() - started < 10
    assert f"secret store 'kv' (Key Vault {url}) is unreachable" in one_line(info.value)


# -- blob errors --------------------------------------------------------------------------------
def test_a_missing_container_is_one_line_saying_kitaru_never_creates_it(azurite: Azurite) -> None:
    store = build_component("artifact_store", "azure", name="az", path="az://no-such-container/x",
                            connection_string="{{secret:b.conn}}",
                            secrets=lambda ref: azurite.connection_string)  # fmt: skip
    with pytest.raises(ConfigError) as info:
        store.put(SHA, b"x")
    text = one_line(info.value)
    assert "container 'no-such-container' does not exist" in text and "never creates" in text
    with pytest.raises(ConfigError):
        store.verify()


def test_a_wrong_account_key_is_refused_in_one_line(azurite: Azurite, container: str) -> None:
    from azure_standins import ACCOUNT

    store = build_component("artifact_store", "azure", name="az", path=f"az://{container}/x",
                            account_name=ACCOUNT, account_key="{{secret:b.key}}",
                            endpoint_url=azurite.endpoint_url,
                            secrets=lambda ref: "d3Jvbmc=")  # fmt: skip
    with pytest.raises(ConfigError) as info:
        store.put(SHA, b"x")
    text = one_line(info.value)
    assert f"artifact store 'az' cannot look up az://{container}/x/ab/{SHA}" in text
    assert "could not authenticate the request" in text and "d3Jvbmc=" not in text


def test_verify_with_azurite_down_is_one_line_in_seconds() -> None:
    endpoint = f"http://127.0.0.1:{free_port()}/devstoreaccount1"
    store = build_component("artifact_store", "azure", name="az", path="az://c-1/x",
                            account_name="devstoreaccount1", account_key="{{secret:b.key}}",
                            endpoint_url=endpoint, secrets=lambda ref: "a2V5")  # fmt: skip
    started = time.monotonic()
    with pytest.raises(ConfigError) as info:
        store.verify()
    assert time.monotonic() - started < 10
    assert f"{endpoint} is unreachable" in one_line(info.value)


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"path": "kitaru/x", "account_name": "acct1"}, "az:// URL"),
        ({"path": "az://Bad_Name/x", "account_name": "acct1"}, "container name"),
        ({"path": "az://c-1/x"}, "set account_name"),
        ({"path": "az://c-1/x", "account_name": "acct1", "account_key": "plain"}, "account_key"),
        ({"path": "az://c-1/x", "account_name": "acct1", "account_key": "{{secret:a.b}}",
          "sas_token": "{{secret:a.c}}"}, "exclude each other"),
        ({"path": "az://c-1/x", "account_name": "acct1",
          "endpoint_url": "http://127.0.0.1:1/acct1"}, "needs an https:// endpoint_url"),
    ],
)  # fmt: skip
def test_a_bad_store_config_is_refused(config: dict[str, Any], says: str) -> None:
    with pytest.raises((ValidationError, ConfigError)) as info:
        build_component("artifact_store", "azure", **config)
    assert says in str(info.value)


def test_a_bad_vault_config_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        build_component("secret_store", "azure", vault_url="my-vault", prefix="kitaru_")
    text = str(info.value)
    assert "vault_url" in text and "prefix" in text


def test_the_fake_says_which_request_it_does_not_serve(fake: FakeAzure) -> None:
    status, body, _ = fake.handle("GET", "/certificates/x", {}, b"")
    assert status == 400 and json.dumps(body).count("does not serve GET /certificates/x") == 1
