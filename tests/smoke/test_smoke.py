"""``kitaru smoke`` in the core: a flow end to end on a stack whose flavors are the builtin ones
(nothing to stand in for), the report, answers and their absence, sampled inputs, secrets set
in the stack's secret store, and the choice of stand-ins through the ``kitaru_standins`` hook —
a cloud flavor nobody stands in for fails the run instead of calling the real service.

The cloud plugins' own stand-ins (moto, the GCS emulator, drongo, Azurite) are tested with
their plugins, end to end through podman and the local registry."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from tests.cli.cli_helpers import kitaru

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "examples" / "review_flow.py"


def local_stack_file(tmp_path: Path, llm: str = "litellm", **secret_store: Any) -> Path:
    """A stack of builtin flavors, its LLM gateway (by default a litellm one, which the run
    swaps for the offline gateway) keyed by a secret reference."""
    path = tmp_path / "ci-stack.yaml"
    path.write_text(yaml.safe_dump({"name": "ci", "components": {
        "orchestrator": {"flavor": "local"},
        "artifact_store": {"flavor": "local", "config": {"path": str(tmp_path / "artifacts")}},
        "secret_store": {"flavor": "local", "config": secret_store},
        "llm_gateway": {"flavor": llm, "config": {
            "credentials": {"openai": "{{secret:llm.api_key}}"}}},
    }}))  # fmt: skip
    return path


def test_the_seed_flow_passes_on_a_stack_file_with_its_wait_answered(
    tmp_path: Path, isolated_kitaru_home: Path
) -> None:
    stack = local_stack_file(tmp_path)
    done = kitaru("smoke", f"{SEED}:review_flow", "--stack", str(stack),
                  "--answer", "approve_draft=true", timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert out.startswith("kitaru smoke review_flow on stack 'ci': passed")
    assert 'inputs not given, sampled: topic="kitaru smoke test"' in out
    assert "llm_gateway" in out and "litellm → offline" in out
    assert "llm.api_key = unused (the LLM gateway answers offline)" in out
    assert "secret_store    local → the run's own folder (KITARU_HOME untouched)" in out
    assert not (isolated_kitaru_home / "secrets.json").exists()
    assert "waits answered: approve_draft" in out and "LLM: 2 call(s)" in out
    assert "result: " in out and "Rejected" not in out


def test_json_output_and_a_registered_stack(isolated_kitaru_home: Path) -> None:
    done = kitaru("smoke", f"{SEED}:review_flow", "--stack", "local", "--input",
                  '{"topic": "CI"}', "--answer", "approve_draft=false", "-o", "json",
                  timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    (report,) = json.loads(done.stdout)["items"]
    assert report["passed"] and report["stack"] == "local" and report["status"] == "completed"
    assert report["result"] == '"Rejected"' and report["inputs_generated"] == {}
    assert {c["type"] for c in report["components"]} >= {"orchestrator", "artifact_store"}
    # an offline gateway already answers here: nothing is swapped, no key is asked for
    (llm,) = [c for c in report["components"] if c["type"] == "llm_gateway"]
    assert llm["stood_in"] == "runs as it is", llm


def test_a_wait_with_no_answer_fails_in_one_line_naming_it(
    tmp_path: Path, isolated_kitaru_home: Path
) -> None:
    done = kitaru("smoke", f"{SEED}:review_flow", "--stack", str(local_stack_file(tmp_path)),
                  timeout=180)  # fmt: skip
    assert done.returncode == 1
    reason = [x for x in done.stdout.splitlines() if x.startswith("  reason:")]
    assert reason == ["  reason: the flow waits on 'approve_draft' and no answer was given "
                      "(hint: kitaru smoke ... --answer approve_draft=JSON)"]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), [
    (("--answer", "approve_draft"), "--answer 'approve_draft' is not NAME=VALUE"),
    (("--answer", "approve_draft=yes"), "--answer approve_draft is not valid JSON"),
    (("--input", "[1]"), "--input must be a JSON object"),
])  # fmt: skip
def test_bad_options_are_one_line_usage_errors(
    args: tuple[str, ...], message: str, isolated_kitaru_home: Path
) -> None:
    done = kitaru("smoke", f"{SEED}:review_flow", "--stack", "local", *args)
    assert done.returncode == 2 and done.stderr.startswith(f"error: {message}"), done.stderr


def test_an_unknown_stack_fails_the_run_with_the_reason(isolated_kitaru_home: Path) -> None:
    done = kitaru("smoke", f"{SEED}:review_flow", "--stack", "nope")
    assert done.returncode == 1 and "reason: stack 'nope'" in done.stdout, done.stdout


def test_the_referenced_secrets_are_set_in_the_stacks_secret_store(
    tmp_path: Path, isolated_kitaru_home: Path
) -> None:
    """With an LLM key the stack's gateway is kept (here the offline flavor, keyed like a
    provider) and its secret is set through the stack's secret store before the flow runs;
    the report says how each secret got its value and never prints one."""
    from kitaru.smoke.run import SmokeOptions, smoke

    secrets = tmp_path / "secrets.json"
    stack = local_stack_file(tmp_path, llm="offline", path=str(secrets))
    report = smoke(f"{SEED}:review_flow", str(stack), SmokeOptions(
        answers={"approve_draft": True}, llm_key="sk-given-0123456789"))  # fmt: skip
    assert report.passed, report.render()
    assert report.secrets == {"llm.api_key": "the LLM key given"}
    assert json.loads(secrets.read_text())["llm"] == {"api_key": "sk-given-0123456789"}
    assert "sk-given" not in report.render() and "sk-given" not in json.dumps(report.to_dict())


# -- the choice of stand-ins ------------------------------------------------------------------
class _Runner:
    def __init__(self) -> None:
        self.polls, self.closed = 0, False

    def poll(self) -> None:
        self.polls += 1

    def problems(self) -> list[str]:
        return []

    def summary(self) -> list[str]:
        return [f"polled {self.polls} time(s)"]

    def close(self) -> None:
        self.closed = True


RUNNER = _Runner()


@contextlib.contextmanager
def start_test_standin(ctx: Any, uses: list[Any]) -> Iterator[Any]:
    """A third-party stand-in: rewrites an endpoint, says so, and lists a limit."""
    from kitaru.components.standins import StoodIn

    assert ctx.server_url.startswith("http://127.0.0.1:") and ctx.workdir.is_dir()
    yield StoodIn(config={u.type: {"path": str(ctx.workdir / "stood-in")} for u in uses},
                  notes={u.type: "a folder of the run's own" for u in uses},
                  limits=["no real latency"], runner=RUNNER)  # fmt: skip


def _test_plugin(with_standin: bool) -> Any:
    from kitaru.components.flavor import Flavor
    from kitaru.components.standins import StandIn
    from kitaru.plugins import hookimpl

    class Plugin:
        @hookimpl
        def kitaru_flavors(self) -> list[Flavor]:
            return [Flavor(name="elsewhere", type="artifact_store",
                           config_class="kitaru.builtin.local_artifact_store:LocalArtifactStoreConfig",
                           implementation="kitaru.builtin.local_artifact_store:LocalArtifactStore")]  # fmt: skip

        if with_standin:

            @hookimpl
            def kitaru_standins(self) -> list[StandIn]:
                return [StandIn("test folder", (("artifact_store", "elsewhere"),),
                                f"{__name__}:start_test_standin")]  # fmt: skip

    return Plugin()


def _register(pm: Any, with_standin: bool) -> None:
    from kitaru.plugins.manager import PluginInfo

    pm._register(_test_plugin(with_standin), PluginInfo("elsewhere", "kitaru-elsewhere", "1"))


def _spec() -> Any:
    from kitaru.stack.model import StackSpec

    return StackSpec.model_validate({"name": "ci", "components": {
        "orchestrator": {"flavor": "local"},
        "artifact_store": {"flavor": "elsewhere", "config": {"path": "/nowhere"}}}})  # fmt: skip


def test_a_flavor_nobody_stands_in_for_fails_naming_it_and_its_plugin(
    kitaru_plugin_manager: Any,
) -> None:
    from kitaru.errors import ConfigError
    from kitaru.smoke.run import standins_for

    _register(kitaru_plugin_manager, with_standin=False)
    with pytest.raises(ConfigError) as err:
        standins_for(_spec())
    assert str(err.value) == ("nothing stands in for artifact_store flavor 'elsewhere' (from "
                              "kitaru-elsewhere): a smoke run never calls the real service")  # fmt: skip


def test_a_third_party_standin_is_found_through_the_hook_and_started(
    kitaru_plugin_manager: Any,
) -> None:
    from kitaru.smoke.run import _rewrite, standins_for

    _register(kitaru_plugin_manager, with_standin=True)
    groups = standins_for(_spec())
    ((standin, uses),) = groups.items()
    assert standin.provider == "kitaru-elsewhere" and [u.type for u in uses] == ["artifact_store"]
    ctx = SimpleNamespace(server_url="http://127.0.0.1:1", workdir=Path("/tmp"))
    with standin.load()(ctx, uses) as stood:  # type: ignore[arg-type]
        rewritten = _rewrite(_spec(), [stood], "http://127.0.0.1:1", None, Path("/tmp"))
    assert rewritten.components["artifact_store"].config == {"path": "/tmp/stood-in"}
    assert rewritten.components["orchestrator"].config == {}  # local: no server_url to set
    assert stood.limits == ["no real latency"]


def test_the_kitaru_smoke_fixture_runs_a_flow_on_a_stack_in_a_users_test(
    kitaru_smoke: Any, tmp_path: Path, isolated_kitaru_home: Path
) -> None:
    """What docs/ci.md shows a user's own test suite doing (the pytest plugin comes with
    kitaru)."""
    report = kitaru_smoke(f"{SEED}:review_flow", str(local_stack_file(tmp_path)),
                          inputs={"topic": "durable agents"}, answers={"approve_draft": True})  # fmt: skip
    assert report.passed, report.render()
    assert report.waits_answered == ["approve_draft"] and report.inputs_generated == {}


def _processes_with_home_under(prefix: str) -> list[int]:
    """Pids of processes whose KITARU_HOME lies under ``prefix`` (the run's own server)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(v.startswith(f"KITARU_HOME={prefix}".encode()) for v in environ):
            found.append(int(entry.name))
    return found


def test_a_terminated_smoke_run_stops_its_server(
    tmp_path: Path, isolated_kitaru_home: Path
) -> None:
    """A cancelled CI job SIGTERMs ``kitaru smoke``: the run's own server goes with it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import subprocess_env

    flow = tmp_path / "slow.py"
    flow.write_text("import time\nfrom kitaru import flow\n\n\n@flow\ndef slow() -> int:\n"
                    "    time.sleep(60)\n    return 1\n")  # fmt: skip
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = subprocess_env(TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, "-m", "kitaru.cli", "smoke", f"{flow}:slow",
                             "--stack", str(local_stack_file(tmp_path))], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while not _processes_with_home_under(str(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with_home_under(str(tmp)), "the run's server never started"
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    deadline = time.monotonic() + 20
    while _processes_with_home_under(str(tmp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _processes_with_home_under(str(tmp)) == []
