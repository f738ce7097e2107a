"""``python -m kitaru.runtime.worker EXECUTION_ID [STATUS,...]``: resume one execution, detached,
if it is in one of the statuses (default: pending, running, waiting).

Started by whoever stores a wait's input when no live process holds the execution.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from kitaru.errors import Conflict, KitaruError
    from kitaru.runtime.runner import RESUMABLE, claim, drive
    from kitaru.store import default_store

    if len(argv) not in (1, 2):
        print("usage: python -m kitaru.runtime.worker EXECUTION_ID [STATUS,...]", file=sys.stderr)
        return 2
    statuses = tuple(argv[1].split(",")) if len(argv) == 2 else RESUMABLE
    try:
        outcome = drive(claim(default_store(), argv[0], statuses), hold=False)
    except Conflict as exc:  # someone else is on it: nothing to do
        print(f"kitaru worker: {exc}", file=sys.stderr)
        return 0
    except KitaruError as exc:
        print(f"kitaru worker: {exc}", file=sys.stderr)
        note_failure(argv[0], exc)
        return 1
    except Exception as exc:  # a bug, not the user's: still shown where users look
        import traceback

        traceback.print_exc()
        note_failure(argv[0], exc)
        return 1
    if outcome.kind == "lost":  # another runner took it over: this one stopped, recorded nothing
        print(f"kitaru worker: {outcome.error}", file=sys.stderr)
        return getattr(outcome.error, "exit_code", 1)
    print(f"kitaru worker: execution {argv[0]} {outcome.kind}", file=sys.stderr)
    return 0


def note_failure(execution_id: str, exc: Exception) -> None:
    """Leave the reason on the execution, where `kitaru executions show`/`list` and the API
    show it (and `kitaru executions input` reports it) until a resume succeeds."""
    import time

    from kitaru.errors import KitaruError
    from kitaru.runtime.runner import RESUME_ERROR
    from kitaru.store import default_store

    message = str(exc) if isinstance(exc, KitaruError) else f"{type(exc).__name__}: {exc}"
    try:
        store = default_store()
        store.update_metadata(
            store.get_execution(execution_id).pk,
            {RESUME_ERROR: {"message": message, "hint": getattr(exc, "hint", None),
                              "at": time.time()}},
        )  # fmt: skip
    except Exception:
        pass


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
