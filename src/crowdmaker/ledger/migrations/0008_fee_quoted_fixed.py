"""The payment trigger also keeps the quoted fee from changing once the payer has seen it."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0007_payment_fee_quoted")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0005_fee_quoted_fixed.sql").read_text(),
            reverse_sql=(SQL / "0005_fee_quoted_fixed.down.sql").read_text(),
        )
    ]
