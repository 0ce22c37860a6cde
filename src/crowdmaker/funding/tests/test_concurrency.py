"""MONEY.md invariant 3 under real concurrency: 500 pledges race on PostgreSQL for a tier limited to 100."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from crowdmaker.core.errors import Conflict
from crowdmaker.funding import pledges
from crowdmaker.funding.models import Campaign, Pledge, PledgeStatus, TierSlot
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.ledger.models import Payment, PaymentStatus, Transaction
from crowdmaker.people.models import User

CLIENTS = 24  # parallel database connections (PostgreSQL allows 100 by default)
PLEDGES = 500
LIMIT = 100


@pytest.mark.django_db(transaction=True)
def test_500_pledges_racing_for_100_places(
    make_campaign: Callable[..., Campaign], make_user: Callable[..., User]
) -> None:
    campaign = make_campaign("launch-surge", limit=LIMIT)
    tier = campaign.tier  # type: ignore[attr-defined]
    backers = [make_user(f"surge{n}") for n in range(PLEDGES)]
    start = threading.Barrier(CLIENTS)
    started: set[int] = set()
    lock = threading.Lock()

    def pledge(backer: User) -> str:
        thread = threading.get_ident()
        with lock:
            first = thread not in started
            started.add(thread)
        if first:
            start.wait(timeout=60)  # every client begins at the same moment
        try:
            pledges.pledge_create(backer=backer, campaign=campaign, tier=tier, payment_method=sandbox.CARD_OK)
            return "pledged"
        except Conflict as refused:
            return refused.code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        outcomes = Counter(pool.map(pledge, backers))

    assert outcomes == {"pledged": LIMIT, "sold_out": PLEDGES - LIMIT}
    assert Pledge.objects.filter(tier=tier, status=PledgeStatus.AUTHORIZED).count() == LIMIT
    assert Pledge.objects.count() == LIMIT  # a refused pledge leaves no row
    assert TierSlot.objects.filter(tier=tier, pledge__isnull=False).count() == LIMIT
    assert Payment.objects.filter(status=PaymentStatus.AUTHORIZED).count() == LIMIT
    assert Payment.objects.count() == LIMIT  # nobody refused was authorized
    assert not Transaction.objects.exists()  # authorizations post nothing
