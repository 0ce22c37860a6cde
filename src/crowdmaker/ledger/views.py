"""Pages of `ledger`: the public ledger of an owner (a team, a campaign, the platform...).

Anyone may read a public owner's ledger; the owner's own people and operators see full detail. An unknown or
private owner answers 404, the same for both, so the page reveals nothing about who exists.
"""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from crowdmaker.core.errors import NotFound
from crowdmaker.ledger import public

ENTRIES_PER_PAGE = 50


def owner_ledger(request: HttpRequest, kind: str, owner_id: str) -> HttpResponse:
    try:
        access = public.ledger_access(kind=kind, owner_id=public.owner_id_from_url(owner_id), viewer=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    paginator = Paginator(public.owner_transactions(kind=kind, owner_id=access.owner.id), ENTRIES_PER_PAGE)
    page = paginator.get_page(request.GET.get("page"))
    entries = public.ledger_entries(access=access, transactions=list(page.object_list))
    summary = public.ledger_summary(access=access)
    return render(
        request,
        "ledger/owner_ledger.html",
        {"access": access, "owner": access.owner, "page": page, "entries": entries, "summary": summary},
    )
