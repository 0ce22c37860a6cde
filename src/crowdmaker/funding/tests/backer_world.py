"""A campaign with backers for the tests of updates, surveys, fulfilment and the backer report: built through the
services (pledges on the sandbox gateway), and settled as a success by `funding.settlement` when asked.

Ada runs "First run of the desk lamp" (goal 100.00 EUR): Ana backs Early bird (40.00) with two spare shades
(2 x 8.00), Ben backs Lamp (50.00), Cai gives 25.00 without a reward, Dee backed Lamp and cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crowdmaker.funding import pledges, services, settlement
from crowdmaker.funding.models import AddOn, Campaign, Pledge, Tier
from crowdmaker.ledger.gateways import sandbox
from crowdmaker.people.models import User


@dataclass
class World:
    campaign: Campaign
    maker: User
    early: Tier
    lamp: Tier
    shade: AddOn
    ana: User
    ben: User
    cai: User
    dee: User
    stranger: User
    pledges: dict[str, Pledge]

    def settle(self) -> datetime:
        """Settle the campaign after its deadline (it succeeds: 131.00 of 100.00 EUR) and return that moment."""
        now = self.campaign.deadline + settlement.IN_FLIGHT_GRACE
        report = settlement.campaign_settle(campaign_id=self.campaign.pk, now=now)
        assert (report.status, report.settled) == ("succeeded", True), report
        self.campaign.refresh_from_db()
        for pledge in self.pledges.values():
            pledge.refresh_from_db()
        return now


def build_world(make_campaign: Callable[..., Campaign], make_user: Callable[..., User], *, settle: bool = False,
                **campaign_extra: Any) -> World:  # fmt: skip
    campaign = make_campaign(publish=False, goal=10_000, **campaign_extra)
    maker = campaign.created_by
    shade = services.addon_add(actor=maker, campaign=campaign, title="Spare shade", price=800, unit_cost=300)
    services.campaign_publish(actor=maker, campaign=campaign)
    campaign.refresh_from_db()
    early, lamp = campaign.tier, campaign.open_tier  # type: ignore[attr-defined]
    people = {
        name: make_user(name, display_name=name.capitalize() + " Backer") for name in ("ana", "ben", "cai", "dee")
    }
    ok = sandbox.CARD_OK
    made = {
        "ana": pledges.pledge_create(
            backer=people["ana"], campaign=campaign, tier=early, addons={shade.pk: 2}, payment_method=ok
        ),
        "ben": pledges.pledge_create(backer=people["ben"], campaign=campaign, tier=lamp, payment_method=ok),
        "cai": pledges.pledge_create(backer=people["cai"], campaign=campaign, extra=2_500, payment_method=ok),
        "dee": pledges.pledge_create(backer=people["dee"], campaign=campaign, tier=lamp, payment_method=ok),
    }
    made["dee"] = pledges.pledge_cancel(backer=people["dee"], pledge_id=made["dee"].pk)
    world = World(campaign=campaign, maker=maker, early=early, lamp=lamp, shade=shade, stranger=make_user("eve"),
                  pledges=made, **people)  # fmt: skip
    if settle:
        world.settle()
    return world
