"""Reads of `commons`: a design with its versions, its remix lineage and attribution chain, and the catalog."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import Count, F, Func, QuerySet, TextField, Value
from django.db.models.functions import Replace
from django.utils.safestring import SafeString

from crowdmaker.commons import systems
from crowdmaker.commons.licences import LICENCES
from crowdmaker.commons.models import Citation, Design, DesignVersion, VersionFile
from crowdmaker.core.errors import NotFound
from crowdmaker.core.markdown import markdown_html
from crowdmaker.ledger.money import CURRENCIES, Money
from crowdmaker.people.models import SLUG_PATTERN, Membership, Role, User
from crowdmaker.protocol.manifest import PROVIDES, REQUIRES

MAX_LINEAGE_DEPTH = 50  # a fork chain deeper than this is cut off (and flagged) rather than walked forever
MAX_DESCENDANTS = 500


def _designs() -> QuerySet[Design]:
    return Design.objects.select_related("owner_user__profile", "owner_team", "forked_from__design")


def design_by_slug(*, slug: str) -> Design:
    slug = slug.lower()
    design = _designs().filter(slug=slug).first() if re.fullmatch(SLUG_PATTERN, slug) else None
    if design is None:
        raise NotFound("No design has this address.")
    return design


def owner_name(design: Design) -> str:
    """The display name of the design's owner: the person's profile name or the team's name."""
    if design.owner_team is not None:
        return design.owner_team.name
    assert design.owner_user is not None
    return design.owner_user.profile.display_name


def owner_handle(design: Design) -> str:
    if design.owner_team is not None:
        return design.owner_team.slug
    assert design.owner_user is not None
    return design.owner_user.handle


def description_html(design: Design) -> SafeString:
    """The description, Markdown rendered and sanitised (`core.markdown`)."""
    return markdown_html(design.description)


def versions_of(*, design: Design) -> QuerySet[DesignVersion]:
    return DesignVersion.objects.filter(design=design).select_related("published_by", "design")


def versions_with_files(*, design: Design) -> QuerySet[DesignVersion]:
    """The versions with their files prefetched (each file knows its version, for its download URL)."""
    return versions_of(design=design).prefetch_related("files")


def version_of(*, design: Design, number: int) -> DesignVersion:
    version = versions_of(design=design).filter(number=number).first()
    if version is None:
        raise NotFound(f"This design has no version {number}.")
    return version


def latest_version(*, design: Design) -> DesignVersion | None:
    return versions_of(design=design).order_by("-number").first()


# --- lineage -----------------------------------------------------------------------------------------------------

ANCESTORS_SQL = """
WITH RECURSIVE up(id, depth) AS (
    SELECT v.design_id, 1 FROM commons_design d JOIN commons_designversion v ON v.id = d.forked_from_id
    WHERE d.id = %s
    UNION ALL
    SELECT v.design_id, up.depth + 1 FROM up
    JOIN commons_design d ON d.id = up.id
    JOIN commons_designversion v ON v.id = d.forked_from_id
    WHERE up.depth < %s
)
SELECT id, depth FROM up ORDER BY depth
"""

DESCENDANTS_SQL = """
WITH RECURSIVE down(id, parent_id, depth) AS (
    SELECT d.id, v.design_id, 1 FROM commons_design d JOIN commons_designversion v ON v.id = d.forked_from_id
    WHERE v.design_id = %s
    UNION ALL
    SELECT d.id, v.design_id, down.depth + 1 FROM down
    JOIN commons_designversion v ON v.design_id = down.id
    JOIN commons_design d ON d.forked_from_id = v.id
    WHERE down.depth < %s
)
SELECT id, parent_id, depth FROM down ORDER BY depth, id LIMIT %s
"""


@dataclass
class LineageNode:
    design: Design
    forked_from_version: int | None  # the number of the parent's version this design came from
    children: list[LineageNode] = field(default_factory=list)


@dataclass
class Lineage:
    ancestors: list[Design]  # parent first, then grandparent, ...
    descendants: list[LineageNode]  # the direct forks, each with its own forks
    truncated: bool  # True when a limit cut the walk short


def _fetch(ids: list[int]) -> dict[int, Design]:
    return {design.pk: design for design in _designs().filter(pk__in=ids)}


def ancestors_of(*, design: Design) -> tuple[list[Design], bool]:
    with connection.cursor() as cursor:
        cursor.execute(ANCESTORS_SQL, [design.pk, MAX_LINEAGE_DEPTH])
        rows = cursor.fetchall()
    by_id = _fetch([row[0] for row in rows])
    return [by_id[row[0]] for row in rows], len(rows) >= MAX_LINEAGE_DEPTH


def lineage(*, design: Design) -> Lineage:
    """Ancestors (up through forked_from) and descendants as a tree, in a constant number of queries."""
    ancestors, truncated = ancestors_of(design=design)
    with connection.cursor() as cursor:
        cursor.execute(DESCENDANTS_SQL, [design.pk, MAX_LINEAGE_DEPTH, MAX_DESCENDANTS])
        rows = cursor.fetchall()
    by_id = _fetch([row[0] for row in rows])
    nodes: dict[int, LineageNode] = {}
    roots: list[LineageNode] = []
    for design_id, parent_id, _depth in rows:
        child = by_id[design_id]
        node = LineageNode(child, child.forked_from.number if child.forked_from else None)
        nodes[design_id] = node
        if parent_id == design.pk:
            roots.append(node)
        elif parent_id in nodes:
            nodes[parent_id].children.append(node)
    truncated = truncated or len(rows) >= MAX_DESCENDANTS or any(row[2] >= MAX_LINEAGE_DEPTH for row in rows)
    return Lineage(ancestors=ancestors, descendants=roots, truncated=truncated)


@dataclass(frozen=True)
class Attribution:
    slug: str
    title: str
    owner: str
    licence: str
    licence_name: str
    version: int | None  # for an ancestor: the version its child was forked from


def attribution_chain(*, design: Design) -> list[Attribution]:
    """The design itself, then each ancestor up the fork chain, with owner and licence, for attribution."""
    ancestors, _ = ancestors_of(design=design)
    chain = []
    child = design
    for item in [design, *ancestors]:
        version = None
        if item is not design and child.forked_from is not None:
            version = child.forked_from.number
        chain.append(
            Attribution(item.slug, item.title, owner_name(item), item.licence, LICENCES[item.licence].name, version)
        )
        child = item
    return chain


# --- the catalog ---------------------------------------------------------------------------------------------


def _array_text(name: str) -> Func:
    return Func(F(name), Value(" "), function="array_to_string", output_field=TextField())


def catalog(
    *,
    q: str = "",
    licence: str | None = None,
    tag: str | None = None,
    interface: str | None = None,
    family: str | None = None,
) -> QuerySet[Design]:
    """Designs matching the search text and filters, each with `fork_count` (its direct forks); the caller orders them."""
    designs = _designs().annotate(fork_count=Count("versions__forks", distinct=True))
    if licence:
        designs = designs.filter(licence=licence)
    if tag:
        designs = designs.filter(tags__contains=[tag.strip().lower()])
    if interface:
        designs = designs.filter(interfaces__contains=[interface.strip().lower()])
    if family:
        designs = designs.filter(families__contains=[family.strip()])
    q = q.strip()
    if q:
        # Interface names are dotted ("power.usb-c"): split on the dots so each part is a word of its own.
        vector = (
            SearchVector("title", weight="A", config="english")
            + SearchVector("summary", weight="B", config="english")
            + SearchVector(_array_text("tags"), weight="B", config="simple")
            + SearchVector(
                Replace(_array_text("interfaces"), Value("."), Value(" "), output_field=TextField()),
                weight="B",
                config="simple",
            )
            + SearchVector(_array_text("interfaces"), weight="B", config="simple")
        )
        query = SearchQuery(q, search_type="websearch", config="english") | SearchQuery(
            q, search_type="websearch", config="simple"
        )
        designs = designs.annotate(search=vector, rank=SearchRank(vector, query)).filter(search=query)
    return designs


# --- pages: who may edit, citations, forks of a version, catalog filters, interfaces and bills of materials -------

MAX_FACETS = 200  # the catalog's filter lists offer at most this many families / interfaces, the most used first


def design_can_edit(*, design: Design, user: User | None) -> bool:
    """Whether `user` may publish versions of, edit and illustrate `design` (the services check again on write)."""
    if user is None or not user.is_authenticated:
        return False
    if design.owner_team_id is None:
        return design.owner_user_id == user.pk
    editors = (Role.OWNER, Role.MAINTAINER)
    return Membership.objects.filter(team_id=design.owner_team_id, user=user, role__in=editors).exists()


def citations_of(*, design: Design) -> QuerySet[Citation]:
    """The designs that `design` cites as upstream influences, oldest citation first."""
    return (
        Citation.objects.filter(design=design)
        .select_related("cited__owner_user__profile", "cited__owner_team")
        .order_by("created_at", "id")
    )


def cited_by(*, design: Design) -> QuerySet[Citation]:
    """The designs that cite `design`, oldest citation first."""
    return (
        Citation.objects.filter(cited=design)
        .select_related("design__owner_user__profile", "design__owner_team")
        .order_by("created_at", "id")
    )


def forks_of_version(*, version: DesignVersion) -> QuerySet[Design]:
    """The designs forked from exactly this version, oldest first."""
    return _designs().filter(forked_from=version).order_by("created_at", "id")


@dataclass(frozen=True)
class CatalogFacets:
    licences: list[tuple[str, str]]  # (SPDX id, name), every licence the platform knows
    families: list[str]  # families claimed by at least one design, alphabetical
    interfaces: list[str]  # interface names provided or required by at least one design, alphabetical


# The most used values of one array column, then sorted by name for the filter's list.
FACET_SQL = {
    "families": """
SELECT name FROM (
    SELECT name, count(*) AS uses FROM commons_design, unnest(families) AS name
    GROUP BY name ORDER BY uses DESC, name LIMIT %s
) used ORDER BY name
""",
    "interfaces": """
SELECT name FROM (
    SELECT name, count(*) AS uses FROM commons_design, unnest(interfaces) AS name
    GROUP BY name ORDER BY uses DESC, name LIMIT %s
) used ORDER BY name
""",
}


def _load_catalog_facets() -> CatalogFacets:
    values = {}
    with connection.cursor() as cursor:
        for column, sql in FACET_SQL.items():
            cursor.execute(sql, [MAX_FACETS])
            values[column] = [row[0] for row in cursor.fetchall()]
    return CatalogFacets(
        licences=[(spdx, licence.name) for spdx, licence in LICENCES.items()],
        families=values["families"],
        interfaces=values["interfaces"],
    )


_facets_lock = threading.Lock()
_facets_cache: dict[str, tuple[tuple[object, ...], CatalogFacets]] = {}


def catalog_facets() -> CatalogFacets:
    """What the catalog's filters offer: the known licences and the families and interfaces in use.

    The two facet queries read every design, so the answer is cached in this process under the catalog index's
    key (`systems.catalog_key`, per database): a design's families and interfaces change only with a published
    version or fork, which changes the key. The answer is shared between requests: read it, never change it."""
    key = systems.catalog_key()
    alias = connection.settings_dict["NAME"]
    with _facets_lock:
        cached = _facets_cache.get(alias)
        if cached is not None and cached[0] == key:
            return cached[1]
        facets = _load_catalog_facets()
        _facets_cache[alias] = (key, facets)
        return facets


@dataclass(frozen=True)
class InterfaceEntry:
    interface: str
    version: str  # a version for what is provided, a range for what is required
    amounts: list[tuple[str, object]]  # capacity (provided) or load (required), by dimension


def manifest_entries(manifest: dict[str, Any]) -> tuple[list[InterfaceEntry], list[InterfaceEntry]]:
    """The interfaces a (validated) manifest provides and requires, with their capacity or load."""

    def entries(key: str, amounts: str) -> list[InterfaceEntry]:
        found = []
        for entry in manifest.get(key) or []:
            if isinstance(entry, dict) and isinstance(entry.get("interface"), str):
                quantities = entry.get(amounts)
                by_dimension = sorted(quantities.items()) if isinstance(quantities, dict) else []
                found.append(InterfaceEntry(entry["interface"], str(entry.get("version", "")), by_dimension))
        return found

    return entries(PROVIDES, "capacity"), entries(REQUIRES, "load")


def money_text(amount: int, currency: str) -> str:
    """An amount in minor units as people read it ("12.34 EUR"); a currency the ledger does not know (so whose
    number of decimals we cannot tell) is shown in minor units rather than guessed."""
    if currency in CURRENCIES:
        return str(Money(amount, currency))
    return f"{amount} {currency} (minor units)"


@dataclass(frozen=True)
class BomLine:
    item: str
    quantity: int
    unit_cost: str
    line_cost: str  # quantity x unit cost


@dataclass(frozen=True)
class BomSummary:
    lines: list[BomLine]
    totals: list[str]  # one per currency, in the order the currencies first appear


def bom_summary(bom: list[dict[str, Any]]) -> BomSummary:
    """A (validated) bill of materials with each line's cost and the total per currency, formatted; integers
    throughout, never floats."""
    lines = []
    totals: dict[str, int] = {}
    for line in bom:
        cost = line["quantity"] * line["unit_cost"]
        totals[line["currency"]] = totals.get(line["currency"], 0) + cost
        lines.append(
            BomLine(
                line["item"],
                line["quantity"],
                money_text(line["unit_cost"], line["currency"]),
                money_text(cost, line["currency"]),
            )
        )
    return BomSummary(lines, [money_text(amount, currency) for currency, amount in totals.items()])


def version_file(*, slug: str, number: int, name: str) -> VersionFile:
    """One file of one published version, by the design's slug, the version number and the file's name."""
    file = VersionFile.objects.filter(version__design__slug=slug.lower(), version__number=number, name=name).first()
    if file is None:
        raise NotFound("This version has no file of that name.")
    return file
