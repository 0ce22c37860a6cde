"""Markdown rendering: the formatting makers use survives, nothing that could run script or track does."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from crowdmaker.core.markdown import markdown_html


def _elements(html: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    found: list[tuple[str, list[tuple[str, str | None]]]] = []

    class Collector(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, attrs))

    Collector().feed(html)
    return found


def test_common_formatting_is_rendered() -> None:
    html = markdown_html("## Build\n\n1. Print the **case**\n2. Solder `J1`\n\n> tip\n\n| a | b |\n|:-|-:|\n| 1 | 2 |")
    assert "<h4>Build</h4>" in html  # "##" below the page's own h1 and h2: the text's levels start at h3
    assert "<ol>" in html
    assert "<li>Print the <strong>case</strong></li>" in html
    assert "<code>J1</code>" in html
    assert "<blockquote>" in html
    assert '<td style="text-align:right">2</td>' in html


def test_links_keep_safe_schemes_and_get_nofollow() -> None:
    html = markdown_html("[site](https://example.org/a?b=1) and [mail](mailto:a@example.org)")
    assert '<a href="https://example.org/a?b=1" rel="nofollow noopener">site</a>' in html
    assert 'href="mailto:a@example.org"' in html


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        '<img src="x" onerror="alert(1)">',
        "![tracker](https://evil.example/pixel.png)",
        '<a href="https://e.org" onclick="alert(1)">x</a>',
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        '<iframe src="https://evil.example"></iframe>',
    ],
)
def test_nothing_active_survives(source: str) -> None:
    """What remains may mention the attack as text, but no element or attribute of it is live."""
    html = markdown_html(source)
    elements = _elements(html)
    assert {tag for tag, _ in elements} <= {"p", "a"}, html
    for _, attributes in elements:
        assert {name for name, _ in attributes} <= {"href", "rel"}, html
        href = dict(attributes).get("href") or ""
        assert href.startswith(("https:", "http:", "mailto:")) or not href, html


def test_raw_html_is_shown_as_text() -> None:
    assert markdown_html("<b>bold</b>") == "<p>&lt;b&gt;bold&lt;/b&gt;</p>"


def test_empty_text_renders_nothing() -> None:
    assert markdown_html("  \n ") == ""


def test_headings_keep_the_pages_order() -> None:
    html = markdown_html("# One\n\n## Two\n\n###### Six")
    assert "<h3>One</h3>" in html
    assert "<h4>Two</h4>" in html
    assert "<h6>Six</h6>" in html  # capped at h6
    assert "<h2>Top</h2>" in markdown_html("# Top", top_heading=2)
