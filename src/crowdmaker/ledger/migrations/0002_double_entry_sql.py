"""Install the database's double-entry invariants from the versioned SQL file next to the models."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0001_double_entry.sql").read_text(),
            reverse_sql=(SQL / "0001_double_entry.down.sql").read_text(),
        )
    ]
