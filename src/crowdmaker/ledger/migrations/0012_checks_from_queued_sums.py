"""The commit-time checks add up the leg counts and sums the statement trigger queued instead of re-reading every
queued transaction's legs, only the ledger's triggers may queue, and accounts whose legs net to zero are neither
written nor locked (see sql/0009_checks_from_queued_sums.sql)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0011_checks_by_key")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0009_checks_from_queued_sums.sql").read_text(),
            reverse_sql=(SQL / "0009_checks_from_queued_sums.down.sql").read_text(),
        )
    ]
