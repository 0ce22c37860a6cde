"""The ledger's triggers look every row up by key, one key at a time, so that no statistics (missing, stale) can make
them read a whole table once per batch (see sql/0008_checks_by_key.sql)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0010_legs_apply_by_index")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0008_checks_by_key.sql").read_text(),
            reverse_sql=(SQL / "0008_checks_by_key.down.sql").read_text(),
        )
    ]
