"""One-line errors of the shared client helper, through the secret store: an API server that is
not there, a missing kubeconfig or context, in-cluster config outside a pod, rejected
credentials; and the in-cluster path itself, against the real cluster."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from kitaru.errors import ConfigError
from kitaru.testing import build_component


def one_line(error: ConfigError) -> str:
    text = f"{error} {error.hint}"
    assert "\n" not in text, text
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_kubeconfig(path: Path, server: str, token: str = "nope", ca: str | None = None) -> str:
    cluster: dict[str, Any] = {"server": server}
    if ca:
        cluster["certificate-authority-data"] = ca
    else:
        cluster["insecure-skip-tls-verify"] = True
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }))  # fmt: skip
    return str(path)


def test_unreachable_api_server_is_named_with_a_hint(tmp_path: Path) -> None:
    server = f"https://127.0.0.1:{free_port()}"
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", server)
    secrets = build_component("secret_store", "kubernetes", kubeconfig=kubeconfig)
    for call in (secrets.verify, lambda: secrets.get("llm"), secrets.list,
                 lambda: secrets.set("llm", {"k": "v"}), lambda: secrets.delete("llm")):  # fmt: skip
        started = time.monotonic()
        with pytest.raises(ConfigError) as info:
            call()
        assert time.monotonic() - started < 15
        text = one_line(info.value)
        assert f"API server {server} is unreachable" in text
        assert "Connection refused" in text or "ConnectionRefused" in text, text
        assert kubeconfig in (info.value.hint or "")


def test_missing_kubeconfig_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "kubeconfig"
    secrets = build_component("secret_store", "kubernetes", kubeconfig=str(missing))
    with pytest.raises(ConfigError) as info:
        secrets.list()
    assert f"kubeconfig file {missing} does not exist" in one_line(info.value)


def test_unknown_context_lists_the_contexts(tmp_path: Path) -> None:
    kubeconfig = write_kubeconfig(tmp_path / "kubeconfig", "https://127.0.0.1:1")
    secrets = build_component("secret_store", "kubernetes", kubeconfig=kubeconfig,
                              context="prod")  # fmt: skip
    with pytest.raises(ConfigError) as info:
        secrets.list()
    text = one_line(info.value)
    assert "context prod" in text and "contexts in the kubeconfig: ctx" in text


def test_in_cluster_outside_a_pod_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    secrets = build_component("secret_store", "kubernetes", in_cluster=True)
    with pytest.raises(ConfigError) as info:
        secrets.verify()
    assert "no in-cluster Kubernetes configuration" in one_line(info.value)


@pytest.mark.parametrize(
    "config",
    [
        {"in_cluster": True, "kubeconfig": "/x"},
        {"in_cluster": True, "context": "c"},
        {"namespace": "Not_A_Namespace"},
        {"namespace": "a" * 64},
        {"colour": "red"},
    ],
)
def test_config_rejects(config: dict[str, Any]) -> None:
    from kitaru_kubernetes.config import KubernetesSecretStoreConfig

    with pytest.raises(ValidationError):
        KubernetesSecretStoreConfig(**config)


def test_rejected_credentials_are_unauthorized(kubeconfig: str, tmp_path: Path) -> None:
    real = yaml.safe_load(Path(kubeconfig).read_text())["clusters"][0]["cluster"]
    bogus = write_kubeconfig(tmp_path / "kubeconfig", real["server"], token="not-a-token",
                             ca=real["certificate-authority-data"])  # fmt: skip
    secrets = build_component("secret_store", "kubernetes", kubeconfig=bogus)
    with pytest.raises(ConfigError) as info:
        secrets.verify()
    text = one_line(info.value)
    assert f"Unauthorized: the API server {real['server']} rejected the credentials" in text
