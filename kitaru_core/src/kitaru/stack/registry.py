"""Registered stacks and components, persisted in the metadata store.

A stack links each component type to a registered component by name; components are shared
between stacks. Components written inline in a stack file are registered under their ``name``
(default: the stack's name) and deleted with the stack when no other stack uses them.

The builtin ``local`` stack and its components (each named ``local``) always exist, from the
builtin ``local`` template, unless the user registers one of those names.

Configs are stored as written: ``{{secret:name.key}}`` references, never secret values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kitaru.components.base import COMPONENT_TYPES, REQUIRED_TYPES
from kitaru.errors import AlreadyRegistered, ConfigError, InUse, NotFound, UnknownName
from kitaru.stack.active import DEFAULT_STACK, reset_stack_cache
from kitaru.stack.model import (
    DEFAULT_FLAVORS,
    ComponentSpec,
    StackSpec,
    find_flavor,
    validate_component_config,
)

if TYPE_CHECKING:
    from kitaru.store.base import ComponentRecord, MetadataStore

BUILTIN = DEFAULT_STACK


@dataclass(frozen=True)
class ComponentInfo:
    """A component as ``kitaru component list/describe`` shows it."""

    type: str
    name: str
    flavor: str
    config: dict[str, Any]
    builtin: bool = False
    used_by: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type, "name": self.name, "flavor": self.flavor,
            "config": dict(self.config), "builtin": self.builtin, "used_by": list(self.used_by),
        }  # fmt: skip

    def spec(self) -> ComponentSpec:
        return ComponentSpec(flavor=self.flavor, name=self.name, config=dict(self.config))


def _store() -> MetadataStore:
    from kitaru.store import default_store

    return default_store()


_builtin_cache: dict[str, StackSpec] = {}


def builtin_stack() -> StackSpec:
    """The implicit ``local`` stack, from the builtin plugin's ``local`` template."""
    from kitaru.plugins.manager import plugin_manager
    from kitaru.stack.loader import parse_stack_text

    text = plugin_manager().stack_templates().get(BUILTIN)
    if text is None:
        raise ConfigError("the builtin 'local' stack template is missing",
                          hint="reinstall kitaru")  # fmt: skip
    spec = _builtin_cache.get(text)
    if spec is None:
        spec = _builtin_cache[text] = parse_stack_text(text, source="builtin template 'local'")
    return spec


def _builtin_component(component_type: str, name: str) -> ComponentInfo | None:
    if name != BUILTIN:
        return None
    spec = builtin_stack()
    component = spec.components.get(component_type)  # type: ignore[call-overload]
    if component is None:
        return None
    return ComponentInfo(component_type, BUILTIN, component.flavor, dict(component.config),
                         builtin=True)  # fmt: skip


def _check_type(component_type: str) -> None:
    if component_type not in COMPONENT_TYPES:
        raise ConfigError(f"unknown component type {component_type!r}",
                          hint="types: " + ", ".join(COMPONENT_TYPES))  # fmt: skip


def _info(record: ComponentRecord, used_by: list[str]) -> ComponentInfo:
    return ComponentInfo(record.type, record.name, record.flavor, dict(record.config),
                         used_by=used_by)  # fmt: skip


# -- components -------------------------------------------------------------------------------
def find_component(component_type: str, name: str) -> ComponentInfo | None:
    _check_type(component_type)
    store = _store()
    record = store.get_component(component_type, name)
    if record is not None:
        return _info(record, store.stacks_using_component(component_type, name))
    builtin = _builtin_component(component_type, name)
    if builtin is not None:
        users = store.stacks_using_component(component_type, name)
        return ComponentInfo(builtin.type, builtin.name, builtin.flavor, builtin.config,
                             builtin=True, used_by=users)  # fmt: skip
    return None


def get_component(component_type: str, name: str) -> ComponentInfo:
    found = find_component(component_type, name)
    if found is None:
        names = [c.name for c in list_components(component_type)]
        raise NotFound(
            f"no {component_type} named {name!r}",
            hint=f"registered: {', '.join(names) or 'none'}; register one with "
            f"`kitaru component register {component_type} {name} --flavor FLAVOR`",
        )
    return found


def list_components(component_type: str | None = None) -> list[ComponentInfo]:
    """Registered components plus the builtin ``local`` ones that are not shadowed."""
    if component_type is not None:
        _check_type(component_type)
    store = _store()
    found = {(r.type, r.name): _info(r, store.stacks_using_component(r.type, r.name))
             for r in store.list_components(component_type)}  # fmt: skip
    for kind in COMPONENT_TYPES:
        if component_type in (None, kind) and (kind, BUILTIN) not in found:
            builtin = find_component(kind, BUILTIN)
            if builtin is not None:
                found[(kind, BUILTIN)] = builtin
    return [found[k] for k in sorted(found, key=lambda k: (COMPONENT_TYPES.index(k[0]), k[1]))]


def register_component(
    component_type: str,
    name: str,
    flavor: str,
    config: Mapping[str, Any] | None = None,
    *,
    replace: bool = False,
) -> ComponentInfo:
    """Validate ``config`` against the flavor's config class and register the component."""
    from kitaru.store.base import ComponentRecord

    _check_type(component_type)
    _check_name(name, "component")
    config = dict(config or {})
    source = f"component {name!r}"
    validate_component_config(component_type, find_flavor(component_type, flavor), config,
                              source=source)  # fmt: skip
    store = _store()
    existing = store.get_component(component_type, name)
    if existing is not None and not replace:
        raise AlreadyRegistered(f"{component_type} {name!r} is already registered",
                          hint="pass --replace to change it (stacks using it see the change)")  # fmt: skip
    store.put_component(ComponentRecord(component_type, name, flavor, config))
    return get_component(component_type, name)


def delete_component(
    component_type: str, name: str, *, confirm: Callable[[], None] | None = None
) -> None:
    """Remove a registered component; refused while a stack uses it. ``confirm`` is called
    once the component is known to be deletable (it raises to stop)."""
    _check_type(component_type)
    store = _store()
    if store.get_component(component_type, name) is None and _builtin_component(
        component_type, name
    ):
        raise InUse(f"the builtin {component_type} {name!r} cannot be deleted",
                          hint="it is part of the builtin 'local' stack")  # fmt: skip
    info = find_component(component_type, name)
    if info is not None and info.used_by:
        store.delete_component(component_type, name)  # refuses, naming the stacks
    if confirm is not None and info is not None:
        confirm()
    store.delete_component(component_type, name)


# -- stacks -----------------------------------------------------------------------------------
def _check_name(name: str, what: str) -> None:
    import re

    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", name or ""):
        raise ConfigError(f"invalid {what} name {name!r}",
                          hint="use letters, digits, '.', '_' and '-'")  # fmt: skip


def is_registered(name: str) -> bool:
    return _store().get_stack(name) is not None


def get_stack(name: str) -> StackSpec:
    """The registered stack (or the builtin ``local``); ConfigError naming the ones that exist."""
    record = _store().get_stack(name)
    if record is None:
        if name == BUILTIN:
            return builtin_stack()
        names = ", ".join(s.name for s in list_stacks())
        raise UnknownName(
            f"stack {name!r} is not registered",
            hint=f"registered stacks: {names}; register it with "
            f"`kitaru stack register {name} --file FILE`",
        )
    components = {}
    for kind in sorted(record.components, key=COMPONENT_TYPES.index):
        component = record.components[kind]
        info = find_component(kind, component)
        if info is None:
            raise ConfigError(f"stack {name!r} uses {kind} {component!r}, which is missing",
                              hint=f"`kitaru stack update {name}` with another {kind}")  # fmt: skip
        components[kind] = info.spec()
    return StackSpec(name=record.name, components=components)  # type: ignore[arg-type]


def list_stacks() -> list[StackSpec]:
    """Registered stacks plus the builtin ``local`` one unless a stack took its name."""
    specs = {r.name: get_stack(r.name) for r in _store().list_stacks()}
    if BUILTIN not in specs:
        specs[BUILTIN] = builtin_stack()
    return [specs[n] for n in sorted(specs)]


def _same(info: ComponentInfo, spec: ComponentSpec) -> bool:
    return info.flavor == spec.flavor and dict(info.config) == dict(spec.config)


def register_stack(
    spec: StackSpec, *, replace: bool = False, source: str | None = None
) -> StackSpec:
    """Register ``spec``: validate each component's flavor and config, register its inline
    components, link the stack to them. ``replace`` overwrites a stack of the same name (and
    inline components it owns). A component given by ``name`` and ``flavor`` without config
    refers to the registered component of that name."""
    from kitaru.store.base import ComponentRecord

    _check_name(spec.name, "stack")
    store = _store()
    if store.get_stack(spec.name) is not None and not replace:
        raise AlreadyRegistered(
            f"stack {spec.name!r} is already registered",
            hint=f"change it with `kitaru stack update {spec.name} ...` or register with --replace",
        )
    where = source or f"stack {spec.name!r}"
    links: dict[str, str] = {}
    new: list[ComponentRecord] = []
    for kind, component in spec.components.items():
        name = spec.component_name(kind)
        _check_name(name, "component")
        flavor = find_flavor(kind, component.flavor)
        existing = find_component(kind, name)
        links[kind] = name
        reference = bool(component.name) and not component.config
        if (
            existing is not None
            and existing.flavor == component.flavor
            and (reference or _same(existing, component))
        ):
            continue  # the registered component itself
        validate_component_config(kind, flavor, dict(component.config), source=where)
        if existing is not None:
            others = [s for s in existing.used_by if s != spec.name]
            if others:
                raise AlreadyRegistered(
                    f"{where}: {kind} {name!r} is already registered with another config "
                    f"and used by {', '.join(others)}",
                    hint="give this component another name (name: ...) or change the "
                    "registered one with `kitaru component register --replace`",
                )
            if not existing.builtin and not replace:
                raise AlreadyRegistered(
                    f"{where}: {kind} {name!r} is already registered with another config",
                    hint="give this component another name (name: ...) or pass --replace",
                )
        new.append(ComponentRecord(kind, name, component.flavor, dict(component.config),
                                   owner=spec.name))  # fmt: skip
    store.put_stack(spec.name, links, new)
    _delete_orphans(store, spec.name)
    reset_stack_cache()  # built stacks (and the runtime's answers about them) are stale
    return get_stack(spec.name)


def _delete_orphans(store: MetadataStore, owner: str) -> None:
    """Components ``owner`` registered inline that no stack uses any more (after --replace)."""
    for record in store.list_components():
        if record.owner == owner and not store.stacks_using_component(record.type, record.name):
            store.delete_component(record.type, record.name)


def register_stack_from(
    name: str, components: Mapping[str, str], *, replace: bool = False
) -> StackSpec:
    """Register a stack of already registered components, given as type -> name."""
    specs = {kind: get_component(kind, component).spec() for kind, component in components.items()}
    spec = StackSpec(name=name, components=specs)  # type: ignore[arg-type]
    return register_stack(spec, replace=replace)


def update_stack(
    name: str, components: Mapping[str, str] | None = None, remove: Iterable[str] = ()
) -> StackSpec:
    """Point some of the stack's types at other registered components; ``remove`` drops
    optional ones (``secret_store`` and ``llm_gateway`` fall back to the builtin defaults)."""
    current = get_stack(name)
    if not is_registered(name):
        return register_stack_from(name, _updated_links(current, components or {}, remove))
    links = _updated_links(current, components or {}, remove)
    for kind, component in links.items():
        get_component(kind, component)
    _store().put_stack(name, links)
    reset_stack_cache()  # built stacks (and the runtime's answers about them) are stale
    return get_stack(name)


def _updated_links(
    current: StackSpec, components: Mapping[str, str], remove: Iterable[str]
) -> dict[str, str]:
    links: dict[str, str] = {kind: current.component_name(kind) for kind in current.components}
    for kind in remove:
        _check_type(kind)
        if kind in REQUIRED_TYPES:
            raise ConfigError(f"a stack needs an {kind}; it cannot be removed",
                              hint=f"replace it with --{kind} NAME")  # fmt: skip
        links.pop(kind, None)
        if kind in DEFAULT_FLAVORS:
            links[kind] = BUILTIN
    for kind, component in components.items():
        _check_type(kind)
        links[kind] = component
    return links


def delete_stack(name: str, *, confirm: Callable[[], None] | None = None) -> list[tuple[str, str]]:
    """Unregister a stack (never the active one); returns the inline components deleted
    with it. ``confirm`` is called once the stack is known to be deletable (it raises to
    stop)."""
    from kitaru.stack.active import read_global_config, resolve_active

    if not is_registered(name):
        if name == BUILTIN:
            raise InUse("the builtin stack 'local' cannot be deleted",
                              hint="it exists whenever no stack named 'local' is registered")  # fmt: skip
        get_stack(name)  # raises "not registered" with the list
    try:
        active, origin = resolve_active()
    except ConfigError:
        active, origin = None, ""
    pinned = read_global_config().get("active_stack")
    if name in (active, pinned) and name != BUILTIN:  # deleting a registered "local" is safe
        why = origin if name == active else "the global config (`kitaru stack use`)"
        raise InUse(
            f"stack {name!r} is the active stack (set by {why}); it cannot be deleted",
            hint="switch to another stack first, e.g. `kitaru stack use local`",
        )
    if confirm is not None:
        confirm()
    removed = _store().delete_stack(name)
    reset_stack_cache()  # built stacks (and the runtime's answers about them) are stale
    return removed


def use_stack(name: str) -> StackSpec:
    """Make ``name`` the active stack in the global config (``kitaru stack use``). An unknown
    name is an error and leaves the active stack unchanged."""
    from kitaru.stack.active import GLOBAL_KEY, write_global_config

    spec = get_stack(name)
    write_global_config(**{GLOBAL_KEY: name})
    return spec
