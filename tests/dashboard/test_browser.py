"""The dashboard in a real browser (Debian's chromium via Playwright) against a real server:
the seed flow answered through its generated form, replay with an override, abort and cancel,
parallel lanes, a failed checkpoint's traceback; one screenshot per view."""

from __future__ import annotations

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
    page.goto(server.url + "/deployments")
    page.click("text=replayable")
    expect(page.locator("#cli-line")).to_contain_text("kitaru invoke replayable")
    expect(page.locator("#curl-line")).to_contain_text("/api/v1/deployments/replayable/invoke")
    shots(page, "deployment")
    page.fill("#f-inputs\\.x", "5")
    page.click("#invoke")
    expect(page.locator("#status")).to_have_text("completed", timeout=30_000)
    cli(server, "memory", "set", "greeting", "--value", '"hello"', "--namespace", "demo")
    page.goto(server.url + "/memory")
    page.click("text=demo")
    expect(page.locator("#entries")).to_contain_text("greeting")
    page.click("text=greeting")
    expect(page.locator("#history")).to_contain_text("hello")
    shots(page, "memory")
    page.goto(server.url + "/stacks")
    expect(page.locator("#plugins")).to_contain_text("kitaru")
    shots(page, "stacks")
    page.goto(server.url + "/costs")
    # the flow this test ran (not another test's: under xdist each may have its own server)
    expect(page.locator("#costs")).to_contain_text("replayable")
    shots(page, "costs")
