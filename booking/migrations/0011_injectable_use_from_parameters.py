"""Copies the product and lot that filler and toxin session records kept in
their free ``parameters`` into InjectableUse rows (expiry unknown: it was never
recorded), and takes those two keys out of ``parameters``, which no longer
accepts them. The amount comes along where it was recorded (``volume_ml``,
``units``). Steroid records named a drug but no lot: nothing to trace, left as they were."""

import re
import unicodedata
from decimal import Decimal, InvalidOperation

from django.db import migrations

_FOLD = re.compile(r"[\s\-\u2010-\u2015.\u00b7/_]+")
_KINDS = {"filler": ("ml", "volume_ml"), "toxin": ("units", "units")}


def _key(lot):
    # treatments.injectables.normalise_lot as it was when this migration was written.
    return _FOLD.sub("", unicodedata.normalize("NFKC", lot)).upper()[:60]


def _amount(value):
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None
    return number if Decimal(0) < number < Decimal(100000) else None


def forwards(apps, schema_editor):
    SessionRecord = apps.get_model("booking", "SessionRecord")
    InjectableUse = apps.get_model("booking", "InjectableUse")
    for record in SessionRecord.objects.filter(category__in=list(_KINDS)).iterator():
        parameters = dict(record.parameters or {})
        lot = str(parameters.get("lot") or "").strip()[:60]
        product = str(parameters.get("product") or "").strip()[:200]
        if "lot" not in parameters and "product" not in parameters:
            continue
        unit, amount_key = _KINDS[record.category]
        if _key(lot):
            InjectableUse.objects.create(
                session_record=record,
                position=0,
                product=product or "?",
                lot=lot,
                lot_key=_key(lot),
                expiry=None,
                amount=_amount(parameters.get(amount_key)),
                unit=unit,
            )
        parameters.pop("lot", None)
        parameters.pop("product", None)
        record.parameters = parameters
        record.save(update_fields=["parameters"])


def backwards(apps, schema_editor):
    SessionRecord = apps.get_model("booking", "SessionRecord")
    InjectableUse = apps.get_model("booking", "InjectableUse")
    for use in InjectableUse.objects.filter(expiry__isnull=True, position=0).select_related("session_record"):
        record = use.session_record
        record.parameters = {**(record.parameters or {}), "product": use.product, "lot": use.lot}
        record.save(update_fields=["parameters"])
    InjectableUse.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("booking", "0010_injectable_use")]

    operations = [migrations.RunPython(forwards, backwards)]
