"""Receipts: a bilingual PDF for every payment and refund on the ledger.

The receipt number is given by booking.ledger when the row is written (one
gap-free sequence per clinic year); this module only prints the row. Like the
consent PDF (treatments/consent_pdf.py) the file is drawn on demand from the
stored row and never stored itself, in ReportLab's ``invariant`` mode so the
same row gives the same bytes. Chinese needs no font file: the built-in CID
font MSung-Light is named, not embedded.

Every label is printed in English and in Traditional Chinese, whatever the
reader's language, because a receipt is handed to insurers and employers as
often as it is kept. Staff names are never printed: the receipt says "Front
desk" or "Online", as the patient's ledger does (booking/ledger_apis.py).
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from reportlab.lib import colors
from reportlab.lib.pagesizes import A5
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, SimpleDocTemplate, Spacer, Table, TableStyle

from booking.models import LedgerEntry
from clinic import formats
from treatments.consent_pdf import _Styles  # the consent PDF's fonts and styles (MSung-Light registered)

Kind = LedgerEntry.Kind
Reason = LedgerEntry.Reason
MARGIN = 12 * mm
LINE = colors.HexColor("#bbbbbb")
LANGUAGES = ("en", "zh-hant")


def receipted(entry: LedgerEntry) -> bool:
    return entry.kind in (Kind.PAYMENT, Kind.REFUND) and bool(entry.receipt_number)


def recorder_label(entry: LedgerEntry) -> str:
    """Who took the money, as a patient may read it: never a staff member's name."""
    if entry.provider or entry.method == LedgerEntry.Method.ONLINE:
        return _("Online")
    if entry.recorded_by_id is None:
        return _("The clinic")
    return _("Front desk")


def purpose(entry: LedgerEntry, language: str | None = None) -> str:
    """What a row was for, in the active language (or ``language``): "Deposit for
    Pico laser on 14 Mar 2026", "Package: Pico laser x 4", "Refund of receipt 2026-000012"."""
    language = language or translation.get_language()
    appointment = entry.appointment
    if entry.kind == Kind.REFUND and entry.reverses is not None and entry.reverses.receipt_number:
        return _("Refund of receipt %(number)s") % {"number": entry.reverses.receipt_number}
    if entry.package is not None:
        return _("Package: %(name)s") % {
            "name": entry.package.name_zh_hant
            if _chinese(language) and entry.package.name_zh_hant
            else entry.package.name_en
        }
    if appointment is not None:
        facts = {
            "treatment": appointment.treatment.localized("name", language),
            "date": formats.date_text(appointment.start, language=language),
        }
        if entry.reason == Reason.DEPOSIT:
            return _("Deposit for %(treatment)s on %(date)s") % facts
        if entry.reason in (Reason.LATE_CANCELLATION, Reason.NO_SHOW):
            return _("%(reason)s: %(treatment)s on %(date)s") % {**facts, "reason": entry.get_reason_display()}
        return _("%(treatment)s on %(date)s") % facts
    if entry.reason:
        return str(entry.get_reason_display())
    return str(entry.get_kind_display())


def _chinese(language: str | None) -> bool:
    return (language or "").lower().startswith("zh")


def _both(text: Any) -> str:
    """A label in English and in Traditional Chinese: "Receipt 收據". ``text`` is a
    message marked with ``N_`` (translated here, once per language) or a callable."""
    found = []
    for language in LANGUAGES:
        with translation.override(language):
            found.append(str(text() if callable(text) else _(text)))
    return found[0] if found[0] == found[1] else f"{found[0]} {found[1]}"


def receipt_pdf(entry: LedgerEntry) -> bytes:
    """The receipt of a payment or refund as an A5 PDF. The caller has checked
    that the reader may see it."""
    if not receipted(entry):
        raise ValueError("only payments and refunds have receipts")
    styles = _Styles()
    amount = formats.money_text(entry.amount, language="en")
    title = _both(gettext_noop("Refund receipt")) if entry.kind == Kind.REFUND else _both(gettext_noop("Receipt"))
    rows = [
        (_both(gettext_noop("Receipt number")), entry.receipt_number or ""),
        (
            _both(gettext_noop("Date")),
            " / ".join(formats.datetime_text(entry.created_at, language=lang) for lang in LANGUAGES),
        ),
        (
            _both(gettext_noop("Received from")) if entry.kind == Kind.PAYMENT else _both(gettext_noop("Refunded to")),
            entry.patient.full_name,
        ),
        (_both(gettext_noop("For")), "\n".join(dict.fromkeys(_in(lang, purpose, entry, lang) for lang in LANGUAGES))),
        (_both(gettext_noop("Method")), _both(lambda: entry.get_method_display())),
        (_both(gettext_noop("Amount")), f"{settings.CLINIC_CURRENCY} {entry.amount:,.2f} ({amount})"),
        (_both(gettext_noop("Recorded by")), _both(lambda: recorder_label(entry))),
    ]
    names = dict.fromkeys([settings.CLINIC_NAME, settings.CLINIC_NAME_ZH_HANT or settings.CLINIC_NAME])
    addresses = dict.fromkeys([settings.CLINIC_ADDRESS, settings.CLINIC_ADDRESS_ZH_HANT or settings.CLINIC_ADDRESS])
    story: list[Flowable] = [
        styles.para(" ".join(names), styles.clinic, bold=True),
        *(styles.para(address, styles.small) for address in addresses),
        styles.para(settings.CLINIC_PHONE, styles.small),
        Spacer(1, 5 * mm),
        styles.para(title, styles.title, bold=True),
        Spacer(1, 3 * mm),
    ]
    table = Table(
        [[styles.para(label, styles.label), styles.para(value, styles.body)] for label, value in rows],
        colWidths=[42 * mm, None],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story += [
        table,
        Spacer(1, 6 * mm),
        styles.para(_both(gettext_noop("Thank you. Please keep this receipt for your records.")), styles.small),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A5,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"{settings.CLINIC_NAME} {entry.receipt_number}",
        author=settings.CLINIC_NAME,
        invariant=True,
    )
    document.build(story)
    return buffer.getvalue()


def _in(language: str, function: Any, *args: Any) -> str:
    with translation.override(language):
        return str(function(*args))


def filename(entry: LedgerEntry) -> str:
    return f"receipt-{entry.receipt_number}.pdf"


def receipt_response(entry: LedgerEntry) -> HttpResponse:
    """The PDF as a private, uncacheable download."""
    response = HttpResponse(receipt_pdf(entry), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename(entry)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def ledger_saved(sender: Any, instance: LedgerEntry, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Every payment and refund, whoever wrote it (the desk, the provider's
    webhook, a refund the provider accepted), gets its receipt emailed: the
    outbox row is written in the row's own transaction and published after
    commit (booking.notifications.notify_receipt). Connected in BookingConfig.ready."""
    if created and not raw and receipted(instance):
        from booking.notifications import notify_receipt

        notify_receipt(entry=instance, now=instance.created_at)
