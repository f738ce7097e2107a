"""``local`` orchestrator: executions run in this machine's processes.

A launch the caller waits for is driven in the calling process (a thread); a detached one
(``--detach``, a wait's input from another process, a recovery) in a worker process started for
it (``python -m kitaru.runtime.worker``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kitaru.components.base import ComponentConfig
from kitaru.components.orchestrator import Capabilities, Launch, Orchestrator

if TYPE_CHECKING:
    from kitaru.components.job_orchestrator import UnitReply
    from kitaru.store.records import Execution


class LocalOrchestratorConfig(ComponentConfig):
    pass


class LocalOrchestrator(Orchestrator):
    capabilities = Capabilities(needs_image=False, isolated_checkpoints=True)

    def launch(self, launch: Launch) -> None:
        if launch.detach:
            launch.in_worker()
        else:
            launch.here()

    def cancel(self, execution_id: str) -> None:
        """Nothing to kill: the worker sees the cancelled status at its next heartbeat."""

    def run_checkpoint(
        self, execution: Execution, checkpoint: str, inputs: list[Any], artifacts: Any
    ) -> UnitReply:
        """Run one isolated checkpoint call as a subprocess of this machine; its reply comes
        through the artifact store, as from every orchestrator's units."""
        import json
        import subprocess
        import sys
        import uuid

        from kitaru.components.job_orchestrator import (
            INPUT_ENV,
            REPLY_KEY_ENV,
            UnitReply,
            read_reply,
            reply_key,
        )
        from kitaru.config import settings

        key = reply_key(f"local-{uuid.uuid4().hex}")
        env = {**settings().child_env(), INPUT_ENV: json.dumps(inputs), REPLY_KEY_ENV: key}
        module = "kitaru.runtime.checkpoint_unit"
        cmd = [sys.executable, "-m", module, execution.id, checkpoint, "-"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                                text=True)  # fmt: skip
        _, err = proc.communicate()
        unit = {"isolated_pid": proc.pid}
        reply = read_reply(artifacts, key, unit)
        if reply is not None:
            return reply
        tail = (err.strip().splitlines() or ["no output"])[-1]
        return UnitReply.failed(f"exit {proc.returncode}: {tail}", unit)

    def status(self, execution_id: str) -> str:
        from kitaru.store import default_store
        from kitaru.store.records import display_status

        return display_status(default_store().get_execution(execution_id), time.time())
