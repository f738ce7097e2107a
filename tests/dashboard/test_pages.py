"""The dashboard's pages over HTTP (no browser): an execution's logs (live tail by offset),
artifacts (preview, download), failed attempts of a retried checkpoint, the LLM-call table;
stacks and plugins (one that failed to load, with its error); moving a deployment's tag; the
cost table. Flows run in this process on the test's own KITARU_HOME; the dashboard is
``kitaru ui``'s application over the same store, signed in with its one-time token."""

from __future__ import annotations

import html
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kitaru import KitaruClient
from kitaru.server.dashboard import render
from tests.dashboard import flows
from tests.plugins.conftest import broken_plugin, on_sys_path, site  # noqa: F401 - fixtures
from tests.plugins.distributions import Distribution


@pytest.fixture
def ui(kitaru_home: Path) -> TestClient:
    """The dashboard over this test's store, signed in (as ``kitaru ui``'s local admin)."""
    from kitaru.server.app import create_app
    from kitaru.server.dashboard.session import TokenGate
    from kitaru.store import default_store

    client = TestClient(create_app(default_store(), gate=TokenGate("tok")))
    assert client.get("/login?token=tok", follow_redirects=False).status_code == 303
    return client


def element(page: str, element_id: str) -> str:
    """The inner HTML of the element with this id (no nesting of the same tag inside)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', page, re.S)
    assert found, f"no #{element_id} in the page"
    return found.group(2)


def text(fragment: str) -> str:
    """What a browser would show of an HTML fragment: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def row(page: str, attribute: str, value: str) -> str:
    """The ``<tr>`` whose ``attribute`` is ``value``."""
    found = re.search(rf'<tr [^>]*{attribute}="{re.escape(value)}"[^>]*>(.*?)</tr>', page, re.S)
    assert found, f"no row {attribute}={value!r}"
    return found.group(1)


def cell(tr: str, cls: str) -> str:
    found = re.search(rf'<td class="{cls}">(.*?)</td>', tr, re.S)
    assert found, f"no cell .{cls} in {tr!r}"
    return text(found.group(1))


def csrf(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]


@pytest.fixture
def inspected(tmp_path: Path) -> str:
    """A completed run of ``flows.inspected`` (logs, artifacts, an LLM call, a retry): its id."""
    assert flows.inspected(topic="ducks", marker=str(tmp_path / "wobbled")).startswith("steady")
    return KitaruClient().executions.list(flow="inspected")[0].id


# -- one execution ------------------------------------------------------------------------------
def test_logs_of_a_finished_execution_from_an_offset_and_no_poller(
    ui: TestClient, inspected: str
) -> None:
    everything = ui.get(f"/executions/{inspected}/logs?offset=0").text
    assert [text(s) for s in re.findall(r'<span class="log stdout">(.*?)\n</span>', everything)
            ] == ["starting ducks", "asked the model", "done"]  # fmt: skip
    rest = ui.get(f"/executions/{inspected}/logs?offset=2").text
    assert "done" in rest and "starting ducks" not in rest and "asked the model" not in rest
    assert "hx-get" not in everything + rest  # completed: nothing more to ask for
    assert "No output" not in everything


def test_an_execution_that_printed_nothing_says_so(ui: TestClient) -> None:
    from kitaru.store import default_store

    ex = default_store().create_execution(flow="quiet", module="m", qualname="q",
                                          source_file=None, root=None, inputs={},
                                          status="completed")  # fmt: skip
    assert "No output: the execution printed nothing." in ui.get(
        f"/executions/{ex.id}/logs?offset=0").text  # fmt: skip


def test_logs_of_a_running_execution_are_tailed_by_offset(ui: TestClient) -> None:
    """The page asks for the lines after the last one it has, while the execution runs."""
    from kitaru.runtime.logs import LogSink
    from kitaru.store import default_store
    from kitaru.store.records import this_host

    store = default_store()
    owner = f"{this_host()}:{os.getpid()}:dashboard-test"
    ex = store.create_execution(flow="tailed", module="m", qualname="q", source_file=None,
                                root=None, inputs={}, status="running",
                                lease=(owner, 3600.0))  # fmt: skip
    sink = LogSink(ex.id)
    sink.write("stdout", None, "line one\nline two\n")
    first = ui.get(f"/executions/{ex.id}/logs?offset=0").text
    assert "line one" in first and "line two" in first
    assert f'hx-get="/executions/{ex.id}/logs?offset=2"' in first
    sink.write("stdout", "step", "line three\n")
    sink.close()
    second = ui.get(f"/executions/{ex.id}/logs?offset=2").text
    assert "line three" in second and "line one" not in second and "line two" not in second
    assert f'hx-get="/executions/{ex.id}/logs?offset=3"' in second
    assert ui.get(f"/executions/{ex.id}/logs?offset=3").text.count('class="log') == 0
    store.release_lease(ex.pk, owner)  # its runner is gone (crashed): the tail stops
    assert "hx-get" not in ui.get(f"/executions/{ex.id}/logs?offset=3").text


def test_artifact_preview_page_and_downloads(ui: TestClient, inspected: str) -> None:
    page = ui.get(f"/executions/{inspected}")
    assert f'href="/executions/{inspected}/artifacts/report"' in page.text
    preview = ui.get(f"/executions/{inspected}/artifacts/report")
    assert preview.status_code == 200
    assert json.loads(text(element(preview.text, "preview"))) == {"topic": "ducks", "pages": 3}
    assert f'href="/executions/{inspected}/download/report"' in preview.text
    blob = ui.get(f"/executions/{inspected}/download/blob")
    assert blob.status_code == 200 and blob.content == flows.BLOB  # the bytes as saved
    assert blob.headers["content-disposition"] == 'attachment; filename="blob.bin"'
    report = ui.get(f"/executions/{inspected}/download/report")
    assert json.loads(report.content) == {"topic": "ducks", "pages": 3}
    assert 'filename="report.json"' in report.headers["content-disposition"]


def test_a_retried_checkpoints_failed_attempt_is_on_the_timeline(
    ui: TestClient, inspected: str
) -> None:
    page = ui.get(f"/executions/{inspected}").text
    timeline = re.search(r'<svg class="timeline".*?</svg>', page, re.S).group(0)  # type: ignore[union-attr]
    marks = re.findall(r'<g class="attempt">.*?<title>(.*?)</title></g>', timeline, re.S)
    assert [html.unescape(m) for m in marks] == [
        "attempt 1 of wobbly failed: RuntimeError: first attempt wobbles"
    ]
    wobbly = row(page, "data-call", "wobbly")
    assert re.search(r"<td>2</td>", wobbly)  # two attempts in the checkpoints table


def test_the_llm_call_table_shows_model_tokens_latency_and_cost(
    ui: TestClient, inspected: str
) -> None:
    calls = {c.call_id: c for c in KitaruClient().executions.get(inspected).llm_calls}
    assert sorted(calls) == ["ask/llm", "title"]
    meta = calls["ask/llm"].metadata
    assert meta["tokens_in"] and meta["tokens_out"] and meta["cost_usd"] > 0
    page = ui.get(f"/executions/{inspected}").text
    tr = row(element(page, "llm-calls"), "data-call", "ask/llm")
    assert cell(tr, "model") == f"fast → {meta['resolved_model']}"
    assert cell(tr, "tokens") == f"{meta['tokens_in']} / {meta['tokens_out']}"
    assert cell(tr, "latency") == render.seconds(meta["latency_s"])
    assert cell(tr, "cost") == render.usd(meta["cost_usd"]) != "$0.000000"


# -- the workspace ------------------------------------------------------------------------------
def test_stacks_show_each_components_name_and_flavor(ui: TestClient) -> None:
    from kitaru.stack.model import StackSpec
    from kitaru.stack.registry import register_stack

    register_stack(StackSpec(name="team", components={
        "orchestrator": {"flavor": "local"},  # inline: named after the stack
        "artifact_store": {"flavor": "local", "config": {"path": "/tmp/team-artifacts"}},
    }))  # fmt: skip
    page = ui.get("/stacks").text
    stacks = element(page, "stacks")
    assert "None" not in text(stacks)
    tags = {
        stack: {m[0]: text(m[1]) for m in re.findall(
            r'<span class="tag" data-type="(\w+)">(.*?)</span>', row(stacks, "data-stack", stack))}
        for stack in ("local", "team")
    }  # fmt: skip
    assert tags["local"] == {
        "orchestrator": "orchestrator: local (local)",
        "artifact_store": "artifact_store: local (local)",
        "secret_store": "secret_store: local (local)",
        "llm_gateway": "llm_gateway: local (offline)",
    }
    assert tags["team"]["orchestrator"] == "orchestrator: team (local)"
    assert tags["team"]["artifact_store"] == "artifact_store: team (local)"


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Plugins loaded again for this test, and again after it (it installs one)."""
    from kitaru.plugins.manager import reset_plugin_manager

    reset_plugin_manager()
    yield
    reset_plugin_manager()


def test_a_plugin_that_failed_to_load_is_listed_with_its_error(
    broken_plugin: Distribution,  # noqa: F811
    on_sys_path: Path,  # noqa: F811
    fresh_plugins: None,
    ui: TestClient,
) -> None:
    page = ui.get("/stacks")
    assert page.status_code == 200  # a broken plugin does not break the page
    broken = row(page.text, "data-plugin", "broken")
    assert 'data-status="failed"' in re.search(r'<tr [^>]*data-plugin="broken"[^>]*>',
                                               page.text).group(0)  # type: ignore[union-attr]  # fmt: skip
    assert "broken-plugin" in broken and ">failed</span>" in broken
    assert cell(broken, "error-text") == "ImportError: boom from broken plugin"
    assert 'data-status="loaded"' in page.text  # the others still load


def test_moving_a_tag_from_the_deployment_page(ui: TestClient) -> None:
    from kitaru.deployments import deploy, resolve

    deploy(flows.replayable)
    deploy(flows.replayable)  # v2 takes the tag "default"
    assert resolve("replayable").version == 2
    page = ui.get("/deployments/replayable").text
    assert '<form method="post" action="/deployments/replayable/tag"' in page
    for tag, version in (("default", 1), ("prod", 2)):
        moved = ui.post("/deployments/replayable/tag", follow_redirects=False,
                        data={"csrf": csrf(page), "tag": tag, "version": str(version)})  # fmt: skip
        assert moved.status_code == 303 and moved.headers["location"] == "/deployments/replayable"
    assert resolve("replayable").version == 1
    assert resolve("replayable", tag="prod").version == 2
    page = ui.get("/deployments/replayable").text
    assert '<span class="tag">default</span>' in row(page, "data-version", "1")
    assert '<span class="tag">default</span>' not in row(page, "data-version", "2")
    assert '<span class="tag">prod</span>' in row(page, "data-version", "2")
    refused = ui.post("/deployments/replayable/tag",
                      data={"csrf": csrf(page), "tag": "no spaces", "version": "2"})  # fmt: skip
    assert refused.status_code == 400 and resolve("replayable").version == 1
    listed = ui.get("/deployments").text
    assert "default → v1" in listed and "prod → v2" in listed


def test_cost_table_per_flow_per_day_counts_a_replays_reused_calls_once(
    tmp_path: Path,
) -> None:
    from kitaru.server.dashboard.pages_workspace import cost_table
    from kitaru.store import default_store

    client = KitaruClient()
    assert flows.inspected(topic="ducks", marker=str(tmp_path / "a"))
    first = client.executions.list(flow="inspected")[0].id
    replay = client.executions.replay(first)
    replay.wait(timeout=30)
    reused = {c.call_id: c.metadata.get("cached_from")
              for c in client.executions.get(replay.id).llm_calls}  # fmt: skip
    assert reused == {"title": first}  # the flow body's call, reused: not made again
    assert flows.inspected(topic="geese and swans", marker=str(tmp_path / "b"))
    older = client.executions.list(flow="inspected")[0].id
    assert flows.replayable(x=1) == 20  # no LLM call: a row with nothing spent
    store = default_store()
    two_days_ago = time.time() - 2 * 86400
    with sqlite3.connect(store.path) as db:  # ``older`` ran two days ago
        db.execute("UPDATE executions SET created_at = ? WHERE id = ?", (two_days_ago, older))

    def usage(execution_id: str) -> tuple[int, int, float]:
        metas = [c.metadata for c in client.executions.get(execution_id).llm_calls]
        assert len(metas) == 2 and not any(m.get("cached_from") for m in metas)
        return (sum(m["tokens_in"] for m in metas), sum(m["tokens_out"] for m in metas),
                sum(m["cost_usd"] for m in metas))  # fmt: skip

    today = time.strftime("%Y-%m-%d")
    before = time.strftime("%Y-%m-%d", time.localtime(two_days_ago))
    (t_in, t_out, cost), (o_in, o_out, o_cost) = usage(first), usage(older)
    assert (t_in, t_out) != (o_in, o_out)  # different prompts: the rows are told apart
    table, truncated = cost_table(store, days=30)
    assert not truncated
    assert table == [
        {"day": today, "flow": "replayable", "executions": 1, "calls": 0, "tokens_in": 0,
         "tokens_out": 0, "cost_usd": 0.0},
        {"day": today, "flow": "inspected", "executions": 2, "calls": 2, "tokens_in": t_in,
         "tokens_out": t_out, "cost_usd": pytest.approx(cost)},
        {"day": before, "flow": "inspected", "executions": 1, "calls": 2, "tokens_in": o_in,
         "tokens_out": o_out, "cost_usd": pytest.approx(o_cost)},
    ]  # fmt: skip
    assert [r["day"] for r in cost_table(store, days=1)[0]] == [today, today]


def test_after_retry_or_resume_the_page_follows_the_execution(
    ui: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Failed and crashed are not live statuses, and a retried or resumed execution stays in
    one until its worker (a process started by the click) takes it: its page must poll anyway,
    or it would show the old status until reloaded."""
    import kitaru
    from kitaru.client import Executions
    from kitaru.store import default_store
    from kitaru.testing.contracts.metadata_store import dead_local_owner

    with pytest.raises(kitaru.ExecutionFailed):
        flows.fails_once(x=2, marker=str(tmp_path / "failed-once"))
    failed = KitaruClient().executions.list(flow="fails_once")[0].id
    loc = flows.crashes_once.location
    crashed = default_store().create_execution(
        flow="crashes_once", module=loc.module, qualname=loc.qualname,
        source_file=loc.source_file, root=loc.root, status="running",
        inputs=flows.crashes_once.inputs_record({"x": 1, "marker": str(tmp_path / "m")}),
        options={"stack": "local", "retries": 0}, lease=(dead_local_owner(), 3600.0),
    ).id  # fmt: skip
    poller = 'hx-get="/executions/{}/changed'
    for eid, status in ((failed, "failed"), (crashed, "crashed")):
        page = ui.get(f"/executions/{eid}").text
        assert f'id="status">{status}<' in page and poller.format(eid) not in page

    launched: list[tuple[str, str]] = []  # the click, with no worker (yet) to take it

    def launch(reason: str) -> Any:
        def call(self: Executions, execution_id: str, **kw: Any) -> Any:
            launched.append((reason, execution_id))
            return SimpleNamespace(id=execution_id)

        return call

    with monkeypatch.context() as patched:
        patched.setattr(Executions, "retry", launch("retry"))
        patched.setattr(Executions, "resume", launch("resume"))
        token = csrf(ui.get(f"/executions/{failed}").text)
        for eid, action in ((failed, "retry"), (crashed, "resume")):
            after = ui.post(f"/executions/{eid}/{action}", data={"csrf": token})
            assert str(after.url).endswith(f"/executions/{eid}")
            assert poller.format(eid) in after.text  # follows it though its status is not live
    assert launched == [("retry", failed), ("resume", crashed)]

    assert KitaruClient().executions.retry(failed).wait(timeout=30) == "4 second time lucky"
    page = ui.get(f"/executions/{failed}").text  # done: nothing more to follow
    assert 'id="status">completed<' in page and poller.format(failed) not in page
