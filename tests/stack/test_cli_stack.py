"""``kitaru stack/component/flavor/plugin/secret``: JSON envelopes, tables, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from kitaru.stack.active import active_stack_name
from tests.cli.cli_helpers import Invoke, assert_one_line_error, kitaru
from tests.cli.test_cli_help import HEAVY, imported_modules
from tests.stack.conftest import DEV, write


def dev_file(tmp_path: Path) -> Path:
    return write(tmp_path / "dev.yaml", DEV.format(path=tmp_path / "dev-artifacts"))


def items(invoke: Invoke, *args: str) -> list[dict]:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["command"] == " ".join(a for a in args[:2])
    return data["items"]


@pytest.mark.parametrize("args", [
    ["stack", "--help"], ["stack", "register", "--help"], ["component", "--help"],
    ["component", "register", "--help"], ["flavor", "list", "--help"], ["plugin", "--help"],
    ["secret", "set", "--help"],
])  # fmt: skip
def test_help_is_cheap(args: list[str]) -> None:
    modules, proc = imported_modules(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY or m == "pluggy"
                   or m.startswith("kitaru.stack."))  # fmt: skip
    assert heavy == []


def test_root_help_lists_the_new_commands(invoke: Invoke) -> None:
    out = invoke("--help").stdout
    for command in ("stack", "component", "flavor", "plugin", "secret"):
        assert f"  {command} " in out


def test_register_list_describe_use_export_delete(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("stack", "register", "dev", "--file", str(dev_file(tmp_path)))
    assert result.exit_code == 0, result.output
    assert "registered stack dev" in result.stdout
    stacks = items(invoke, "stack", "list", "-o", "json")
    assert [(s["name"], s["active"], s["builtin"]) for s in stacks] == [
        ("dev", False, False), ("local", True, True)]  # fmt: skip
    assert "*" in invoke("stack", "list").stdout
    (item,) = items(invoke, "stack", "describe", "dev", "-o", "json")
    assert item["components"]["artifact_store"] == {
        "name": "dev", "flavor": "local", "config": {"path": str(tmp_path / "dev-artifacts")}}  # fmt: skip
    assert invoke("stack", "use", "dev").stdout.strip() == "active stack: dev"
    assert active_stack_name() == "dev"
    assert "active, set by the global config" in invoke("stack", "describe").stdout
    exported = invoke("stack", "export").stdout
    assert exported.startswith("name: dev\n")
    write(tmp_path / "exported.yaml", exported)
    again = invoke("stack", "register", "copy", "--file", str(tmp_path / "exported.yaml"),
                   "--output", "json")  # fmt: skip
    assert json.loads(again.stdout)["items"][0]["components"] == item["components"]
    # -o json: the same stack file, as JSON (yaml is the default)
    assert invoke("stack", "export", "-o", "yaml").stdout == exported
    as_json = invoke("stack", "export", "dev", "--output", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == yaml.safe_load(exported)
    write(tmp_path / "exported.json", as_json.stdout)
    from_json = invoke("stack", "register", "copy2", "--file", str(tmp_path / "exported.json"),
                       "--output", "json")  # fmt: skip
    assert json.loads(from_json.stdout)["items"][0]["components"] == item["components"]
    assert invoke("stack", "export", "-o", "toml").exit_code == 2
    assert invoke("stack", "use", "local").exit_code == 0
    result = invoke("stack", "delete", "copy", "--yes")
    assert result.exit_code == 0 and "deleted stack copy" in result.stdout


def test_register_from_flags_and_update(invoke: Invoke, tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = invoke("component", "register", "artifact_store", name, "--flavor", "local",
                        "--option", f"path={tmp_path / name}")  # fmt: skip
        assert result.exit_code == 0, result.output
    result = invoke("stack", "register", "mine", "-o", "local", "-a", "a", "--use")
    assert result.exit_code == 0, result.output
    assert "(now active)" in result.stdout and active_stack_name() == "mine"
    result = invoke("stack", "update", "mine", "-a", "b", "--output", "json")
    assert json.loads(result.stdout)["items"][0]["components"]["artifact_store"]["name"] == "b"
    (comp,) = items(invoke, "component", "describe", "artifact_store", "b", "-o", "json")
    assert comp["used_by"] == ["mine"]
    comps = items(invoke, "component", "list", "--type", "artifact-store", "-o", "json")
    assert [(c["name"], c["builtin"]) for c in comps] == [
        ("a", False),
        ("b", False),
        ("local", True),
    ]
    assert_one_line_error(invoke("component", "delete", "artifact_store", "b"),
                          contains="used by stack(s) mine")  # fmt: skip
    assert invoke("component", "delete", "artifact_store", "a", "--yes").exit_code == 0


def test_component_options_are_typed_and_checked(invoke: Invoke) -> None:
    result = invoke("component", "register", "llm_gateway", "gw", "--flavor", "offline",
                    "--option", 'aliases={"fast": "offline/x"}')  # fmt: skip
    assert result.exit_code == 0, result.output
    (comp,) = items(invoke, "component", "describe", "llm_gateway", "gw", "-o", "json")
    assert comp["config"] == {"aliases": {"fast": "offline/x"}}
    result = invoke("component", "register", "artifact_store", "x", "--flavor", "local",
                    "--option", "pth=/data")  # fmt: skip
    line = assert_one_line_error(result, contains="unknown config key 'pth'")
    assert "hint: known keys: path" in result.stderr
    assert "kitaru component flavor-options artifact_store local" in result.stderr
    assert line
    fields = items(invoke, "component", "flavor-options", "artifact_store", "local", "-o", "json")
    assert [f["name"] for f in fields] == ["path"]
    assert "path" in invoke("component", "flavor-options", "artifact_store", "local").stdout
    assert_one_line_error(invoke("component", "register", "artifact_store", "x", "--flavor",
                                 "local", "--option", "novalue"), contains="not key=value")  # fmt: skip


@pytest.mark.parametrize(("args", "contains", "hint"), [
    (["stack", "use", "unknown"], "stack 'unknown' is not registered", "registered stacks: local"),
    (["stack", "describe", "unknown"], "stack 'unknown' is not registered", "kitaru stack register"),
    (["stack", "delete", "local"], "builtin stack 'local' cannot be deleted", ""),
    (["stack", "register", "x", "-o", "local"], "missing -a/--artifact-store", "--file"),
    (["stack", "register", "x", "--file", "nope.yaml"], "nope.yaml does not exist", ""),
    (["component", "register", "orchestrator", "v", "--flavor", "nimbus"],
     "unknown orchestrator flavor 'nimbus'", "pip install kitaru-nimbus"),
    (["component", "describe", "orchestrator", "ghost"], "no orchestrator named 'ghost'", ""),
    (["stack", "update", "local"], "nothing to update", ""),
    (["secret", "get", "ghost"], "no secret named 'ghost'", "kitaru secret set ghost"),
])  # fmt: skip
def test_one_line_errors(invoke: Invoke, args: list[str], contains: str, hint: str,
                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from kitaru.plugins import known

    # a first-party flavor whose plugin is not installed (every real one is, in this workspace)
    monkeypatch.setitem(known.KNOWN_FLAVORS, "nimbus", "kitaru-nimbus")
    result = invoke(*args)
    assert_one_line_error(result, contains=contains)
    assert hint in result.stderr


def test_use_unknown_leaves_the_active_stack(invoke: Invoke, tmp_path: Path) -> None:
    invoke("stack", "register", "dev", "--file", str(dev_file(tmp_path)), "--use")
    assert_one_line_error(invoke("stack", "use", "unknown"), contains="not registered")
    assert active_stack_name() == "dev"


def test_delete_the_active_stack_is_refused(invoke: Invoke, tmp_path: Path) -> None:
    invoke("stack", "register", "dev", "--file", str(dev_file(tmp_path)), "--use")
    result = invoke("stack", "delete", "dev", "--yes")
    assert_one_line_error(result, contains="stack 'dev' is the active stack")
    assert "hint: switch to another stack first, e.g. `kitaru stack use local`" in result.stderr
    assert items(invoke, "stack", "list", "-o", "json")[0]["name"] == "dev"


def test_file_errors_name_key_file_and_variable(invoke: Invoke, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    bad = write(tmp_path / "bad.yaml", DEV.format(path="${NOT_SET_VAR}"))
    monkeypatch.delenv("NOT_SET_VAR", raising=False)
    line = assert_one_line_error(invoke("stack", "register", "x", "--file", str(bad)))
    assert "NOT_SET_VAR" in line and str(bad) in line
    bad = write(tmp_path / "bad.yaml", DEV.format(path="/x") + "extra: 1\n")
    line = assert_one_line_error(invoke("stack", "register", "x", "--file", str(bad)))
    assert "unknown key 'extra'" in line and str(bad) in line
    bad = write(tmp_path / "bad.yaml", DEV.format(path="/x").replace("path:", "pth:"))
    line = assert_one_line_error(invoke("stack", "register", "x", "--file", str(bad)))
    assert "unknown config key 'pth'" in line and str(bad) in line
    result = invoke("stack", "register", "x", "--file", str(bad), "-o", "local")
    assert_one_line_error(result, contains="--file, --template or component options")


def test_unknown_stack_from_the_environment(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITARU_STACK", "nope")
    result = invoke("stack", "verify")
    line = assert_one_line_error(result, contains="stack 'nope' is not registered")
    assert "KITARU_STACK" in line
    use = invoke("stack", "use", "local")
    assert use.exit_code == 0
    assert "environment variable KITARU_STACK selects 'nope'" in use.stderr


def test_verify_one_line_per_component(invoke: Invoke, tmp_path: Path) -> None:
    result = invoke("stack", "verify")
    assert result.exit_code == 0
    assert [line.split()[:2] for line in result.stdout.splitlines()[1:]] == [
        ["ok", "orchestrator"], ["ok", "artifact_store"], ["ok", "secret_store"],
        ["ok", "llm_gateway"]]  # fmt: skip
    blocker = write(tmp_path / "file", "x")
    invoke("component", "register", "artifact_store", "bad", "--flavor", "local",
           "--option", f"path={blocker}/sub")  # fmt: skip
    invoke("stack", "register", "broken", "-o", "local", "-a", "bad")
    result = invoke("stack", "verify", "broken")
    assert result.exit_code == 1
    (fail,) = [line for line in result.stdout.splitlines() if "FAIL" in line]
    assert "artifact_store bad (local): artifact store 'bad'" in fail and "not writable" in fail
    checks = json.loads(invoke("stack", "verify", "broken", "-o", "json").stdout)["items"]
    assert [c["ok"] for c in checks] == [True, False, True, True]


def test_flavor_and_plugin_lists(invoke: Invoke) -> None:
    flavors = items(invoke, "flavor", "list", "-o", "json")
    assert {(f["type"], f["name"], f["provider"]) for f in flavors} >= {
        ("orchestrator", "local", "kitaru"), ("llm_gateway", "offline", "kitaru")}  # fmt: skip
    only = items(invoke, "flavor", "list", "--type", "llm_gateway", "-o", "json")
    assert {f["type"] for f in only} == {"llm_gateway"}
    assert "description" in invoke("flavor", "list").stdout
    plugins = items(invoke, "plugin", "list", "-o", "json")
    assert plugins[0]["name"] == "kitaru" and plugins[0]["status"] == "loaded"


def test_a_broken_plugin_is_listed_and_breaks_nothing_else(invoke: Invoke) -> None:
    from kitaru.plugins.manager import PluginInfo, plugin_manager

    plugin_manager()._fail(PluginInfo("broken", "kitaru-broken", "1.0"), ImportError("no boto"))
    plugins = {p["name"]: p for p in items(invoke, "plugin", "list", "-o", "json")}
    assert plugins["broken"]["status"] == "failed"
    assert plugins["broken"]["error"] == "ImportError: no boto"
    assert "ImportError: no boto" in invoke("plugin", "list").stdout
    flavors = invoke("flavor", "list")
    assert flavors.exit_code == 0 and "broken" in flavors.stderr
    assert invoke("stack", "list").exit_code == 0


def test_real_process_errors_have_no_traceback(tmp_path: Path) -> None:
    proc = kitaru("stack", "use", "nope", cwd=tmp_path)
    assert_one_line_error(proc, contains="stack 'nope' is not registered")
    proc = kitaru("stack", "list", "-o", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["items"][0]["name"] == "local"


def test_register_from_a_template(invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """``--template``: a stack a plugin offers (``kitaru_stack_templates``), named on the command
    line, its ${ENV} placeholders filled from the environment."""
    listed = invoke("stack", "templates")
    assert listed.exit_code == 0, listed.output
    assert "local" in listed.output and "aws-local" in listed.output  # builtin and kitaru-aws
    result = invoke("stack", "register", "mine", "--template", "local", "--use")
    assert result.exit_code == 0, result.output
    assert "registered stack mine (now active)" in result.output
    # a template with placeholders: unset ones are named, set ones are filled
    failed = invoke("stack", "register", "s3", "--template", "aws-local")
    assert_one_line_error(failed, contains="template 'aws-local': environment variable")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("KITARU_S3_PATH", "s3://bucket/kitaru")
    result = invoke("stack", "register", "s3", "--template", "aws-local", "--output", "json")
    assert result.exit_code == 0, result.output
    assert "s3://bucket/kitaru" in result.output and "eu-west-1" in result.output


def test_templates_say_what_each_is_in_whole_sentences(invoke: Invoke) -> None:
    """`stack templates`: each template's first sentence, never cut off mid-sentence (JSON also
    has its whole leading comment)."""
    data = json.loads(invoke("stack", "templates", "-o", "json").stdout)["items"]
    about = {i["template"]: i["about"] for i in data}
    assert about["local"] == "The default stack: everything on this machine, nothing to configure."
    assert about["aws"] == ("AWS with SageMaker: one training job per execution, from an image "
                            "the `ecr` builder builds (with a Docker engine) and pushes to ECR; "
                            "artifacts in S3, secrets in Secrets Manager.")  # fmt: skip
    for item in data:
        assert item["about"].endswith((".", "!", "?")), item
        assert item["description"].startswith(item["about"]), item
        assert "$schema" not in item["description"], item
        assert "Needs" not in item["description"] and "export " not in item["description"]
    # the table shows the same sentences (wrapped in their column)
    table = invoke("stack", "templates").stdout.splitlines()
    column = table[0].index("about")
    shown: dict[str, str] = {}
    name = ""
    for line in table[2:]:
        name = line[:column].strip() or name
        shown[name] = (shown.get(name, "") + " " + line[column:].strip()).strip()
    assert shown == about


@pytest.mark.parametrize(("args", "contains", "hint"), [
    (["stack", "register", "x", "--template", "nope"], "no stack template 'nope' (installed: ",
     "kitaru stack templates"),
    (["stack", "register", "x", "--template", "nimbus"], "no stack template 'nimbus'",
     "pip install kitaru-nimbus"),
    (["stack", "register", "x", "--template", "local", "--file", "s.yaml"],
     "give one of --file, --template or component options", ""),
])  # fmt: skip
def test_template_errors(invoke: Invoke, args: list[str], contains: str, hint: str,
                         monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    from kitaru.plugins import known

    monkeypatch.setitem(known.KNOWN_FLAVORS, "nimbus", "kitaru-nimbus")  # a plugin not installed
    result = invoke(*args)
    assert_one_line_error(result, contains=contains)
    assert hint in result.stderr
