"""The patient's waitlist pages: their entries (/me/waitlist/), leaving one,
and the offer a freed time brings (/waitlist/offers/<id>/, the link in the
offer email). Joining happens in the booking flow (portal/book/flow.py).

The rules are booking/waitlist.py's: these views find the patient's own rows
through its selectors (another patient's entry or offer is 404) and call its
services; an offer is accepted through ``offer_accept``, which books with
every booking rule (screening, consent, plan sessions, the confirmation)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from booking import spacing, waitlist
from booking.models import WaitlistEntry, WaitlistOffer
from clinic.errors import ApplicationError, Contraindicated, InvalidState, SlotUnavailable, TooClose
from patients.permissions import patient_required, user_of
from portal.book import present
from treatments.models import Category, Treatment
from treatments.screening import DECLARATION_REQUIRED
from treatments.selectors import downtime_conflicts

EARLIER_SHOWN = 20  # closed entries listed under the waiting ones


def _offer_view(offer: WaitlistOffer, now: Any) -> dict[str, Any]:
    seconds = max(int((offer.expires_at - now).total_seconds()), 0)
    return {
        "offer": offer,
        "url": reverse("site:waitlist_offer", args=[offer.pk]),
        "when": present.when_text(offer.start, offer.end),
        "held_until": present.time_text(offer.expires_at),
        "held_until_iso": offer.expires_at.isoformat(),
        "seconds_left": seconds,
        "left_text": _minutes_left(seconds),
        "practitioner": present.practitioner_label(offer.practitioner),
        "open": offer.status == WaitlistOffer.Status.OPEN and seconds > 0,
    }


def _minutes_left(seconds: int) -> str:
    minutes = (seconds + 59) // 60
    if minutes <= 0:
        return _("The time to answer has run out.")
    return _("Held for you for %(count)s more.") % {"count": present.duration_text(timedelta(minutes=minutes))}


def _entry_view(entry: WaitlistEntry, now: Any) -> dict[str, Any]:
    css, words = present.waitlist_status(entry.status)
    offers = getattr(entry, "open_offers", [])
    return {
        "entry": entry,
        "treatment": entry.treatment.localized("name"),
        "practitioner": present.practitioner_label(entry.practitioner),
        "dates": present.dates_text(entry.earliest, entry.latest),
        "parts": present.parts_text(entry.parts),
        "status_css": css,
        "status": words,
        "joined": present.day_text(present.local(entry.created_at).date()),
        "offer": _offer_view(offers[0], now) if offers else None,
        "waiting": entry.status == WaitlistEntry.Status.WAITING,
    }


@never_cache
@patient_required
def my_waitlist(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    now = timezone.now()
    mine = waitlist.entries_for(patient).select_related("practitioner__user")
    mine = mine.prefetch_related("open_offers__practitioner__user")  # type: ignore[misc]  # the selector's to_attr list
    waiting = [_entry_view(e, now) for e in mine.filter(status=WaitlistEntry.Status.WAITING)]
    earlier = [_entry_view(e, now) for e in mine.exclude(status=WaitlistEntry.Status.WAITING)[:EARLIER_SHOWN]]
    return render(
        request,
        "site/waitlist.html",
        {"waiting": waiting, "earlier": earlier, "hold": present.duration_text(settings.CLINIC_WAITLIST_HOLD)},
    )


@patient_required
@require_POST
def leave(request: HttpRequest, pk: int) -> HttpResponse:
    """Leaves one of the patient's own entries; another patient's is 404."""
    patient = user_of(request).patient
    entry = get_object_or_404(WaitlistEntry.objects.filter(patient_id=patient.pk).select_related("treatment"), pk=pk)
    try:
        waitlist.waitlist_leave(entry=entry, by=user_of(request))
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(
            request,
            _("You have left the waitlist for %(treatment)s, %(dates)s.")
            % {
                "treatment": entry.treatment.localized("name"),
                "dates": present.dates_text(entry.earliest, entry.latest),
            },
        )
    return redirect("site:waitlist")


# --- the offer ----------------------------------------------------------------------------


def _consultation() -> Treatment | None:
    return Treatment.objects.filter(category=Category.CONSULTATION, active=True).order_by("display_order", "pk").first()


@never_cache
@patient_required
@require_http_methods(["GET", "POST"])
def offer(request: HttpRequest, offer_id: int) -> HttpResponse:
    """The offer's page: accept (books it) or decline (passes it on)."""
    patient = user_of(request).patient
    found = get_object_or_404(waitlist.offers_for(patient).select_related("practitioner__user"), pk=offer_id)
    context: dict[str, Any] = {"problem": "", "blocks": [], "needs_questionnaire": False, "consultation_url": ""}
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "accept":
            try:
                booked = waitlist.offer_accept(offer=found, by=user_of(request))
            except Contraindicated as error:
                blocks = [r for r in error.reasons if r.get("severity") == "block"] or error.reasons
                context["blocks"] = [str(r["detail"]) for r in blocks if r.get("code") != DECLARATION_REQUIRED]
                context["needs_questionnaire"] = any(r.get("code") == DECLARATION_REQUIRED for r in blocks)
                context["problem"] = str(error.detail)
                consultation = _consultation()
                if consultation is not None and consultation.pk != found.entry.treatment_id:
                    context["consultation_url"] = (
                        reverse("site:book") + "?" + urlencode({"treatment": consultation.slug, "practitioner": "any"})
                    )
            except SlotUnavailable as error:
                if str(error.detail) == str(SlotUnavailable.default_detail):
                    context["problem"] = _("Sorry, this time has been taken. Your place on the waitlist is kept.")
                else:
                    context["problem"] = _(
                        "You already have an appointment at this time. Decline this offer to pass it on, or "
                        "change that appointment first."
                    )
            except TooClose as error:
                context["problem"] = str(error.detail)
                context["blocks"] = [str(r["detail"]) for r in error.reasons]
            except InvalidState:
                context["problem"] = _("This offer can no longer be accepted: the time it was held for has run out.")
            except ApplicationError as error:
                context["problem"] = str(error.detail)
            else:
                return redirect(reverse("site:appointment", args=[booked.pk]) + "?booked=1")
            found.refresh_from_db()
        elif action == "decline":
            try:
                waitlist.offer_decline(offer=found, by=user_of(request))
            except ApplicationError:
                context["problem"] = _("This offer was already answered or has run out, so nothing changed.")
                found.refresh_from_db()
            else:
                messages.success(
                    request,
                    _(
                        "You declined %(when)s. It goes to the next person waiting; you stay on the waitlist and "
                        "we'll email you when another time opens."
                    )
                    % {"when": present.when_text(found.start, found.end)},
                )
                return redirect("site:waitlist")
    now = timezone.now()
    entry = found.entry
    view = _offer_view(found, now)
    status = found.status
    if status == WaitlistOffer.Status.OPEN and not view["open"]:
        status = WaitlistOffer.Status.EXPIRED  # past its expiry; the sweep ends it within a minute
    if status == WaitlistOffer.Status.OPEN:
        # Before accepting, as the booking flow's confirm step: the patient's
        # dates that matter this visit's downtime overlaps, and gap-rule cautions.
        context["downtime"] = downtime_conflicts(
            patient_id=patient.pk, treatment=entry.treatment, day=present.local(found.start).date()
        )
        context["cautions"] = [
            str(f["detail"])
            for f in spacing.spacing_findings(patient_id=patient.pk, treatment=entry.treatment, start=found.start)
            if f["severity"] == "caution"
        ]
    context.update(
        {
            "view": view,
            "status": status,
            "status_text": str(present.OFFER_STATUS.get(status, status)),
            "treatment": present.treatment_view(entry.treatment),
            "entry_waiting": entry.status == WaitlistEntry.Status.WAITING,
            "appointment_url": reverse("site:appointment", args=[found.appointment_id]) if found.appointment_id else "",
            "questionnaire_url": reverse("site:questionnaire")
            + "?"
            + urlencode({"next": reverse("site:waitlist_offer", args=[found.pk])}),
        }
    )
    return render(request, "site/waitlist_offer.html", context)
