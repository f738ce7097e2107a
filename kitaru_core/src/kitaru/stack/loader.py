"""Stack files: YAML with ``${ENV}`` expanded at load and ``{{secret:name.key}}`` kept as is.

Errors name the file, the key and (when it can be found) the line. Loading checks the file's
shape against :class:`~kitaru.stack.model.StackSpec`; each component's config is checked against
its flavor's config class by :func:`validate_stack` (at register time, so templates of plugins
that are not installed still load).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kitaru.errors import ConfigError, UnknownName
from kitaru.stack.model import StackSpec, find_flavor, validate_component_config

COMPONENT_KEYS = ("flavor", "name", "config")


def load_stack_file(path: str | Path, *, name: str | None = None) -> StackSpec:
    """The stack in a YAML file; ``name`` (e.g. from the command line) overrides the file's."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"stack file {path} does not exist",
                          hint="`kitaru stack export > FILE` writes one; `kitaru stack templates` "
                          "lists ready-made stacks (--template)") from None  # fmt: skip
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read stack file {path}: {type(exc).__name__}: {exc}") from None
    return parse_stack_text(text, source=str(path), name=name)


def load_stack_template(template: str, *, name: str | None = None) -> StackSpec:
    """The stack template ``template`` that an installed plugin offers (``kitaru_stack_templates``);
    ``name`` overrides the template's. ``${ENV}`` placeholders are filled from the environment."""
    from kitaru.plugins.known import install_hint
    from kitaru.plugins.manager import plugin_manager

    templates = plugin_manager().stack_templates()
    if template not in templates:
        known = ", ".join(sorted(templates)) or "none"
        raise UnknownName(f"no stack template {template!r} (installed: {known})",
                          hint=install_hint(template) or "`kitaru stack templates` lists them; "
                          "plugins add theirs")  # fmt: skip
    return parse_stack_text(templates[template], source=f"template {template!r}", name=name)


def parse_stack_text(text: str, *, source: str, name: str | None = None) -> StackSpec:
    """Parse stack YAML; ``source`` names it in errors (a path, or ``template 'local'``)."""
    import yaml

    from kitaru.stack.references import expand_env

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: invalid YAML{where}: {problem}",
                          hint="check the indentation and quoting there") from None  # fmt: skip
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a stack file must be a mapping with name and components",
                          hint="`kitaru stack export` prints a complete stack file")  # fmt: skip
    data = expand_env(data, source=source)
    if name is not None:
        data["name"] = name
    return _validate(data, text, source)


def _validate(data: dict[str, Any], text: str, source: str) -> StackSpec:
    from pydantic import ValidationError

    try:
        return StackSpec.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # an unknown key explains the rest (a misspelt "flavour" also makes "flavor" missing)
        err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
        loc = tuple(p for p in err["loc"] if p != "[key]")
        key = ".".join(str(p) for p in loc)
        line = _line_of(text, loc)
        at = f" (line {line})" if line else ""
        if err["type"] == "extra_forbidden":
            raise ConfigError(f"{source}: unknown key {key!r}{at}",
                              hint=_known_keys(loc)) from None  # fmt: skip
        if "[key]" in err["loc"] and len(loc) == 2 and loc[0] == "components":
            from kitaru.components.base import COMPONENT_TYPES

            raise ConfigError(f"{source}: unknown component type {loc[1]!r}{at}",
                              hint="types: " + ", ".join(COMPONENT_TYPES)) from None  # fmt: skip
        if err["type"] == "missing":
            raise ConfigError(f"{source}: missing key {key!r}",
                              hint="`kitaru stack export` prints a complete stack file") from None  # fmt: skip
        msg = err["msg"].removeprefix("Value error, ")
        label = f" {key!r}" if key else ""
        raise ConfigError(f"{source}:{label}{at} {msg}",
                          hint="`python -m kitaru.stack.schema` prints the format "
                          "(JSON schema)") from None  # fmt: skip


def _known_keys(loc: tuple[Any, ...]) -> str:
    import difflib

    if len(loc) == 1:
        known: tuple[str, ...] = ("name", "components")
    elif len(loc) == 3 and loc[0] == "components":
        known = COMPONENT_KEYS
    else:
        return "`python -m kitaru.stack.schema` prints the format (JSON schema)"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    return f"{guess}known keys here: {', '.join(known)}"


def _line_of(text: str, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the key at ``loc`` in the YAML text, if it can be found."""
    import yaml

    try:
        node: Any = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if not isinstance(node, yaml.MappingNode):
            return line
        for key_node, value_node in node.value:
            if key_node.value == str(part):
                line, node = key_node.start_mark.line + 1, value_node
                break
        else:
            return line
    return line


def validate_stack(spec: StackSpec, *, source: str) -> None:
    """Check every component's flavor is installed and its config valid for that flavor."""
    for kind, component in spec.components.items():
        flavor = find_flavor(kind, component.flavor)
        validate_component_config(kind, flavor, dict(component.config), source=source)


def dump_stack(spec: StackSpec, fmt: str = "yaml") -> str:
    """YAML (or JSON) for ``kitaru stack export``: registers the same stack elsewhere. Secret
    references stay references."""
    components: dict[str, Any] = {}
    for kind, component in spec.components.items():
        entry: dict[str, Any] = {"flavor": component.flavor, "name": spec.component_name(kind)}
        if component.config:
            entry["config"] = dict(component.config)
        components[kind] = entry
    document = {"name": spec.name, "components": components}
    if fmt == "json":
        import json

        return json.dumps(document, indent=2) + "\n"
    import yaml

    return str(yaml.safe_dump(document, sort_keys=False))
