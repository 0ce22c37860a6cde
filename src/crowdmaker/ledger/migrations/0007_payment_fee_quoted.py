"""Payments carry the platform fee quoted at authorization (fee_quoted); a capture takes that figure.

Existing payments are quoted from what they already are: a payment captured in full keeps the fee it was
charged; any other is quoted at the configured rate (what its capture would have charged), never below the
fee already taken.
"""

from typing import Any

from django.conf import settings
from django.db import migrations, models

CAPTURED = ("captured", "partially_refunded", "refunded")


def quote_existing(apps: Any, schema_editor: Any) -> None:
    from crowdmaker.ledger.money import Money, fee_rate, platform_fee

    Payment = apps.get_model("ledger", "Payment")
    rate = fee_rate(settings.CROWDMAKER_PLATFORM_FEE_RATE)
    for payment in Payment.objects.order_by("pk").iterator():
        if payment.status in CAPTURED and payment.captured_amount == payment.amount:
            quoted = payment.fee_amount
        else:
            quoted = max(platform_fee(Money(payment.amount, payment.currency), None, rate).amount, payment.fee_amount)
        Payment.objects.filter(pk=payment.pk).update(fee_quoted=quoted)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0006_sealed_history"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="payment",
            name="ledger_payment_fee_within_captured",
        ),
        migrations.AddField(
            model_name="payment",
            name="fee_quoted",
            field=models.BigIntegerField(
                default=0,
                help_text="Platform fee on the whole amount, fixed and shown at authorization; a capture takes it "
                "(in proportion when it takes less than the amount).",
            ),
        ),
        migrations.RunPython(quote_existing, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(("fee_quoted__gte", 0), ("fee_quoted__lte", models.F("amount"))),
                name="ledger_payment_fee_quoted_within_amount",
            ),
        ),
        migrations.AddConstraint(
            model_name="payment",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("fee_amount__gte", 0),
                    ("fee_amount__lte", models.F("captured_amount")),
                    ("fee_amount__lte", models.F("fee_quoted")),
                ),
                name="ledger_payment_fee_within_captured",
            ),
        ),
    ]
