"""Seeds each catalogue treatment's usual downtime (clinic estimates, so
``downtime_verified`` stays False for a clinician to review in the admin).
Treatments not in the table keep 0 days: no flag until someone sets them."""

from django.db import migrations

# slug: (min days, max days, note in English, note in Chinese); an empty note reads "redness".
DOWNTIME = {
    "co2-fractional": (5, 7, "", ""),
    "tca-cross": (5, 7, "", ""),
    "dermabrasion": (7, 10, "", ""),
    "rf-microneedling": (2, 4, "", ""),
    "nafl-1550": (1, 3, "", ""),
    "microneedling": (1, 3, "", ""),
    "fotona-laser-peel": (2, 5, "", ""),
    "subcision": (7, 14, "bruising", "瘀青"),
    "pico-laser": (1, 3, "", ""),
    "punch-excision": (7, 14, "sutures", "縫線"),
    "peel-superficial": (1, 3, "", ""),
    "ha-filler": (2, 7, "swelling and bruising", "腫脹及瘀青"),
    "peel-tca-medium": (5, 7, "", ""),
    "botox": (0, 1, "", ""),
    "steroid-injection": (0, 1, "", ""),
}


def seed(apps, schema_editor):
    Treatment = apps.get_model("treatments", "Treatment")
    for slug, (low, high, note_en, note_zh) in DOWNTIME.items():
        Treatment.objects.filter(slug=slug).update(
            downtime_days_min=low,
            downtime_days_max=high,
            downtime_note_en=note_en,
            downtime_note_zh_hant=note_zh,
            downtime_verified=False,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("treatments", "0006_treatment_downtime"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
