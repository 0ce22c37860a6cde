"""Markdown that makers write (design descriptions, release notes), rendered to HTML that is safe to show.

CommonMark (markdown-it-py) with raw HTML switched off, then sanitised by nh3 (ammonia) to an allow-list of
tags and attributes, so neither a `<script>` nor a `javascript:` link survives; links get rel="nofollow
noopener" and images are not allowed at all (design images are uploaded, never hot-linked).
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.token import Token

ALLOWED_TAGS = frozenset(
    {"p", "br", "hr", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td"}
)
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}
URL_SCHEMES = frozenset({"http", "https", "mailto"})


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
        ["table", "strikethrough"]
    )


TOP_HEADING = 3  # pages give the title an h1 and their sections h2: a maker's "# Heading" sits below them


def _shift_headings(tokens: list[Token], top: int) -> None:
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            level = int(token.tag[1]) + top - 1
            token.tag = f"h{min(level, 6)}"


def markdown_html(text: str, *, top_heading: int = TOP_HEADING) -> SafeString:
    """`text` as sanitised HTML (an image in the Markdown is dropped: pictures are uploaded to the design).

    Headings are shifted so that the text's first level is `top_heading` (h3 by default), keeping the page's
    heading order whatever levels the maker used."""
    if not text.strip():
        return mark_safe("")
    parser = _parser()
    tokens = parser.parse(text)
    _shift_headings(tokens, top_heading)
    rendered = parser.renderer.render(tokens, parser.options, {})
    clean = nh3.clean(
        rendered,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="nofollow noopener",
        filter_style_properties={"text-align"},
    )
    return mark_safe(clean.strip())  # noqa: S308 - sanitised by nh3 to the allow-list above
