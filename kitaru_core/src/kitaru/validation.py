"""What every metadata store can hold: the checks names and ids go through at the boundary.

PostgreSQL text cannot contain NUL (0x00), and no store can encode an unpaired surrogate
(``"\\ud800"``) as UTF-8; SQLite would take a NUL. So that both stores accept and refuse the
same names, the SDK, the stores and the server refuse them first with one :class:`UsageError`.
Values (checkpoint outputs, wait input, memory values) are serialized to bytes and may hold
anything; this is for names, ids and other text stored as text. Depends on :mod:`kitaru.errors`
only, so every layer can import it.
"""

from __future__ import annotations

from typing import Any

from kitaru.errors import UsageError

HINT = "names and ids are stored as text: use printable characters (no NUL, valid UTF-8)"


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None if it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8 (an unpaired surrogate)"
    return None


def check_text(value: Any, what: str, *, hint: str | None = None) -> Any:
    """``value`` unchanged if it is None or a string a store can hold as text; else
    UsageError ``<what> <value> contains a NUL character`` (or is not a string at all)."""
    if value is None:
        return value
    if not isinstance(value, str):
        raise UsageError(f"{what} must be a string, not {type(value).__name__}",
                         hint=hint)  # fmt: skip
    problem = text_problem(value)
    if problem is not None:
        shown = value if len(value) <= 60 else value[:57] + "..."
        raise UsageError(f"{what} {shown!r} {problem}", hint=hint or HINT)
    return value


def check_names(**names: Any) -> None:
    """:func:`check_text` for each keyword (None passes), named by the keyword:
    ``check_names(flow=flow, tag=tag)``. One line at the top of a store method."""
    for what, value in names.items():
        check_text(value, what.replace("_", " "))


def check_unicode(value: Any, what: str) -> Any:
    """``value`` unchanged if every string in it (list items, dict keys and values, nested)
    encodes as UTF-8; else UsageError. For values, which may hold a NUL but, once they came
    from JSON, may also hold an unpaired surrogate that nothing can serialize."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"{what} holds text that is not valid UTF-8 (an unpaired "
                                 "surrogate)", hint="send valid Unicode text") from None  # fmt: skip
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return value


def storable(text: str) -> str:
    """Free text (an error message, a captured line) as every store can hold it: a NUL is
    written ``\\x00`` and an unpaired surrogate ``\\ufffd``, so SQLite and PostgreSQL store
    the same thing (PostgreSQL refuses both)."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text
