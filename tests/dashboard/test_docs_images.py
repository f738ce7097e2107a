"""docs/dashboard.md shows screenshots the browser tests made (KITARU_DOCS_SCREENSHOTS=1), and
the browser tests take one of every view."""

from __future__ import annotations

import re

from tests.conftest import REPO


def test_every_picture_of_the_dashboard_doc_exists() -> None:
    text = (REPO / "docs" / "dashboard.md").read_text()
    pictures = re.findall(r"!\[[^\]]*\]\((images/[^)]+)\)", text)
    assert len(pictures) >= 10
    for picture in pictures:
        path = REPO / "docs" / picture
        assert path.is_file() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture


#: each page template and the screenshot(s) the browser tests take of it
VIEWS = {
    "access.html": ["access"], "accounts.html": ["accounts"], "artifact.html": ["artifact"],
    "costs.html": ["costs"], "deployment.html": ["deployment"],
    "deployments.html": ["deployments"], "diff.html": ["diff"], "error.html": ["error"],
    "execution.html": ["execution-waiting", "execution-completed", "execution-failed",
                       "execution-crashed", "timeline-parallel"],
    "executions.html": ["executions"], "login.html": ["login"], "memory.html": ["memory-scopes"],
    "memory_scope.html": ["memory-scope"], "memory_key.html": ["memory"],
    "replay.html": ["replay-form"], "stacks.html": ["stacks"],
}  # fmt: skip


def test_the_browser_tests_take_a_screenshot_of_every_view() -> None:
    from kitaru.server.dashboard.render import HERE

    pages = {p.name for p in (HERE / "templates").glob("*.html")
             if not p.name.startswith("_") and p.name != "base.html"}  # fmt: skip
    assert pages == set(VIEWS), "a new page needs a screenshot in tests/dashboard/test_browser.py"
    source = (REPO / "tests" / "dashboard" / "test_browser.py").read_text()
    taken = set(re.findall(r"""shots\(\w+, ["']([\w-]+)["']\)""", source))
    assert {name for names in VIEWS.values() for name in names} == taken
