"""What a newcomer trips over (issue "A newcomer's rough edges"): hints that point to the next
command, and missing optional extras named in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.cli.cli_helpers import Flows, Invoke, assert_one_line_error
from tests.cli.test_cli_executions import waiting


def test_retry_of_a_waiting_execution_points_to_resume(flows: Flows, invoke: Invoke) -> None:
    execution_id = waiting(flows)
    result = invoke("executions", "retry", execution_id)
    assert_one_line_error(result, contains=f"execution {execution_id} is waiting, not failed")
    assert f"kitaru executions resume {execution_id}" in result.stderr


def test_retry_of_a_crashed_execution_points_to_resume(flows: Flows, invoke: Invoke) -> None:
    """A crashed execution (its runner died: a dead lease) is resumed, not retried."""
    from kitaru.store import default_store
    from tests.cli.test_cli_executions import status_of

    execution_id = waiting(flows)
    store = default_store()
    pk = store.get_execution(execution_id).pk
    # a runner on this host (a pid that cannot exist) was running it and died
    store.set_status(pk, "running")
    store.acquire_lease(pk, "nohost:1:x", -1, statuses=("running",), set_status=None)
    assert status_of(execution_id) == "crashed"
    result = invoke("executions", "retry", execution_id)
    assert_one_line_error(result, code=4, contains=f"execution {execution_id} is crashed, not "
                          "failed")  # fmt: skip
    assert f"kitaru executions resume {execution_id}" in result.stderr
    assert status_of(execution_id) == "crashed"  # untouched


# A process where importing these modules fails as it does without the extra installed.
BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
sys.meta_path.insert(0, Block())
from kitaru.cli.main import main
sys.argv = ["kitaru", *{argv!r}]
main()
"""

FLOW_FILE = """
from kitaru import flow

@flow
def f() -> int:
    return 1
"""

#: for each of kitaru's extras: the modules blocked, the command that needs them, its env
MISSING: list[tuple[set[str], list[str], str, dict[str, str]]] = [
    ({"uvicorn", "fastapi"}, ["server", "start", "--port", "1"], "server", {}),
    ({"psycopg"}, ["executions", "list"], "postgres",
     {"KITARU_DB_URL": "postgresql://postgres@127.0.0.1:5432/test"}),
    ({"mcp"}, ["mcp"], "mcp", {}),
    # a flow file that uses the PydanticAI adapter
    ({"pydantic_ai"}, ["run", "pa.py:f"], "pydantic-ai", {}),
    # KITARU_OTEL=1: said before the run starts, never a thread's traceback and a hang
    ({"opentelemetry"}, ["run", "f.py:f"], "otel", {"KITARU_OTEL": "1"}),
    ({"croniter"}, ["schedule", "create", "f.py:f", "--cron", "* * * * *"], "schedules", {}),
    # a stack whose LLM gateway is litellm's: its check names the extra
    ({"litellm"}, ["stack", "verify", "llm"], "litellm", {}),
]  # fmt: skip


def _without(blocked: set[str], argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    code = BLOCK.format(blocked=sorted(blocked), argv=argv)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=cwd, stdin=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.parametrize(("blocked", "argv", "extra", "env"), MISSING,
                         ids=[m[2] for m in MISSING])  # fmt: skip
def test_a_missing_extra_is_named_in_one_line(
    blocked: set[str], argv: list[str], extra: str, env: dict[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, invoke: Invoke,
) -> None:  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "f.py").write_text(FLOW_FILE)
    (tmp_path / "pa.py").write_text("import kitaru.adapters.pydantic_ai\n" + FLOW_FILE)
    hint = f"pip install 'kitaru[{extra}]'"
    if extra == "litellm":
        assert invoke("component", "register", "llm_gateway", "gw", "--flavor", "litellm",
                      "--option", "aliases={}").exit_code == 0  # fmt: skip
        assert invoke("stack", "register", "llm", "-o", "local", "-a", "local",
                      "-l", "gw").exit_code == 0  # fmt: skip
        done = _without(blocked, argv, tmp_path)
        assert done.returncode == 1, done.stdout + done.stderr
        (failed,) = [line for line in done.stdout.splitlines() if "FAIL" in line]
        assert "llm_gateway gw (litellm)" in failed and " needs litellm" in failed
        assert failed.endswith(f"({hint})"), failed
        return
    done = _without(blocked, argv, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("error: ") and " needs " in lines[0], done.stderr
    assert lines[1] == f"hint: {hint}"
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    if argv[0] in ("run", "schedule"):  # nothing was started or deployed
        assert "started" not in done.stdout and "deployed" not in done.stdout + done.stderr
        monkeypatch.delenv("KITARU_OTEL", raising=False)
        listed = json.loads(invoke("executions", "list", "-o", "json").stdout)
        assert listed["items"] == []


def test_a_script_tracing_without_the_otel_extra_fails_at_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KITARU_OTEL=1 without kitaru[otel]: `flow.run()` in a script raises the error naming the
    extra (never a runner thread's traceback and a `.wait()` that blocks for ever)."""
    monkeypatch.setenv("KITARU_OTEL", "1")
    script = BLOCK.split("from kitaru.cli.main")[0].format(blocked=["opentelemetry"], argv=[])
    script += (
        FLOW_FILE
        + """
from kitaru.errors import ConfigError
try:
    f.run().wait(timeout=30)
except ConfigError as exc:
    print(exc.message, "|", exc.hint)
"""
    )
    (tmp_path / "traced.py").write_text(script)
    done = subprocess.run([sys.executable, "traced.py"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert done.stdout.strip() == ("KITARU_OTEL is set: this needs opentelemetry, from kitaru's "
                                   "'otel' extra, which is not installed | "
                                   "pip install 'kitaru[otel]'")  # fmt: skip


def test_every_extra_is_tested_and_matches_the_pyproject() -> None:
    """kitaru.imports.EXTRAS (module -> extra) names exactly the extras of kitaru's pyproject,
    each requirement of an extra (installed here: the workspace's dev group has them all)
    provides one of its modules, and the missing-extra test covers every extra."""
    import importlib.metadata
    import re
    import tomllib

    from kitaru.imports import EXTRAS
    from tests.conftest import REPO

    project = tomllib.loads((REPO / "kitaru_core/pyproject.toml").read_text())["project"]
    extras: dict[str, list[str]] = project["optional-dependencies"]
    assert set(EXTRAS.values()) == set(extras)
    assert {m[2] for m in MISSING} == set(extras)
    dists = importlib.metadata.packages_distributions()

    def canonical(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    for extra, requirements in extras.items():
        modules = [m for m, e in EXTRAS.items() if e == extra]
        provided = {canonical(d) for m in modules for d in dists.get(m, [])}
        for requirement in requirements:
            name = canonical(re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0])
            assert name in provided, f"kitaru[{extra}] requires {name}: no module of it in EXTRAS"


def test_show_prints_the_users_traceback_not_kitarus(flows: Flows, invoke: Invoke) -> None:
    from tests.cli.test_cli_executions import failed

    execution_id = failed(flows)
    shown = invoke("executions", "show", execution_id)
    assert shown.exit_code == 0, shown.output
    out = shown.stdout
    assert "traceback of the failure (your code)" in out
    assert f'File "{flows.path}"' in out and "ValueError: draft failed" in out
    assert "kitaru/runtime" not in out and "kitaru/checkpoint.py" not in out
    every = invoke("executions", "show", execution_id, "--traceback").stdout
    assert "draft, attempt 1" in every and every.count(f'File "{flows.path}"') >= 2
    # JSON carries them too: the execution's error and each attempt's
    data = json.loads(invoke("executions", "show", execution_id, "-o", "json").stdout)
    (item,) = data["items"]
    assert str(flows.path) in item["error"]["traceback"]
    assert all(a["traceback"].startswith("Traceback") for a in item["attempts"])
    assert all("\n" not in a["error"] for a in item["attempts"])


REPORT_SCRIPT = """
from pydantic import BaseModel
from kitaru import checkpoint, flow


class Report(BaseModel):
    title: str
    score: int


@checkpoint
def report(n: int) -> Report:
    return Report(title=f"r{n}", score=n)


@flow
def main(n: int) -> Report:
    return report(n)


if __name__ == "__main__":
    print(main.run(n=3).id)
"""


def test_an_artifact_of_a_type_defined_in_a_script_loads(tmp_path: Path) -> None:
    """A pydantic type defined in a ``__main__`` script: loaded by loading the script as a
    worker does; with the script gone, its JSON data with a one-line note (never an internal
    error)."""
    from tests.cli.cli_helpers import kitaru

    script = tmp_path / "report_script.py"
    script.write_text(REPORT_SCRIPT)
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    execution_id = ran.stdout.strip().splitlines()[-1]
    loaded = kitaru("artifacts", "load", execution_id, "report")
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout) == {"title": "r3", "score": 3} and loaded.stderr == ""
    script.rename(tmp_path / "moved.py")
    fallback = kitaru("artifacts", "load", execution_id, "report")
    assert fallback.returncode == 0, fallback.stderr
    assert json.loads(fallback.stdout) == {"title": "r3", "score": 3}
    (note,) = fallback.stderr.strip().splitlines()
    assert note.startswith("note: __main__:Report cannot be loaded here (") and "is gone" in note


@pytest.mark.parametrize(("args", "code"), [
    (["stack", "describe", "nope"], 3),
    (["stack", "use", "nope"], 3),
    (["stack", "register", "x", "--template", "nope"], 3),
    (["executions", "show", "nope"], 3),
    (["component", "describe", "orchestrator", "ghost"], 3),
    (["component", "flavor-options", "orchestrator", "nope"], 3),
    (["component", "register", "orchestrator", "x", "--flavor", "nope"], 3),
    (["run", "nope.py:review"], 3),  # no such file
    (["run", "{path}:nope"], 3),  # no such flow in the file
    (["schedule", "delete", "nope", "--yes"], 3),
    (["run", "{path}:not_a_flow"], 2),
    (["run", "{path}"], 2),  # which of its flows?
    (["executions", "list", "--limit", "x"], 2),
    (["stack", "delete", "local", "--yes"], 4),  # the builtin stack
    (["component", "delete", "orchestrator", "local", "--yes"], 4),
    (["run", "{dir}/broken.py:f"], 1),  # a file that fails to load
])  # fmt: skip
def test_exit_codes_are_the_documented_ones(
    flows: Flows, invoke: Invoke, args: list[str], code: int
) -> None:
    """docs/cli.md: 1 failed, 2 usage, 3 not found, 4 conflict, 5 auth (5: tests/server/
    test_server_auth.py::test_login_logout_and_auth_cli, against a server)."""
    (flows.dir / "broken.py").write_text("raise RuntimeError('boom')\n")
    result = invoke(*(a.format(path=flows.path, dir=flows.dir) for a in args))
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.stderr


def test_the_exit_code_table_is_the_documented_one() -> None:
    from kitaru.errors import AuthError, Conflict, InUse, KitaruError, NotFound, UsageError
    from tests.conftest import REPO

    codes = {KitaruError: 1, UsageError: 2, NotFound: 3, Conflict: 4, InUse: 4, AuthError: 5}
    assert {cls: cls.exit_code for cls in codes} == codes
    table = (REPO / "docs/cli.md").read_text().split("## Exit codes and errors")[1]
    for code, meaning in [(1, "the operation failed"), (2, "usage"), (3, "not found"),
                          (4, "conflict"), (5, "authentication")]:  # fmt: skip
        assert f"| {code} | {meaning}" in table


def test_json_times_are_iso_8601_utc(flows: Flows, invoke: Invoke) -> None:
    """docs/cli.md: times in `-o json` are ISO-8601 UTC strings (never epoch numbers)."""
    import re

    from tests.cli.test_cli_executions import completed

    execution_id = completed(flows)
    created = invoke("schedule", "create", flows.target("review"), "--cron", "0 3 * * *",
                     "--input", '{"topic": "t"}')  # fmt: skip
    assert created.exit_code == 0, created.output
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    times: list[tuple[str, Any]] = []

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, list):
            for v in value:
                walk(v, key)
        elif key.endswith(("_at", "_fire")) or key in ("at", "t", "expires", "deadline"):
            times.append((key, value))
        else:  # a number that looks like a time under another name
            assert not (isinstance(value, float) and value > 1e9), (key, value)

    for args in (["executions", "list"], ["executions", "show", execution_id],
                 ["artifacts", "list", execution_id], ["schedule", "list"],
                 ["schedule", "show", "review"], ["stack", "list"], ["deployments", "list"]):  # fmt: skip
        shown = invoke(*args, "-o", "json")
        assert shown.exit_code == 0, (args, shown.output)
        walk(json.loads(shown.stdout))
    keys = {key for key, _ in times}
    assert {"created_at", "started_at", "ended_at", "next_fire"} <= keys, keys
    bad = [(key, value) for key, value in times if value is not None and not (
        isinstance(value, str) and iso.fullmatch(value))]  # fmt: skip
    assert bad == []


def test_registering_a_taken_name_is_a_conflict(invoke: Invoke, tmp_path: Path) -> None:
    args = ["component", "register", "artifact_store", "data", "--flavor", "local",
            "--option", f"path={tmp_path}"]  # fmt: skip
    assert invoke(*args).exit_code == 0
    taken = invoke(*args)
    assert_one_line_error(taken, code=4, contains="artifact_store 'data' is already registered")


def test_destructive_commands_ask_or_need_yes(
    flows: Flows, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """secret delete, schedule delete, auth api-keys rotate (and stack/component delete, api-keys
    revoke): asked in a terminal, refused without --yes elsewhere."""
    from kitaru.testing import build_component

    build_component("secret_store", "local").set("svc", {"token": "t"})
    created = invoke("schedule", "create", flows.target("review"), "--cron", "0 3 * * *",
                     "--input", '{"topic": "t"}', "--name", "nightly")  # fmt: skip
    assert created.exit_code == 0, created.output
    # not a terminal: refused without --yes, nothing deleted
    refused = invoke("secret", "delete", "svc")
    assert_one_line_error(refused, code=2, contains="refusing to delete secret 'svc' without --yes")
    assert invoke("secret", "get", "svc").exit_code == 0
    refused = invoke("schedule", "delete", "nightly")
    assert_one_line_error(refused, code=2,
                          contains="refusing to delete schedule 'nightly' without --yes")  # fmt: skip
    assert invoke("schedule", "show", "nightly").exit_code == 0
    refused = invoke("auth", "api-keys", "rotate", "k1")  # refused before the server is asked
    assert_one_line_error(refused, code=2, contains="refusing to rotate API key k1 (the old key "
                          "stops working at once) without --yes")  # fmt: skip
    # a terminal: asked; "n" keeps it, "y" deletes it
    monkeypatch.setattr("kitaru.cli.output.interactive", lambda: True)
    kept = invoke("secret", "delete", "svc", input="n\n")
    assert kept.exit_code == 1 and invoke("secret", "get", "svc").exit_code == 0
    gone = invoke("secret", "delete", "svc", input="y\n")
    assert gone.exit_code == 0 and "Delete secret 'svc'?" in gone.output
    assert invoke("secret", "get", "svc").exit_code == 3
    kept = invoke("schedule", "delete", "nightly", input="n\n")
    assert kept.exit_code == 1 and invoke("schedule", "show", "nightly").exit_code == 0
    gone = invoke("schedule", "delete", "nightly", input="y\n")
    assert gone.exit_code == 0 and "Delete schedule 'nightly'?" in gone.output
    assert invoke("schedule", "show", "nightly").exit_code == 3
    kept = invoke("auth", "api-keys", "rotate", "k1", input="n\n")
    assert kept.exit_code == 1 and "Rotate API key k1 (the old key stops working at once)?" in (
        kept.output
    )
    asked = invoke("auth", "api-keys", "rotate", "k1", input="y\n")  # on to the server: none here
    assert asked.exit_code == 1 and "error: not connected to a Kitaru server" in asked.stderr
    # a missing secret or schedule is not found before anything is asked
    assert_one_line_error(invoke("secret", "delete", "svc", "--yes"), code=3)
    assert_one_line_error(invoke("schedule", "delete", "nightly"), code=3)


def test_every_delete_rotate_and_revoke_command_has_yes() -> None:
    """What cannot be undone asks first (`executions cancel` stops a run and is left as is;
    `memory delete` writes a tombstone version: the history keeps the value)."""
    import click

    from kitaru.cli.main import cli

    def walk(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
        ctx = click.Context(group)
        out: list[tuple[str, click.Command]] = []
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                out += walk(command, f"{path} {name}")
            elif command is not None:
                out.append((f"{path} {name}", command))
        return out

    destructive = [(path, command) for path, command in walk(cli, "kitaru")
                   if path.split()[-1] in ("delete", "rotate", "revoke")
                   and path != "kitaru memory delete"]  # fmt: skip
    assert {"kitaru schedule delete", "kitaru auth api-keys rotate"} <= {p for p, _ in destructive}
    missing = [p for p, c in destructive if "yes" not in {param.name for param in c.params}]
    assert missing == []


def test_stack_help_examples_use_what_a_pip_user_has(
    invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`stack register --help` names no file of the repository (stacks/...) and no flavor that
    does not exist; its examples run as written (the file from `kitaru stack export`)."""
    import re

    from tests.conftest import REPO

    shown = invoke("stack", "register", "--help").stdout
    assert "stacks/" not in shown and "vault" not in shown
    reference = (REPO / "docs/cli.md").read_text()
    assert not re.search(r"(?<!docs/)stacks/", reference)
    examples = [line.strip().split("  #")[0].split() for line in shown.splitlines()
                if line.strip().startswith("kitaru stack register ")]  # fmt: skip
    assert len(examples) == 3, shown
    assert invoke("component", "register", "artifact_store", "data", "--flavor", "local",
                  "--option", f"path={tmp_path / 'data'}").exit_code == 0  # fmt: skip
    monkeypatch.chdir(tmp_path)
    (tmp_path / "prod.yaml").write_text(invoke("stack", "export").stdout)
    for argv in examples:
        if "--template" in argv:  # a plugin's, configured from the environment: the builtin one
            argv[argv.index("--template") + 1] = "local"
        done = invoke(*argv[1:])
        assert done.exit_code == 0, (argv, done.output)


def test_shell_completion_offers_stacks_and_execution_ids(flows: Flows, invoke: Invoke) -> None:
    import os

    from tests.cli.test_cli_executions import completed

    for shell in ("bash", "zsh", "fish"):
        script = invoke("completion", shell)
        assert script.exit_code == 0 and "_KITARU_COMPLETE" in script.stdout
    execution_id = completed(flows)

    def complete(words: str) -> list[str]:
        cword = len(words.split()) - (0 if words.endswith(" ") else 1)  # the word completed
        env = {**os.environ, "_KITARU_COMPLETE": "bash_complete", "COMP_WORDS": words,
               "COMP_CWORD": str(cword)}  # fmt: skip
        done = subprocess.run([sys.executable, "-m", "kitaru.cli"], env=env, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return [line.split(",", 1)[1] for line in done.stdout.splitlines()]

    assert "local" in complete("kitaru stack use ")
    assert execution_id in complete("kitaru executions show ")
    assert complete(f"kitaru executions show {execution_id[:6]}") == [execution_id]


def test_server_create_admin_recovers_a_lost_admin_key(invoke: Invoke) -> None:
    from kitaru.server import auth
    from kitaru.store import default_store

    created = invoke("server", "create-admin", "admin2")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    principal = auth.authenticate(default_store(), key)  # type: ignore[arg-type]
    assert (principal.name, principal.role) == ("admin2", "admin")
    assert_one_line_error(invoke("server", "create-admin", "admin2"))  # the name is taken


def _spawn_merged(*args: str) -> tuple[subprocess.Popen[str], Any]:
    """A CLI process whose stderr is read with its stdout."""
    import os

    from tests.cli.cli_helpers import LineReader, kitaru_argv

    proc = subprocess.Popen(kitaru_argv(*args), env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    return proc, LineReader(proc)


@pytest.mark.parametrize("command", [["executions", "wait"], ["executions", "logs", "-f"]])
def test_waiting_on_an_execution_says_how_to_answer_it(
    flows: Flows, invoke: Invoke, command: list[str]
) -> None:
    """`executions wait` and `logs -f` on a waiting execution print the wait and the command
    that answers it, then follow it to the end once it is answered from elsewhere."""
    from tests.cli.test_cli_executions import waiting

    execution_id = waiting(flows)
    proc, lines = _spawn_merged(*command[:2], execution_id, *command[2:])
    try:
        lines.until(lambda line: f"execution {execution_id} is waiting on 'approve_draft'" in line)
        lines.until(lambda line: f"kitaru executions input {execution_id} --value" in line)
        answered = invoke("executions", "input", execution_id, "--value", "true")
        assert answered.exit_code == 0, answered.output
        rest = lines.rest(timeout=60)
        assert proc.wait(timeout=60) == 0, rest
    finally:
        proc.kill()
    if command[1] == "wait":
        assert f"execution {execution_id} completed" in rest, rest


def _readme_script() -> str:
    """The README's "In one screen" script, verbatim."""
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## In one screen") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_a_handle_in_a_terminal_says_what_it_waits_for(tmp_path: Path) -> None:
    """The README's script, run in a real terminal (a pseudo-terminal), blocks in `.wait()` on
    the approval and prints the execution id and the command that answers the wait (once the
    flow has run, sys.stderr is kitaru's capturing tee: it must still say it is a terminal).
    Answered from another process, the script finishes."""
    import os
    import pty
    import re
    import select
    import time

    from tests.cli.cli_helpers import kitaru

    script = tmp_path / "in_one_screen.py"
    script.write_text(_readme_script())
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(script)], stdin=slave, stdout=slave,
                            stderr=slave, cwd=tmp_path, env=dict(os.environ),
                            close_fds=True)  # fmt: skip
    os.close(slave)
    out = b""

    def read_until(pattern: str, timeout: float = 60) -> re.Match[str]:
        nonlocal out
        deadline = time.monotonic() + timeout
        while not (found := re.search(pattern, out.decode(errors="replace"))):
            left = deadline - time.monotonic()
            assert left > 0, f"no {pattern!r} within {timeout}s; got {out!r}"
            if select.select([master], [], [], left)[0]:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the terminal's other end is closed
                    chunk = b""
                assert chunk, f"the script ended before {pattern!r}; got {out!r}"
                out += chunk
        return found

    try:
        said = read_until(r"kitaru: execution (\S+) is waiting on 'approve_draft': Approve draft\?")
        execution_id = said.group(1)
        read_until(
            re.escape(f"kitaru: answer with: kitaru executions input {execution_id} --value")
        )
        answered = kitaru("executions", "input", execution_id, "--value", "true")
        assert answered.returncode == 0, answered.stderr
        assert proc.wait(timeout=60) == 0, out
    finally:
        proc.kill()
        proc.wait()
        os.close(master)
    shown = kitaru("executions", "show", execution_id, "-o", "json")
    assert json.loads(shown.stdout)["items"][0]["status"] == "completed"


def test_a_handle_without_a_terminal_says_nothing(
    flows: Flows, capsys: pytest.CaptureFixture[str]
) -> None:
    """Library use (stderr not a terminal): `.wait()` prints nothing about the wait."""
    handle = flows.module.approval.run(topic="agents")
    with pytest.raises(TimeoutError):
        handle.wait(timeout=0.5)
    assert "waiting on" not in capsys.readouterr().err


def test_the_capturing_tee_answers_for_the_terminal() -> None:
    """kitaru's stdout/stderr tee says what the stream it wraps says."""
    import os

    from kitaru.runtime.logs import _Tee

    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as terminal:
            tee = _Tee(terminal, "stderr")
            assert tee.isatty() and tee.fileno() == slave
            assert tee.encoding == terminal.encoding and tee.writable()
    finally:
        os.close(master)
        os.close(slave)
