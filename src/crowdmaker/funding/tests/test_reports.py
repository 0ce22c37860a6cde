"""The backer report and fulfilment: the CSV read back with the csv module (one row per pledge, the backer's number,
reward, add-ons, amount, survey answers, shipping and fulfilment), names and e-mails only as the backer's privacy
allows, every cell safe from spreadsheet formulas, editors only; fulfilment status per reward with its refusals and
the totals per tier and country; the backers page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from crowdmaker.core.errors import DomainError, Forbidden, Invalid, NotFound
from crowdmaker.funding import fulfilment, pledges, reports, surveys
from crowdmaker.funding.models import Campaign, Fulfilment, FulfilmentStatus, Survey
from crowdmaker.funding.tests.backer_world import World, build_world
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.people import services as people
from crowdmaker.people.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User]) -> World:
    return build_world(make_campaign, make_user, settle=True)


def open_survey(world: World, django_capture_on_commit_callbacks: Any) -> Survey:
    with django_capture_on_commit_callbacks(execute=True):
        return surveys.survey_open(
            actor=world.maker, campaign=world.campaign, address_lock_at=timezone.now() + timedelta(days=14),
            questions=[surveys.QuestionIn(world.lamp, "Colour", ["black", "white"])],
        )  # fmt: skip


def read_report(world: World) -> list[dict[str, str]]:
    text = "".join(reports.backer_report_csv(actor=world.maker, campaign=world.campaign))
    assert text.startswith(reports.BOM)
    return list(csv.DictReader(io.StringIO(text.removeprefix(reports.BOM))))


def test_the_report_has_a_row_per_pledge_with_its_reward_survey_and_fulfilment(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    survey = open_survey(world, django_capture_on_commit_callbacks)
    (colour,) = surveys.survey_questions(survey=survey)
    surveys.survey_answer(backer=world.ben, pledge_id=world.pledges["ben"].pk, answers={str(colour.pk): "white"},
                          address=surveys.AddressIn("Ben Backer", "2 Elm Road", "Bristol", "GB",
                                                    postal_code="BS1 4DJ"))  # fmt: skip
    fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=world.pledges["ben"].pk,
                              status="sent", carrier="Royal Mail", tracking="RR123456785GB")  # fmt: skip
    people.profile_update(user=world.ben, show_on_public_ledgers=True)

    rows = read_report(world)

    assert list(rows[0]) == [*reports.COLUMNS, "Lamp: Colour", *reports.FULFILMENT_COLUMNS]
    summary = [(r["backer_number"], r["pledge"], r["name"], r["email"], r["tier"], r["add_ons"], r["amount"],
                r["currency"], r["pledge_status"]) for r in rows]  # fmt: skip
    ana, ben, cai = world.pledges["ana"], world.pledges["ben"], world.pledges["cai"]
    assert summary == [  # Dee cancelled: not in the report
        ("1", str(ana.pk), "", "ana@example.org", "Early bird", "2 x Spare shade", "56.00", "EUR", "captured"),
        ("2", str(ben.pk), "Ben Backer", "ben@example.org", "Lamp", "", "50.00", "EUR", "captured"),
        ("3", str(cai.pk), "", "", "No reward", "", "25.00", "EUR", "captured"),
    ]
    shipping = [(r["ship_to"], r["address_line1"], r["postal_code"], r["city"], r["shipping_country"],
                 r["country_name"], r["Lamp: Colour"]) for r in rows]  # fmt: skip
    assert shipping == [
        ("", "", "", "", "", "", ""),
        ("Ben Backer", "2 Elm Road", "BS1 4DJ", "Bristol", "GB", "United Kingdom", "white"),
        ("", "", "", "", "", "", ""),
    ]
    assert [(r["fulfilment_status"], r["carrier"], r["tracking"]) for r in rows] == [
        ("not-sent", "", ""), ("sent", "Royal Mail", "RR123456785GB"), ("", "", ""),
    ]  # fmt: skip
    assert rows[1]["survey_answered_at"].endswith(" UTC")
    assert rows[1]["sent_at"].endswith(" UTC")


def test_a_backer_with_two_pledges_keeps_one_number(world: World, make_user: Callable[..., User]) -> None:
    world.campaign.late_pledges = True  # a second pledge after success (captured at once)
    world.campaign.save(update_fields=["late_pledges"])
    pledges.pledge_create(backer=world.ana, campaign=world.campaign, tier=world.lamp, payment_method=sandbox.CARD_OK)

    rows = read_report(world)

    assert [(r["backer_number"], r["email"], r["tier"]) for r in rows] == [
        ("1", "ana@example.org", "Early bird"), ("2", "ben@example.org", "Lamp"), ("3", "", "No reward"),
        ("1", "ana@example.org", "Lamp"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('=HYPERLINK("http://evil.example","x")', '\'=HYPERLINK("http://evil.example","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Ben =1", "Ben =1"),
        ("", ""),
        (42, "42"),
    ],
)
def test_a_cell_that_starts_like_a_formula_is_escaped(value: Any, shown: str) -> None:
    assert reports.cell(value) == shown


def test_formulas_typed_by_backers_and_makers_come_out_as_text(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    world.lamp.title = "=cmd|' /C calc'!A0"  # a maker's tier title lands in a column's name
    world.lamp.save(update_fields=["title"])
    survey = open_survey(world, django_capture_on_commit_callbacks)
    (colour,) = surveys.survey_questions(survey=survey)
    surveys.survey_answer(
        backer=world.ben, pledge_id=world.pledges["ben"].pk, answers={str(colour.pk): "black"},
        address=surveys.AddressIn("=1+2", "+44 Road", "@Town", "GB", address_line2="-1", region="=IMPORTXML(a)",
                                  postal_code="-BS1", phone="+44 117 496 0000"),
    )  # fmt: skip

    rows = read_report(world)

    ben = rows[1]
    assert (ben["ship_to"], ben["address_line1"], ben["address_line2"], ben["city"], ben["region"],
            ben["postal_code"], ben["phone"]) == (
        "'=1+2", "'+44 Road", "'-1", "'@Town", "'=IMPORTXML(a)", "'-BS1", "'+44 117 496 0000",
    )  # fmt: skip
    assert ben["tier"] == "'=cmd|' /C calc'!A0"
    assert "'=cmd|' /C calc'!A0: Colour" in ben
    for row in rows:
        assert not any(value.startswith(reports.FORMULA_STARTS) for value in row.values())


def test_only_editors_get_the_report(world: World) -> None:
    for someone in (world.ben, world.stranger):
        with pytest.raises(Forbidden):
            reports.backer_report_csv(actor=someone, campaign=world.campaign)
    url = f"/campaigns/{world.campaign.slug}/backers/report.csv"
    for someone in (world.ben, world.stranger):
        client = Client()
        client.force_login(someone)
        assert client.get(url).status_code == 403
    assert Client().get(url).status_code == 302  # to log in


def test_the_report_downloads_as_a_csv_attachment(world: World) -> None:
    client = Client()
    client.force_login(world.maker)

    response = client.get(f"/campaigns/{world.campaign.slug}/backers/report.csv")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="desk-lamp-run-backers.csv"'
    assert response["Cache-Control"] == "private, no-store"
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert [row[:2] for row in csv.reader(io.StringIO(text))][1:] == [
        ["1", str(world.pledges["ana"].pk)], ["2", str(world.pledges["ben"].pk)], ["3", str(world.pledges["cai"].pk)],
    ]  # fmt: skip


# --- fulfilment -------------------------------------------------------------------------------------------------


def test_a_reward_goes_from_not_sent_to_sent_to_delivered_and_back(world: World) -> None:
    ben = world.pledges["ben"].pk
    t0 = timezone.now()

    sent = fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=ben, status="sent",
                                     carrier="DHL", tracking="JD0123", now=t0)  # fmt: skip
    again = fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=ben, status="sent",
                                      carrier="DHL", tracking="JD0124", now=t0 + timedelta(hours=1))  # fmt: skip
    delivered = fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=ben,
                                          status="delivered", carrier="DHL", tracking="JD0124",
                                          now=t0 + timedelta(days=2))  # fmt: skip

    assert sent.pk == again.pk == delivered.pk
    assert (again.sent_at, again.tracking) == (t0, "JD0124")  # the first sending date is kept
    assert (delivered.sent_at, delivered.delivered_at) == (t0, t0 + timedelta(days=2))
    back = fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=ben, status="not-sent")
    assert (back.status, back.sent_at, back.delivered_at, back.tracking) == ("not-sent", None, None, "")


@pytest.mark.parametrize(
    ("who", "pledge", "status", "tracking", "error"),
    [
        ("ben", "ben", "sent", "", Forbidden),
        ("maker", "cai", "sent", "", NotFound),  # no reward to send
        ("maker", "dee", "sent", "", NotFound),  # cancelled
        ("maker", "ben", "lost", "", Invalid),
        ("maker", "ben", "not-sent", "JD0123", Invalid),
        ("maker", "ben", "sent", "x" * 101, Invalid),
    ],
)
def test_a_refused_fulfilment_changes_nothing(
    world: World, who: str, pledge: str, status: str, tracking: str, error: type[DomainError]
) -> None:
    actor = world.maker if who == "maker" else getattr(world, who)
    with pytest.raises(error):
        fulfilment.fulfilment_set(actor=actor, campaign=world.campaign, pledge_id=world.pledges[pledge].pk,
                                  status=status, tracking=tracking)  # fmt: skip
    assert Fulfilment.objects.count() == 0


def test_totals_per_tier_and_country(world: World, django_capture_on_commit_callbacks: Any) -> None:
    survey = open_survey(world, django_capture_on_commit_callbacks)
    (colour,) = surveys.survey_questions(survey=survey)
    surveys.survey_answer(backer=world.ben, pledge_id=world.pledges["ben"].pk, answers={str(colour.pk): "black"},
                          address=surveys.AddressIn("Ben", "2 Elm Road", "Bristol", "GB"))  # fmt: skip
    fulfilment.fulfilment_set(actor=world.maker, campaign=world.campaign, pledge_id=world.pledges["ben"].pk,
                              status="delivered")  # fmt: skip

    totals = fulfilment.fulfilment_totals(campaign=world.campaign)

    def rows(found: list[fulfilment.TotalRow]) -> list[tuple[Any, ...]]:
        return [(r.label, r.pledges, str(r.amount), r.not_sent, r.sent, r.delivered) for r in found]

    assert rows(totals.by_tier) == [("Early bird", 1, "56.00 EUR", 1, 0, 0), ("Lamp", 1, "50.00 EUR", 0, 0, 1)]
    assert rows(totals.by_country) == [("United Kingdom", 1, "50.00 EUR", 0, 0, 1),
                                       ("No address yet", 1, "56.00 EUR", 1, 0, 0)]  # fmt: skip
    assert rows([totals.overall]) == [("All rewards", 2, "106.00 EUR", 1, 0, 1)]


def test_the_backers_page_shows_totals_and_records_fulfilment(world: World) -> None:
    client = Client()
    client.force_login(world.maker)
    url = f"/campaigns/{world.campaign.slug}/backers/"
    ben = world.pledges["ben"].pk

    page = client.get(url).content.decode()
    assert 'id="totals-by-tier"' in page
    assert "ben@example.org" in page
    assert f'name="p{ben}-tracking"' in page

    refused = client.post(f"{url}{ben}/fulfilment/?show=all", {f"p{ben}-status": "not-sent",
                                                                f"p{ben}-tracking": "JD1"})  # fmt: skip
    assert refused.status_code == 422
    assert "A reward that is not sent has no carrier or tracking number yet." in refused.content.decode()
    assert Fulfilment.objects.count() == 0

    saved = client.post(f"{url}{ben}/fulfilment/?show=all", {f"p{ben}-status": "sent", f"p{ben}-carrier": "DHL",
                                                              f"p{ben}-tracking": "JD1"})  # fmt: skip
    assert saved.status_code == 302
    assert saved["Location"] == f"{url}?show=all#pledge-{ben}"
    assert Fulfilment.objects.get().status == FulfilmentStatus.SENT
    assert f"pledge #{ben} is marked sent" in client.get(saved["Location"]).content.decode()
    not_sent = client.get(f"{url}?show=not-sent").content.decode()
    assert f'id="pledge-{world.pledges["ana"].pk}"' in not_sent
    assert f'id="pledge-{ben}"' not in not_sent

    other = Client()
    other.force_login(world.ben)
    assert other.get(url).status_code == 403
    assert other.post(f"{url}{ben}/fulfilment/", {f"p{ben}-status": "delivered"}).status_code == 403
    assert Fulfilment.objects.get().status == FulfilmentStatus.SENT


def test_the_backers_page_sends_a_message_to_a_group(world: World, django_capture_on_commit_callbacks: Any) -> None:
    client = Client()
    client.force_login(world.maker)
    url = f"/campaigns/{world.campaign.slug}/backers/message/"
    refused = client.post(url, {"message-audience": "tier", "message-subject": "Hi", "message-body": "Text"})
    assert refused.status_code == 422
    assert "Choose the reward whose backers you write to." in refused.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(url, {"message-audience": "tier", "message-tier": str(world.early.pk),
                                 "message-subject": "Brass or black?", "message-body": "Tell us."})  # fmt: skip
    assert sent.status_code == 302
    assert [m.to for m in mail.outbox] == [["ana@example.org"]]
    assert "Brass or black?" in client.get(sent["Location"]).content.decode()
