"""``kitaru serve``: invocations, answered waits, timed-out waits and crashed executions all run
in the serving process itself (warm: no worker process is started)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from kitaru.testing.services import wait_until_serving
from tests.conftest import subprocess_env
from tests.server.conftest import Server, free_port
from tests.server.test_server_auth import http
from tests.server.test_server_flows import wait_for_status

FLOWS = """
import os, signal
from pathlib import Path
import kitaru
from kitaru import checkpoint, flow

@checkpoint
def where(topic: str) -> int:
    marker = Path(os.environ["KITARU_HOME"]) / f"die-{topic}"
    if marker.exists():          # a client asked to die mid-run
        marker.unlink()
        os.kill(os.getpid(), signal.SIGKILL)
    return os.getpid()

@flow
def review(topic: str) -> dict:
    pid = where(topic)
    ok = kitaru.wait(name="ok", question="Ship it?", schema=bool)
    return {"pid": pid, "ok": ok, "resumed_in": os.getpid()}

@flow
def timed(topic: str) -> bool:
    return kitaru.wait(name="maybe", schema=bool, timeout=1.0, default=False)

@flow
def plain(topic: str) -> int:
    return where(topic)
"""


def start_serve(home: Path, code: Path) -> tuple[Server, int]:
    port = free_port()
    log = home.parent / "serve.log"
    env = subprocess_env(KITARU_HOME=str(home))
    for name in ("KITARU_SERVER_URL", "KITARU_API_KEY"):
        env.pop(name, None)
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kitaru.cli", "serve", f"{code}:review", f"{code}:timed",
             f"{code}:plain", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    assert wait_until_serving(url + "/health", proc, 60), log.read_text()
    keys = re.findall(r"kitaru_[0-9a-f]+_\S+", log.read_text())
    return Server(url, keys[0] if keys else "", home, proc, log), proc.pid


def test_serve_runs_invocations_waits_timeouts_and_recoveries_in_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    code = tmp_path / "flows.py"
    code.write_text(FLOWS)
    srv, pid = start_serve(home, code)
    try:
        log = srv.log.read_text()
        assert "deployed review v1" in log and "deployed timed v1" in log
        status, answer = http(srv, "POST", "/api/v1/deployments/review/invoke", srv.admin_key,
                              {"inputs": {"topic": "agents"}})  # fmt: skip
        assert status == 200, answer
        info = wait_for_status(srv, answer["id"], "waiting")
        assert info["pending_wait"]["question"] == "Ship it?"
        assert http(srv, "POST", f"/api/v1/executions/{answer['id']}/input", srv.admin_key,
                    {"value": True})[0] == 200  # fmt: skip
        done = wait_for_status(srv, answer["id"], "completed")
        assert f'"pid":{pid},' in done["result_preview"]  # ran in the serving process...
        assert f'"resumed_in":{pid}' in done["result_preview"]  # ...and resumed there
        assert not list(home.glob("logs/worker-*.log"))  # no worker process was started

        # a wait whose timeout passes while nobody holds it: serve resumes it with the default
        status, timed = http(srv, "POST", "/api/v1/deployments/timed/invoke", srv.admin_key,
                             {"inputs": {"topic": "t"}})  # fmt: skip
        assert status == 200
        done = wait_for_status(srv, timed["id"], "completed", timeout=30)
        assert done["result_preview"] == "false" and done["waits"][0]["timed_out"]
    finally:
        srv.process.terminate()
        srv.process.wait(10)

    # an execution whose process died: a restarted serve finishes it
    (home / "die-crash").touch()
    crashed = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(tmp_path)!r}); "
         "import flows; flows.plain.run(topic='crash').wait()"],
        env=subprocess_env(KITARU_HOME=str(home)), capture_output=True, timeout=60,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL
    srv, pid = start_serve(home, code)
    try:
        from kitaru.store.sqlite import SQLiteStore

        store = SQLiteStore(home / "kitaru.db")
        crashed_id = next(e.id for e in store.list_executions(flow="plain"))
        srv.admin_key = srv.admin_key or _admin_key(srv)
        done = wait_for_status(srv, crashed_id, "completed")
        assert done["result_preview"] == str(pid)
        store.close()
    finally:
        srv.process.terminate()
        srv.process.wait(10)
    assert os.path.exists(home / "kitaru.db")


def _admin_key(srv: Server) -> str:
    keys = re.findall(r"kitaru_[0-9a-f]+_\S+", (srv.home.parent / "serve.log").read_text())
    return keys[0]
