"""docs/dashboard.md shows screenshots the browser tests made (KITARU_DOCS_SCREENSHOTS=1)."""

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
