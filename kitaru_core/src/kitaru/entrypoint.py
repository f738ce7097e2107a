"""``python -m kitaru.entrypoint``: what every remote orchestrator runs inside its image.

    python -m kitaru.entrypoint run EXECUTION_ID          # drive a created (pending) execution
    python -m kitaru.entrypoint resume EXECUTION_ID       # continue a crashed/waiting one
    python -m kitaru.entrypoint retry EXECUTION_ID        # run a failed one again in place
    python -m kitaru.entrypoint checkpoint EXECUTION_ID CHECKPOINT INPUT_JSON
                                                          # one runtime="isolated" call

The process reaches the control plane like any connected process: ``KITARU_SERVER_URL`` and
``KITARU_API_KEY``, or ``KITARU_DB_URL``. Secrets come as references: ``KITARU_SECRET_ENV``
(variable -> ``{{secret:name.key}}``, the API key among them) is resolved first, through the
secret store ``KITARU_SECRET_STORE`` names, with the unit's own identity. It waits
up to ``KITARU_CONNECT_TIMEOUT`` (60 s here, 5 s elsewhere) for an unreachable server. The
flow's code is imported from where the execution recorded it; inside an image the project sits
elsewhere, so ``KITARU_CODE_MAP="/home/me/proj=/app"`` maps recorded paths (prefix, comma
separated for several). Exit code 0: the execution ran to completion, failure or a wait (its
status says which); 1: it could not be run (the reason is left on the execution); 2: usage.
"""

from __future__ import annotations

import sys

USAGE = __doc__.split("\n\n")[1] if __doc__ else ""


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "resume", "retry", "checkpoint"):
        print("usage:\n" + USAGE, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    # A unit may start while its server restarts: wait for it rather than fail at once.
    import os

    os.environ.setdefault("KITARU_CONNECT_TIMEOUT", "60")
    from kitaru.errors import KitaruError
    from kitaru.stack.unit_secrets import export_secret_environment

    try:
        export_secret_environment()
    except KitaruError as exc:  # before the server is reachable: the backend keeps this line
        print(f"kitaru: {exc.message}" + (f" (hint: {exc.hint})" if exc.hint else ""),
              file=sys.stderr)  # fmt: skip
        return 1
    if command == "checkpoint":
        if len(rest) != 3:
            print("usage: python -m kitaru.entrypoint checkpoint ID CHECKPOINT INPUT_JSON",
                  file=sys.stderr)  # fmt: skip
            return 2
        from kitaru.runtime.checkpoint_unit import main as isolated

        return isolated(rest)
    if len(rest) != 1:
        print(f"usage: python -m kitaru.entrypoint {command} EXECUTION_ID", file=sys.stderr)
        return 2
    from kitaru.runtime.runner import RESUMABLE
    from kitaru.runtime.worker import main as worker

    statuses = {"run": ("pending",), "retry": ("failed",)}.get(command, RESUMABLE)
    return worker([rest[0], ",".join(statuses)])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
