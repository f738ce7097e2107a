"""The ``kubernetes`` secret store on the real cluster: Kitaru's secret store contract, the
name mapping's round trip, what the Secret looks like to Kubernetes (and to a pod reading it
through a ``secretKeyRef``), and Secrets that are not Kitaru's."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import pytest
from k8s_standin import BUSYBOX, run_pod
from kitaru_kubernetes.names import NAME_ANNOTATION, SECRET_LABEL, label_value, object_name

from kitaru.components.secret_store import SecretStore
from kitaru.errors import ConfigError, NotFound
from kitaru.testing import SecretStoreContract, build_component

DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def store(kubeconfig: str, namespace: str) -> SecretStore:
    return build_component("secret_store", "kubernetes", kubeconfig=kubeconfig,
                           namespace=namespace)  # fmt: skip


class TestKubernetesSecretStore(SecretStoreContract):
    @pytest.fixture
    def secret_store(self, kubeconfig: str, namespace: str) -> SecretStore:
        return store(kubeconfig, namespace)


# -- names ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("llm", "kitaru-llm"),
        ("openai-prod", "kitaru-openai-prod"),
        ("My_Key.v2", None),
        ("team/openai", None),
        ("-leading", None),
        ("ünïcødé", None),
        ("x" * 100, None),
    ],
)
def test_object_names_are_dns1123_labels(name: str, expected: str | None) -> None:
    """Lowercase DNS-1123 labels keep their spelling; everything else is slugged + hashed."""
    got = object_name(name)
    assert DNS1123_LABEL.match(got) and len(got) <= 63, got
    if expected is not None:
        assert got == expected
    else:
        assert re.fullmatch(r"kitaru-([a-z0-9-]*-)?[0-9a-f]{10}", got), got
    assert object_name(name) == got  # deterministic


def test_names_differing_only_in_case_or_punctuation_map_apart() -> None:
    names = ["My_Key.v2", "my_key.v2", "my-key-v2", "MY-KEY-V2", "my.key.v2"]
    assert len({object_name(n) for n in names}) == len(names)
    assert object_name("My_Key.v2").startswith("kitaru-my-key-v2-")


def test_label_value_is_the_name_when_a_label_can_hold_it() -> None:
    assert label_value("llm") == "llm"
    assert label_value("My_Key.v2") == "My_Key.v2"
    assert label_value("team/openai") == object_name("team/openai")
    assert label_value("x" * 64) == object_name("x" * 64)


@pytest.mark.parametrize("name", ["llm", "My_Key.v2", "team/openai", "ünïcødé ✓", "y" * 80])
def test_name_round_trip_on_the_cluster(
    kubeconfig: str, namespace: str, cluster: Any, name: str
) -> None:
    """set, list (the exact name back), get, the Secret's name/label/annotation, delete."""
    from kubernetes import client

    secrets = store(kubeconfig, namespace)
    unique = f"{name}-{uuid.uuid4().hex[:4]}"
    secrets.set(unique, {"api_key": "v-1", "region": "eu"})
    try:
        assert unique in secrets.list()
        assert secrets.get(unique) == {"api_key": "v-1", "region": "eu"}
        obj = client.CoreV1Api(cluster).read_namespaced_secret(object_name(unique), namespace)
        assert obj.type == "Opaque"
        assert obj.metadata.annotations[NAME_ANNOTATION] == unique
        assert obj.metadata.labels[SECRET_LABEL] == label_value(unique)
        assert base64.b64decode(obj.data["api_key"]) == b"v-1"
    finally:
        secrets.delete(unique)
    assert unique not in secrets.list()


def test_label_selects_a_secret_with_kubectl_syntax(
    kubeconfig: str, namespace: str, cluster: Any
) -> None:
    """``kubectl get secrets -l kitaru.secret=llm`` finds Kitaru secret ``llm``."""
    from kubernetes import client

    secrets = store(kubeconfig, namespace)
    name = f"llm-{uuid.uuid4().hex[:6]}"
    secrets.set(name, {"api_key": "k"})
    try:
        found = client.CoreV1Api(cluster).list_namespaced_secret(
            namespace, label_selector=f"{SECRET_LABEL}={name}"
        )
        assert [s.metadata.name for s in found.items] == [f"kitaru-{name}"]
    finally:
        secrets.delete(name)


# -- what Kubernetes and pods see -----------------------------------------------------------------


def test_a_pod_reads_a_key_through_secret_key_ref(
    kubeconfig: str, namespace: str, cluster: Any
) -> None:
    """What the orchestrator will do: the value reaches the pod's environment from the Secret,
    never written into the pod's spec."""
    secrets = store(kubeconfig, namespace)
    name = f"My_Key.v2-{uuid.uuid4().hex[:4]}"
    secrets.set(name, {"api_key": "pässwörd ✓"})
    try:
        ref = {"name": object_name(name), "key": "api_key"}
        phase, logs = run_pod(cluster, namespace, {
            "containers": [{
                "name": "main", "image": BUSYBOX, "imagePullPolicy": "Never",
                "command": ["sh", "-c", 'echo "key=$API_KEY"'],
                "env": [{"name": "API_KEY", "valueFrom": {"secretKeyRef": ref}}],
            }],
        })  # fmt: skip
        assert phase == "Succeeded", logs
        assert logs.strip() == "key=pässwörd ✓"
    finally:
        secrets.delete(name)


def test_keys_a_secret_cannot_hold_are_refused_naming_the_key(
    kubeconfig: str, namespace: str
) -> None:
    secrets = store(kubeconfig, namespace)
    name = f"bad-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ConfigError) as info:
        secrets.set(name, {"ok": "1", "a b": "2"})
    assert "'a b'" in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(NotFound):
        secrets.get(name)


def test_someone_elses_secret_of_the_same_name_is_never_read_or_overwritten(
    kubeconfig: str, namespace: str, cluster: Any
) -> None:
    """A Secret named like a Kitaru secret's object, without the annotation, is not listed,
    not read, and not replaced."""
    from kubernetes import client

    core = client.CoreV1Api(cluster)
    name = f"theirs-{uuid.uuid4().hex[:6]}"
    core.create_namespaced_secret(namespace, client.V1Secret(
        metadata=client.V1ObjectMeta(name=object_name(name), labels={SECRET_LABEL: name}),
        string_data={"password": "not-kitarus"},
    ))  # fmt: skip
    try:
        secrets = store(kubeconfig, namespace)
        assert name not in secrets.list()
        for call in (lambda: secrets.get(name), lambda: secrets.set(name, {"k": "v"}),
                     lambda: secrets.delete(name)):  # fmt: skip
            with pytest.raises(ConfigError, match="is not Kitaru secret"):
                call()
        kept = core.read_namespaced_secret(object_name(name), namespace)
        assert base64.b64decode(kept.data["password"]) == b"not-kitarus"
    finally:
        core.delete_namespaced_secret(object_name(name), namespace)


def test_describe_names_the_connection_and_no_values(kubeconfig: str, namespace: str) -> None:
    described = store(kubeconfig, namespace).describe()
    assert described["config"]["namespace"] == namespace
    assert kubeconfig in described["source"]
