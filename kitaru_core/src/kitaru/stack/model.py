"""What a stack is: a spec (which flavor and config per component type) and, at use time, a
:class:`Stack` that instantiates each component the first time it is asked for.

Specs hold configs exactly as written, ``{{secret:name.key}}`` references included: a spec can
be stored, listed, exported and printed without ever holding a secret value. The references are
resolved through the stack's secret store by the component that needs them, when it needs them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kitaru.components.base import (
    ARTIFACT_STORE,
    COMPONENT_TYPES,
    CONTAINER_BUILDER,
    LLM_GATEWAY,
    ORCHESTRATOR,
    REQUIRED_TYPES,
    SECRET_STORE,
)
from kitaru.errors import ConfigError

if TYPE_CHECKING:
    from kitaru.components.artifact_store import ArtifactStore
    from kitaru.components.base import ComponentConfig, StackComponent
    from kitaru.components.container_builder import ContainerBuilder
    from kitaru.components.flavor import Flavor
    from kitaru.components.llm_gateway import LLMGateway
    from kitaru.components.orchestrator import Orchestrator
    from kitaru.components.secret_store import SecretStore

ComponentType = Literal[
    "orchestrator", "artifact_store", "secret_store", "container_builder", "llm_gateway"
]
assert set(get_args(ComponentType)) == set(COMPONENT_TYPES)

#: Flavors used for the types a stack leaves out (``container_builder`` has none): the builtin
#: components named ``local`` (or the registered ones that took that name).
DEFAULT_FLAVORS: dict[str, str] = {SECRET_STORE: "local", LLM_GATEWAY: "offline"}

#: Config fields that hold credentials: their values must be ``{{secret:name.key}}``
#: references (a flavor can also mark a field with ``Field(json_schema_extra={"secret": True})``).
SECRET_FIELD_NAMES = frozenset({
    "password", "secret", "token", "api_key", "access_key", "secret_key", "secret_access_key",
    "session_token", "client_secret", "credentials", "connection_string", "account_key",
    "private_key", "service_account_key",
})  # fmt: skip


class ComponentSpec(BaseModel):
    """One component of a stack: its flavor, the name it is registered under, its config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flavor: str = Field(
        description="Flavor name, e.g. local, s3, vertex (see `kitaru flavor list`)."
    )
    name: str | None = Field(
        default=None,
        description="Name of the registered component; inline components default to the "
        "stack's name.",
    )
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="The flavor's config. ${ENV} is expanded when the file is loaded; "
        "write secrets as {{secret:name.key}}.",
    )


class ComponentCheck(NamedTuple):
    """What ``kitaru stack verify`` found for one component."""

    type: str
    name: str
    ok: bool
    #: ``ok``, or the one-line error (and its hint) that the check raised
    message: str


class StackSpec(BaseModel):
    """A named stack: one component per type. ``orchestrator`` and ``artifact_store`` are
    required; ``secret_store`` defaults to ``local`` and ``llm_gateway`` to ``offline``."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        title="Kitaru stack",
        json_schema_extra={"$schema": "https://json-schema.org/draft/2020-12/schema"},
    )

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$",
                      description="The stack's name (`kitaru stack use NAME`).")  # fmt: skip
    components: dict[ComponentType, ComponentSpec] = Field(
        description="Component type -> component.",
        json_schema_extra={"required": list(REQUIRED_TYPES)},
    )

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
            return data
        components = dict(data["components"])
        for kind, flavor in DEFAULT_FLAVORS.items():
            if components.get(kind) is None:
                components[kind] = {"flavor": flavor, "name": "local"}
        if components.get(CONTAINER_BUILDER, ...) is None:
            del components[CONTAINER_BUILDER]
        return {**data, "components": components}

    @model_validator(mode="after")
    def _required(self) -> StackSpec:
        missing = [t for t in REQUIRED_TYPES if t not in self.components]
        if missing:
            raise ValueError(
                f"a stack needs {' and '.join(missing)} (only "
                f"{', '.join(t for t in COMPONENT_TYPES if t not in REQUIRED_TYPES)} are optional)"
            )
        return self

    def component_name(self, component_type: str) -> str:
        """The name of the component of that type (inline ones are named after the stack)."""
        spec = self.components[component_type]  # type: ignore[index]
        return spec.name or self.name

    def to_dict(self) -> dict[str, Any]:
        """Plain data with every component's name filled in (references stay references)."""
        return {
            "name": self.name,
            "components": {
                kind: {"name": self.component_name(kind), "flavor": c.flavor,
                       "config": dict(c.config)}
                for kind, c in self.components.items()
            },
        }  # fmt: skip


# -- config validation ------------------------------------------------------------------------
def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc)


def is_secret_field(name: str, field: Any) -> bool:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return bool(extra.get("secret")) or name.lower() in SECRET_FIELD_NAMES


def _check_secret_fields(
    config_class: type[ComponentConfig], config: dict[str, Any], where: str
) -> None:
    from kitaru.stack.references import is_secret_reference

    for key, value in config.items():
        field = config_class.model_fields.get(key)
        if field is None or not is_secret_field(key, field):
            continue
        values = value.values() if isinstance(value, dict) else [value]
        for item in values:
            if item in (None, "") or is_secret_reference(item):
                continue
            raise ConfigError(
                f"{where}: {key!r} holds a credential in plain text; only secret references "
                "are stored",
                hint=f"store it with `kitaru secret set NAME {key}=...` and write "
                f"{key}: '{{{{secret:NAME.{key}}}}}'",
            )


def validate_component_config(
    component_type: str, flavor: Flavor, config: dict[str, Any], *, source: str
) -> ComponentConfig:
    """``config`` validated by the flavor's config class; errors name the key and ``source``.

    Values that are secret references are kept as they are (never resolved here); fields that
    hold credentials must be references.
    """
    config_class = flavor.load_config_class()
    where = f"{source}: {component_type} (flavor {flavor.name!r})"
    known = ", ".join(config_class.model_fields) or "none"
    if not isinstance(config, dict):
        raise ConfigError(f"{where}: config must be a mapping of keys to values",
                          hint=f"known keys: {known}")  # fmt: skip
    try:
        validated = config_class.model_validate(config)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _loc(err["loc"]) or "config"
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{where}: unknown config key {key!r}",
                              hint=f"known keys: {known}") from None  # fmt: skip
        if err["type"] == "missing":
            raise ConfigError(f"{where}: config key {key!r} is required",
                              hint=f"known keys: {known}") from None  # fmt: skip
        raise ConfigError(f"{where}: config key {key!r}: {err['msg']}",
                          hint=f"known keys: {known}") from None  # fmt: skip
    _check_secret_fields(config_class, config, where)
    return validated


def find_flavor(component_type: str, flavor: str) -> Flavor:
    from kitaru.plugins.manager import plugin_manager

    return plugin_manager().flavor(component_type, flavor)


# -- the stack in use -------------------------------------------------------------------------
class StackSecrets:
    """How a stack's components resolve ``{{secret:name.key}}``: through the stack's secret
    store, built the first time a reference is resolved. :attr:`spec` says which store that is,
    for units elsewhere that resolve references themselves."""

    def __init__(self, stack: Stack) -> None:
        self._stack = stack

    def __call__(self, reference: str) -> str:
        return self._stack.secret_store.resolve(reference)

    @property
    def spec(self) -> dict[str, Any]:
        """``{"flavor": ..., "config": {...}}`` as the stack spec writes it (references and
        all: never a secret value)."""
        component = self._stack.spec.components.get(SECRET_STORE)  # type: ignore[call-overload]
        if component is None:
            return {"flavor": "local", "config": {}}
        return {"flavor": component.flavor, "config": dict(component.config)}


class Stack:
    """An active stack: components are imported and constructed the first time they are used,
    then cached. Secret references in their configs resolve through :attr:`secret_store`."""

    def __init__(self, spec: StackSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self._components: dict[str, StackComponent] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"<Stack {self.name}>"

    def has(self, component_type: str) -> bool:
        return component_type in self.spec.components

    def component(self, component_type: str) -> StackComponent:
        """The configured component of that type (ConfigError if the stack has none)."""
        cached = self._components.get(component_type)
        if cached is not None:
            return cached
        with self._lock:
            cached = self._components.get(component_type)
            if cached is None:
                cached = self._components[component_type] = self._build(component_type)
            return cached

    def _build(self, component_type: str) -> StackComponent:
        if component_type not in COMPONENT_TYPES:
            raise ConfigError(f"unknown component type {component_type!r}",
                              hint="types: " + ", ".join(COMPONENT_TYPES))  # fmt: skip
        spec = self.spec.components.get(component_type)  # type: ignore[call-overload]
        if spec is None:
            raise ConfigError(
                f"stack {self.name!r} has no {component_type}",
                hint=f"add one with `kitaru stack update {self.name} --{component_type} NAME`",
            )
        name = self.spec.component_name(component_type)
        where = f"stack {self.name!r}"
        try:
            flavor = find_flavor(component_type, spec.flavor)
            config = validate_component_config(component_type, flavor, spec.config, source=where)
            implementation = flavor.load_implementation()
        except ConfigError as exc:
            if exc.message.startswith(where):
                raise
            raise ConfigError(f"{where}, {component_type} {name!r}: {exc.message}",
                              hint=exc.hint) from exc  # fmt: skip
        secrets = None if component_type == SECRET_STORE else StackSecrets(self)
        component: StackComponent = implementation(name, config, secrets=secrets)
        return component

    @property
    def orchestrator(self) -> Orchestrator:
        return self.component(ORCHESTRATOR)  # type: ignore[return-value]

    @property
    def artifact_store(self) -> ArtifactStore:
        return self.component(ARTIFACT_STORE)  # type: ignore[return-value]

    @property
    def secret_store(self) -> SecretStore:
        return self.component(SECRET_STORE)  # type: ignore[return-value]

    @property
    def llm_gateway(self) -> LLMGateway:
        return self.component(LLM_GATEWAY)  # type: ignore[return-value]

    @property
    def container_builder(self) -> ContainerBuilder | None:
        if not self.has(CONTAINER_BUILDER):
            return None
        return self.component(CONTAINER_BUILDER)  # type: ignore[return-value]

    def verify(self) -> list[ComponentCheck]:
        """Check every component: one :class:`ComponentCheck` per component. Each
        component runs its flavor's ``verify()`` and resolves every secret reference of its
        config (:meth:`StackComponent.check`)."""
        results = []
        for kind in COMPONENT_TYPES:
            if not self.has(kind):
                continue
            name = self.spec.component_name(kind)
            try:
                self.component(kind).check()
            except Exception as exc:
                message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
                hint = getattr(exc, "hint", None)
                results.append(ComponentCheck(kind, name, False,
                                              message + (f" ({hint})" if hint else "")))  # fmt: skip
            else:
                results.append(ComponentCheck(kind, name, True, "ok"))
        return results

    def to_dict(self) -> dict[str, Any]:
        return self.spec.to_dict()
