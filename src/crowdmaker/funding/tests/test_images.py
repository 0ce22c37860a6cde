"""Campaign images: editors add PNG, JPEG or WebP pictures (type sniffed from the content, size and number limited)
with alt text, on drafts and live campaigns, reorder and delete them; a refusal or a failed database write leaves
no file and no row. The first is the cover: on the campaign cards and first in the campaign page's gallery. Served
under MEDIA_URL like design images; in the campaign's API output; added, changed and deleted through the API and
the maker's edit page."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone

from crowdmaker.conftest import ApiClient
from crowdmaker.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from crowdmaker.core.images import image_check, image_store
from crowdmaker.funding import images
from crowdmaker.funding.models import (
    MAX_CAMPAIGN_IMAGE_BYTES,
    MAX_CAMPAIGN_IMAGES,
    Campaign,
    CampaignImage,
    CampaignStatus,
)
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 40


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.MEDIA_URL = "/media/"
    return tmp_path


def stored(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def upload(content: bytes = PNG, name: str = "photo.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, "image/png")  # the browser's claim, never believed


def add(campaign: Campaign, actor: User, content: bytes = PNG, alt: str = "") -> CampaignImage:
    return images.campaign_image_add(actor=actor, campaign=campaign, upload=upload(content), alt=alt)


def order(campaign: Campaign) -> list[tuple[str, int]]:
    return [(image.alt, image.position) for image in images.campaign_images(campaign=campaign)]


def client_of(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


# --- adding -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("publish", [False, True])
def test_an_editor_adds_images_to_a_draft_or_a_live_campaign(
    make_campaign: Callable[..., Campaign], user: User, media: Path, publish: bool
) -> None:
    campaign = make_campaign(publish=publish)

    first = add(campaign, user, PNG, alt="  The lamp, lit  ")
    second = add(campaign, user, JPEG, alt="Its base")
    third = add(campaign, user, WEBP)

    assert [(i.content_type, i.size, i.position) for i in (first, second, third)] == [
        ("image/png", len(PNG), 0), ("image/jpeg", len(JPEG), 1), ("image/webp", len(WEBP), 2),
    ]  # fmt: skip
    assert first.alt == "The lamp, lit"
    assert (first.file.name or "").startswith(f"campaigns/{campaign.pk}/")
    assert (first.file.name or "").endswith(".png")  # the sniffed type's extension, never the uploader's name
    assert (second.file.name or "").endswith(".jpg")
    assert stored(media) == sorted(media / (i.file.name or "") for i in (first, second, third))
    assert (media / (first.file.name or "")).read_bytes() == PNG


@pytest.mark.parametrize(
    ("content", "who", "error", "code"),
    [
        (b"", "maker", Invalid, "file_empty"),
        (b"<svg onload=alert(1)>", "maker", Invalid, "file_type"),
        (b"GIF89a" + b"\x00" * 10, "maker", Invalid, "file_type"),
        (b"\xff\xd8\xff" + b"\x00" * MAX_CAMPAIGN_IMAGE_BYTES, "maker", Invalid, "file_too_large"),
        (PNG, "backer", Forbidden, "not_editor"),
        (PNG, "stranger", Forbidden, "not_editor"),
    ],
)
def test_a_refused_upload_leaves_no_file_and_no_row(
    make_campaign: Callable[..., Campaign], user: User, make_user: Callable[..., User], media: Path,
    content: bytes, who: str, error: type[DomainError], code: str,
) -> None:  # fmt: skip
    campaign = make_campaign()
    add(campaign, user, PNG, alt="kept")
    before = stored(media)
    actor = {"maker": user, "backer": make_user("bea"), "stranger": make_user("sam")}[who]

    with pytest.raises(error) as refused:
        add(campaign, actor, content)

    assert refused.value.code == code
    assert order(campaign) == [("kept", 0)]
    assert stored(media) == before


def test_at_most_twelve_images_and_bad_alt_text_are_refused(
    make_campaign: Callable[..., Campaign], user: User, media: Path
) -> None:
    campaign = make_campaign()
    for n in range(MAX_CAMPAIGN_IMAGES):
        add(campaign, user, alt=f"#{n}")
    before = stored(media)

    with pytest.raises(Conflict) as too_many:
        add(campaign, user)
    assert too_many.value.code == "too_many_images"
    images.campaign_image_delete(actor=user, campaign=campaign, image_id=CampaignImage.objects.last().pk)  # type: ignore[union-attr]
    for alt in ("x" * 201, "two\nlines"):
        with pytest.raises(Invalid) as bad_alt:
            add(campaign, user, alt=alt)
        assert bad_alt.value.field == "alt"
    assert CampaignImage.objects.filter(campaign=campaign).count() == MAX_CAMPAIGN_IMAGES - 1
    assert len(stored(media)) == len(before)  # the deleted one's file goes after commit (not in this test's txn)


def test_an_ended_campaign_keeps_its_images(make_campaign: Callable[..., Campaign], user: User, media: Path) -> None:
    campaign = make_campaign()
    image = add(campaign, user, alt="Cover")
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.FAILED, decided_at=timezone.now())  # settled
    before = stored(media)

    for change in (
        lambda: add(campaign, user),
        lambda: images.campaign_image_update(actor=user, campaign=campaign, image_id=image.pk, alt="New"),
        lambda: images.campaign_image_delete(actor=user, campaign=campaign, image_id=image.pk),
    ):
        with pytest.raises(Conflict) as refused:
            change()
        assert refused.value.code == "campaign_ended"
    assert order(campaign) == [("Cover", 0)]
    assert stored(media) == before


def test_a_failed_database_write_leaves_no_file(
    media: Path, make_campaign: Callable[..., Campaign], user: User
) -> None:
    campaign = make_campaign()
    checked = image_check(upload(PNG), max_bytes=MAX_CAMPAIGN_IMAGE_BYTES)

    def write_then_refuse_the_row() -> None:
        with image_store() as store, transaction.atomic():
            name = store.save(upload(PNG), checked, folder=f"campaigns/{campaign.pk}")
            assert stored(media) == [media / name]  # written ...
            CampaignImage.objects.create(campaign=campaign, file=name, content_type="image/gif", size=checked.size,
                                         uploaded_by=user)  # fmt: skip  # ... and the database refuses the row

    with pytest.raises(IntegrityError):
        write_then_refuse_the_row()

    assert stored(media) == []
    assert CampaignImage.objects.count() == 0


# --- changing and deleting ---------------------------------------------------------------------------------------


def test_editors_reorder_describe_and_delete_images(
    make_campaign: Callable[..., Campaign], user: User, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    campaign = make_campaign()
    a, _, c = (add(campaign, user, alt=alt) for alt in ("a", "b", "c"))

    images.campaign_image_update(actor=user, campaign=campaign, image_id=c.pk, position=0)
    assert order(campaign) == [("c", 0), ("a", 1), ("b", 2)]
    images.campaign_image_update(actor=user, campaign=campaign, image_id=c.pk, position=2, alt="  the back ")
    assert order(campaign) == [("a", 0), ("b", 1), ("the back", 2)]
    images.campaign_image_update(actor=user, campaign=campaign, image_id=a.pk, alt="")
    assert order(campaign) == [("", 0), ("b", 1), ("the back", 2)]

    with django_capture_on_commit_callbacks(execute=True):
        images.campaign_image_delete(actor=user, campaign=campaign, image_id=a.pk)
    assert order(campaign) == [("b", 0), ("the back", 1)]  # b is the cover now
    assert media / (a.file.name or "") not in stored(media)
    assert len(stored(media)) == 2


@pytest.mark.parametrize(
    ("who", "changes", "error", "code"),
    [
        ("maker", {"position": 3}, Invalid, "position_invalid"),
        ("maker", {"position": -1}, Invalid, "position_invalid"),
        ("maker", {"alt": "x" * 201, "position": 0}, Invalid, "invalid"),
        ("maker", {}, Invalid, "nothing_to_change"),
        ("maker", {"image": "missing", "alt": "x"}, NotFound, "not_found"),
        ("maker", {"image": "elsewhere", "alt": "x"}, NotFound, "not_found"),
        ("stranger", {"alt": "mine"}, Forbidden, "not_editor"),
        ("stranger", {"delete": True}, Forbidden, "not_editor"),
    ],
)
def test_a_refused_change_changes_nothing(
    make_campaign: Callable[..., Campaign], user: User, make_user: Callable[..., User], media: Path,
    django_capture_on_commit_callbacks: Any, who: str, changes: dict[str, Any], error: type[DomainError], code: str,
) -> None:  # fmt: skip
    campaign = make_campaign()
    _, b, c = (add(campaign, user, alt=alt) for alt in ("a", "b", "c"))
    other = make_campaign("other-run")
    elsewhere = add(other, user, alt="other")
    actor = user if who == "maker" else make_user("sam")
    image_id = {"missing": c.pk + 100, "elsewhere": elsewhere.pk}.get(changes.pop("image", ""), b.pk)
    before = stored(media)

    change = (
        images.campaign_image_delete
        if changes.pop("delete", False)
        else partial(images.campaign_image_update, **changes)
    )

    with pytest.raises(error) as refused, django_capture_on_commit_callbacks(execute=True):
        change(actor=actor, campaign=campaign, image_id=image_id)

    assert refused.value.code == code
    assert order(campaign) == [("a", 0), ("b", 1), ("c", 2)]
    assert order(other) == [("other", 0)]
    assert stored(media) == before


# --- serving, the API, the pages ---------------------------------------------------------------------------------


def test_images_are_served_under_media_url(make_campaign: Callable[..., Campaign], user: User) -> None:
    image = add(make_campaign(), user, WEBP)

    response = Client().get(image.file.url)

    assert image.file.url.startswith("/media/campaigns/")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/webp"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == WEBP  # type: ignore[attr-defined]
    assert Client().get(image.file.url.replace(".webp", ".png")).status_code == 404  # only rows' files
    assert Client().get("/media/elsewhere/x.png").status_code == 404


def test_images_through_the_api(
    make_campaign: Callable[..., Campaign], user: User, api_for: Callable[..., ApiClient], make_user: Any, media: Path
) -> None:
    campaign = make_campaign()
    base = f"/api/v1/campaigns/{campaign.slug}/images"
    maker, headers = api_for(user), {"Authorization": f"Bearer {api_for(user).token}"}

    def post(content: bytes, token_headers: dict[str, str], alt: str = "") -> Any:
        return Client().post(base, {"file": upload(content), "alt": alt}, headers=token_headers)

    created = post(PNG, headers, "The lamp")
    assert created.status_code == 201, created.json()
    first = created.json()
    assert (first["alt"], first["size"], first["content_type"], first["position"]) == ("The lamp", len(PNG),
                                                                                        "image/png", 0)  # fmt: skip
    assert first["url"].startswith(f"/media/campaigns/{campaign.pk}/")
    second = post(JPEG, headers).json()

    gif = post(b"GIF89a" + b"\x00" * 10, headers)
    assert (gif.status_code, gif.json()["error"]["code"], gif.json()["error"]["field"]) == (422, "file_type", "file")
    stranger = post(PNG, {"Authorization": f"Bearer {api_for(make_user('sam')).token}"})
    assert (stranger.status_code, stranger.json()["error"]["code"]) == (403, "not_editor")
    assert post(PNG, {}).status_code == 401
    assert CampaignImage.objects.count() == 2
    assert len(stored(media)) == 2

    moved = maker.patch(f"{base}/{second['id']}", {"position": 0, "alt": "The base"})
    assert (moved.status_code, moved.json()["position"], moved.json()["alt"]) == (200, 0, "The base")
    assert maker.patch(f"{base}/{second['id']}", {}).json()["error"]["code"] == "nothing_to_change"
    assert maker.patch(f"{base}/{second['id']}", {"position": 9}).status_code == 422
    assert maker.patch(f"{base}/{second['id'] + 100}", {"alt": "x"}).status_code == 404

    detail = api_for(None).get(f"/api/v1/campaigns/{campaign.slug}").json()
    assert [(i["alt"], i["size"], i["position"]) for i in detail["images"]] == [
        ("The base", len(JPEG), 0), ("The lamp", len(PNG), 1),
    ]  # fmt: skip
    assert detail["images"][1]["url"] == first["url"]

    assert maker.delete(f"{base}/{second['id']}").status_code == 204
    assert [i["alt"] for i in api_for(None).get(f"/api/v1/campaigns/{campaign.slug}").json()["images"]] == ["The lamp"]
    assert maker.delete(f"{base}/{second['id']}").status_code == 404


def test_the_cover_on_the_cards_and_the_gallery_on_the_campaign_page(
    make_campaign: Callable[..., Campaign], user: User
) -> None:
    campaign = make_campaign()
    plain = make_campaign("plain-run")
    add(campaign, user, alt="The lamp, <lit>")
    add(campaign, user, JPEG, alt="Its base")

    cards = Client().get("/campaigns/").content.decode()
    cover, second = images.campaign_images(campaign=campaign)
    assert f'<img class="campaign-card__cover" src="{cover.file.url}" alt="The lamp, &lt;lit&gt;"' in cards
    assert second.file.url not in cards
    assert cards.count("campaign-card__cover") == 1  # the plain campaign's card has none
    assert plain.title in cards

    page = Client().get(f"/campaigns/{campaign.slug}/").content.decode()
    assert f'<img src="{cover.file.url}" alt="The lamp, &lt;lit&gt;">' in page
    assert f'<img src="{second.file.url}" alt="Its base" loading="lazy">' in page
    assert page.index(cover.file.url) < page.index(second.file.url)
    assert "campaign-gallery" not in Client().get(f"/campaigns/{plain.slug}/").content.decode()


def test_the_edit_page_adds_describes_moves_and_deletes_images(
    make_campaign: Callable[..., Campaign], user: User, other_user: User, media: Path
) -> None:
    campaign = make_campaign()  # live: images still change
    maker = client_of(user)
    edit = f"/campaigns/{campaign.slug}/edit/"
    section = f"/campaigns/{campaign.slug}/images/"

    assert 'id="images"' in maker.get(edit).content.decode()
    added = maker.post(section, {"file": upload(PNG), "alt": "The lamp"})
    assert (added.status_code, added["Location"]) == (302, f"{edit}#images")
    maker.post(section, {"file": upload(JPEG), "alt": "Its base"})
    refused = maker.post(section, {"file": upload(b"GIF89a" + b"\x00" * 10), "alt": ""})
    assert refused.status_code == 422
    assert "Only PNG, JPEG and WebP images are accepted." in refused.content.decode()
    assert order(campaign) == [("The lamp", 0), ("Its base", 1)]

    first, second = images.campaign_images(campaign=campaign)
    page = maker.get(edit).content.decode()
    assert f'src="{first.file.url}" alt="The lamp"' in page
    change = f"{section}{second.pk}/"
    assert maker.post(change, {"action": "cover"}).status_code == 302
    assert order(campaign) == [("Its base", 0), ("The lamp", 1)]
    assert maker.post(change, {"action": "save", f"image-{second.pk}-alt": "The base, walnut"}).status_code == 302
    too_long = maker.post(change, {"action": "save", f"image-{second.pk}-alt": "x" * 201})
    assert too_long.status_code == 400
    assert order(campaign) == [("The base, walnut", 0), ("The lamp", 1)]
    assert maker.post(change, {"action": "later"}).status_code == 302
    assert order(campaign) == [("The lamp", 0), ("The base, walnut", 1)]
    assert maker.post(change, {"action": "later"}).status_code == 422  # already the last
    assert maker.post(change, {"action": "delete"}).status_code == 302
    assert order(campaign) == [("The lamp", 0)]

    for stranger, status in ((client_of(other_user), 403), (Client(), 302)):
        assert stranger.get(section).status_code == status
        assert stranger.post(section, {"file": upload(PNG)}).status_code == status
        assert stranger.post(f"{section}{first.pk}/", {"action": "delete"}).status_code == status
    assert order(campaign) == [("The lamp", 0)]
