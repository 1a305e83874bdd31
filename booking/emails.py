"""Notification emails: HTML and plain text from templates/emails/<language>/,
in the patient's language, with calendar invites for appointment changes.

Each kind has three templates per language: ``<kind>.subject.txt``,
``<kind>.txt`` and ``<kind>.html``. One set per language (not gettext) keeps
the wording of each language whole and editable without compiling catalogues.
"""

from __future__ import annotations

from datetime import date, datetime
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import timezone, translation

from booking import attendance, notice, precare
from booking.calendar import appointment_calendar, manage_url
from booking.models import Appointment, Notification
from clinic import brand, formats
from clinic.clock import clinic_local
from treatments import consents

LANGUAGES = {"en": "en", "zh-hant": "zh-Hant"}  # template folder → Content-Language
Kind = Notification.Kind
# Calendar invites: appointment changes only; reminders and the rest carry none.
INVITE_METHODS: dict[str, str] = {Kind.CONFIRMATION: "REQUEST", Kind.RESCHEDULE: "REQUEST", Kind.CANCELLATION: "CANCEL"}

# The emails that say whether the visit's consent is signed, with the link to sign it.
CONSENT_KINDS = (Kind.CONFIRMATION, Kind.REMINDER)

# How the clinic's zone is named in each language; other zones by their key alone.
_ZONE_NAMES = {"Asia/Hong_Kong": {"en": "Hong Kong time", "zh-hant": "香港時間"}}


def _language(code: str) -> str:
    return code if code in LANGUAGES else "en"


def clinic_name(language: str) -> str:
    """The clinic's name as the patient reads it (as clinic/context.py does for pages)."""
    return settings.CLINIC_NAME_ZH_HANT if language == "zh-hant" else settings.CLINIC_NAME


def clinic_address(language: str) -> str:
    return settings.CLINIC_ADDRESS_ZH_HANT if language == "zh-hant" else settings.CLINIC_ADDRESS


def from_email(language: str) -> str:
    """DEFAULT_FROM_EMAIL, its display name in the patient's language when it is the clinic's name."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    if name == settings.CLINIC_NAME and address:
        return formataddr((clinic_name(language), address))
    return settings.DEFAULT_FROM_EMAIL


def format_date(day: date, language: str) -> str:
    """``Mon, 7 Dec 2026`` / ``2026年12月7日週一`` (clinic/formats.py)."""
    return formats.date_text(day, "weekday_date", language=language)


def format_when(moment: datetime, language: str) -> str:
    """The clinic-local time with the zone named:
    ``Mon, 14 Jan 2030, 10:30 (Hong Kong time, Asia/Hong_Kong)``."""
    text = formats.datetime_text(moment, "weekday_date", language=language)
    zone = settings.CLINIC_TIME_ZONE
    name = _ZONE_NAMES.get(zone, {}).get(language)
    if language == "zh-hant":
        return f"{text}（{name}，{zone}）" if name else f"{text}（{zone}）"
    return f"{text} ({name}, {zone})" if name else f"{text} ({zone})"


def format_when_short(moment: datetime, language: str) -> str:
    """For subjects: ``Mon, 14 Jan, 10:30`` / ``1月14日週一 10:30``."""
    return formats.datetime_text(moment, "weekday_day_month", language=language)


def notice_text(language: str) -> str:
    """CLINIC_CANCELLATION_NOTICE in words: "24 hours" / "24小時" (whole hours, else minutes)."""
    minutes = int(settings.CLINIC_CANCELLATION_NOTICE.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours}小時" if language == "zh-hant" else (f"{hours} hours" if hours != 1 else "1 hour")
    return f"{minutes}分鐘" if language == "zh-hant" else f"{minutes} minutes"


def _link(path: str, **query: Any) -> str:
    return f"{settings.CLINIC_BASE_URL}{path}" + (f"?{urlencode(query)}" if query else "")


def consent_needs(notifications: Any) -> dict[int, list[consents.Need]]:
    """The consent forms each notification's visit needs, by notification id,
    for many emails at once (one batch: the queries do not grow with them)."""
    rows = [n for n in notifications if n.kind in CONSENT_KINDS and n.appointment is not None]
    found = consents.needs((n.appointment.patient_id, n.appointment.treatment) for n in rows)
    return {n.pk: found.get((n.appointment.patient_id, n.appointment.treatment_id), []) for n in rows}


def _consent_context(notification: Notification, language: str, needs: list[consents.Need] | None) -> dict[str, Any]:
    appointment = notification.appointment
    if notification.kind not in CONSENT_KINDS or appointment is None:
        return {"consent": "none"}
    if needs is None:
        needs = consents.needs_for(patient=appointment.patient_id, treatment=appointment.treatment)
    missing = [need for need in needs if not need.signed]
    return {
        "consent": "none" if not needs else ("missing" if missing else "signed"),
        "consent_forms": [need.form.localized("title", language) for need in missing],
        "consent_url": _link(f"/appointments/{appointment.pk}/consent/"),
    }


def _context(notification: Notification, language: str, now: datetime) -> dict[str, Any]:
    patient = notification.patient
    context: dict[str, Any] = {
        "clinic_name": clinic_name(language),
        "clinic_address": clinic_address(language),
        "clinic_phone": settings.CLINIC_PHONE,
        "clinic_phone_link": "tel:" + "".join(c for c in settings.CLINIC_PHONE if c.isdigit() or c == "+"),
        "logo_url": brand.logo_url(absolute=True),
        "accent": brand.accent(),
        "patient_name": patient.full_name,
        "profile_url": _link("/me/"),
        "appointments_url": _link("/appointments/"),
    }
    appointment = notification.appointment
    if appointment is not None:
        treatment = appointment.treatment
        # Rendered when it is sent: a deadline already passed is never promised;
        # the message says the visit can only be changed by calling instead.
        changes_open = notice.online_changes_open(appointment.start, now=now)
        context.update(
            treatment=treatment.localized("name", language),
            pre_care=treatment.localized("pre_care", language),
            aftercare=treatment.localized("aftercare", language),
            when=format_when(appointment.start, language),
            when_short=format_when_short(appointment.start, language),
            changes_open=changes_open,
            change_until=format_when(notice.online_change_deadline(appointment.start), language)
            if changes_open
            else "",
            notice=notice_text(language),
            visit_date=format_date(clinic_local(appointment.start).date(), language),
            manage_url=manage_url(appointment),
            book_url=_link("/book/", treatment=treatment.slug),
            cancelled_by_clinic=appointment.cancelled_by == Appointment.CancelledBy.CLINIC,
            # Only a cancellation notice tells the cancellation's reason (a reschedule, its own below).
            reason=appointment.cancellation_reason if notification.kind == Kind.CANCELLATION else "",
        )
        if notification.kind == Kind.CANCELLATION:
            from booking.deposit_rules import deposit_outcome

            told = deposit_outcome(appointment, now=now)
            context.update(deposit=told.detail if told else "")
        if notification.kind == Kind.PRE_CARE:
            from booking.notifications import pre_care_due

            context.update(
                instructions=[
                    {"title": item.localized("title", language), "text": item.localized("text", language)}
                    for item in pre_care_due(notification, appointment)
                ],
                confirm_url=_link(f"/pre-care/{precare.token_for(appointment)}/"),
            )
        if notification.kind == Kind.REMINDER and not appointment.patient_confirmed_at:
            # "I'm coming" in one click (booking/attendance.py), as WhatsApp's button and the SMS reply do.
            context.update(attend_url=_link(f"/visits/confirm/{attendance.token_for(appointment)}/"))
        if notification.kind == Kind.MISSED_VISIT:
            context.update(
                rebook_url=rebook_url(appointment),
                plan_session_number=_session_number(appointment),
                # "today" only when it was (a sweep that was stopped names the day instead).
                missed_today=clinic_local(appointment.start).date() == clinic_local(now).date(),
            )
        if notification.kind == Kind.DEPOSIT_REFUNDED:
            context.update(_refund_context(appointment, language))
        if notification.kind == Kind.RESCHEDULE:
            context.update(
                previous_when=format_when(notification.previous_start, language) if notification.previous_start else "",
                reason=notification.reason,
            )
    entry = notification.ledger_entry
    if entry is not None:
        from booking import receipts

        context.update(
            receipt_number=entry.receipt_number,
            refund=entry.kind == entry.Kind.REFUND,
            amount=f"{settings.CLINIC_CURRENCY} {entry.amount:,.2f}",
            purpose=receipts.purpose(entry, language),
            method=entry.get_method_display(),
            paid_on=format_date(clinic_local(entry.created_at).date(), language),
            payments_url=_link("/me/payments/"),
        )
    offer = notification.waitlist_offer
    if offer is not None:
        context.update(_offer_context(offer, language, now))
    session = notification.plan_session
    if session is not None:
        plan = session.plan
        context.update(
            treatment=plan.treatment.localized("name", language),
            session_number=session.number,
            sessions_total=_sessions_total(plan),
            window_start=format_date(session.window_start, language),
            window_end=format_date(session.window_end, language),
            plan_url=_link(f"/plans/{plan.pk}/"),
        )
    return context


def _refund_context(appointment: Appointment, language: str) -> dict[str, Any]:
    from booking.models import LedgerEntry, ProviderRefund

    refund = (
        ProviderRefund.objects.filter(payment__appointment=appointment, reason=LedgerEntry.Reason.HOLD_EXPIRED)
        .order_by("pk")
        .first()
    )
    amount = refund.amount if refund is not None else None
    return {"refund_amount": formats.money_text(amount, language=language) if amount is not None else ""}


def message_context(notification: Notification, *, language: str, now: datetime) -> dict[str, Any]:
    """What an email about ``notification`` says, as values: the texts of the
    other channels (booking/texts.py) say less of the same."""
    return _context(notification, _language(language), now)


def link(path: str, **query: Any) -> str:
    """An absolute link to a page of the site (CLINIC_BASE_URL)."""
    return _link(path, **query)


def rebook_url(appointment: Appointment) -> str:
    """Where a patient who missed a visit books again: that plan session when
    the visit was one (released by the no-show, so bookable again), else the
    booking page of the same treatment."""
    if appointment.plan_session_id is not None:
        return _link("/book/", plan_session=appointment.plan_session_id)
    return _link("/book/", treatment=appointment.treatment.slug)


def _session_number(appointment: Appointment) -> int | None:
    session = appointment.plan_session
    return session.number if session is not None else None


def held_until(moment: datetime, language: str, now: datetime) -> str:
    """``15:42 today`` / ``今天15:42``, else the day and time, clinic-local."""
    if clinic_local(moment).date() == clinic_local(now).date():
        clock = formats.time_text(moment, language=language)
        return f"今天{clock}" if language == "zh-hant" else f"{clock} today"
    return formats.datetime_text(moment, "weekday_date", language=language)


def _offer_context(offer: Any, language: str, now: datetime) -> dict[str, Any]:
    """A waitlist offer: the slot, who, until when it is held, and its one link."""
    return {
        "treatment": offer.entry.treatment.localized("name", language),
        "when": format_when(offer.start, language),
        "when_short": format_when_short(offer.start, language),
        "practitioner": offer.practitioner.name,
        "held_until": held_until(offer.expires_at, language, now),
        # The page route site:waitlist_offer (portal), written out like the other links here.
        "offer_url": _link(f"/waitlist/offers/{offer.pk}/"),
    }


def _sessions_total(plan: Any) -> int:
    return plan.sessions.count()


def build_message(
    notification: Notification, *, now: datetime | None = None, consent: list[consents.Need] | None = None
) -> EmailMultiAlternatives:
    """The email for ``notification`` as it stands now. Appointment changes
    carry an iCalendar invite for the event's stable UID: METHOD:REQUEST for a
    confirmation or reschedule, METHOD:CANCEL for a cancellation (the
    appointment's SEQUENCE has grown with each change). Everything, the clinic's
    name and address and the invite's summary included, is in the patient's
    language; dates and times as clinic/formats.py writes them. A confirmation
    or reminder says whether the visit's consent is signed, with the link to
    sign it: ``consent`` is the visit's needs when the caller read them for
    many messages at once (``consent_needs``), else they are read here."""
    language = _language(notification.patient.preferred_language)
    folder = f"emails/{language}/{notification.kind}"
    now = now or timezone.now()
    with translation.override(language):
        context = _context(notification, language, now)
        context.update(_consent_context(notification, language, consent))
        subject = " ".join(render_to_string(f"{folder}.subject.txt", context).split())
        text = render_to_string(f"{folder}.txt", context).strip() + "\n"
        html = render_to_string(f"{folder}.html", context)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=from_email(language),
        to=[notification.patient.email],
        headers={
            "Message-ID": notification.message_id,
            "X-Clinic-Notification": notification.kind,
            "Auto-Submitted": "auto-generated",
            "Content-Language": LANGUAGES[language],
        },
    )
    message.attach_alternative(html, "text/html")
    method = INVITE_METHODS.get(notification.kind)
    if method and notification.appointment is not None:
        invite = appointment_calendar(notification.appointment, method=method, now=now, language=language).decode()
        # The text/calendar alternative is what mail clients turn into an
        # invitation (RFC 6047); the attachment serves those that hide it.
        message.attach_alternative(invite, f"text/calendar; method={method}")
        message.attach("invite.ics" if method == "REQUEST" else "cancel.ics", invite, "application/ics")
    if notification.ledger_entry is not None:
        from booking import receipts

        entry = notification.ledger_entry
        message.attach(receipts.filename(entry), receipts.receipt_pdf(entry), "application/pdf")
    return message
