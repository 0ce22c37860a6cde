"""Install the payments' forward-only status rule from the versioned SQL file next to the models."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_payments")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0002_payments.sql").read_text(),
            reverse_sql=(SQL / "0002_payments.down.sql").read_text(),
        )
    ]
