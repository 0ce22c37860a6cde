"""The legs' statement trigger looks accounts and transactions up by primary key whatever the planner's statistics
say, so that a batch costs the same in a large ledger as in a small one (see sql/0007_legs_apply_by_index.sql)."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0009_set_based_checks")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0007_legs_apply_by_index.sql").read_text(),
            reverse_sql=(SQL / "0007_legs_apply_by_index.down.sql").read_text(),
        )
    ]
