"""A leg's account has no index of its own: ledger_leg_account_txn (account, transaction) leads with it and serves
every look-up by account, and the second index cost six entries for every settled pledge (six legs)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("ledger", "0012_checks_from_queued_sums")]

    operations = [
        migrations.AlterField(
            model_name="leg",
            name="account",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="legs",
                to="ledger.account",
            ),
        ),
    ]
