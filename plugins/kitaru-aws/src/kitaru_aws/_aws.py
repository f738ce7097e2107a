"""What the flavors share: clients, botocore settings and one-line error messages.

Nothing here imports boto3 at module level: :mod:`kitaru_aws.plugin` must stay import-light.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

#: connect fast, retry a little: a wrong endpoint should fail in seconds, not minutes
CONNECT_TIMEOUT = 5
READ_TIMEOUT = 60
MAX_ATTEMPTS = 3


def botocore_config(*, max_attempts: int = MAX_ATTEMPTS) -> Any:
    from botocore.config import Config

    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": max_attempts, "mode": "standard"},
    )


def client(service: str, region: str | None, endpoint_url: str | None, **config: Any) -> Any:
    """A boto3 client of its own session: boto3's default session is not thread-safe to create
    clients from."""
    import boto3

    session = boto3.session.Session(region_name=region)
    return session.client(service, endpoint_url=endpoint_url, config=botocore_config(**config))


class UsesAWSClient:
    """A component that calls one AWS service (its config has ``region`` and ``endpoint_url``):
    one boto3 client, made on first use, once even when threads race for it."""

    aws_service: ClassVar[str]
    config: Any
    _client: Any = None
    _client_lock: ClassVar[threading.Lock] = threading.Lock()

    def _make_client(self, **config: Any) -> Any:
        return client(self.aws_service, self.config.region, self.config.endpoint_url, **config)

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._client_lock:
                if self._client is None:
                    self._client = self._make_client()
        return self._client


def unreachable(
    what: str, service: str, region: str | None, endpoint_url: str | None, exc: BaseException,
    permission: str,
) -> Exception:  # fmt: skip
    """The one-line ConfigError a ``verify()`` raises when its probe call failed."""
    from kitaru.errors import ConfigError

    return ConfigError(
        f"{what} ({service}, {where(region, endpoint_url)}) is unreachable: {describe_error(exc)}",
        hint=f"check the region, the endpoint and the credentials ({permission})",
    )


def describe_error(exc: BaseException) -> str:
    """``Type: message`` on one line (:func:`kitaru.errors.describe`)."""
    from kitaru.errors import describe

    return describe(exc)


def where(region: str | None, endpoint_url: str | None) -> str:
    parts = [region or "default region"]
    if endpoint_url:
        parts.append(endpoint_url)
    return ", ".join(parts)
