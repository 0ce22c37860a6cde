"""The commons' forms through the test client: publish, import a Thing Description, version, fork, cite, edit, image.

Every refusal asserts the message shown by the field to blame, that no row changed and that no file was left in
storage (MEDIA_ROOT is a fresh folder per test).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html import escape, unescape
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from crowdmaker.commons import services
from crowdmaker.commons.forms import BomLineError, bom_text, parse_bom_line
from crowdmaker.commons.models import (
    MAX_IMAGE_BYTES,
    MAX_VERSION_FILE_BYTES,
    Citation,
    Design,
    DesignImage,
    DesignVersion,
    VersionFile,
)
from crowdmaker.commons.tests.conftest import manifest
from crowdmaker.people import services as people_services
from crowdmaker.people.models import SLUG_HELP, Role, Team, User
from crowdmaker.protocol.services import MAX_IMPORT_BYTES
from crowdmaker.protocol.tests.corpus import MISSING_REASON, TD_FOLDER, corpus_available

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LAMP = manifest("Desk lamp", requires=["power.usb-c"])
CHARGER = manifest("Charger", provides=["power.usb-c"])


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.MEDIA_URL = "/media/"
    return tmp_path / "media"


def stored(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def counts() -> dict[str, int]:
    return {
        "designs": Design.objects.count(),
        "versions": DesignVersion.objects.count(),
        "citations": Citation.objects.count(),
        "images": DesignImage.objects.count(),
        "files": VersionFile.objects.count(),
    }


def html_of(response: Any) -> str:
    return response.content.decode()


def assert_error_next_to(response: Any, name: str, message: str) -> None:
    """The message is rendered right by the field (Django's error list for that field), escaped."""
    html = html_of(response)
    errors = re.search(rf'<ul class="errorlist" id="id_{name}_error">(.*?)</ul>', html, re.S)
    assert errors, f"no errors shown by {name!r}"
    assert escape(message) in errors.group(1), errors.group(1)


def _add_member(team: Team, owner: User, member: User, role: str) -> None:
    invitation = people_services.team_invitation_create(actor=owner, team=team, invitee_handle=member.handle, role=role)
    people_services.team_invitation_accept(actor=member, invitation_id=invitation.pk)


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def design_data(**changes: Any) -> dict[str, Any]:
    data = {
        "slug": "desk-lamp",
        "title": "Desk lamp",
        "summary": "A lamp for the desk.",
        "description": "# Build\n\nPrint the *shade*.",
        "licence": "CERN-OHL-S-2.0",
        "tags": "Lighting, home",
        "owner": "",
        "manifest": json.dumps(LAMP),
        "bom": "4 x M3 screw @ 0.05 EUR\n\n1 x LED board @ 12.90 EUR",
        "release_notes": "First light.",
    }
    data.update(changes)
    return data


# --- the bill of materials as text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "parsed"),
    [
        ("4 x M3 screw @ 0.05 EUR", {"item": "M3 screw", "quantity": 4, "unit_cost": 5, "currency": "EUR"}),
        # 0.29 * 100 is 28.999999999999996 in floating point: exact decimal parsing gives 29.
        ("3 x Wire, 1 m @ 0.29 eur", {"item": "Wire, 1 m", "quantity": 3, "unit_cost": 29, "currency": "EUR"}),
        ("10x Board @ 12.5 USD", {"item": "Board", "quantity": 10, "unit_cost": 1250, "currency": "USD"}),
        ("2 \u00d7 Shade @ 1500 JPY", {"item": "Shade", "quantity": 2, "unit_cost": 1500, "currency": "JPY"}),
        ("1 x Sticker @ me @ 0 EUR", {"item": "Sticker @ me", "quantity": 1, "unit_cost": 0, "currency": "EUR"}),
    ],
)
def test_bom_line_is_parsed_exactly(line: str, parsed: dict[str, Any]) -> None:
    assert parse_bom_line(line) == parsed


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("M3 screw @ 0.05 EUR", "Start with the quantity"),
        ("4 x M3 screw", "after an @"),
        ("0 x M3 screw @ 0.05 EUR", "above zero"),
        ("-1 x M3 screw @ 0.05 EUR", "above zero"),
        ("4 x M3 screw @ 0.055 EUR", "EUR amounts have 2 decimal places"),
        ("4 x M3 screw @ 1.5 JPY", "JPY amounts have no decimals"),
        ("4 x M3 screw @ 0,05 EUR", "is not an amount"),
        ("4 x M3 screw @ 1e3 EUR", "is not an amount"),
        ("4 x M3 screw @ 0.05 XYZ", "not a currency we know"),
        ("4 x M3 screw @ 0.05", "an amount and a currency"),
        ("1234567890 x M3 screw @ 0.05 EUR", "too large"),
    ],
)
def test_bad_bom_line_says_why(line: str, reason: str) -> None:
    with pytest.raises(BomLineError) as caught:
        parse_bom_line(line)
    assert reason in str(caught.value)


def test_bom_text_reads_back_to_the_same_lines() -> None:
    bom = [
        {"item": "M3 screw", "quantity": 4, "unit_cost": 5, "currency": "EUR"},
        {"item": "Shade", "quantity": 1, "unit_cost": 1500, "currency": "JPY"},
        {"item": "Board", "quantity": 2, "unit_cost": 123456, "currency": "KWD"},
    ]
    text = bom_text(bom)
    assert text == "4 x M3 screw @ 0.05 EUR\n1 x Shade @ 1500 JPY\n2 x Board @ 123.456 KWD"
    assert [parse_bom_line(line) for line in text.splitlines()] == bom


# --- publishing a design -------------------------------------------------------------------------------------


def test_new_design_needs_an_account() -> None:
    response = Client().get("/designs/new/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_new_design_form_offers_every_licence_with_a_hint_and_my_editable_teams(user: User, other_user: User) -> None:
    mine = people_services.team_create(actor=user, slug="lamp-works", name="Lamp Works")
    theirs = people_services.team_create(actor=other_user, slug="solar", name="Solar")
    _add_member(theirs, other_user, user, Role.MEMBER)
    response = signed_in(user).get("/designs/new/")
    html = html_of(response)
    assert response.status_code == 200
    assert html.count("<option value=") >= 13 + 2  # every licence, me and my team
    assert escape("CC-BY-ND-4.0 — Creative Commons Attribution-NoDerivatives 4.0: no remixes") in html
    assert escape("remixes stay CC-BY-SA-4.0 or GPL-3.0-or-later, commercial use allowed") in html
    assert '<option value="" selected>Me (@ada)</option>' in html
    assert f'<option value="{mine.slug}">Team Lamp Works</option>' in html
    assert 'value="solar"' not in html
    assert 'enctype="multipart/form-data"' in html


def test_publish_a_design(user: User, media: Path) -> None:
    response = signed_in(user).post(
        "/designs/new/",
        {
            **design_data(),
            "version_files": [
                SimpleUploadedFile("shade.stl", b"solid shade\n"),
                SimpleUploadedFile("board.kicad_pcb", b"(pcb)"),
            ],
        },
    )
    assert response.status_code == 302, html_of(response)
    assert response["Location"] == "/designs/desk-lamp/"
    design = Design.objects.get()
    assert (design.slug, design.title, design.summary, design.licence) == (
        "desk-lamp", "Desk lamp", "A lamp for the desk.", "CERN-OHL-S-2.0"
    )  # fmt: skip
    assert design.description == "# Build\n\nPrint the *shade*."
    assert design.tags == ["lighting", "home"]
    assert design.owner_user == user
    version = design.versions.get()
    assert version.manifest == LAMP
    assert version.release_notes == "First light."
    assert version.bom == [
        {"item": "M3 screw", "quantity": 4, "unit_cost": 5, "currency": "EUR"},
        {"item": "LED board", "quantity": 1, "unit_cost": 1290, "currency": "EUR"},
    ]
    assert sorted(f.name for f in version.files.all()) == ["board.kicad_pcb", "shade.stl"]
    assert len(stored(media)) == 2


def test_publish_a_design_for_my_team(user: User) -> None:
    team = people_services.team_create(actor=user, slug="lamp-works", name="Lamp Works")
    response = signed_in(user).post("/designs/new/", design_data(owner="lamp-works", bom=""))
    assert response.status_code == 302
    design = Design.objects.get()
    assert design.owner_team == team
    assert design.owner_user is None
    assert design.versions.get().bom == []


@pytest.mark.parametrize(
    ("changes", "field", "message", "status"),
    [
        ({"slug": "Desk Lamp!"}, "slug", SLUG_HELP, 422),
        ({"manifest": '{"title": "Desk lamp",'}, "manifest", "The manifest is not valid JSON", 400),
        ({"manifest": json.dumps({**LAMP, "security": 7})}, "manifest", "The manifest is not valid at /security", 422),
        (
            {"manifest": json.dumps(manifest(provides=["power.warp-core"]))},
            "manifest",
            "/cm:provides/0/interface: power.warp-core is not in the interface registry",
            422,
        ),
        ({"bom": "4 x M3 screw @ 0.05 EUR\n\n4 x M3 nut @ 0.5.1 EUR"}, "bom", "Line 3: “0.5.1” is not an amount", 400),
        # The service refuses the item (too long): the error names the typed line, counting the blank one.
        ({"bom": "4 x M3 screw @ 0.05 EUR\n\n1 x " + "a" * 201 + " @ 1 EUR"}, "bom", "Line 3: At most 200", 422),
        ({"tags": "lighting, Not a tag!"}, "tags", "Tag 'not a tag!'", 422),
        ({"title": ""}, "title", "This field is required.", 400),
        ({"licence": "WTFPL"}, "licence", "Select a valid choice", 400),
    ],
)
def test_bad_design_is_refused_by_the_field_and_leaves_nothing(
    user: User, media: Path, changes: dict[str, str], field: str, message: str, status: int
) -> None:
    before = counts()
    upload = SimpleUploadedFile("shade.stl", b"solid shade\n")
    response = signed_in(user).post("/designs/new/", {**design_data(**changes), "version_files": [upload]})
    assert response.status_code == status
    assert_error_next_to(response, field, message)
    assert counts() == before
    assert stored(media) == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("setup.exe", b"MZ\x90\x00", "setup.exe: this kind of file is not accepted"),
        ("manual.pdf", b"<html>not a pdf</html>", "manual.pdf: the content is not what a .pdf file holds."),
        ("big.stl", b"s" * (MAX_VERSION_FILE_BYTES + 1), "big.stl: a file may be at most 50 MiB."),
    ],
)
def test_bad_version_file_is_refused_and_leaves_nothing(
    user: User, media: Path, name: str, content: bytes, message: str
) -> None:
    good = SimpleUploadedFile("shade.stl", b"solid shade\n")
    response = signed_in(user).post(
        "/designs/new/", {**design_data(), "version_files": [good, SimpleUploadedFile(name, content)]}
    )
    assert response.status_code == 422
    assert_error_next_to(response, "version_files", message)
    assert 'id="id_version_files"' in html_of(response)
    assert counts() == {"designs": 0, "versions": 0, "citations": 0, "images": 0, "files": 0}
    assert stored(media) == []


def test_slug_taken_is_refused_and_text_is_shown_escaped(
    user: User, other_user: User, make_design: Callable[..., Design], media: Path
) -> None:
    make_design(other_user, "desk-lamp")
    before = counts()
    response = signed_in(user).post(
        "/designs/new/",
        {**design_data(title="<script>alert(1)</script>"), "version_files": [SimpleUploadedFile("a.stl", b"solid")]},
    )
    assert response.status_code == 409
    assert_error_next_to(response, "slug", "A design with this address exists already.")
    html = html_of(response)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert counts() == before
    assert stored(media) == []


def test_team_where_i_am_only_a_member_is_not_offered(user: User, other_user: User) -> None:
    people_services.team_create(actor=other_user, slug="solar", name="Solar")  # user is no member of it
    before = counts()
    response = signed_in(user).post("/designs/new/", design_data(owner="solar"))
    assert response.status_code == 400
    assert_error_next_to(response, "owner", "Select a valid choice")
    assert counts() == before


# --- starting from a Thing Description -----------------------------------------------------------------------


def import_td(client: Client, content: bytes, name: str = "lamp.td.jsonld") -> Any:
    return client.post("/designs/new/", {"action": "import", "thing_description": SimpleUploadedFile(name, content)})


def test_import_fills_the_form_from_a_thing_description(user: User, media: Path) -> None:
    td = {**manifest("Hue <Lamp> 2"), "description": "A colour lamp."}
    response = import_td(signed_in(user), json.dumps(td).encode())
    assert response.status_code == 200
    html = html_of(response)
    assert 'value="Hue &lt;Lamp&gt; 2"' in html
    assert 'value="hue-lamp-2"' in html
    textarea = re.search(r'<textarea name="manifest"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea
    imported = json.loads(unescape(textarea.group(1)))
    assert imported["title"] == "Hue <Lamp> 2"
    assert imported["description"] == "A colour lamp."
    assert "filled from your Thing Description" in html
    assert counts() == {"designs": 0, "versions": 0, "citations": 0, "images": 0, "files": 0}
    assert stored(media) == []


def test_invalid_thing_description_shows_the_pointer_and_changes_nothing(user: User, media: Path) -> None:
    td = {**manifest("Lamp"), "properties": {"on": {"type": "flag", "forms": [{"href": "/on"}]}}}
    response = import_td(signed_in(user), json.dumps(td).encode())
    assert response.status_code == 422
    assert_error_next_to(response, "thing_description", "/properties/on/type")
    assert counts() == {"designs": 0, "versions": 0, "citations": 0, "images": 0, "files": 0}
    assert stored(media) == []


@pytest.mark.parametrize(
    ("content", "message", "status"),
    [
        (b"\x89PNG not json", "The file is not UTF-8 text.", 422),
        (b'{"title": "Lamp",', "The file is not JSON: Expecting property name enclosed in double quotes", 422),
        (b" " * (MAX_IMPORT_BYTES + 1), "A Thing Description may be at most 1024 KiB.", 400),
    ],
)
def test_file_that_is_no_thing_description_is_refused(
    user: User, media: Path, content: bytes, message: str, status: int
) -> None:
    response = import_td(signed_in(user), content)
    assert response.status_code == status
    assert_error_next_to(response, "thing_description", message)
    assert counts() == {"designs": 0, "versions": 0, "citations": 0, "images": 0, "files": 0}
    assert stored(media) == []


@pytest.mark.skipif(not corpus_available(), reason=MISSING_REASON)
def test_a_real_plugfest_thing_description_starts_a_design(user: User) -> None:
    path = TD_FOLDER / "2020.09.Online__TDs__TUM__HueColorLight1.td.jsonld"
    client = signed_in(user)
    response = import_td(client, path.read_bytes(), path.name)
    assert response.status_code == 200, html_of(response)
    html = html_of(response)
    title = json.loads(path.read_text(encoding="utf-8"))["title"]
    assert f'value="{escape(title)}"' in html
    textarea = re.search(r'<textarea name="manifest"[^>]*>\n?(.*?)</textarea>', html, re.S)
    assert textarea
    manifest_text = unescape(textarea.group(1))
    # The maker completes the form and publishes: the imported manifest is accepted as it is.
    slug = re.search(r'name="slug" value="([^"]*)"', html)
    assert slug
    response = client.post(
        "/designs/new/",
        design_data(slug=slug.group(1), title=unescape(title), manifest=manifest_text, bom=""),
    )
    assert response.status_code == 302, html_of(response)
    design = Design.objects.get()
    assert design.versions.get().manifest["title"] == title


# --- versions ------------------------------------------------------------------------------------------------


def test_version_form_starts_from_the_latest_version(user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "desk-lamp", manifest=LAMP)
    services.design_version_publish(
        actor=user, design=design, manifest=CHARGER,
        bom=[{"item": "Shade", "quantity": 1, "unit_cost": 250, "currency": "EUR"}],
    )  # fmt: skip
    response = signed_in(user).get("/designs/desk-lamp/versions/new/")
    assert response.status_code == 200
    html = html_of(response)
    assert "1 x Shade @ 2.50 EUR" in html
    textarea = re.search(r'<textarea name="manifest"[^>]*>(.*?)</textarea>', html, re.S)
    assert textarea
    assert json.loads(unescape(textarea.group(1))) == CHARGER


def test_publish_a_version(user: User, make_design: Callable[..., Design], media: Path) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    response = signed_in(user).post(
        "/designs/desk-lamp/versions/new/",
        {
            "manifest": json.dumps(CHARGER),
            "bom": "2 x Shade @ 2.50 EUR",
            "release_notes": "Now a charger.",
            "version_files": [SimpleUploadedFile("charger.step", b"ISO-10303-21;")],
        },
    )
    assert response.status_code == 302, html_of(response)
    assert response["Location"] == "/designs/desk-lamp/v2/"
    version = DesignVersion.objects.get(number=2)
    assert version.manifest == CHARGER
    assert version.bom == [{"item": "Shade", "quantity": 2, "unit_cost": 250, "currency": "EUR"}]
    assert version.release_notes == "Now a charger."
    assert [f.name for f in version.files.all()] == ["charger.step"]
    assert len(stored(media)) == 1


def test_team_maintainer_publishes_a_version(user: User, other_user: User) -> None:
    team = people_services.team_create(actor=user, slug="lamp-works", name="Lamp Works")
    services.design_create(actor=user, slug="desk-lamp", title="Lamp", licence="MIT", manifest=LAMP, team=team)
    _add_member(team, user, other_user, Role.MAINTAINER)
    response = signed_in(other_user).post("/designs/desk-lamp/versions/new/", {"manifest": json.dumps(CHARGER)})
    assert response.status_code == 302
    assert DesignVersion.objects.filter(number=2, published_by=other_user).exists()


def test_others_may_not_publish_versions(
    user: User, other_user: User, make_design: Callable[..., Design], media: Path
) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    client = signed_in(other_user)
    before = counts()
    assert client.get("/designs/desk-lamp/versions/new/").status_code == 403
    response = client.post(
        "/designs/desk-lamp/versions/new/",
        {"manifest": json.dumps(CHARGER), "version_files": [SimpleUploadedFile("x.stl", b"solid")]},
    )
    assert response.status_code == 403
    assert counts() == before
    assert stored(media) == []


def test_team_member_without_an_editor_role_is_refused(user: User, other_user: User) -> None:
    team = people_services.team_create(actor=user, slug="lamp-works", name="Lamp Works")
    services.design_create(actor=user, slug="desk-lamp", title="Lamp", licence="MIT", manifest=LAMP, team=team)
    _add_member(team, user, other_user, Role.MEMBER)
    before = counts()
    response = signed_in(other_user).post("/designs/desk-lamp/versions/new/", {"manifest": json.dumps(CHARGER)})
    assert response.status_code == 403
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "field", "message", "status"),
    [
        ({"manifest": "[1, 2"}, "manifest", "The manifest is not valid JSON", 400),
        ({"manifest": json.dumps(manifest(requires=["power.usb-c"]) | {"title": 5})}, "manifest", "/title", 422),
        ({"manifest": json.dumps(CHARGER), "bom": "two x Shade @ 1 EUR"}, "bom", "Line 1: The quantity “two”", 400),
    ],
)
def test_bad_version_is_refused_and_leaves_nothing(
    user: User, make_design: Callable[..., Design], media: Path, data: dict[str, str], field: str, message: str,
    status: int,
) -> None:  # fmt: skip
    make_design(user, "desk-lamp", manifest=LAMP)
    before = counts()
    response = signed_in(user).post(
        "/designs/desk-lamp/versions/new/", {**data, "version_files": [SimpleUploadedFile("x.stl", b"solid")]}
    )
    assert response.status_code == status
    assert_error_next_to(response, field, message)
    assert counts() == before
    assert stored(media) == []


# --- forks ---------------------------------------------------------------------------------------------------


def fork_options(html: str) -> list[str]:
    select = re.search(r'<select name="licence"[^>]*>(.*?)</select>', html, re.S)
    assert select
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def test_fork_form_offers_only_the_licences_a_share_alike_upstream_allows(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    design = make_design(user, "desk-lamp", licence="CC-BY-SA-4.0", manifest=LAMP)
    services.design_version_publish(actor=user, design=design, manifest=CHARGER)
    response = signed_in(other_user).get("/designs/desk-lamp/fork/?version=1")
    assert response.status_code == 200
    html = html_of(response)
    assert fork_options(html) == ["CC-BY-SA-4.0", "GPL-3.0-or-later"]
    assert '<option value="1" selected>Version 1</option>' in html
    default = signed_in(other_user).get("/designs/desk-lamp/fork/")
    assert '<option value="2" selected>Version 2</option>' in html_of(default)


@pytest.mark.parametrize("asked", ["3", "0", "²", "\u0661", "1.0", "-1", " 1", "1\n", "x", "9" * 5000])
def test_fork_form_for_a_version_the_design_does_not_have_is_404(
    user: User, other_user: User, make_design: Callable[..., Design], asked: str
) -> None:
    design = make_design(user, "desk-lamp", licence="CC-BY-SA-4.0", manifest=LAMP)
    services.design_version_publish(actor=user, design=design, manifest=CHARGER)
    before = counts()
    client = signed_in(other_user)
    response = client.get("/designs/desk-lamp/fork/", {"version": asked})
    assert response.status_code == 404
    assert "<h1>Not found</h1>" in html_of(response)
    # Posted, the same value is refused next to the field.
    posted = client.post(
        "/designs/desk-lamp/fork/",
        {"version": asked, "slug": "my-lamp", "title": "My lamp", "licence": "GPL-3.0-or-later", "owner": ""},
    )
    assert posted.status_code == 400
    assert_error_next_to(posted, "version", f"Select a valid choice. {asked} is not one of the available choices.")
    assert counts() == before


def test_fork_a_design(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "desk-lamp", licence="CC-BY-SA-4.0", manifest=LAMP)
    services.design_version_publish(actor=user, design=design, manifest=CHARGER)
    response = signed_in(other_user).post(
        "/designs/desk-lamp/fork/",
        {"version": "1", "slug": "my-lamp", "title": "My lamp", "licence": "GPL-3.0-or-later", "owner": ""},
    )
    assert response.status_code == 302, html_of(response)
    assert response["Location"] == "/designs/my-lamp/"
    fork = Design.objects.get(slug="my-lamp")
    assert fork.forked_from == design.versions.get(number=1)
    assert fork.licence == "GPL-3.0-or-later"
    assert fork.owner_user == other_user
    assert fork.versions.get().manifest == LAMP


def test_share_alike_fork_under_another_licence_is_refused_with_the_reason(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    make_design(user, "desk-lamp", licence="CC-BY-SA-4.0", manifest=LAMP)
    before = counts()
    response = signed_in(other_user).post(
        "/designs/desk-lamp/fork/",
        {"version": "1", "slug": "my-lamp", "title": "My lamp", "licence": "CC-BY-4.0", "owner": ""},
    )
    assert response.status_code == 422
    assert_error_next_to(
        response, "licence", "CC-BY-SA-4.0 is share-alike: a fork must be licensed CC-BY-SA-4.0 or GPL-3.0-or-later"
    )
    assert counts() == before


def test_no_derivatives_design_explains_instead_of_a_fork_form(
    user: User, other_user: User, make_design: Callable[..., Design]
) -> None:
    make_design(user, "desk-lamp", licence="CC-BY-ND-4.0", manifest=LAMP)
    client = signed_in(other_user)
    page = client.get("/designs/desk-lamp/fork/")
    assert page.status_code == 200
    html = html_of(page)
    assert "cannot be remixed" in html
    assert "does not allow derivatives" in html
    assert "<form" not in html.split("<main", 1)[1]
    before = counts()
    response = client.post(
        "/designs/desk-lamp/fork/",
        {"version": "1", "slug": "my-lamp", "title": "My lamp", "licence": "CC-BY-ND-4.0", "owner": ""},
    )
    assert response.status_code == 403
    assert "does not allow derivatives" in html_of(response)
    assert counts() == before
    assert not Design.objects.filter(slug="my-lamp").exists()


def test_fork_onto_a_taken_slug_is_refused(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    before = counts()
    response = signed_in(other_user).post(
        "/designs/desk-lamp/fork/",
        {"version": "1", "slug": "desk-lamp", "title": "Mine", "licence": "CC-BY-4.0", "owner": ""},
    )
    assert response.status_code == 409
    assert_error_next_to(response, "slug", "A design with this address exists already.")
    assert counts() == before


# --- citations -----------------------------------------------------------------------------------------------


def test_cite_a_design(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    design = make_design(user, "desk-lamp", manifest=LAMP)
    cited = make_design(other_user, "usb-charger", manifest=CHARGER)
    response = signed_in(user).post("/designs/desk-lamp/cite/", {"cited": "USB-Charger", "note": "Its enclosure."})
    assert response.status_code == 302
    assert response["Location"] == "/designs/desk-lamp/"
    citation = Citation.objects.get()
    assert (citation.design, citation.cited, citation.note) == (design, cited, "Its enclosure.")


@pytest.mark.parametrize(
    ("cited", "message", "status"),
    [
        ("no-such-design", "No design has this address.", 422),
        ("desk-lamp", "A design cannot cite itself.", 422),
    ],
)
def test_bad_citation_is_refused(
    user: User, make_design: Callable[..., Design], cited: str, message: str, status: int
) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    before = counts()
    response = signed_in(user).post("/designs/desk-lamp/cite/", {"cited": cited})
    assert response.status_code == status
    assert_error_next_to(response, "cited", message)
    assert counts() == before


def test_others_may_not_cite_for_a_design(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    make_design(other_user, "usb-charger", manifest=CHARGER)
    client = signed_in(other_user)
    assert client.get("/designs/desk-lamp/cite/").status_code == 403
    assert client.post("/designs/desk-lamp/cite/", {"cited": "usb-charger"}).status_code == 403
    assert Citation.objects.count() == 0


# --- editing -------------------------------------------------------------------------------------------------


def test_edit_a_design(user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "desk-lamp", manifest=LAMP, tags=["lighting"])
    client = signed_in(user)
    page = html_of(client.get("/designs/desk-lamp/edit/"))
    assert 'name="tags" value="lighting"' in page
    response = client.post(
        "/designs/desk-lamp/edit/",
        {"title": "Desk lamp II", "summary": "Brighter.", "description": "**Bold**", "tags": "lighting, desk"},
    )
    assert response.status_code == 302
    design = Design.objects.get()
    assert (design.title, design.summary, design.description, design.tags) == (
        "Desk lamp II", "Brighter.", "**Bold**", ["lighting", "desk"]
    )  # fmt: skip
    assert DesignVersion.objects.count() == 1


def test_bad_edit_is_refused_and_changes_nothing(user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "desk-lamp", manifest=LAMP, title="Desk lamp", tags=["lighting"])
    response = signed_in(user).post(
        "/designs/desk-lamp/edit/", {"title": "New title", "summary": "", "description": "", "tags": "ok, -bad-"}
    )
    assert response.status_code == 422
    assert_error_next_to(response, "tags", "Tag '-bad-'")
    design = Design.objects.get()
    assert (design.title, design.tags) == ("Desk lamp", ["lighting"])


def test_others_may_not_edit(user: User, other_user: User, make_design: Callable[..., Design]) -> None:
    make_design(user, "desk-lamp", manifest=LAMP, title="Desk lamp")
    client = signed_in(other_user)
    assert client.get("/designs/desk-lamp/edit/").status_code == 403
    response = client.post("/designs/desk-lamp/edit/", {"title": "Mine", "summary": "", "description": "", "tags": ""})
    assert response.status_code == 403
    assert Design.objects.get().title == "Desk lamp"


# --- images --------------------------------------------------------------------------------------------------


def test_add_an_image(user: User, make_design: Callable[..., Design], media: Path) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    response = signed_in(user).post(
        "/designs/desk-lamp/images/", {"file": SimpleUploadedFile("lamp.png", PNG), "alt": "The lamp, lit"}
    )
    assert response.status_code == 302
    image = DesignImage.objects.get()
    assert (image.alt, image.content_type) == ("The lamp, lit", "image/png")
    assert stored(media) == [media / (image.file.name or "")]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"<svg onload=alert(1)>", "Only PNG, JPEG and WebP images are accepted."),
        (b"\xff\xd8\xff" + b"\x00" * MAX_IMAGE_BYTES, "An image may be at most 5 MiB."),
    ],
)
def test_bad_image_is_refused_and_leaves_nothing(
    user: User, make_design: Callable[..., Design], media: Path, content: bytes, message: str
) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    before = counts()
    response = signed_in(user).post("/designs/desk-lamp/images/", {"file": SimpleUploadedFile("x.png", content)})
    assert response.status_code == 422
    assert_error_next_to(response, "file", message)
    assert counts() == before
    assert stored(media) == []


def test_others_may_not_add_images(
    user: User, other_user: User, make_design: Callable[..., Design], media: Path
) -> None:
    make_design(user, "desk-lamp", manifest=LAMP)
    client = signed_in(other_user)
    assert client.get("/designs/desk-lamp/images/").status_code == 403
    response = client.post("/designs/desk-lamp/images/", {"file": SimpleUploadedFile("x.png", PNG)})
    assert response.status_code == 403
    assert DesignImage.objects.count() == 0
    assert stored(media) == []


def test_unknown_design_is_not_found(user: User) -> None:
    client = signed_in(user)
    for path in ("edit", "versions/new", "fork", "cite", "images"):
        assert client.get(f"/designs/no-such-design/{path}/").status_code == 404
