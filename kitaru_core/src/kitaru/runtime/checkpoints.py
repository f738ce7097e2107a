"""Checkpoints by name, as ``@checkpoint`` defines them in this process (the isolated unit
finds its body here; replay validates an override against its return annotation)."""

from __future__ import annotations

from typing import Any

registry: dict[str, Any] = {}
