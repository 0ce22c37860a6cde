"""Fixtures of the funding tests: a maker's design and a live campaign with a limited tier."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from crowdmaker.commons import services as commons
from crowdmaker.commons.models import DesignVersion
from crowdmaker.commons.tests.conftest import manifest
from crowdmaker.funding import services
from crowdmaker.funding.models import Campaign, Tier
from crowdmaker.people.models import User


@pytest.fixture
def design_version(user: User) -> DesignVersion:
    design = commons.design_create(actor=user, slug="desk-lamp", title="Desk lamp", licence="CERN-OHL-S-2.0",
                                   manifest=manifest(requires=["power.usb-c"]))  # fmt: skip
    return design.versions.get()


@pytest.fixture
def make_campaign(user: User, design_version: DesignVersion) -> Callable[..., Campaign]:
    def make(slug: str = "desk-lamp-run", *, publish: bool = True, **extra: Any) -> Campaign:
        now = timezone.now()
        limit = extra.pop("limit", 3)
        extra.setdefault("starts_at", now - timedelta(minutes=1))
        extra.setdefault("deadline", now + timedelta(days=30))
        campaign = services.campaign_create(
            actor=user, slug=slug, title="First run of the desk lamp", design_versions=[design_version],
            goal=extra.pop("goal", 100_000), currency="EUR", **extra,
        )  # fmt: skip
        campaign.tier = services.tier_add(  # type: ignore[attr-defined]
            actor=user, campaign=campaign, title="Early bird", price=4_000, unit_cost=1_500, limit=limit,
            items=[(design_version, 1)],
        )  # fmt: skip
        campaign.open_tier = services.tier_add(  # type: ignore[attr-defined]
            actor=user, campaign=campaign, title="Lamp", price=5_000, unit_cost=1_500, items=[(design_version, 1)]
        )
        if publish:
            services.campaign_publish(actor=user, campaign=campaign)
            campaign.refresh_from_db()
        return campaign

    return make


@pytest.fixture
def campaign(make_campaign: Callable[..., Campaign]) -> Campaign:
    return make_campaign()


@pytest.fixture
def early_bird(campaign: Campaign) -> Tier:
    return campaign.tier  # type: ignore[attr-defined]
