"""Judge overdrafts on a transaction's net effect at commit, not on each intermediate leg."""

from pathlib import Path

from django.db import migrations

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0004_payments_sql")]

    operations = [
        migrations.RemoveConstraint(model_name="account", name="ledger_account_no_overdraft"),
        migrations.RunSQL(
            sql=(SQL / "0003_no_overdraft.sql").read_text(),
            reverse_sql=(SQL / "0003_no_overdraft.down.sql").read_text(),
        ),
    ]
