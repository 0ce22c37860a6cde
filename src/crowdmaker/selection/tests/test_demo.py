"""The selection demo loader: two open team calls with entries, votes and intents through the services, ranked as
the votes say, and nothing new on a second load."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from crowdmaker.selection import demo, selectors
from crowdmaker.selection.models import BuyIntent, OpenCall, Submission, Vote


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = str(tmp_path)  # the commons loader stores design pictures; keep them out of var/


def _counts() -> tuple[int, int, int, int]:
    return (OpenCall.objects.count(), Submission.objects.count(), Vote.objects.count(), BuyIntent.objects.count())


def _ranked_slugs(call: OpenCall) -> list[str]:
    ranking = selectors.call_ranking(call=call)
    slugs = dict(Submission.objects.filter(call=call).values_list("pk", "design_version__design__slug"))
    return [slugs[ranked.tally.submission_id] for ranked in ranking]


def test_demo_calls_load_with_entries_votes_and_a_ranking_once(db: None) -> None:
    first = StringIO()

    call_command("demo_data", stdout=first)

    assert "] selection: open calls ..." in first.getvalue()
    assert sorted(OpenCall.objects.values_list("slug", flat=True)) == ["bedroom-light", "clean-workshop-air"]
    expected = {
        spec.slug: (
            len(spec.entries),
            sum(len(e.votes) for e in spec.entries),
            sum(len(e.intents) for e in spec.entries),
        )
        for spec in demo.CALLS
    }
    for slug, (entries, votes, intents) in expected.items():
        call = OpenCall.objects.get(slug=slug)
        assert selectors.call_status(call=call) == "open"
        assert call.submissions.count() == entries
        assert Vote.objects.filter(submission__call=call).count() == votes
        assert BuyIntent.objects.filter(submission__call=call, withdrawn_at__isnull=True).count() == intents
    assert selectors.aggregates_check() == []
    workshop = OpenCall.objects.get(slug="clean-workshop-air")
    assert workshop.organizer_team is not None
    assert workshop.organizer_team.slug == "workshop-commons"
    assert _ranked_slugs(workshop) == [
        "cyclone-dust-extractor-quiet", "cyclone-dust-extractor", "soldering-station", "fume-extractor",
    ]  # fmt: skip
    assert _ranked_slugs(OpenCall.objects.get(slug="bedroom-light")) == [
        "firefly-night-light", "walnut-bedside-lamp", "origami-pendant",
    ]  # fmt: skip
    counts = _counts()

    second = StringIO()
    call_command("demo_data", stdout=second)

    assert _counts() == counts
    assert demo.load(lambda line: None) == 0


def test_demo_calls_pages_show_the_calls_and_their_entries(db: None, client: Client) -> None:
    call_command("demo_data", stdout=StringIO())

    listing = client.get(reverse("selection:call_list"))
    assert listing.status_code == 200
    for spec in demo.CALLS:
        assert spec.title in listing.content.decode()
    page = client.get(reverse("selection:call_detail", args=["bedroom-light"]))
    assert page.status_code == 200
    assert "Firefly: motion-activated RGB night light" in page.content.decode()
    submission = Submission.objects.get(call__slug="bedroom-light", design_version__design__slug="firefly-night-light")
    detail = client.get(reverse("selection:submission_detail", args=["bedroom-light", submission.pk]))
    assert detail.status_code == 200
