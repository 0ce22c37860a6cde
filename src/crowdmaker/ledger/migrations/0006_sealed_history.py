"""Refuse raw-SQL edits of history that 0002 left open: late legs, pre-funded accounts, overdraft switches."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_no_overdraft_at_commit")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0004_sealed_history.sql").read_text(),
            reverse_sql=(SQL / "0004_sealed_history.down.sql").read_text(),
        )
    ]
