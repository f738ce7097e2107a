"""What every stack component shares: a type, a name, a frozen config, and ``verify()``."""

from __future__ import annotations

from abc import ABC
from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

ORCHESTRATOR = "orchestrator"
ARTIFACT_STORE = "artifact_store"
SECRET_STORE = "secret_store"
CONTAINER_BUILDER = "container_builder"
LLM_GATEWAY = "llm_gateway"
COMPONENT_TYPES = (ORCHESTRATOR, ARTIFACT_STORE, SECRET_STORE, CONTAINER_BUILDER, LLM_GATEWAY)
#: Types a stack must name; the others default to the local ones.
REQUIRED_TYPES = (ORCHESTRATOR, ARTIFACT_STORE)

SecretResolver = Callable[[str], str]
#: a config string where empty means unset (a template's ``${REGION:-}``)
OptionalStr = Annotated[str | None, BeforeValidator(lambda value: value or None)]


def _reference_only(value: str | None) -> str | None:
    from kitaru.stack.references import is_secret_reference

    if value is not None and not is_secret_reference(value):
        raise ValueError("must be a {{secret:name.key}} reference, never the value itself")
    return value


#: a config string that holds a credential: only a ``{{secret:name.key}}`` reference, resolved
#: by the component when it needs the value (:meth:`StackComponent.secret`); empty is unset
SecretReference = Annotated[str | None, BeforeValidator(lambda value: value or None),
                            AfterValidator(_reference_only)]  # fmt: skip


class ComponentConfig(BaseModel):
    """Base of every flavor's config: typed, frozen, unknown keys rejected.

    Secret values are written as references (``{{secret:name.key}}``) and resolved through the
    stack's secret store only when the component uses them (:meth:`StackComponent.secret`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")


class StackComponent(ABC):
    """A configured component of a stack. Flavors subclass a component type, not this."""

    TYPE: ClassVar[str]

    def __init__(
        self, name: str, config: ComponentConfig, *, secrets: SecretResolver | None = None
    ) -> None:
        self.name = name
        self.config = config
        self._secrets = secrets

    def secret(self, value: str) -> str:
        """Resolve a ``{{secret:name.key}}`` reference (plain values pass through)."""
        from kitaru.stack.references import is_secret_reference

        if not is_secret_reference(value):
            return value
        if self._secrets is None:
            from kitaru.errors import ConfigError

            raise ConfigError(
                f"component {self.name!r} needs {value} but its stack has no secret store",
                hint="add a secret_store to the stack",
            )
        from kitaru.redact import remember

        resolved = self._secrets(value)
        remember(resolved)  # scrubbed from errors, logs and LLM metadata from now on
        return resolved

    def secret_store_spec(self) -> dict[str, Any] | None:
        """The stack's secret store as ``{"flavor", "config"}``, for units elsewhere that
        resolve references themselves (None: this component was built outside a stack)."""
        spec = getattr(self._secrets, "spec", None)
        return dict(spec) if spec is not None else None

    def verify(self) -> None:  # noqa: B027 - optional: most local flavors have nothing to check
        """Check credentials and connectivity; raise ConfigError saying what is wrong."""

    def secret_references(self) -> list[tuple[str, str]]:
        """``(where, reference)`` of every ``{{secret:name.key}}`` in the config, ``where``
        being the key's path (``credentials.openai``)."""
        from kitaru.stack.references import secret_references

        return secret_references(self.config.model_dump())

    def check(self) -> None:
        """What ``kitaru stack verify`` runs, for every flavor: the flavor's :meth:`verify`, then
        every secret reference of the config resolved through the stack's secret store (the
        values are dropped at once, never shown). Flavors override :meth:`verify`, not this."""
        self.verify()
        from kitaru.errors import ConfigError, KitaruError

        for where, reference in self.secret_references():
            try:
                self.secret(reference)
            except KitaruError as exc:
                raise ConfigError(f"{where}: {reference} does not resolve: {exc.message}",
                                  hint=exc.hint) from None  # fmt: skip
            except Exception as exc:  # a secret store's own failure (network, permissions)
                raise ConfigError(
                    f"{where}: {reference} does not resolve: {type(exc).__name__}: {exc}"
                ) from None

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.TYPE, "config": self.config.model_dump()}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
