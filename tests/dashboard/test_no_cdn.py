"""Everything the dashboard's pages load ships in the package: no template or static file points
a browser at another site (a CDN, a font service) by ``src``, ``href``, ``action``, CSS
``url()`` or ``@import``; the only addresses are in vendored code's licence comments."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kitaru.server.dashboard.render import HERE

FILES = sorted(p for folder in ("templates", "static") for p in (HERE / folder).rglob("*")
               if p.is_file())  # fmt: skip

#: ``/*! ... */`` (kept by minifiers for licences) or any comment that names a licence
LICENCE_COMMENT = re.compile(r"/\*!.*?\*/|/\*(?:(?!\*/).)*?licen[cs]e.*?\*/", re.S | re.I)
#: a reference a browser would follow: to http(s) or protocol-relative (``//host``) addresses
REFERENCE = re.compile(
    r"""(?:\b(?:src|href|action|srcset)\s*=\s*["']?|\burl\(\s*["']?|@import\s+["'])"""
    r"""\s*(?:https?:)?//""",
    re.I,
)


def without_licence_comments(text: str) -> str:
    return LICENCE_COMMENT.sub("", text)


def test_the_dashboard_has_templates_and_static_files() -> None:
    names = {p.name for p in FILES}
    assert {"base.html", "execution.html", "htmx.min.js", "style.css"} <= names


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(HERE).as_posix())
def test_no_file_references_another_site(path: Path) -> None:
    text = without_licence_comments(path.read_text(encoding="utf-8"))
    assert REFERENCE.findall(text) == []
    assert re.findall(r".{0,40}https?://.{0,40}", text) == []  # nor any address at all


def test_the_checks_catch_a_cdn() -> None:
    """What the test above refuses (and the licence comment it lets through)."""
    for line in ('<script src="https://unpkg.com/htmx.org"></script>',
                 "<link rel=stylesheet href=//fonts.example.com/a.css>",
                 "body { background: url('http://cdn.example.com/bg.png') }",
                 '@import "https://fonts.example.com/css";'):  # fmt: skip
        assert REFERENCE.findall(without_licence_comments(line)), line
    kept = "/*! htmx (https://htmx.org) License: 0BSD */ var a = 1;"
    assert without_licence_comments(kept) == " var a = 1;"
    assert without_licence_comments("/* see https://x.example */") != ""  # not a licence
