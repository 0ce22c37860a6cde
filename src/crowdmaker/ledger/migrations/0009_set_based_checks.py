"""The ledger's triggers per statement and per database transaction instead of per leg: the same rules, so that a
posting of thousands of transactions (settlement's batches) stays fast (see sql/0006_set_based_checks.sql)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0008_fee_quoted_fixed")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0006_set_based_checks.sql").read_text(),
            reverse_sql=(SQL / "0006_set_based_checks.down.sql").read_text(),
        )
    ]
