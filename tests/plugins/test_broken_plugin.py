"""A plugin whose module raises at import is recorded and reported; it never breaks unrelated
commands. The plugin is a real distribution with a ``kitaru`` entry point, seen through
PYTHONPATH by subprocesses and through sys.path in this process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kitaru.errors import ConfigError
from kitaru.plugins.manager import PluginInfo, PluginManager
from tests.plugins.distributions import Distribution, write_distribution

BOOM = "ImportError: boom from broken plugin"

FLOW_FILE = """\
from kitaru import checkpoint, flow


@checkpoint
def greet(name: str) -> str:
    return f"hello {name}"


@flow
def hello(name: str) -> str:
    return greet(name)
"""


def python(*args: str, dist: Distribution, cwd: Path | None = None,
           **env: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run([sys.executable, *args], env=dist.env(**env), cwd=cwd,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def by_name(plugins: list[PluginInfo]) -> dict[str, PluginInfo]:
    return {p.name: p for p in plugins}


# -- unrelated commands keep working ------------------------------------------------------------
def test_cli_help_works(broken_plugin: Distribution) -> None:
    out = python("-m", "kitaru.cli", "--help", dist=broken_plugin)
    assert out.returncode == 0, out.stderr
    assert "run" in out.stdout
    assert "Traceback" not in out.stderr


def test_kitaru_run_on_the_local_stack_works(broken_plugin: Distribution, tmp_path: Path) -> None:
    (tmp_path / "hello_flow.py").write_text(FLOW_FILE)
    out = python("-m", "kitaru.cli", "run", "hello_flow.py:hello", "--input", '{"name": "ada"}',
                 dist=broken_plugin, cwd=tmp_path)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.splitlines()[-1]) == "hello ada"
    assert "Traceback" not in out.stderr


def test_flavors_still_list_the_builtin_ones(
    broken_plugin: Distribution, on_sys_path: Path
) -> None:
    flavors = {(f.type, f.name) for f in PluginManager().flavors()}
    assert ("artifact_store", "local") in flavors
    assert ("orchestrator", "local") in flavors


# -- the failure is recorded with the original error --------------------------------------------
def test_plugin_manager_lists_it_as_failed(broken_plugin: Distribution, on_sys_path: Path) -> None:
    info = by_name(PluginManager().plugins())["broken"]
    assert info.status == "failed"
    assert info.distribution == "broken-plugin"
    assert info.version == "0.1"
    assert info.error == BOOM


def test_plugin_manager_in_a_subprocess_lists_it_as_failed(broken_plugin: Distribution) -> None:
    code = ("import json; from kitaru.plugins.manager import PluginManager; "
            "print(json.dumps([p.to_dict() for p in PluginManager().plugins()]))")  # fmt: skip
    out = python("-c", code, dist=broken_plugin)
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    assert plugins["kitaru"]["status"] == "loaded"
    assert plugins["broken"]["status"] == "failed"
    assert plugins["broken"]["error"] == BOOM


def test_strict_plugins_make_it_fatal(
    broken_plugin: Distribution, on_sys_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KITARU_STRICT_PLUGINS", "1")
    with pytest.raises(ConfigError) as info:
        PluginManager()
    assert "broken" in str(info.value)
    assert "boom from broken plugin" in str(info.value)
    assert info.value.hint is not None and "KITARU_STRICT_PLUGINS" in info.value.hint


def test_kitaru_plugins_loads_only_the_named_ones(
    broken_plugin: Distribution, good_plugin: Distribution, on_sys_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.setenv("KITARU_PLUGINS", "good")
    plugins = by_name(PluginManager().plugins())
    assert "broken" not in plugins
    assert plugins["good"].status == "loaded"


def test_a_flavor_of_the_broken_plugin_names_it_and_its_error(
    broken_plugin: Distribution, on_sys_path: Path, kitaru_plugin_manager: PluginManager
) -> None:
    from kitaru.plugins.manager import plugin_manager

    with pytest.raises(ConfigError) as info:
        plugin_manager().flavor("artifact_store", "broken")
    message = str(info.value)
    assert "'broken'" in message and "broken-plugin" in message
    assert "boom from broken plugin" in message
    assert info.value.hint is not None and "kitaru plugin list" in info.value.hint


def test_a_missing_first_party_flavor_says_what_to_install(
    broken_plugin: Distribution, on_sys_path: Path, kitaru_plugin_manager: PluginManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from kitaru.plugins import known
    from kitaru.plugins.manager import plugin_manager

    monkeypatch.setitem(known.KNOWN_FLAVORS, "nimbus", "kitaru-nimbus")  # not installed
    with pytest.raises(ConfigError) as info:
        plugin_manager().flavor("orchestrator", "nimbus")
    assert "nimbus" in str(info.value)
    assert info.value.hint is not None and "pip install kitaru-nimbus" in info.value.hint


# -- other plugins are not affected -------------------------------------------------------------
def test_a_good_plugin_loads_next_to_the_broken_one(
    broken_plugin: Distribution, good_plugin: Distribution, on_sys_path: Path
) -> None:
    manager = PluginManager()
    assert by_name(manager.plugins())["good"].status == "loaded"
    assert by_name(manager.plugins())["good"].hooks == ["kitaru_flavors"]
    good = manager.flavor("artifact_store", "good")
    assert good.provider == "good-plugin"
    assert good.load_implementation().__name__ == "LocalArtifactStore"


def test_a_hook_that_raises_fails_its_plugin_alone(
    faulty_hook_plugin: Distribution, good_plugin: Distribution, on_sys_path: Path
) -> None:
    manager = PluginManager()
    flavors = {(f.type, f.name) for f in manager.flavors()}
    assert {("artifact_store", "local"), ("artifact_store", "good")} <= flavors
    info = by_name(manager.plugins())["faulty"]
    assert info.status == "failed"
    assert info.error == "RuntimeError: faulty hook"


#: imports fine; its only hook, ``kitaru_stack_templates``, raises with a two-line message
TEMPLATES_RAISE = """\
from kitaru.plugins import hookimpl


@hookimpl
def kitaru_stack_templates():
    raise ValueError("no templates today\\n  (second line of the message)")
"""


def test_a_hook_that_raises_is_listed_as_failed_before_anything_calls_it(
    faulty_hook_plugin: Distribution, good_plugin: Distribution, on_sys_path: Path
) -> None:
    plugins = by_name(PluginManager().plugins())  # nothing asked for flavors first
    assert plugins["faulty"].status == "failed"
    assert plugins["faulty"].error == "RuntimeError: faulty hook"
    assert plugins["good"].status == "loaded" and plugins["good"].error is None


def test_any_raising_hook_fails_its_plugin_with_a_one_line_error(
    site: Path, on_sys_path: Path
) -> None:
    dist = write_distribution(site, "templates-plugin", "templates_plugin", TEMPLATES_RAISE,
                              entry_point="templates")  # fmt: skip
    try:
        info = by_name(PluginManager().plugins())["templates"]
    finally:
        dist.forget()
    assert info.status == "failed"
    assert info.error == "ValueError: no templates today; (second line of the message)"


# -- the CLI reports it -------------------------------------------------------------------------
def test_kitaru_flavor_list_works(broken_plugin: Distribution) -> None:
    out = python("-m", "kitaru.cli", "flavor", "list", "-o", "json", dist=broken_plugin)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert "local" in out.stdout


def test_kitaru_plugin_list_shows_the_error(broken_plugin: Distribution) -> None:
    out = python("-m", "kitaru.cli", "plugin", "list", "-o", "json", dist=broken_plugin)
    assert out.returncode == 0, out.stderr
    assert "broken" in out.stdout
    assert "boom from broken plugin" in out.stdout


def test_kitaru_plugin_list_shows_a_raising_hook_as_failed(
    faulty_hook_plugin: Distribution,
) -> None:
    out = python("-m", "kitaru.cli", "plugin", "list", "-o", "json", dist=faulty_hook_plugin)
    assert out.returncode == 0, out.stderr
    faulty = {p["name"]: p for p in json.loads(out.stdout)["items"]}["faulty"]
    assert (faulty["status"], faulty["error"]) == ("failed", "RuntimeError: faulty hook")
    table = python("-m", "kitaru.cli", "plugin", "list", dist=faulty_hook_plugin, COLUMNS="200")
    assert table.returncode == 0, table.stderr
    (row,) = [line for line in table.stdout.splitlines() if "faulty-plugin" in line]
    assert "failed" in row and "RuntimeError: faulty hook" in row
