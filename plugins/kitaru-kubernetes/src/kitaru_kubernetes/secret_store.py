"""The ``kubernetes`` secret store: one Kubernetes Secret per Kitaru secret.

Kitaru secret ``llm`` with keys ``{"api_key": ...}`` is the Secret ``kitaru-llm`` (type Opaque)
in the configured namespace, with one data key per Kitaru key, labelled ``kitaru.secret=llm`` and
annotated ``kitaru.secret/name: llm``; names that are not DNS-1123 labels map as
:mod:`kitaru_kubernetes.names` says. A pod can therefore read a key with a plain
``secretKeyRef`` (``name: kitaru-llm, key: api_key``), never seeing it in its spec.

The account the store runs as needs ``get``, ``list``, ``create``, ``update`` and ``delete`` on
``secrets`` in the namespace (``plugins/kitaru-kubernetes/rbac/secret-store.yaml``).
"""

from __future__ import annotations

import base64
from typing import Any

from kitaru.components.secret_store import SecretStore
from kitaru.errors import ConfigError, NotFound
from kitaru_kubernetes.client import KubernetesClient
from kitaru_kubernetes.config import KubernetesSecretStoreConfig
from kitaru_kubernetes.names import (
    MANAGED_BY,
    NAME_ANNOTATION,
    SECRET_LABEL,
    is_data_key,
    label_value,
    object_name,
)

_GRANT = "get, list, create, update and delete on secrets"


class KubernetesSecretStore(SecretStore):
    """Kitaru secrets as Kubernetes Secrets in ``config.namespace``."""

    config: KubernetesSecretStoreConfig
    _kube: KubernetesClient | None = None

    @property
    def kube(self) -> KubernetesClient:
        """The cluster connection (the shared helper), made on first use."""
        if self._kube is None:
            self._kube = KubernetesClient(self.config, f"secret store {self.name!r}")
        return self._kube

    # -- the interface -------------------------------------------------------------------------

    def get(self, name: str) -> dict[str, str]:
        secret = self._read(name, verb="get")
        if secret is None:
            raise self._not_found(name)
        values: dict[str, str] = {}
        for key, encoded in (secret.data or {}).items():
            try:
                values[key] = base64.b64decode(encoded or "").decode("utf-8")
            except ValueError:
                raise ConfigError(
                    f"Kubernetes Secret {object_name(name)!r} (namespace "
                    f"{self.kube.namespace!r}) key {key!r} is not UTF-8 text",
                    hint="Kitaru secrets hold text; rewrite it with `kitaru secret set`",
                ) from None
        return values

    def set(self, name: str, values: dict[str, str]) -> None:
        from kubernetes import client

        bad = sorted(key for key in values if not is_data_key(key))
        if bad:
            raise ConfigError(
                f"secret {name!r}: key {bad[0]!r} cannot be a Kubernetes Secret key",
                hint="use letters, digits, '-', '_' and '.' in key names",
            )
        body = client.V1Secret(
            api_version="v1",
            kind="Secret",
            type="Opaque",
            metadata=client.V1ObjectMeta(
                name=object_name(name),
                labels={SECRET_LABEL: label_value(name), MANAGED_BY[0]: MANAGED_BY[1]},
                annotations={NAME_ANNOTATION: name},
            ),
            # data, not stringData: base64 of the UTF-8 bytes keeps every character as given
            data={
                key: base64.b64encode(value.encode("utf-8")).decode("ascii")
                for key, value in values.items()
            },
        )
        core = self.kube.core()
        try:
            core.create_namespaced_secret(self.kube.namespace, body,
                                          _request_timeout=self.kube.timeout)  # fmt: skip
            return
        except Exception as exc:
            if getattr(exc, "status", None) != 409:
                raise self._error(exc, "create", name) from None
        # it exists: replace it whole (keys not in ``values`` go), if it is really this name's
        self._read(name, verb="get")
        try:
            core.replace_namespaced_secret(object_name(name), self.kube.namespace, body,
                                           _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            raise self._error(exc, "update", name) from None

    def list(self) -> list[str]:
        try:
            secrets = self.kube.core().list_namespaced_secret(
                self.kube.namespace, label_selector=SECRET_LABEL,
                _request_timeout=self.kube.timeout,
            )  # fmt: skip
        except Exception as exc:
            raise self._error(exc, "list", None) from None
        names = []
        for secret in secrets.items or []:
            name = (secret.metadata.annotations or {}).get(NAME_ANNOTATION)
            # a labelled Secret of someone else's making, without the annotation, is not ours
            if name is not None and object_name(name) == secret.metadata.name:
                names.append(name)
        return sorted(names)

    def delete(self, name: str) -> None:
        if self._read(name, verb="get") is None:
            raise self._not_found(name)
        try:
            self.kube.core().delete_namespaced_secret(object_name(name), self.kube.namespace,
                                                      _request_timeout=self.kube.timeout)  # fmt: skip
        except Exception as exc:
            if getattr(exc, "status", None) == 404:  # deleted meanwhile
                raise self._not_found(name) from None
            raise self._error(exc, "delete", name) from None

    def verify(self) -> None:
        """One list call (limit 1): the API server answers and the account may list secrets."""
        try:
            self.kube.core().list_namespaced_secret(
                self.kube.namespace, label_selector=SECRET_LABEL, limit=1,
                _request_timeout=self.kube.timeout,
            )  # fmt: skip
        except Exception as exc:
            raise self._error(exc, "list", None) from None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "source": self.kube.source}

    # -- helpers -------------------------------------------------------------------------------

    def _read(self, name: str, *, verb: str) -> Any:
        """The Secret of ``name``, or None when there is none (or it belongs to another name)."""
        try:
            secret = self.kube.core().read_namespaced_secret(
                object_name(name), self.kube.namespace, _request_timeout=self.kube.timeout
            )
        except Exception as exc:
            if getattr(exc, "status", None) == 404:
                return None
            raise self._error(exc, verb, name) from None
        owner = (secret.metadata.annotations or {}).get(NAME_ANNOTATION)
        if owner != name:
            raise ConfigError(
                f"Kubernetes Secret {object_name(name)!r} in namespace {self.kube.namespace!r} "
                f"is not Kitaru secret {name!r} (its {NAME_ANNOTATION} annotation: {owner!r})",
                hint="rename or remove that Secret; Kitaru never reads or overwrites it",
            )
        return secret

    def _not_found(self, name: str) -> NotFound:
        return NotFound(
            f"no secret named {name!r} (Kubernetes Secret {object_name(name)!r} in namespace "
            f"{self.kube.namespace!r})",
            hint=f"create it with `kitaru secret set {name} KEY=VALUE`",
        )

    def _error(self, exc: BaseException, verb: str, name: str | None) -> Exception:
        return self.kube.error(exc, verb=verb, resource="secrets",
                               name=object_name(name) if name else None,
                               grant=f"{_GRANT} (this call: {verb})")  # fmt: skip
