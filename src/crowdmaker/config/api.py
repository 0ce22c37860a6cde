"""The JSON API at /api/v1/: one NinjaAPI, each domain's router mounted under its own prefix."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from crowdmaker.commons.api import router as commons_router
from crowdmaker.commons.api_systems import router as systems_router
from crowdmaker.core.api import CrowdmakerApi, install_error_handlers
from crowdmaker.core.api import router as core_router
from crowdmaker.funding.api import router as funding_router
from crowdmaker.funding.api_backers import router as funding_backers_router
from crowdmaker.funding.api_dashboard import router as funding_dashboard_router
from crowdmaker.funding.api_images import router as funding_images_router
from crowdmaker.funding.api_refunds import router as funding_refunds_router
from crowdmaker.ledger.api import router as ledger_router
from crowdmaker.ledger.api_public import router as ledger_public_router
from crowdmaker.people.api import router as people_router
from crowdmaker.people.auth import API_AUTH, PUBLIC_AUTH
from crowdmaker.protocol.api import router as protocol_router
from crowdmaker.selection.api import router as selection_router

api = CrowdmakerApi(
    title="Crowdmaker API",
    version="1",
    description=(
        "The JSON API of Crowdmaker. Authenticate with a personal API token as `Authorization: Bearer <token>`. "
        'Every error has the shape `{"error": {"code": "...", "message": "...", "field": "..."}}`. '
        "Lists are cursor-paginated: follow `next` until it is null."
    ),
    auth=API_AUTH,
    urls_namespace="api",
)
install_error_handlers(api)
api.add_router("", core_router)
api.add_router("", people_router)
api.add_router("", ledger_router)
api.add_router("", ledger_public_router, auth=PUBLIC_AUTH)  # public ledgers: anonymous reads allowed
api.add_router("", protocol_router)
api.add_router("", commons_router)  # reads public per operation, writes signed in
api.add_router("", systems_router)  # owner only, except the share link and "compatible" of a design
api.add_router("", funding_router)  # campaigns public (drafts: editors only), pledges their backer's own
api.add_router("", funding_backers_router)  # updates and comments public as allowed; surveys, fulfilment, report
api.add_router("", funding_images_router)  # a campaign's pictures: editors only (read with the campaign)
api.add_router("", funding_refunds_router)  # refunds: the campaign's editors; a pledge's refunds: its backer
api.add_router("", funding_dashboard_router)  # a campaign's dashboard: its editors only
api.add_router("", selection_router)  # calls and ranked submissions public; entries, votes, intents signed in


@csrf_exempt  # an API caller sends no CSRF token; without this a POST here would get Django's HTML 403
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Unknown paths under /api/v1/ answer in the API's error shape, not with an HTML page."""
    from crowdmaker.core.api import error_response

    return error_response(api, request, status=404, code="not_found", message="No such API endpoint.")
