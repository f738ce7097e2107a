"""Flows against a server: they run in the client's process, their journal lives on the server;
waits answered through the REST API resume them (held or released); a restarted server
recovers executions whose process died. (Generated requests against the API, on both stores:
integration-tests/test_server_schemathesis.py.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.server.conftest import Server, start_server, stop
from tests.server.test_server_auth import http

FLOW = """
import os, sys, signal
from pathlib import Path
import kitaru
from kitaru import checkpoint, flow

MARK = Path(os.environ.get("MARK_DIR", Path(__file__).parent))  # workers on the server
                                                                # do not get our environment

@checkpoint
def research(topic: str) -> str:
    return kitaru.llm(prompt=f"Research: {topic}", model="fast")

@checkpoint
def fragile(brief: str) -> str:
    if os.environ.get("DIE_ONCE") and not (MARK / "died").exists():
        (MARK / "died").touch()
        os.kill(os.getpid(), signal.SIGKILL)   # the process dies in the middle of the run
    return brief.upper()

@flow
def reviewed(topic: str) -> str:
    text = fragile(research(topic))
    ok = kitaru.wait(name="approve", question="Ship it?", schema=bool)
    return text if ok else "rejected"

@flow
def unattended(topic: str) -> str:
    return fragile(research(topic))

if __name__ == "__main__":
    which, mode = (sys.argv[1:] + ["", ""])[:2]
    handle = (reviewed if which == "reviewed" else unattended).run(topic="agents")
    print(handle.id, flush=True)
    if mode == "hold":
        print("RESULT", handle.wait(timeout=120), flush=True)
    else:   # release: leave once it waits; the server must resume it
        import time
        while handle.status not in ("waiting", "completed", "failed"):
            time.sleep(0.02)
"""


def client_process(server: Server, tmp_path: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    script = tmp_path / "reviewed.py"
    script.write_text(FLOW)
    return subprocess.Popen([sys.executable, str(script), *args], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=server.env(MARK_DIR=str(tmp_path), **env))  # fmt: skip


def wait_for_status(server: Server, execution_id: str, *statuses: str, timeout: float = 60) -> dict:
    deadline = time.time() + timeout
    while True:
        status, info = http(server, "GET", f"/api/v1/executions/{execution_id}", server.admin_key)
        if status == 200 and info["status"] in statuses:
            return info  # type: ignore[no-any-return]
        assert time.time() < deadline, info
        time.sleep(0.05)


def test_a_held_wait_answered_through_rest_continues_in_the_client(
    server: Server, tmp_path: Path
) -> None:
    proc = client_process(server, tmp_path, "reviewed", "hold")
    assert proc.stdout is not None
    execution_id = proc.stdout.readline().strip()
    info = wait_for_status(server, execution_id, "waiting")
    assert info["pending_wait"]["question"] == "Ship it?"
    assert info["llm_calls"][0]["metadata"]["resolved_model"] == "offline/echo"
    bad = http(server, "POST", f"/api/v1/executions/{execution_id}/input", server.admin_key,
               {"value": "yes please"})  # fmt: skip
    assert (bad[0] == 400 and bad[1]["error"]["type"] == "WaitInputError") or bad[0] == 400
    assert wait_for_status(server, execution_id, "waiting")
    assert http(server, "POST", f"/api/v1/executions/{execution_id}/input", server.admin_key,
                {"value": True})[0] == 200  # fmt: skip
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "RESULT [OFFLINE ANSWER" in out
    assert wait_for_status(server, execution_id, "completed")["result_preview"]


def test_a_released_wait_answered_through_rest_is_resumed_by_the_server(
    server: Server, tmp_path: Path
) -> None:
    proc = client_process(server, tmp_path, "reviewed", "release")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    execution_id = out.split()[0]
    wait_for_status(server, execution_id, "waiting")
    assert http(server, "POST", f"/api/v1/executions/{execution_id}/input", server.admin_key,
                {"value": False})[0] == 200  # fmt: skip
    info = wait_for_status(server, execution_id, "completed")
    assert info["result_preview"] == "rejected"


def test_a_restarted_server_recovers_executions_whose_process_died(tmp_path: Path) -> None:
    srv = start_server(tmp_path / "home")
    try:
        proc = client_process(srv, tmp_path, "unattended", "hold", DIE_ONCE="1")
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        execution_id = out.split()[0]
        assert wait_for_status(srv, execution_id, "crashed")["checkpoints"][0]["call_id"] == (
            "research"
        )
        stop(srv)
        srv = start_server(tmp_path / "home", admin_key=srv.admin_key)
        info = wait_for_status(srv, execution_id, "completed")
        assert info["result_preview"].startswith("[OFFLINE ANSWER")
        # research completed before the crash: it was not run (nor paid for) again
        assert [c["call_id"] for c in info["llm_calls"]] == ["research/llm"]
        assert "recovering 1 execution(s)" in srv.log.read_text()
    finally:
        stop(srv)


def test_a_running_server_recovers_an_execution_whose_process_died(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No restart: the server sweeps for crashed executions once per lease TTL while it runs
    (a killed client, job or pod), and hands them to their orchestrator."""
    monkeypatch.setenv("KITARU_LEASE_TTL", "1")
    monkeypatch.setenv("KITARU_HEARTBEAT_INTERVAL", "0.2")
    srv = start_server(tmp_path / "home")
    try:
        proc = client_process(srv, tmp_path, "unattended", "hold", DIE_ONCE="1")
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        execution_id = out.split()[0]
        info = wait_for_status(srv, execution_id, "completed")
        assert [c["call_id"] for c in info["llm_calls"]] == ["research/llm"]  # not run again
        assert "recovering 1 execution(s)" in srv.log.read_text()
    finally:
        stop(srv)


def test_artifact_store_option_gives_connected_clients_one_shared_store(tmp_path: Path) -> None:
    shared = tmp_path / "shared-artifacts"
    srv = start_server(tmp_path / "home", artifact_store=str(shared))
    try:
        script = tmp_path / "big.py"
        script.write_text(
            "from kitaru import checkpoint, flow\n"
            "@checkpoint\ndef big(n: int) -> str:\n    return 'x' * n\n"
            "@flow\ndef makes_big(n: int) -> int:\n    return len(big(n))\n"
            "if __name__ == '__main__':\n    print(makes_big(200_000))\n"
        )
        out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=srv.env(),
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0 and out.stdout.strip() == "200000", out.stderr
        blobs = [p for p in shared.rglob("*") if p.is_file()]
        assert len(blobs) == 1 and blobs[0].stat().st_size >= 200_000
    finally:
        stop(srv)


def test_deploy_through_the_server_and_invoke_with_the_printed_curl(
    server: Server, tmp_path: Path
) -> None:
    (tmp_path / "hello.py").write_text(
        "from kitaru import checkpoint, flow\n"
        "@checkpoint\ndef greet(name: str) -> str:\n    return f'hello {name}'\n"
        "@flow\ndef hello(name: str) -> str:\n    return greet(name)\n"
    )
    env = server.env()

    def kitaru(*args: str) -> str:
        out = subprocess.run([sys.executable, "-m", "kitaru.cli", *args], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert "deployed hello v1" in kitaru("deploy", "hello.py:hello")
    command = kitaru("deployments", "curl", "hello").strip()
    assert command.startswith(f"curl -sS -X POST {server.url}/api/v1/deployments/hello/invoke")
    command = command.replace('"..."', '"curl"')
    out = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    answer = json.loads(out.stdout)
    info = wait_for_status(server, answer["id"], "completed")
    assert info["result_preview"] == "hello curl"
    bad = subprocess.run(["bash", "-c", command.replace('"name"', '"nom"')], env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "inputs do not match flow 'hello'" in json.loads(bad.stdout)["error"]["message"]


def test_logs_of_a_connected_run_are_readable_from_another_machine(
    server: Server, tmp_path: Path
) -> None:
    (tmp_path / "chatty.py").write_text(
        "import logging\nfrom kitaru import checkpoint, flow\n"
        "@checkpoint\ndef talk(n: int) -> int:\n"
        "    print(f'line {n}')\n    logging.getLogger('chatty').warning('careful %s', n)\n"
        "    return n\n"
        "@flow\ndef chatty(n: int) -> int:\n    print('flow start')\n    return talk(n)\n"
        "if __name__ == '__main__':\n    h = chatty.run(n=7)\n    h.wait()\n"
        "    print('ID', h.id)\n"
    )
    run = subprocess.run([sys.executable, "chatty.py"], cwd=tmp_path, text=True,
                         env=server.env(KITARU_HOME=str(tmp_path / "laptop")),
                         capture_output=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    execution_id = run.stdout.split("ID ")[-1].strip()
    # "another machine": its own KITARU_HOME, no local log file for this execution
    out = subprocess.run([sys.executable, "-m", "kitaru.cli", "executions", "logs", execution_id],
                         env=server.env(KITARU_HOME=str(tmp_path / "elsewhere")),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "[flow] flow start" in out.stdout
    assert "[talk] line 7" in out.stdout
    assert "[talk] log WARNING chatty: careful 7" in out.stdout
    status, logs = http(server, "GET", f"/api/v1/executions/{execution_id}/logs",
                        server.admin_key)  # fmt: skip
    assert status == 200 and any(r["line"] == "line 7" for r in logs)
