"""The dashboard in a real browser (Debian's chromium via Playwright) against a real server:
the seed flow answered through its generated form, replay with an override, abort and cancel,
parallel lanes, a failed checkpoint's traceback; one screenshot per view."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.dashboard.conftest import cli, show, start, until_status
from tests.server.conftest import Server

FLOWS = "tests/dashboard/flows.py"


def _open(page: Any, server: Server, execution_id: str) -> None:
    page.goto(f"{server.url}/executions/{execution_id}")


def test_seed_flow_listed_waiting_answered_in_the_form_then_completed(
    page: Any, server: Server, shots: Any
) -> None:
    from playwright.sync_api import expect

    eid = start(server, "examples/review_flow.py:review_flow", {"topic": "Durable agents"})
    until_status(server, eid, "waiting")
    page.goto(server.url + "/?status=waiting")
    row = page.locator(f'tr[data-id="{eid}"]')
    expect(row).to_have_attribute("data-status", "waiting")
    expect(page.locator('#counts [data-status="waiting"]')).to_contain_text("1")
    shots(page, "executions")
    row.locator("a").first.click()
    expect(page.locator("#question")).to_have_text("Approve draft?")
    shots(page, "execution-waiting")
    page.get_by_label("true").check()
    page.click("#answer")
    # the page follows the execution as it resumes, until it completes
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    assert page.locator("svg.timeline g.bar").count() >= 3  # research, draft, the wait
    for call in ("research", "draft"):
        cost = page.locator(f'#checkpoints tr[data-call="{call}"] td.cost').inner_text()
        assert cost.startswith("$") and float(cost[1:]) > 0, (call, cost)
    assert page.locator('svg.chart g.row[data-label="research"]').count() == 1
    expect(page.locator("#result")).to_contain_text("offline answer")
    shots(page, "execution-completed")
    assert show(server, eid)["status"] == "completed"


def test_a_schema_form_validates_before_submit(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    eid = start(server, f"{FLOWS}:asks", {"topic": "refunds"})
    until_status(server, eid, "waiting")
    _open(page, server, eid)
    page.select_option("#f-value\\.mode", label="careful")
    page.fill("#f-value\\.retries", "9")  # maximum 5: the browser refuses to send it
    page.click("#answer")
    message = page.eval_on_selector("#f-value\\.retries", "e => e.validationMessage")
    assert message and show(server, eid)["status"] == "waiting"
    page.fill("#f-value\\.retries", "2")
    page.click("#answer")
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    assert "mode='careful' retries=2" in (show(server, eid)["result_preview"] or "")


def test_replay_with_an_override_reruns_only_the_changed_consumers(
    page: Any, server: Server, shots: Any
) -> None:
    from playwright.sync_api import expect

    eid = start(server, f"{FLOWS}:replayable", {"x": 1})
    until_status(server, eid, "completed")
    _open(page, server, eid)
    page.click("#replay")
    page.fill("#cp-source", "41")
    shots(page, "replay-form")
    page.click("#start-replay")
    expect(page.locator("#replay-of")).to_have_text(eid)
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    new = page.url.rstrip("/").rsplit("/", 1)[1]
    calls = {c["call_id"]: c["metadata"] for c in show(server, new)["checkpoints"]}
    assert calls["source"].get("overridden")  # the override, not a run
    assert calls["bystander"].get("cached_from") == eid  # unchanged input: reused
    assert not calls["consumer"].get("cached_from")  # its input changed: ran again
    assert "410" in (show(server, new)["result_preview"] or "")
    page.goto(f"{server.url}/diff?a={eid}&b={new}")
    expect(page.locator('#diff tr[data-call="consumer"]')).to_have_attribute("data-diff", "changed")
    shots(page, "diff")

    # re-run from a checkpoint, and a flow input overridden
    tid = start(server, f"{FLOWS}:tuned", {"x": 1, "note": "first"})
    until_status(server, tid, "completed")
    _open(page, server, tid)
    page.click("#replay")
    page.select_option("#from", value="consumer")
    expect(page.locator("#in-note")).to_have_attribute("placeholder", '"first"')
    page.fill("#in-note", '"later"')
    page.click("#start-replay")
    expect(page.locator("#replay-of")).to_have_text(tid)
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    expect(page.locator("p.facts")).to_contain_text("from consumer")
    info = show(server, page.url.rstrip("/").rsplit("/", 1)[1])
    calls = {c["call_id"]: c["metadata"] for c in info["checkpoints"]}
    assert calls["source"].get("cached_from") == tid  # before `consumer`, same input: reused
    assert not calls["label"].get("cached_from")  # its input, the flow's `note`, changed
    assert not calls["consumer"].get("cached_from")  # same input, but re-run from here on
    assert info["replay_from"] == "consumer"
    assert info["result_preview"] and "LATER: 20" in info["result_preview"]


def test_retry_a_failed_and_resume_a_crashed_execution(
    page: Any, server: Server, shots: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    failed = start(server, f"{FLOWS}:fails_once", {"x": 2, "marker": str(tmp_path / "failed")})
    before = until_status(server, failed, "failed")
    _open(page, server, failed)
    page.click("#retry")
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    assert page.url.endswith(f"/executions/{failed}")  # retried in place
    expect(page.locator("#result")).to_contain_text("4 second time lucky")
    after = {c["call_id"]: c for c in show(server, failed)["checkpoints"]}
    prepared = next(c for c in before["checkpoints"] if c["call_id"] == "prepare")
    assert after["prepare"]["ended_at"] == prepared["ended_at"]  # completed: not run again
    assert after["fail_first_time"]["status"] == "completed"

    crashed = start(server, f"{FLOWS}:crashes_once", {"x": 3, "marker": str(tmp_path / "died")})
    until_status(server, crashed, "crashed")  # its worker process died in a checkpoint
    _open(page, server, crashed)
    expect(page.locator("#status")).to_have_text("crashed")
    assert page.locator("#retry").count() == 0
    shots(page, "execution-crashed")
    page.click("#resume")
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    expect(page.locator("#result")).to_contain_text("6 survived")
    assert show(server, crashed)["status"] == "completed"


def test_abort_and_cancel_from_the_browser(page: Any, server: Server) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda d: d.accept())
    aborted = start(server, f"{FLOWS}:asks", {"topic": "abort me"})
    cancelled = start(server, f"{FLOWS}:asks", {"topic": "cancel me"})
    until_status(server, aborted, "waiting")
    until_status(server, cancelled, "waiting")
    _open(page, server, aborted)
    page.click("#abort")
    expect(page.locator("#status")).to_have_text("cancelled")
    _open(page, server, cancelled)
    page.click("#cancel")
    expect(page.locator("#status")).to_have_text("cancelled")
    assert show(server, aborted)["status"] == show(server, cancelled)["status"] == "cancelled"
    waits = show(server, aborted)["waits"]
    assert waits[0]["status"] == "failed"  # the wait was refused, as `executions abort` does


def test_a_parallel_map_shows_lanes(page: Any, server: Server, shots: Any) -> None:
    eid = start(server, f"{FLOWS}:fan_out", {"n": 4})
    until_status(server, eid, "completed")
    _open(page, server, eid)
    lanes = int(page.locator("svg.timeline").get_attribute("data-lanes"))
    assert lanes >= 2
    assert page.locator("svg.timeline g.bar.checkpoint").count() == 4
    shots(page, "timeline-parallel")


def test_a_failed_checkpoint_shows_the_users_traceback(
    page: Any, server: Server, shots: Any
) -> None:
    from playwright.sync_api import expect

    eid = start(server, f"{FLOWS}:failing", {"x": 7})
    until_status(server, eid, "failed")
    _open(page, server, eid)
    expect(page.locator("#error h2")).to_contain_text("ValueError: user code refused 7")
    traceback = page.locator("#traceback").inner_text()
    assert "flows.py" in traceback and "in explode" in traceback
    assert page.locator("#retry").count() == 1
    shots(page, "execution-failed")


def test_the_other_views(page: Any, server: Server, shots: Any) -> None:
    from playwright.sync_api import expect

    cli(server, "deploy", f"{FLOWS}:replayable")
    cli(server, "deploy", f"{FLOWS}:replayable")  # v2 takes the tag "default"
    page.goto(server.url + "/deployments")
    expect(page.locator("#deployments")).to_contain_text("default → v2")
    shots(page, "deployments")
    page.click("text=replayable")
    expect(page.locator("#cli-line")).to_contain_text("kitaru invoke replayable")
    expect(page.locator("#curl-line")).to_contain_text("/api/v1/deployments/replayable/invoke")
    # move a tag: "default" back to v1
    page.fill("#tag-form input[name=tag]", "default")
    page.select_option("#tag-form select[name=version]", value="1")
    page.click("#tag-form button")
    expect(page.locator('#versions tr[data-version="1"]')).to_contain_text("default")
    expect(page.locator('#versions tr[data-version="2"]')).not_to_contain_text("default")
    listed = json.loads(cli(server, "deployments", "list", "replayable", "-o", "json"))["items"]
    tags = {d["version"]: d["tags"] for d in listed}
    assert tags[1] == ["default"] and "default" not in tags[2]
    shots(page, "deployment")
    page.fill("#f-inputs\\.x", "5")
    page.click("#invoke")
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    invoked = page.url.rstrip("/").rsplit("/", 1)[1]
    page.click('#artifacts a:text-is("consumer")')
    expect(page.locator("#preview")).to_have_text("60")
    shots(page, "artifact")
    _open(page, server, invoked)
    cli(server, "memory", "set", "greeting", "--value", '"hello"', "--namespace", "demo")
    page.goto(server.url + "/memory")
    expect(page.locator("#scopes")).to_contain_text("demo")
    shots(page, "memory-scopes")
    page.click("text=demo")
    expect(page.locator("#entries")).to_contain_text("greeting")
    shots(page, "memory-scope")
    page.click("text=greeting")
    expect(page.locator("#history")).to_contain_text("hello")
    shots(page, "memory")
    page.goto(server.url + "/access")
    expect(page.locator("#keys")).to_contain_text("admin")
    shots(page, "access")
    page.goto(server.url + "/access/accounts")
    expect(page.locator("#accounts")).to_contain_text("admin")
    shots(page, "accounts")
    page.goto(server.url + "/executions/0123456789ab")
    expect(page.locator("#error")).to_contain_text("no execution with id")
    shots(page, "error")
    page.goto(server.url + "/stacks")
    expect(page.locator("#plugins")).to_contain_text("kitaru")
    shots(page, "stacks")
    page.goto(server.url + "/costs")
    # the flow this test ran (not another test's: under xdist each may have its own server)
    expect(page.locator("#costs")).to_contain_text("replayable")
    shots(page, "costs")


def test_the_login_page_refuses_a_wrong_key(browser: Any, server: Server, shots: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        pg = context.new_page()
        pg.goto(server.url + "/costs")
        assert "/login" in pg.url
        shots(pg, "login")
        pg.fill("#credential", server.admin_key[:-3] + "xyz")
        pg.click("button[type=submit]")
        expect(pg.locator("#login-error")).to_contain_text("invalid API key")
        pg.fill("#credential", server.admin_key)
        pg.click("button[type=submit]")
        pg.wait_for_url(server.url + "/costs")  # back where it was going
    finally:
        context.close()
