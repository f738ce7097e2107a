"""The ``aws`` secret store: one AWS Secrets Manager secret per Kitaru secret.

Kitaru secret ``llm`` with keys ``{"api_key": ...}`` is the Secrets Manager secret
``<prefix>llm`` (default prefix ``kitaru/``) whose SecretString is the JSON object of its keys.
Credentials come from the default AWS chain (environment, profile, instance/task role).
"""

from __future__ import annotations

import json

from kitaru.components.base import ComponentConfig, OptionalStr
from kitaru.components.secret_store import SecretStore, values_of
from kitaru.errors import ConfigError, NotFound
from kitaru_aws._aws import UsesAWSClient, describe_error, unreachable, where


class AWSSecretStoreConfig(ComponentConfig):
    #: empty: the default chain's (AWS_REGION, AWS_DEFAULT_REGION, profile)
    region: OptionalStr = None
    #: prepended to every Kitaru secret name; only secrets under it are listed
    prefix: str = "kitaru/"
    #: another endpoint (moto, a VPC endpoint); empty: AWS's
    endpoint_url: OptionalStr = None


class AWSSecretStore(UsesAWSClient, SecretStore):
    aws_service = "secretsmanager"
    config: AWSSecretStoreConfig

    def _id(self, name: str) -> str:
        return f"{self.config.prefix}{name}"

    @staticmethod
    def _code(exc: Exception) -> str:
        return str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))

    def get(self, name: str) -> dict[str, str]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self.client.get_secret_value(SecretId=self._id(name))
        except ClientError as exc:
            if self._code(exc) == "ResourceNotFoundException":
                raise NotFound(
                    f"no secret named {name!r} (AWS secret {self._id(name)!r})",
                    hint=f"create it with `kitaru secret set {name} KEY=VALUE`",
                ) from None
            raise self._error("cannot read", name, exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot read", name, exc) from None
        return values_of(response.get("SecretString"), f"AWS secret {self._id(name)!r}")

    def set(self, name: str, values: dict[str, str]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        body = json.dumps(dict(values))
        try:
            try:
                self.client.put_secret_value(SecretId=self._id(name), SecretString=body)
            except ClientError as exc:
                if self._code(exc) != "ResourceNotFoundException":
                    raise
                self.client.create_secret(
                    Name=self._id(name),
                    SecretString=body,
                    Tags=[{"Key": "managed-by", "Value": "kitaru"}],
                )
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot write", name, exc) from None

    def list(self) -> list[str]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = self.config.prefix
        names: list[str] = []
        try:
            pages = self.client.get_paginator("list_secrets").paginate(
                **({"Filters": [{"Key": "name", "Values": [prefix]}]} if prefix else {})
            )
            for page in pages:
                for entry in page.get("SecretList", []):
                    full = entry["Name"]
                    # the name filter matches prefixes of words too: keep exact prefixes only
                    if full.startswith(prefix) and not entry.get("DeletedDate"):
                        names.append(full[len(prefix) :])
        except (BotoCoreError, ClientError) as exc:
            raise self._error("cannot list", "", exc) from None
        return sorted(names)

    def delete(self, name: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.describe_secret(SecretId=self._id(name))
            self.client.delete_secret(SecretId=self._id(name), ForceDeleteWithoutRecovery=True)
        except ClientError as exc:
            if self._code(exc) == "ResourceNotFoundException":
                raise NotFound(
                    f"no secret named {name!r} (AWS secret {self._id(name)!r})"
                ) from None
            raise self._error("cannot delete", name, exc) from None
        except BotoCoreError as exc:
            raise self._error("cannot delete", name, exc) from None

    def verify(self) -> None:
        """One ListSecrets call, without retries: fails in seconds when the endpoint is down."""
        try:
            self._make_client(max_attempts=1).list_secrets(MaxResults=1)
        except Exception as exc:
            raise unreachable(f"secret store {self.name!r}", "AWS Secrets Manager",
                              self.config.region, self.config.endpoint_url, exc,
                              "secretsmanager:ListSecrets") from None  # fmt: skip

    def _error(self, action: str, name: str, exc: Exception) -> ConfigError:
        what = f"AWS secret {self._id(name)!r}" if name else "AWS secrets"
        return ConfigError(
            f"secret store {self.name!r} {action} {what} "
            f"({where(self.config.region, self.config.endpoint_url)}): {describe_error(exc)}",
            hint="check the region, the endpoint, the credentials and their IAM permissions",
        )
