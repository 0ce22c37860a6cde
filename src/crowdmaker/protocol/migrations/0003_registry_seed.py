"""Seed the interface registry with its starter set (protocol.registry_seed); idempotent, kept on reverse."""

from django.db import migrations

from crowdmaker.protocol.registry_seed import seed_registry


class Migration(migrations.Migration):
    dependencies = [("protocol", "0002_registry_history_sql")]

    operations = [migrations.RunPython(seed_registry, reverse_code=migrations.RunPython.noop)]
