"""The signed token in an e-mail verification link: making one and reading one back.

A token names an account and a digest of the address it was mailed to, signed with the secret key and a
salt of its own and stamped with its time. This module only signs and checks signatures: it never reads or
writes the database (that is `selectors.email_verification_user` and `services.email_verify`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.core import signing

from crowdmaker.core.errors import Invalid

# A salt of its own, so that no other signed value of the platform can pass for a verification token.
SALT = "crowdmaker.people.email-verification"
# How long a mailed link works; a member who misses it asks for a new one.
LIFETIME = timedelta(days=3)
# Real tokens are about 90 characters; anything far longer is refused before any work is done on it.
MAX_TOKEN_LENGTH = 300

INVALID_MESSAGE = "This verification link is not valid. Copy the whole link from the e-mail, or ask for a new one."
EXPIRED_MESSAGE = "This verification link has expired. Sign in and ask for a new one from your profile settings."


def address_digest(email: str) -> str:
    """A digest rather than the address itself: the token travels in a URL (logs, history), the address must not."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def email_verification_token(*, user_id: int, email: str) -> str:
    return signing.TimestampSigner(salt=SALT).sign_object({"u": user_id, "e": address_digest(email)})


def email_verification_read(token: str) -> tuple[int, str]:
    """The account id and address digest of a genuine, unexpired token; `Invalid` (with a code) otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Invalid(INVALID_MESSAGE, code="verification_link_invalid")
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=LIFETIME)
    except signing.SignatureExpired as exc:
        raise Invalid(EXPIRED_MESSAGE, code="verification_link_expired") from exc
    except (signing.BadSignature, ValueError, UnicodeError) as exc:
        raise Invalid(INVALID_MESSAGE, code="verification_link_invalid") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("u"), int) or not isinstance(payload.get("e"), str):
        raise Invalid(INVALID_MESSAGE, code="verification_link_invalid")
    return payload["u"], payload["e"]


def address_matches(digest: str, email: str) -> bool:
    return hmac.compare_digest(digest, address_digest(email))
