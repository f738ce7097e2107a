"""How Kitaru secret names map to Kubernetes object names (no ``kubernetes`` import).

Kitaru secret names are free text (``llm``, ``My_Key.v2``, ``team/openai``); a Kubernetes Secret's
name must be a DNS-1123 name (lowercase letters, digits and ``-``). So:

- a name that is already a lowercase DNS-1123 label, short enough, keeps its spelling:
  ``llm`` -> ``kitaru-llm`` (easy to find with kubectl, and to name in a ``secretKeyRef``);
- any other name is slugged and made unique by a hash of the exact name:
  ``My_Key.v2`` -> ``kitaru-my-key-v2-<10 hex of sha256("My_Key.v2")>``.

The exact name is kept in the annotation ``kitaru.secret/name`` (listing reads it back), and the
label ``kitaru.secret`` holds it too when it is a valid label value (else the object's name), so
``kubectl get secrets -l kitaru.secret=llm`` finds a secret. A store reads and writes an object
only if its annotation holds the exact name it asked for, so two names can never share one.
"""

from __future__ import annotations

import hashlib
import re

#: the label every Kitaru secret carries; its value is the Kitaru name when a label can hold it
SECRET_LABEL = "kitaru.secret"
#: the exact Kitaru name, whatever its characters
NAME_ANNOTATION = "kitaru.secret/name"
MANAGED_BY = ("app.kubernetes.io/managed-by", "kitaru")
PREFIX = "kitaru-"
#: at most a DNS-1123 label (63): a pod may also mount the Secret as a volume of that name
MAX_NAME = 63
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
#: what a Secret's data keys may hold
_DATA_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_HASH = 10


def object_name(name: str) -> str:
    """The Kubernetes Secret's name for Kitaru secret ``name`` (deterministic)."""
    if _LABEL.match(name) and len(PREFIX) + len(name) <= MAX_NAME:
        return PREFIX + name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH]
    room = MAX_NAME - len(PREFIX) - _HASH - 1
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower())[:room].strip("-")
    return f"{PREFIX}{slug}-{digest}" if slug else f"{PREFIX}{digest}"


def label_value(name: str) -> str:
    """The value of the ``kitaru.secret`` label: the name itself when a label value can hold it."""
    if len(name) <= MAX_NAME and _LABEL_VALUE.match(name):
        return name
    return object_name(name)


def is_data_key(key: str) -> bool:
    """Whether ``key`` can be a key of a Secret's data (letters, digits, ``-``, ``_``, ``.``)."""
    return len(key) <= 253 and bool(_DATA_KEY.match(key))
