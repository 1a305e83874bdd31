"""Seeds the clinic-protocol gap rules (treatments/gap_seed.py) for the treatments
that exist; seed_demo seeds them again after creating the demo catalogue."""

from django.db import migrations


def seed(apps, schema_editor):
    from treatments.gap_seed import seed_gap_rules

    seed_gap_rules(apps.get_model("treatments", "GapRule"), apps.get_model("treatments", "Treatment"))


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0008_gap_rules"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
