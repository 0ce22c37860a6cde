"""The public pages of the commons: catalog (search, filters, sort, pages), design page, version page, manifest.

Real designs through the services, the Django test client, exact assertions on what a visitor reads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from crowdmaker.commons import services, views
from crowdmaker.commons.models import Design
from crowdmaker.commons.tests.conftest import manifest
from crowdmaker.people import services as people_services
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

CATALOG = "/designs/"


def result_slugs(response: Any) -> list[str]:
    """The designs listed in the catalog's results, in order."""
    html = response.content.decode()
    return re.findall(r'<h3 class="card__title"><a href="/designs/([^/]+)/">', html)


def text(response: Any) -> str:
    """The page's text with tags removed and spaces collapsed, as a reader would take it in."""
    words = " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())
    return re.sub(r" ([.,;:])", r"\1", words)  # "<a>version 3</a>." reads "version 3."


def vary(response: Any) -> set[str]:
    """The request headers the response says it depends on."""
    return {name.strip() for name in response.get("Vary", "").split(",")}


class _ListTree(HTMLParser):
    """The nested lists of the lineage tree as [[label, children], ...]; an item's label is its first link or
    bold text."""

    def __init__(self) -> None:
        super().__init__()
        self.root: list[Any] = []
        self.lists: list[list[Any]] = []  # the open <ul>s, innermost last
        self.items: list[list[Any]] = []  # the open <li>s, innermost last
        self.inside = self.capture = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and ("class", "lineage-tree") in attrs:
            self.inside = True
        elif self.inside and tag == "ul":
            self.lists.append(self.items[-1][1] if self.items else self.root)
        elif self.inside and tag == "li":
            item: list[Any] = ["", []]
            self.lists[-1].append(item)
            self.items.append(item)
        elif self.inside and tag in ("a", "strong") and self.items and not self.items[-1][0]:
            self.capture = True

    def handle_endtag(self, tag: str) -> None:
        if not self.inside:
            return
        if tag == "ul":
            self.lists.pop()
        elif tag == "li":
            self.items.pop()
        elif tag in ("a", "strong"):
            self.capture = False
        elif tag == "div":
            self.inside = False

    def handle_data(self, data: str) -> None:
        if self.capture:
            self.items[-1][0] += data.strip()


def lineage_tree(response: Any) -> list[Any]:
    parser = _ListTree()
    parser.feed(response.content.decode())

    def shape(items: list[Any]) -> list[Any]:
        return [(label, shape(children)) for label, children in items]

    assert not parser.lists, "every list of the tree is closed"
    assert not parser.items, "every item of the tree is closed"
    return shape(parser.root)


@pytest.fixture
def family(user: User, other_user: User, make_design: Callable[..., Design]) -> dict[str, Design]:
    """lamp (ada) <- lamp-remix (bruno, from lamp v1) <- lamp-remix-2 (ada, from lamp-remix v1); lamp-plus from
    lamp v2; each fork under a licence the upstream allows."""
    lamp = make_design(user, "lamp", title="Lamp", licence="CC-BY-SA-4.0")
    services.design_version_publish(actor=user, design=lamp, manifest=manifest("Lamp"), release_notes="Brighter")
    v1, v2 = list(lamp.versions.order_by("number"))
    remix = services.design_fork(actor=other_user, upstream=v1, slug="lamp-remix", title="Lamp remix",
                                 licence="CC-BY-SA-4.0")  # fmt: skip
    remix_2 = services.design_fork(actor=user, upstream=remix.versions.get(), slug="lamp-remix-2",
                                   title="Lamp remix 2", licence="GPL-3.0-or-later")  # fmt: skip
    plus = services.design_fork(actor=other_user, upstream=v2, slug="lamp-plus", title="Lamp plus",
                                licence="CC-BY-SA-4.0")  # fmt: skip
    return {"lamp": lamp, "remix": remix, "remix_2": remix_2, "plus": plus}


# --- the catalog ---------------------------------------------------------------------------------------------


def test_catalog_lists_designs_newest_first(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    for slug in ("first", "second", "third"):
        make_design(user, slug)
    response = client.get(CATALOG)
    assert response.status_code == 200
    assert result_slugs(response) == ["third", "second", "first"]
    assert "3 designs" in text(response)
    assert '<a href="/designs/" aria-current="page">Designs</a>' in response.content.decode()


def test_empty_catalog_and_no_match(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    assert "No designs yet." in text(client.get(CATALOG))
    make_design(user, "lamp")
    response = client.get(CATALOG, {"q": "submarine"})
    assert response.status_code == 200
    assert result_slugs(response) == []
    assert "0 designs found" in text(response)
    assert "No design matches this search." in text(response)


def test_search_matches_titles_summaries_tags_and_interfaces(
    client: Client, user: User, make_design: Callable[..., Design]
) -> None:
    make_design(user, "desk-lamp", title="Desk lamp", manifest=manifest(provides=["data.mqtt.actuator.light"]))
    make_design(user, "charger", title="Charger", summary="Charges lamps quickly",
                manifest=manifest(provides=["power.usb-c"]))  # fmt: skip
    make_design(user, "shelf", title="Shelf", tags=["furniture"])

    assert result_slugs(client.get(CATALOG, {"q": "lamp", "sort": "new"})) == ["charger", "desk-lamp"]
    assert result_slugs(client.get(CATALOG, {"q": "furniture"})) == ["shelf"]
    assert result_slugs(client.get(CATALOG, {"q": "usb-c"})) == ["charger"]
    assert result_slugs(client.get(CATALOG, {"q": "power.usb-c"})) == ["charger"]
    # With search words the best match comes first unless asked otherwise: a title outranks a summary.
    assert result_slugs(client.get(CATALOG, {"q": "lamp"})) == ["desk-lamp", "charger"]
    assert result_slugs(client.get(CATALOG, {"q": "lamp", "sort": "relevance"})) == ["desk-lamp", "charger"]
    # Without search words "best match" means newest first.
    assert result_slugs(client.get(CATALOG, {"sort": "relevance"})) == ["shelf", "charger", "desk-lamp"]


def test_filters_by_licence_family_interface_and_tag(
    client: Client, user: User, make_design: Callable[..., Design]
) -> None:
    make_design(user, "lamp", licence="CC-BY-4.0", tags=["lighting"],
                manifest=manifest(requires=["power.usb-c"], family=["smart-home"]))  # fmt: skip
    make_design(user, "hub", licence="CERN-OHL-S-2.0", manifest=manifest(provides=["power.usb-c"]))
    make_design(user, "vise", licence="CERN-OHL-S-2.0", tags=["workshop"], manifest=manifest(family=["workshop"]))

    assert result_slugs(client.get(CATALOG, {"licence": "CERN-OHL-S-2.0"})) == ["vise", "hub"]
    assert result_slugs(client.get(CATALOG, {"family": "smart-home"})) == ["lamp"]
    assert result_slugs(client.get(CATALOG, {"interface": "power.usb-c"})) == ["hub", "lamp"]
    assert result_slugs(client.get(CATALOG, {"tag": "lighting"})) == ["lamp"]
    assert result_slugs(client.get(CATALOG, {"interface": "power.usb-c", "licence": "CC-BY-4.0"})) == ["lamp"]
    # The filters offer what is in use.
    html = client.get(CATALOG).content.decode()
    assert '<option value="smart-home"></option><option value="workshop"></option>' in html
    assert '<option value="power.usb-c"></option>' in html


def test_sort_by_popular_puts_the_most_remixed_first(client: Client, family: dict[str, Design]) -> None:
    assert result_slugs(client.get(CATALOG, {"sort": "new"})) == ["lamp-plus", "lamp-remix-2", "lamp-remix", "lamp"]
    # lamp: 2 forks (from v1 and v2), lamp-remix: 1, the others none (newest first among equals).
    assert result_slugs(client.get(CATALOG, {"sort": "popular"})) == [
        "lamp", "lamp-remix", "lamp-plus", "lamp-remix-2",
    ]  # fmt: skip
    assert "2 remixes" in text(client.get(CATALOG, {"sort": "popular"}))


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"licence": "WTFPL"}, "Licence: Choose one of the licences in the list."),
        ({"sort": "random"}, "Sort by: Sort by newest, most remixed or best match."),
        ({"q": "x" * 201}, "Search designs: Ensure this value has at most 200 characters (it has 201)."),
    ],
)
def test_a_bad_filter_is_a_clear_400_without_results(
    client: Client, user: User, make_design: Callable[..., Design], query: dict[str, str], message: str
) -> None:
    make_design(user, "lamp")
    response = client.get(CATALOG, query)
    assert response.status_code == 400
    assert message in text(response)
    assert result_slugs(response) == []


def test_pagination_keeps_the_filters_and_clamps_out_of_range_pages(
    client: Client, user: User, make_design: Callable[..., Design], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "DESIGNS_PER_PAGE", 2)
    for number in range(1, 6):
        make_design(user, f"lamp-{number}", tags=["lighting"])
    make_design(user, "shelf")
    first = client.get(CATALOG, {"tag": "lighting"})
    assert result_slugs(first) == ["lamp-5", "lamp-4"]
    assert "5 designs found · page 1 of 3" in text(first)
    assert 'href="?tag=lighting&amp;page=2" rel="next"' in first.content.decode()
    assert 'rel="prev"' not in first.content.decode()
    last = client.get(CATALOG, {"tag": "lighting", "page": "3"})
    assert result_slugs(last) == ["lamp-1"]
    assert 'rel="next"' not in last.content.decode()
    assert 'href="?tag=lighting&amp;page=2" rel="prev"' in last.content.decode()
    # Past the end: the last page; not a number: the first.
    assert result_slugs(client.get(CATALOG, {"tag": "lighting", "page": "99"})) == ["lamp-1"]
    assert result_slugs(client.get(CATALOG, {"tag": "lighting", "page": "x"})) == ["lamp-5", "lamp-4"]


def test_htmx_gets_only_the_results(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "lamp")
    response = client.get(CATALOG, {"q": "lamp"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="catalog-results"')
    assert "<html" not in html
    assert result_slugs(response) == ["lamp"]
    assert {"HX-Request", "HX-History-Restore-Request"} <= vary(response)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HX-Request": "true", "HX-History-Restore-Request": "true"},  # back/forward, htmx's history cache missed
        {"HX-Request": "true", "HX-Boosted": "true"},
    ],
)
def test_the_catalog_url_gives_the_full_page_and_says_what_it_varies_on(
    client: Client, user: User, make_design: Callable[..., Design], headers: dict[str, str]
) -> None:
    make_design(user, "lamp")
    response = client.get(CATALOG, {"q": "lamp"}, headers=headers)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert 'role="search"' in html  # the form, with the nav around it
    assert '<a href="/designs/" aria-current="page">Designs</a>' in html
    assert result_slugs(response) == ["lamp"]
    # The same URL is only the results for htmx: shared and browser caches must not mix the two up.
    assert {"HX-Request", "HX-Boosted", "HX-History-Restore-Request"} <= vary(response)


def test_a_bad_filter_from_htmx_is_a_400_fragment_that_varies_too(client: Client) -> None:
    response = client.get(CATALOG, {"sort": "random"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "<html" not in response.content.decode()
    assert "HX-Request" in vary(response)


def test_catalog_query_count_does_not_grow_with_the_designs(
    client: Client, family: dict[str, Design], django_assert_max_num_queries: Any
) -> None:
    client.get(CATALOG)  # the filter lists, read once and cached until the catalog changes
    # session/user lookups aside: count, page, the filter lists' cache key (two); the same for 4 designs as for 1.
    with django_assert_max_num_queries(4):
        response = client.get(CATALOG)
    assert len(result_slugs(response)) == 4


def test_the_filter_lists_are_read_once_until_a_version_changes_them(
    client: Client, user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    lamp = make_design(user, "lamp", manifest=manifest("Lamp", requires=["power.usb-c"], family=["smart-home"]))

    def offered(response: Any) -> list[str]:
        return re.findall(r'<option value="([^"]*)"></option>', response.content.decode())

    def facet_queries(queries: CaptureQueriesContext) -> list[str]:
        return [query["sql"] for query in queries.captured_queries if "unnest" in query["sql"]]

    with CaptureQueriesContext(connection) as queries:
        first = client.get(CATALOG)
    assert len(facet_queries(queries)) == 2  # families and interfaces, the first time
    assert offered(first) == ["smart-home", "power.usb-c"]
    with CaptureQueriesContext(connection) as queries:
        again = client.get(CATALOG, {"q": "lamp"})
        htmx = client.get(CATALOG, {"q": "lamp"}, headers={"HX-Request": "true"})
    assert facet_queries(queries) == []
    assert offered(again) == ["smart-home", "power.usb-c"]
    assert htmx.status_code == 200

    # A new design, a new version and a fork each bring their families and interfaces with them.
    make_design(other_user, "vise", manifest=manifest("Vise", family=["workshop"]))
    assert offered(client.get(CATALOG)) == ["smart-home", "workshop", "power.usb-c"]
    services.design_version_publish(actor=user, design=lamp, manifest=manifest("Lamp", family=["garden"]))
    assert offered(client.get(CATALOG)) == ["garden", "workshop"]
    services.design_fork(actor=other_user, upstream=lamp.versions.get(number=1), slug="lamp-fork", title="Fork",
                         licence="CC-BY-4.0")  # fmt: skip
    assert offered(client.get(CATALOG)) == ["garden", "smart-home", "workshop", "power.usb-c"]


def test_publish_button_links_to_the_form(client: Client) -> None:
    assert f'href="{reverse("commons:design_new")}">Publish a design' in client.get(CATALOG).content.decode()


# --- a design's page -----------------------------------------------------------------------------------------


def test_design_page_shows_the_design_and_its_latest_version(
    client: Client, user: User, make_design: Callable[..., Design]
) -> None:
    document = manifest("Lamp", family=["smart-home"])
    document["cm:provides"] = [
        {"interface": "data.mqtt.actuator.light", "version": "1.0.0", "capacity": {"controllers": 2}}
    ]
    document["cm:requires"] = [{"interface": "power.usb-c", "version": "^1.0", "load": {"ports": 1, "watts": 7.5}}]
    make_design(
        user, "lamp", title="Lamp", summary="A lamp for the desk.", description="A **bright** lamp.",
        tags=["lighting", "desk"], licence="CC-BY-NC-SA-4.0", manifest=document,
        bom=[{"item": "LED strip", "quantity": 3, "unit_cost": 1234, "currency": "EUR"},
             {"item": "Screw", "quantity": 4, "unit_cost": 5, "currency": "EUR"},
             {"item": "Cable", "quantity": 1, "unit_cost": 300, "currency": "JPY"}],
    )  # fmt: skip
    response = client.get("/designs/lamp/")
    assert response.status_code == 200
    html, page = response.content.decode(), text(response)
    assert "<h1>Lamp</h1>" in html
    assert '<a href="/makers/ada/">Ada Okafor</a>' in html
    assert '<a class="tag" href="/designs/?tag=lighting">lighting</a>' in html
    assert "A <strong>bright</strong> lamp." in html
    # The licence and what it allows.
    assert "Creative Commons Attribution-NonCommercial-ShareAlike 4.0" in page
    assert "Commercial use Not allowed" in page
    assert "Share-alike Remixes must be licensed CC-BY-NC-SA-4.0" in page
    # Interfaces with their versions and capacity / load, families.
    assert "data.mqtt.actuator.light 1.0.0 · capacity 2 controllers" in page
    assert "power.usb-c ^1.0 · load 1 ports, 7.5 watts" in page
    assert '<a class="tag" href="/designs/?family=smart-home">smart-home</a>' in html
    # Bill of materials from integer minor units: 3 x 12.34 EUR, 4 x 0.05 EUR; JPY has no minor unit.
    assert "LED strip 3 12.34 EUR 37.02 EUR" in page
    assert "Screw 4 0.05 EUR 0.20 EUR" in page
    assert "Total 37.22 EUR 300 JPY" in page
    assert 'href="/designs/lamp/v1/manifest.json"' in html
    assert 'href="/designs/lamp/v1/">Version 1</a>' in html
    assert "An original design" in page
    assert "No remixes yet, and this design is not a remix." in page


def test_team_design_links_to_the_team(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    team = people_services.team_create(actor=user, slug="makerspace", name="The Makerspace")
    make_design(user, "vise", team=team)
    assert '<a href="/teams/makerspace/">The Makerspace</a> (team)' in client.get("/designs/vise/").content.decode()


def test_lineage_tree_shows_ancestors_and_descendants(client: Client, family: dict[str, Design]) -> None:
    assert lineage_tree(client.get("/designs/lamp-remix/")) == [
        ("Lamp", [("Lamp remix", [("Lamp remix 2", [])])]),
    ]
    assert lineage_tree(client.get("/designs/lamp/")) == [
        ("Lamp", [("Lamp remix", [("Lamp remix 2", [])]), ("Lamp plus", [])]),
    ]
    assert lineage_tree(client.get("/designs/lamp-remix-2/")) == [
        ("Lamp", [("Lamp remix", [("Lamp remix 2", [])])]),
    ]
    page = text(client.get("/designs/lamp/"))
    assert "Lamp remix by Bruno Lindqvist · forked from v1" in page
    assert "Lamp plus by Bruno Lindqvist · forked from v2" in page
    html = client.get("/designs/lamp-remix/").content.decode()
    assert '<strong aria-current="page">Lamp remix</strong>' in html


def test_design_page_query_count_does_not_grow_with_the_family(
    client: Client, user: User, family: dict[str, Design], django_assert_max_num_queries: Any
) -> None:
    # design, session, user, versions, ancestors and their rows (twice: lineage and attribution chain), descendants
    # and their rows, images, citations both ways, files, the viewer's systems: 15 whether the family has 4 members
    # or 10.
    client.force_login(user)
    with django_assert_max_num_queries(15):
        assert client.get("/designs/lamp-remix/").status_code == 200
    upstream = family["remix"].versions.get()
    for number in range(6):
        services.design_fork(actor=user, upstream=upstream, slug=f"branch-{number}", title=f"Branch {number}",
                             licence="CC-BY-SA-4.0")  # fmt: skip
    services.design_cite(actor=family["remix"].owner_user, design=family["remix"], cited=family["plus"])  # type: ignore[arg-type]
    with django_assert_max_num_queries(15):
        response = client.get("/designs/lamp-remix/")
    assert len(lineage_tree(response)[0][1][0][1]) == 7  # lamp-remix-2 and the six branches


def test_attribution_chain_on_a_fork(client: Client, family: dict[str, Design]) -> None:
    page = text(client.get("/designs/lamp-remix-2/"))
    assert (
        "Lamp remix 2 by Ada Okafor · licensed GNU General Public License v3.0 or later (GPL-3.0-or-later) "
        "based on Lamp remix, version 1 by Bruno Lindqvist · licensed Creative Commons Attribution-ShareAlike 4.0 "
        "(CC-BY-SA-4.0) based on Lamp, version 1 by Ada Okafor"
    ) in page
    html = client.get("/designs/lamp-remix-2/").content.decode()
    assert 'href="/designs/lamp-remix/v1/">Lamp remix, version 1</a>' in html
    # The same chain on the fork's version page.
    assert "based on Lamp, version 1 by Ada Okafor" in text(client.get("/designs/lamp-remix-2/v1/"))
    assert "remix of Lamp, version 2" in text(client.get("/designs/lamp-plus/"))


def test_citations_both_ways(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    lamp = make_design(user, "lamp", title="Lamp")
    bulb = make_design(user, "bulb", title="Bulb")
    shade = make_design(user, "shade", title="Shade")
    services.design_cite(actor=user, design=lamp, cited=bulb, note="Same socket")
    services.design_cite(actor=user, design=lamp, cited=shade)
    assert "Builds on Bulb — Same socket Shade Cited by No design cites this one yet." in text(
        client.get("/designs/lamp/")
    )
    assert "Builds on Cites no other design. Cited by Lamp — Same socket" in text(client.get("/designs/bulb/"))


def test_user_text_is_escaped(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "bad", title="<script>alert(1)</script>", summary="<img src=x onerror=alert(2)>",
                description="<script>alert(3)</script> [link](javascript:alert(4))",
                bom=[{"item": "<b>LED</b>", "quantity": 1, "unit_cost": 1, "currency": "EUR"}])  # fmt: skip
    other = make_design(user, "other")
    services.design_cite(actor=user, design=other, cited=Design.objects.get(slug="bad"), note="<i>note</i>")
    for path in ("/designs/bad/", "/designs/", "/designs/bad/v1/", "/designs/other/"):
        html = client.get(path).content.decode()
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert 'href="javascript:' not in html, path
        assert "<b>LED" not in html, path
        assert "<i>note" not in html, path
    html = client.get("/designs/bad/").content.decode()
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in html
    assert "&lt;b&gt;LED&lt;/b&gt;" in html
    assert "&lt;i&gt;note&lt;/i&gt;" in client.get("/designs/other/").content.decode()


def test_images_on_the_design_page(
    client: Client, user: User, make_design: Callable[..., Design], settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    design = make_design(user, "lamp")
    image = services.design_image_add(
        actor=user, design=design, upload=SimpleUploadedFile("a.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32),
        alt='The lamp, "lit"',
    )  # fmt: skip
    html = client.get("/designs/lamp/").content.decode()
    assert f'<img src="{image.file.url}" alt="The lamp, &quot;lit&quot;" loading="lazy">' in html


def test_actions_for_editors_and_for_others(
    client: Client, user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    make_design(user, "lamp")
    make_design(user, "closed", licence="CC-BY-ND-4.0")
    edit, fork = reverse("commons:version_new", args=["lamp"]), reverse("commons:design_fork", args=["lamp"])

    anonymous = client.get("/designs/lamp/").content.decode()
    assert edit not in anonymous
    assert fork not in anonymous

    client.force_login(other_user)
    visitor = client.get("/designs/lamp/").content.decode()
    assert edit not in visitor
    assert f'href="{fork}">Remix (fork) this design' in visitor
    assert reverse("commons:design_fork", args=["closed"]) not in client.get("/designs/closed/").content.decode()
    assert f'href="{fork}?version=1">Remix this version' in client.get("/designs/lamp/v1/").content.decode()

    client.force_login(user)
    owner = client.get("/designs/lamp/").content.decode()
    assert f'href="{edit}">Publish a new version' in owner
    assert f'href="{reverse("commons:design_edit", args=["lamp"])}">Edit the design' in owner


def test_team_maintainers_may_edit_members_may_not(user: User, other_user: User, make_user: Any) -> None:
    from crowdmaker.commons import selectors
    from crowdmaker.people.models import Membership, Role

    team = people_services.team_create(actor=user, slug="makerspace", name="The Makerspace")
    design = services.design_create(actor=user, slug="vise", title="Vise", licence="MIT", manifest=manifest(),
                                    team=team)  # fmt: skip
    Membership.objects.create(team=team, user=other_user, role=Role.MEMBER)
    assert selectors.design_can_edit(design=design, user=user)
    assert not selectors.design_can_edit(design=design, user=other_user)
    assert not selectors.design_can_edit(design=design, user=None)
    Membership.objects.filter(user=other_user).update(role=Role.MAINTAINER)
    assert selectors.design_can_edit(design=design, user=other_user)


# --- a version's page and its manifest -------------------------------------------------------------------------


def test_version_page(client: Client, family: dict[str, Design]) -> None:
    lamp = family["lamp"]
    services.design_version_publish(
        actor=lamp.owner_user, design=lamp,  # type: ignore[arg-type]
        manifest=manifest("Lamp <b>3</b>"), release_notes="Now **dimmable**.\n\n<script>x</script>",
    )  # fmt: skip
    response = client.get("/designs/lamp/v3/")
    assert response.status_code == 200
    html, page = response.content.decode(), text(response)
    assert "<h1>Lamp, version 3</h1>" in html
    assert "Now <strong>dimmable</strong>." in html
    assert "<script>x" not in html
    assert "&quot;title&quot;: &quot;Lamp &lt;b&gt;3&lt;/b&gt;&quot;" in html  # pretty-printed and escaped
    assert '<a href="/makers/ada/">Ada Okafor</a>' in html
    assert "No bill of materials for this version." in page
    assert 'href="/designs/lamp/v2/" rel="prev">← Version 2' in html
    assert 'rel="next"' not in html
    # An older version: the forks made from it, and a pointer to the latest.
    older = client.get("/designs/lamp/v1/")
    assert result_slugs(older) == ["lamp-remix"]
    assert "This is not the latest version: see version 3." in text(older)
    assert "M3 screw 4 0.05 EUR 0.20 EUR Total 0.20 EUR" in text(older)
    assert 'href="/designs/lamp/v2/" rel="next"' in older.content.decode()
    assert result_slugs(client.get("/designs/lamp/v2/")) == ["lamp-plus"]


def test_version_files_are_listed_with_their_download(
    client: Client, user: User, make_design: Callable[..., Design], settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = str(tmp_path)
    stl = b"solid lamp\n facet normal 0 0 1\n endfacet\nendsolid lamp\n"
    make_design(user, "lamp", files=[SimpleUploadedFile("case.stl", stl)])
    file = Design.objects.get(slug="lamp").versions.get().files.get()
    download = reverse("commons:version_file", args=["lamp", 1, "case.stl"])
    for path in ("/designs/lamp/", "/designs/lamp/v1/"):
        html = client.get(path).content.decode()
        assert f'<a href="{download}" download>case.stl</a>' in html, path
        assert f'SHA-256 <code class="hash">{file.sha256}</code>' in html, path
    assert f"case.stl · {len(stl)} bytes · model/stl" in text(client.get("/designs/lamp/v1/"))
    assert "No files attached to this version." not in text(client.get("/designs/lamp/v1/"))


def test_manifest_download(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    document = manifest("Lamp", provides=["data.mqtt.actuator.light"])
    make_design(user, "lamp", manifest=document)
    response = client.get("/designs/lamp/v1/manifest.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/td+json; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="lamp-v1.td.json"'
    assert json.loads(response.content) == document


@pytest.mark.parametrize(
    "path",
    [
        "/designs/nothing/",
        "/designs/Bad_Slug!/",
        "/designs/lamp/v2/",
        "/designs/lamp/v0/",
        "/designs/nothing/v1/",
        "/designs/lamp/v2/manifest.json",
        "/designs/nothing/v1/manifest.json",
    ],
)
def test_unknown_designs_and_versions_are_404(
    client: Client, user: User, make_design: Callable[..., Design], path: str
) -> None:
    make_design(user, "lamp")
    response = client.get(path)
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()


def test_pages_are_read_only(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "lamp")
    for path in (CATALOG, "/designs/lamp/", "/designs/lamp/v1/", "/designs/lamp/v1/manifest.json"):
        assert client.post(path).status_code == 405, path
    assert client.head("/designs/lamp/").status_code == 200


def test_home_and_nav_lead_to_the_catalog(client: Client, user: User, make_design: Callable[..., Design]) -> None:
    assert '<a class="button button--secondary" href="/designs/">Browse designs</a>' in client.get("/").content.decode()
    make_design(user, "lamp")
    assert '<a href="/designs/" aria-current="true">Designs</a>' in client.get("/designs/lamp/").content.decode()
