"""A leg's transaction and account are checked by the legs' statement trigger, not by two foreign keys checked one
leg at a time at commit (see sql/0010_legs_references_checked.sql); `ledger verify` checks them too."""

from pathlib import Path

import django.db.models.deletion
from django.db import migrations, models

SQL = Path(__file__).resolve().parent.parent / "sql"


class Migration(migrations.Migration):
    dependencies = [("ledger", "0013_leg_account_no_own_index")]

    operations = [
        migrations.RunSQL(
            sql=(SQL / "0010_legs_references_checked.sql").read_text(),
            reverse_sql=(SQL / "0010_legs_references_checked.down.sql").read_text(),
        ),
        migrations.AlterField(
            model_name="leg",
            name="transaction",
            field=models.ForeignKey(
                db_constraint=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="legs",
                to="ledger.transaction",
            ),
        ),
        migrations.AlterField(
            model_name="leg",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="legs",
                to="ledger.account",
            ),
        ),
    ]
