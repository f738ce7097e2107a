"""``local`` orchestrator: executions run in this machine's processes.

``run`` drives the execution in a thread of the calling process; ``resume`` starts a detached
worker process (``python -m kitaru.runtime.worker``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from kitaru.components.base import ComponentConfig
from kitaru.components.orchestrator import Capabilities, Orchestrator

if TYPE_CHECKING:
    from kitaru.flow import Flow
    from kitaru.handle import FlowHandle


class LocalOrchestratorConfig(ComponentConfig):
    pass


class LocalOrchestrator(Orchestrator):
    capabilities = Capabilities(needs_image=False, isolated_checkpoints=True)

    def run(self, flow: Flow[Any], arguments: dict[str, Any]) -> FlowHandle[Any]:
        from kitaru.runtime.runner import start

        return start(flow, arguments)

    def resume(self, execution_id: str) -> None:
        from kitaru.runtime.runner import launch_worker
        from kitaru.store import default_store

        launch_worker(default_store().get_execution(execution_id))

    def cancel(self, execution_id: str) -> None:
        """Nothing to kill: the worker sees the cancelled status at its next heartbeat."""

    def run_checkpoint(
        self, execution_id: str, checkpoint: str, inputs: list[Any]
    ) -> dict[str, Any]:
        """Run one isolated checkpoint call as a subprocess of this machine."""
        import json
        import subprocess
        import sys

        from kitaru.config import settings

        cmd = [sys.executable, "-m", "kitaru.runtime.isolated", execution_id, checkpoint,
               json.dumps(inputs)]  # fmt: skip
        env = settings().child_env()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                text=True)  # fmt: skip
        out, err = proc.communicate()
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if proc.returncode != 0 or not lines:
            tail = (err.strip().splitlines() or ["no output"])[-1]
            return {"error": ["IsolatedUnitFailed", f"exit {proc.returncode}: {tail}"]}
        reply: dict[str, Any] = json.loads(lines[-1])
        reply["unit"] = {"isolated_pid": proc.pid}
        return reply

    def status(self, execution_id: str) -> str:
        from kitaru.store import default_store
        from kitaru.store.records import display_status

        return display_status(default_store().get_execution(execution_id), time.time())
