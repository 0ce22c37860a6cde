"""Facts about the HTTP client that throttling and audit need, read the same way everywhere.

Never trusts X-Forwarded-For unless the operator said how many proxies stand in front (TRUSTED_PROXY_COUNT):
otherwise any client could pick the address it is throttled under.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or the one the outermost trusted proxy saw."""
    proxies = settings.CROWDMAKER_TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        # Each trusted proxy appends the address it received the request from; the entry the first of them
        # appended is the client as far as anyone we trust can tell.
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR") or "unknown")
