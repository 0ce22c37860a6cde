"""JSON API of `ledger`: payments through the payment gateway, and the public ledger of owners.

Handlers validate input and call one service or selector; money-creating POSTs are idempotent
(`Idempotency-Key`, see core.idempotency). Each part of the API keeps to its own section below.
"""

from __future__ import annotations

from ninja import Router

router = Router(tags=["ledger"])


# === payments =================================================================================================


# === public ledger ============================================================================================
