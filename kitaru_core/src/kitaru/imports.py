"""Importing an object by its ``module:qualname`` path (flavors' classes, serializers' types)."""

from __future__ import annotations

import importlib
from typing import Any


def import_object(path: str) -> Any:
    """The object at ``module:qualname`` (``qualname`` may be dotted)."""
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj
