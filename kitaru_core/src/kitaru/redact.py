"""Secret values this process knows, and masking any piece of them in text before it is stored.

Every value a component resolves from a ``{{secret:name.key}}`` reference
(:meth:`~kitaru.components.base.StackComponent.secret`) is remembered here. Errors, log lines
and LLM call metadata pass through :func:`scrub` before they are stored: any run of 8 or more
characters that also occurs in a known value becomes ``***``. A provider that echoes the middle
of an API key ("Incorrect API key provided: ...f1d0c9a8b7e6...") is masked like the whole key.

A run of 8 or more characters shared with a value covers an 8-character piece of it at every
position, so the 8-character pieces of each value are kept (a value of n characters has n - 7)
and looked up with ``str.find``: the cost of a scrub is a few C-level scans of the text per
piece, and nothing at all while no secret is known.
"""

from __future__ import annotations

import threading
from typing import Any

#: the shortest run of a secret value that is masked (shorter ones are common words and ids)
MIN_PIECE = 8
MASK = "***"

_lock = threading.Lock()
_values: set[str] = set()
_pieces: tuple[str, ...] = ()


def remember(value: str | None) -> None:
    """Add a secret value (values shorter than :data:`MIN_PIECE` cannot be told from text)."""
    global _pieces
    if not value or len(value) < MIN_PIECE or value in _values:
        return
    with _lock:
        if value in _values:
            return
        _values.add(value)
        pieces = set(_pieces)
        pieces.update(value[i : i + MIN_PIECE] for i in range(len(value) - MIN_PIECE + 1))
        _pieces = tuple(sorted(pieces))


def forget_all() -> None:
    """Forget every known value (tests)."""
    global _pieces
    with _lock:
        _values.clear()
        _pieces = ()


def scrub(text: str, *also: str | None) -> str:
    """``text`` with every run of 8+ characters of a known secret value (or of ``also``'s
    values, which need not be remembered) replaced by ``***``."""
    pieces = _pieces
    extra = [v for v in also if v and len(v) >= MIN_PIECE and v not in _values]
    if extra:
        more = {v[i : i + MIN_PIECE] for v in extra for i in range(len(v) - MIN_PIECE + 1)}
        pieces = (*pieces, *more)
    if not pieces or len(text) < MIN_PIECE:
        return text
    covered: list[tuple[int, int]] = []
    for piece in pieces:
        at = text.find(piece)
        while at != -1:
            covered.append((at, at + MIN_PIECE))
            at = text.find(piece, at + 1)
    if not covered:
        return text
    covered.sort()
    out, last = [], 0
    start, end = covered[0]
    for s, e in covered[1:]:
        if s <= end:  # overlapping or adjacent pieces: one run
            end = max(end, e)
            continue
        out += [text[last:start], MASK]
        last, (start, end) = end, (s, e)
    out += [text[last:start], MASK, text[end:]]
    return "".join(out)


def scrub_data(value: Any) -> Any:
    """Every string in ``value`` (dicts, lists and tuples, keys included) scrubbed."""
    if not _pieces:
        return value
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_data(k): scrub_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_data(v) for v in value)
    return value
