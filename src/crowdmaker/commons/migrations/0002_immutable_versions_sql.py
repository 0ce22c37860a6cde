"""Install the trigger that makes published design versions immutable, from the versioned SQL file."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("commons", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0001_immutable_versions.sql").read_text(),
            reverse_sql=(SQL / "0001_immutable_versions.down.sql").read_text(),
        )
    ]
