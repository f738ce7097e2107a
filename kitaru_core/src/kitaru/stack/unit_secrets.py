"""Inside a unit: resolve the secret environment its orchestrator passed as references.

A job orchestrator never writes a secret value into a unit's spec (which the backend records and
shows): it passes ``KITARU_SECRET_ENV`` (JSON, variable -> ``{{secret:name.key}}``) and
``KITARU_SECRET_STORE`` (JSON, the stack's secret store: flavor and config). The unit, running
with its own identity (a job role, a service account), resolves each reference through that
store and sets the variable for its own process only.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping

from kitaru.components.base import SECRET_STORE
from kitaru.components.job_orchestrator import SECRET_ENV, SECRET_STORE_ENV
from kitaru.components.secret_store import SecretStore
from kitaru.errors import ConfigError, KitaruError


def secret_store_from(spec: dict[str, object]) -> SecretStore:
    """A secret store built from ``{"flavor": ..., "config": {...}}``."""
    from kitaru.stack.model import find_flavor, validate_component_config

    name = str(spec.get("flavor") or "local")
    flavor = find_flavor(SECRET_STORE, name)
    config = spec.get("config") or {}
    validated = validate_component_config(SECRET_STORE, flavor, config,  # type: ignore[arg-type]
                                          source=f"{SECRET_STORE_ENV}")  # fmt: skip
    store: SecretStore = flavor.load_implementation()(f"{name} (unit)", validated)
    return store


def export_secret_environment(environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Resolve ``KITARU_SECRET_ENV`` into ``environ`` (default: this process's environment);
    returns the variables set. Raises a one-line ConfigError naming the variable, the reference
    and the store — never a value."""
    env = os.environ if environ is None else environ
    raw = env.get(SECRET_ENV)
    if not raw:
        return []
    try:
        references = dict(json.loads(raw))
        spec = dict(json.loads(env.get(SECRET_STORE_ENV) or "{}"))
    except (ValueError, TypeError):
        raise ConfigError(f"{SECRET_ENV} / {SECRET_STORE_ENV} are not JSON objects",
                          hint="the orchestrator writes them; do not set them by hand") from None  # fmt: skip
    store = secret_store_from(spec)
    from kitaru.redact import remember

    for variable, reference in sorted(references.items()):
        try:
            value = store.resolve(str(reference))
        except KitaruError as exc:
            raise ConfigError(
                f"this unit cannot resolve {reference} for {variable} through the "
                f"{spec.get('flavor') or 'local'} secret store: {exc.message}",
                hint=exc.hint or "check the secret exists and the unit's identity may read it",
            ) from None
        except Exception as exc:  # the store's own failure (network, permissions)
            raise ConfigError(
                f"this unit cannot resolve {reference} for {variable} through the "
                f"{spec.get('flavor') or 'local'} secret store: {type(exc).__name__}: {exc}",
                hint="check the unit's identity may read the secret, and the store's endpoint",
            ) from None
        remember(value)  # scrubbed from this unit's errors, logs and LLM metadata
        env[variable] = value
    return sorted(references)
