"""The commons demo data: enough designs, families, remixes and citations, every manifest valid against the seeded
registry, a complete "Smart home starter", an incomplete living room that "complete my system" can finish, and a
loader that adds nothing the second time."""

from __future__ import annotations

import struct
import time
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from crowdmaker.commons import demo, systems
from crowdmaker.commons.licences import LICENCES, fork_licence_check
from crowdmaker.commons.models import Citation, Design, DesignImage, DesignVersion, System, SystemMember
from crowdmaker.people import demo as people_demo
from crowdmaker.people.models import Team, User
from crowdmaker.protocol.manifest import FAMILY, PROVIDES, REQUIRES, validate_manifest
from crowdmaker.protocol.models import InterfaceVersion, VersionStatus

pytestmark = pytest.mark.django_db

LOAD_BUDGET_S = 20.0  # `crowdmaker run` loads the demo data on a first start; it must stay quick
FAMILIES = ("smart-home", "lighting", "workshop")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def counts() -> tuple[int, ...]:
    return tuple(
        model.objects.count() for model in (Design, DesignVersion, Citation, DesignImage, System, SystemMember)
    )


@pytest.fixture
def loaded() -> None:
    people_demo.load(lambda line: None)
    demo.load(lambda line: None)


def test_loader_creates_everything_once_and_quickly() -> None:
    people_demo.load(lambda line: None)
    lines: list[str] = []

    started = time.monotonic()
    created = demo.load(lines.append)
    elapsed = time.monotonic() - started

    assert elapsed < LOAD_BUDGET_S
    assert created == sum(counts())
    assert sum(line.startswith("design ") for line in lines) == Design.objects.count() == len(demo.CATALOG)
    first = counts()

    again: list[str] = []
    assert demo.load(again.append) == 0
    assert again == []
    assert counts() == first


def test_catalog_has_families_makers_licences_and_versions(loaded: None) -> None:
    designs = list(Design.objects.all())
    assert len(designs) >= 30
    for family in FAMILIES:
        assert Design.objects.filter(families__contains=[family]).count() >= 8, family
    makers = {design.created_by.handle for design in designs}
    assert makers == {"ada", "bruno", "chen", "dara", "emil", "farah"}
    assert {design.owner_team.slug for design in designs if design.owner_team} == set(
        Team.objects.values_list("slug", flat=True)
    )
    assert len({design.licence for design in designs}) >= 8
    multi = Design.objects.filter(versions__number=2)
    assert multi.count() >= 5
    for design in multi:
        later = design.versions.filter(number__gt=1)
        assert all(version.release_notes for version in later), design.slug
    assert Design.objects.filter(versions__number=3).exists()


def test_bills_of_materials_are_integer_minor_units(loaded: None) -> None:
    for version in DesignVersion.objects.all():
        assert version.bom, version
        for line in version.bom:
            assert type(line["unit_cost"]) is int
            assert line["unit_cost"] > 0
            assert type(line["quantity"]) is int
            assert line["quantity"] > 0


def test_forks_respect_licences_and_include_a_fork_of_a_fork(loaded: None) -> None:
    forks = list(Design.objects.filter(forked_from__isnull=False).select_related("forked_from__design"))
    assert len(forks) >= 6
    for fork in forks:
        assert fork.forked_from is not None
        upstream = fork.forked_from.design
        fork_licence_check(upstream.licence, fork.licence)  # raises if the fork broke the upstream's terms
        assert LICENCES[upstream.licence].derivatives
        if LICENCES[upstream.licence].share_alike:
            assert fork.licence in LICENCES[upstream.licence].derivative_licences
    grandchildren = [fork for fork in forks if fork.forked_from and fork.forked_from.design.forked_from_id]
    assert {fork.slug for fork in grandchildren} >= {"climate-node-eink-wall", "lumen-desk-clamp"}
    assert not Design.objects.filter(forked_from__design__licence="CC-BY-ND-4.0").exists()
    assert Design.objects.filter(licence="CC-BY-ND-4.0").exists()  # ... although there is an ND design to fork


def test_citations(loaded: None) -> None:
    assert Citation.objects.count() >= 5
    assert Citation.objects.filter(design__slug="ha-box", cited__slug="climate-node").exists()
    assert all(citation.note for citation in Citation.objects.all())


def test_every_manifest_is_valid_and_uses_registered_interfaces_only(loaded: None) -> None:
    registry = {
        row.interface.name: set(row.dimensions)
        for row in InterfaceVersion.objects.filter(version="1.0.0", status=VersionStatus.ACCEPTED).select_related(
            "interface"
        )
    }
    assert len(registry) >= 15  # seeded by the protocol migration, not by the demo
    used: Counter[str] = Counter()
    for version in DesignVersion.objects.select_related("design"):
        manifest = version.manifest
        assert validate_manifest(manifest) == [], version
        assert manifest[FAMILY]
        assert set(manifest[FAMILY]) <= set(FAMILIES)
        for key, version_text, amounts in ((PROVIDES, "1.0.0", "capacity"), (REQUIRES, "^1.0", "load")):
            for entry in manifest.get(key, []):
                assert entry["interface"] in registry, (version, entry)
                assert entry["version"] == version_text, (version, entry)
                assert set(entry[amounts]) == registry[entry["interface"]], (version, entry)
                used[entry["interface"]] += 1
    assert set(used) == set(registry)  # the demo exercises every starter interface
    connected = DesignVersion.objects.filter(manifest__has_key="properties").count()
    assert connected >= 15
    hrefs = [
        form["href"]
        for version in DesignVersion.objects.filter(manifest__has_key="properties")
        for affordance in version.manifest["properties"].values()
        for form in affordance["forms"]
    ]
    assert any(href.startswith("mqtt://broker.local/") for href in hrefs)


def test_every_design_has_a_generated_png(loaded: None, media: Path) -> None:
    images = list(DesignImage.objects.select_related("design"))
    assert len(images) == Design.objects.count()
    for image in images:
        data = (media / str(image.file.name)).read_bytes()
        assert image.content_type == "image/png"
        assert image.size == len(data)
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == demo.PICTURE_SIZE
        idat_length = struct.unpack(">I", data[33:37])[0]
        assert data[37:41] == b"IDAT"
        assert len(zlib.decompress(data[41 : 41 + idat_length])) == height * (1 + 3 * width)


def _system(name: str) -> System:
    return System.objects.get(owner__handle="emil", name=name)


def test_smart_home_starter_is_complete(loaded: None) -> None:
    check = systems.system_check_result(system=_system("Smart home starter"))

    assert check.result.status == "complete"
    slugs = {member.design_version.design.slug for member in check.members}
    assert slugs == {"hexa-charger", "hearth-hub", "climate-node", "motion-eye", "relay-one", "lumen-panel", "ha-box"}
    assert all(
        member.design_version.number == member.design_version.design.versions.count() for member in check.members
    )


def test_half_built_living_room_is_incomplete_and_completion_finishes_it(loaded: None) -> None:
    system = _system("Half-built living room")
    emil = User.objects.get(handle="emil")
    check = systems.system_check_result(system=system)
    assert check.result.status == "incomplete"
    assert {unmet.interface for unmet in check.result.unmet} == {"power.usb-c", "data.mqtt.sensor.motion"}

    completion = systems.system_complete_suggestions(system=system)

    assert completion.status == "found"
    assert completion.additions == 2
    best = completion.suggestions[0]
    for product in best.products:
        slug, number = product.id.rsplit("@v", 1)
        version = DesignVersion.objects.get(design__slug=slug, number=int(number))
        systems.system_member_add(actor=emil, system_id=system.id, design_version=version)
    assert systems.system_check_result(system=system).result.status == "complete"


def test_a_sensor_alone_is_incomplete(loaded: None) -> None:
    emil = User.objects.get(handle="emil")
    lonely = systems.system_create(actor=emil, name="Just a sensor")
    version = DesignVersion.objects.get(design__slug="climate-node", number=3)
    systems.system_member_add(actor=emil, system_id=lonely.id, design_version=version)

    check = systems.system_check_result(system=lonely)

    assert check.result.status == "incomplete"
    assert {unmet.interface for unmet in check.result.unmet} == {"power.usb-c", "data.mqtt.broker", "data.wifi-ap"}
