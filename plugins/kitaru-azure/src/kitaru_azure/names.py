"""Kitaru secret names as Key Vault secret names, and back.

Key Vault secret names hold letters, digits and ``-`` only (1-127 characters) and compare
case-insensitively (``LLM`` and ``llm`` are one secret). Kitaru names may hold ``_``, ``.``
and capitals, so a name is encoded: lowercase letters and digits stay as they are; every other
character — ``-`` itself and capitals included — becomes ``-`` and its code point in two
lowercase hex digits (``_`` -> ``-5f``, ``-`` -> ``-2d``, ``A`` -> ``-41``), or ``--`` and
six hex digits beyond U+00FF. The encoding is lowercase, so Key Vault's case-insensitivity
cannot merge two names, and each ``-`` starts an escape, so decoding is unambiguous::

    llm -> llm    kitaru-server -> kitaru-2dserver    OpenAI_Key -> -4fpen-41-49-5f-4bey
"""

from __future__ import annotations

import re

#: Key Vault's limit on a secret name
MAX_LENGTH = 127
_PLAIN = re.compile(r"[a-z0-9]")
_ESCAPE = re.compile(r"--([0-9a-f]{6})|-([0-9a-f]{2})|([a-z0-9])")


def encode(name: str) -> str:
    """``name`` as a Key Vault secret name (without the store's prefix)."""
    out = []
    for char in name:
        code = ord(char)
        if _PLAIN.fullmatch(char):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"-{code:02x}")
        else:
            out.append(f"--{code:06x}")
    return "".join(out)


def decode(encoded: str) -> str | None:
    """The Kitaru name ``encoded`` stands for; None if it is not an encoding (a secret
    someone else wrote under the prefix). Key Vault may return the name in another case."""
    text = encoded.lower()
    out, at = [], 0
    while at < len(text):
        found = _ESCAPE.match(text, at)
        if found is None:
            return None
        wide, byte, plain = found.groups()
        out.append(plain or chr(int(wide or byte, 16)))
        at = found.end()
    decoded = "".join(out)
    return decoded if decoded and encode(decoded) == text else None
