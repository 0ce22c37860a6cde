"""The backer report of a campaign: a CSV, streamed, one row per pledge of its backers (a backer who pledged twice
has two rows under one backer number), with the reward, add-ons, amount (and the shipping paid in it), survey
answer, shipping address and fulfilment, for the campaign's editors only.

Privacy: the report gives the makers what they need to deliver, and the rest only where the backer allowed it.
  - E-mail address and shipping address (with the recipient's name and phone): on rows with a reward to ship,
    because the makers must send it and may have to ask about it. The survey says so to the backer.
  - Display name: only of backers who chose to appear by name (`Profile.show_on_public_ledgers`); others are
    their backer number. A pledge without a reward shows neither name nor e-mail.
Safe in spreadsheets: a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`,
so a backer's "=HYPERLINK(...)" is shown as text, never run as a formula (OWASP's CSV injection advice).
Reads only; written as UTF-8 with a byte order mark, which spreadsheet programs need to read accents.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.db.models import Prefetch

from crowdmaker.commons.forms import minor_to_amount
from crowdmaker.funding import surveys
from crowdmaker.funding.backers import editor_required, reward_refunded
from crowdmaker.funding.countries import COUNTRY_NAMES
from crowdmaker.funding.models import Campaign, Pledge, PledgeAddOn, PledgeStatus, SurveyQuestion
from crowdmaker.people.models import User

# Pledges the report lists: money held or taken, and taken then refunded (the makers must know not to ship it).
REPORTED_STATUSES = (PledgeStatus.AUTHORIZED, PledgeStatus.CAPTURED, PledgeStatus.REFUNDED)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CHUNK_SIZE = 500  # pledges read per query while streaming
BOM = "\ufeff"

COLUMNS = [
    "backer_number", "pledge", "name", "email", "tier", "add_ons", "amount", "shipping_amount", "currency", "pledge_status",
    "pledged_at", "survey_answered_at", "ship_to", "address_line1", "address_line2", "city", "postal_code",
    "region", "shipping_country", "country_name", "phone",
]  # fmt: skip
FULFILMENT_COLUMNS = ["fulfilment_status", "carrier", "tracking", "sent_at", "delivered_at"]


def cell(value: Any) -> str:
    """`value` as a CSV cell that a spreadsheet shows as text: a leading formula character is escaped with `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Line:
    """A file-like object that hands back what csv.writer writes, one row at a time (Django's streaming recipe)."""

    def write(self, value: str) -> str:
        return value


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def backer_report_rows(*, actor: User, campaign: Campaign) -> Iterator[list[str]]:
    """The report's rows, the header first, pledges in the order they were made, a chunk of pledges per query.
    Raises Forbidden (before the first row) for anyone but the campaign's editors."""
    editor_required(campaign=campaign, actor=actor, doing="download the backer report")
    return _rows(campaign)


def _rows(campaign: Campaign) -> Iterator[list[str]]:
    survey = surveys.survey_of(campaign=campaign)
    questions: list[SurveyQuestion] = surveys.survey_questions(survey=survey) if survey is not None else []
    header = [*COLUMNS, *(f"{q.tier.title}: {q.label}" for q in questions), *FULFILMENT_COLUMNS]
    yield [cell(name) for name in header]
    pledges = (
        Pledge.objects.filter(campaign=campaign, status__in=REPORTED_STATUSES)
        .select_related("backer__profile", "tier", "survey_response", "fulfilment")
        .prefetch_related(Prefetch("addons", PledgeAddOn.objects.select_related("addon").order_by("addon__position")))
        .annotate(reward_refunded=reward_refunded())
        .order_by("pk")
    )
    numbers: dict[int, int] = {}
    for pledge in pledges.iterator(chunk_size=CHUNK_SIZE):
        number = numbers.setdefault(pledge.backer_id, len(numbers) + 1)
        refunded = bool(pledge.reward_refunded)
        ships = pledge.tier_id is not None and not refunded
        # A reward refunded is not sent; its fulfilment column says so.
        sent = "reward-refunded" if refunded else ""
        profile = getattr(pledge.backer, "profile", None)
        named = profile is not None and profile.show_on_public_ledgers
        response = getattr(pledge, "survey_response", None) if ships else None
        answered = response is not None and response.answered_at is not None
        address = [
            getattr(response, name) if answered else ""
            for name in ("ship_to", "address_line1", "address_line2", "city", "postal_code", "region", "country")
        ]
        country = address[-1]
        answers = response.answers if answered and response is not None else {}
        fulfilment = getattr(pledge, "fulfilment", None)
        row = [
            number,
            pledge.pk,
            profile.display_name if named and profile is not None else "",
            pledge.backer.email if ships else "",
            pledge.tier.title if pledge.tier is not None else "No reward",
            "; ".join(f"{item.quantity} x {item.addon.title}" for item in pledge.addons.all()),
            minor_to_amount(pledge.amount, campaign.currency),
            minor_to_amount(pledge.shipping_amount, campaign.currency),
            campaign.currency,
            pledge.status,
            _when(pledge.created_at),
            _when(response.answered_at) if answered and response is not None else "",
            *address,
            COUNTRY_NAMES.get(country, ""),
            response.phone if answered and response is not None else "",
            *(answers.get(str(q.pk), "") if q.tier_id == pledge.tier_id else "" for q in questions),
            (fulfilment.status if fulfilment is not None else "not-sent") if ships else sent,
            fulfilment.carrier if fulfilment is not None else "",
            fulfilment.tracking if fulfilment is not None else "",
            _when(fulfilment.sent_at) if fulfilment is not None else "",
            _when(fulfilment.delivered_at) if fulfilment is not None else "",
        ]
        yield [cell(value) for value in row]


def backer_report_csv(*, actor: User, campaign: Campaign) -> Iterator[str]:
    """The report as CSV text, a line at a time (to stream), starting with the byte order mark."""
    rows = backer_report_rows(actor=actor, campaign=campaign)  # refuses here, before anything is sent
    writer = csv.writer(_Line())

    def lines() -> Iterator[str]:
        yield BOM
        for row in rows:
            yield writer.writerow(row)

    return lines()


def report_filename(campaign: Campaign) -> str:
    return f"{campaign.slug}-backers.csv"
