"""The public site and the patient's own appointments.

Access: the catalogue, the booking flow's first steps and registration are
public; appointments and the questionnaire are the signed-in patient's own
(another patient's appointment is 404). Writes go through the services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from booking import deposit_rules, deposits, notice, packages, precare, profiles, selectors, services, signing
from booking.calendar import appointment_calendar
from booking.models import Appointment, Practitioner
from clinic.errors import (
    ApplicationError,
    CancellationWindowPassed,
    Contraindicated,
    InvalidInput,
    SlotUnavailable,
    TooClose,
)
from clinic.pages import safe_next
from patients.permissions import patient_required, user_of
from patients.roles import is_staff_role, role_of
from patients.services import declaration_submit, patient_register
from portal.book import precare as pre_care_pages
from portal.book import present
from portal.book.flow import (
    HtmxHttpRequest,
    Span,
    calendar_context,
    latest_declaration,
    parse_date,
    parse_month,
    parse_time,
    patient_of,
    signed_in,
    slots,
    times_context,
    too_close_text,
)
from portal.book.forms import (
    CancelForm,
    QuestionnaireForm,
    RegisterForm,
    apply_error,
    initial_answers,
    registration_allowed,
)
from treatments import plans
from treatments import services as clinical
from treatments.models import PlanSession, Treatment, TreatmentPlan
from treatments.selectors import featured_treatments, plans_for

UPCOMING = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN)

# --- the catalogue ---------------------------------------------------------------------------


def _catalogue() -> QuerySet[Treatment]:
    return Treatment.objects.filter(active=True).order_by("display_order", "slug")


def home(request: HttpRequest) -> HttpResponse:
    treatments = [present.treatment_view(t) for t in _catalogue()]
    consultation = next((t for t in treatments if t.is_consultation), None)
    featured = [present.treatment_view(t) for t in featured_treatments()]
    patient = patient_of(request)
    coming = None
    if patient is not None:
        coming = (
            selectors.appointments_for(patient_id=patient.pk, statuses=UPCOMING)
            .filter(end__gte=timezone.now())
            .select_related("plan_session")
            .first()
        )
    return render(
        request,
        "site/home.html",
        {
            "concerns": present.CONCERNS,
            "featured": featured,
            "consultation": consultation,
            "count": len(treatments),
            "next_card": _card(coming) if coming else None,
        },
    )


def treatments(request: HttpRequest) -> HttpResponse:
    chosen = present.concern(request.GET.get("concern"))
    views = [present.treatment_view(t) for t in _catalogue()]
    if chosen is not None:
        views = [v for v in views if chosen in v.concerns or v.is_consultation]
    return render(
        request,
        "site/treatments.html",
        {"treatments": views, "concerns": present.CONCERNS, "chosen": chosen},
    )


def treatment(request: HttpRequest, slug: str) -> HttpResponse:
    found = get_object_or_404(_catalogue().prefetch_related("contraindications"), slug=slug)
    return render(
        request,
        "site/treatment.html",
        {
            "treatment": present.treatment_view(found),
            "asks_health_questions": bool(found.contraindications.all()),
            "practitioners": [present.practitioner_view(p) for p in profiles.practitioners_for(found)],
            "book_url": reverse("site:book") + f"?treatment={quote(found.slug)}",
            "offers": _offers(found),
        },
    )


def _offers(found: Treatment) -> list[dict[str, Any]]:
    """The treatment's course packages on sale, with their saving. "Buy" shows
    only with an online provider and once the integrator's checkout page
    (``site:package_buy``) exists; until then they are sold at the desk."""
    online = deposits.configured()
    rows = []
    for offer in packages.offers_on_sale(treatment=found):
        buy_url = None
        if online and offer.sold_online:
            try:
                buy_url = reverse("site:package_buy", args=[offer.pk])
            except NoReverseMatch:
                buy_url = None
        rows.append(
            {
                "name": packages.package_name(offer),
                "sessions": offer.sessions,
                "price": offer.price,
                "saving": packages.saving(offer),
                "valid_days": offer.valid_days,
                "buy_url": buy_url,
            }
        )
    return rows


def practitioner_photo(request: HttpRequest, pk: int, name: str) -> FileResponse:
    """A practitioner's public photo (booking.profiles.photo_url gives the address)."""
    found = get_object_or_404(Practitioner.objects.only("id", "photo", "active"), pk=pk)
    return profiles.photo_response(found, name)


# --- accounts --------------------------------------------------------------------------------


@never_cache
def register(request: HttpRequest) -> HttpResponse:
    target = safe_next(request, reverse("site:appointments"))
    if request.user.is_authenticated:
        return redirect(target)
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and not registration_allowed(request):
        form.is_valid()
        form.refuse_too_many()
    elif request.method == "POST" and form.is_valid():
        try:
            patient = patient_register(**form.values())
        except InvalidInput as error:
            apply_error(form, error)
        else:
            auth_login(request, patient.user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, _("Welcome! Your account is ready."))
            return redirect(target)
    return render(request, "site/register.html", {"form": form, "next": target})


@never_cache
@require_POST
def register_check(request: HttpRequest) -> JsonResponse:
    """One field of the registration form, checked as the patient leaves it (site.js):
    the same form and password rules as the submit, in the patient's language. Creates
    nothing and says nothing about which emails are registered."""
    name = request.POST.get("field", "")
    return JsonResponse({"field": name, "errors": RegisterForm(request.POST).field_errors(name)})


@never_cache
@patient_required
def questionnaire(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    latest = latest_declaration(patient)
    target = safe_next(request, reverse("site:questionnaire"))
    if request.method == "POST":
        form = QuestionnaireForm(request.POST)
        if form.is_valid():
            try:
                declaration_submit(patient=patient, **form.answers())
            except InvalidInput as error:
                form.apply_service_error(error)
            else:
                messages.success(request, _("Thank you. Your health answers are saved."))
                return redirect(target)
    else:
        form = QuestionnaireForm(initial=initial_answers(latest) if latest else None)
    return render(
        request,
        "site/questionnaire.html",
        {
            "form": form,
            "latest": latest,
            "latest_label": present.day_text(present.local(latest.submitted_at).date()) if latest else "",
            "next": target,
        },
    )


# --- my appointments -------------------------------------------------------------------------


def _mine(request: HttpRequest) -> QuerySet[Appointment]:
    return (
        selectors.appointments_for(patient_id=user_of(request).patient.pk)
        .select_related("plan_session")
        .prefetch_related(selectors.IMPORTANT_DATES)
    )


def _card(appointment: Appointment) -> dict[str, Any]:
    css, words = present.status_badge(appointment.status)
    session = appointment.plan_session
    return {
        "appointment": appointment,
        "name": appointment.treatment.localized("name"),
        "when": present.when_text(appointment.start, appointment.end),
        "practitioner": present.practitioner_label(appointment.practitioner),
        "status_css": css,
        "status": words,
        "window": _window_text(session) if session else "",
        "session_number": session.number if session else None,
        "rebook_url": _rebook_url(appointment) if appointment.status == Appointment.Status.NO_SHOW else "",
        "pay_url": reverse("site:deposit_cancelled", args=[appointment.pk])
        if appointment.status == Appointment.Status.DEPOSIT_DUE
        else "",
    }


def _rebook_url(appointment: Appointment) -> str:
    """A missed visit's "Book again": that plan session while it waits to be
    booked, else the same treatment; "" once the session is booked again."""
    session = appointment.plan_session
    if session is None:
        return reverse("site:book") + "?" + urlencode({"treatment": appointment.treatment.slug})
    if session.status == PlanSession.Status.PENDING:
        return reverse("site:book") + f"?plan_session={session.pk}"
    return ""


def _window_text(session: Any) -> str:
    return _("Due between %(start)s and %(end)s") % {
        "start": present.day_text(session.window_start),
        "end": present.day_text(session.window_end),
    }


def _sessions_to_book(patient_id: int) -> list[dict[str, Any]]:
    """Per active plan, the next session the patient may book now (its turn
    has come: the one before is booked or done), with its window."""
    today = present.today()
    rows = []
    for plan in plans_for(patient_id=patient_id).filter(status=TreatmentPlan.Status.ACTIVE):
        previous: plans.SessionState | None = None
        for session in plan.sessions.all():
            if session.status == PlanSession.Status.PENDING and plans.turn_has_come(
                number=session.number,
                previous_state=previous,
            ):
                rows.append(
                    {
                        "name": plan.treatment.localized("name"),
                        "number": session.number,
                        "window": _window_text(session),
                        "overdue": session.window_end < today,
                        "url": reverse("site:book") + f"?plan_session={session.pk}",
                    }
                )
                break
            previous = session.status
    return rows


@never_cache
@patient_required
def appointments(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    mine = _mine(request)
    awaiting = Q(status=Appointment.Status.DEPOSIT_DUE, hold_expires_at__gt=now)  # booking.checkout
    coming = list(mine.filter(Q(status__in=UPCOMING) | awaiting, end__gte=now))
    to_confirm = precare.unconfirmed_counts(coming)
    consent = signing.consent_state(coming)  # one batch for every upcoming visit
    upcoming = [
        {
            **_card(a),
            "pre_care_to_confirm": to_confirm.get(a.pk, 0),
            "consent": consent.get(a.pk, "none"),
            "downtime": selectors.appointment_downtime(a),
        }
        for a in coming
    ]
    # Past visits show no downtime flag: no need for the patient's dates.
    past_rows = (
        mine.prefetch_related(None)
        .exclude(status__in=UPCOMING, end__gte=now)
        .exclude(awaiting)
        .order_by("-start", "-id")
    )
    page = Paginator(past_rows, 20).get_page(request.GET.get("page"))
    return render(
        request,
        "site/appointments.html",
        {
            "upcoming": upcoming,
            "past": [_card(a) for a in page.object_list],
            "page": page,
            "to_book": _sessions_to_book(user_of(request).patient.pk),
        },
    )


def _deadline(appointment: Appointment) -> Any:
    return notice.online_change_deadline(appointment.start)


def _changeable(appointment: Appointment) -> bool:
    return appointment.status == Appointment.Status.CONFIRMED and notice.online_changes_open(
        appointment.start, now=timezone.now()
    )


def _own(request: HttpRequest, pk: int) -> Appointment:
    return get_object_or_404(_mine(request), pk=pk)


def _detail_context(appointment: Appointment) -> dict[str, Any]:
    view = present.treatment_view(appointment.treatment)
    deadline = _deadline(appointment)
    upcoming = appointment.status in UPCOMING and appointment.end >= timezone.now()
    return {
        **_card(appointment),
        "downtime": selectors.appointment_downtime(appointment) if upcoming else [],
        "treatment": view,
        "deadline": present.when_text(deadline),
        "notice": present.duration_text(settings.CLINIC_CANCELLATION_NOTICE),
        "changeable": _changeable(appointment),
        "confirmed": appointment.status == Appointment.Status.CONFIRMED,
        "upcoming": appointment.status in UPCOMING and appointment.end >= timezone.now(),
        "consent": signing.consent_state([appointment]).get(appointment.pk, "none")
        if appointment.end >= timezone.now()
        else "none",
        "cautions": [c.get("detail", "") for c in appointment.cautions or () if c.get("severity") == "caution"],
        "ics_url": reverse("site:appointment_ics", args=[appointment.pk]),
        "map_url": "https://www.google.com/maps/search/?api=1&query=" + quote(settings.CLINIC_ADDRESS),
        "cancel_form": CancelForm(),
        # What cancelling does (or did) to a deposit: the API and the email say the same (booking.deposit_rules).
        "deposit": deposit_rules.deposit_outcome(appointment),
    }


@never_cache
def appointment(request: HttpRequest, pk: int) -> HttpResponse:
    if is_staff_role(role_of(request.user)):
        return redirect("staff:appointment", pk=pk)
    return _appointment(request, pk)


@patient_required
def _appointment(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    context = _detail_context(found)
    context["just_booked"] = request.GET.get("booked") == "1" and found.status == Appointment.Status.CONFIRMED
    context["pre_care"] = pre_care_pages.section(found)
    context["pre_care_action"] = reverse("site:pre_care_confirm", args=[found.pk])
    return render(request, "site/appointment.html", context)


@never_cache
@patient_required
def appointment_ics(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    response = HttpResponse(appointment_calendar(found), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="appointment-{found.pk}.ics"'
    return response


def _back(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@never_cache
@patient_required
@require_POST
def cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    found = _own(request, pk)
    form = CancelForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    detail_url = reverse("site:appointment", args=[found.pk])
    try:
        services.appointment_cancel(appointment=found, by=signed_in(request), staff=False, reason=reason)
    except CancellationWindowPassed:
        messages.error(request, _("It is too late to cancel online. Please call the clinic."))
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, _("Your appointment is cancelled. We have emailed you a note of it."))
    return _back(request, detail_url)


@never_cache
@patient_required
def reschedule(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The same day-then-time picker, with the same practitioner unless the
    patient asks for any (``practitioner=any``); the move is a POST."""
    found = _own(request, pk)
    base = reverse("site:reschedule", args=[found.pk])
    context: dict[str, Any] = {**_detail_context(found), "notices": []}
    session = found.plan_session
    window = clinical.plan_session_window(session=session, staff=False, today=present.today()) if session else None
    span = Span.for_patient(window)
    data = request.POST if request.method == "POST" else request.GET
    day = parse_date(data.get("date"))
    at = parse_time(data.get("time")) if day else None
    month = parse_month(data.get("month"))
    anyone = data.get("practitioner") == "any"
    if (data.get("date") and day is None) or (day and data.get("time") and at is None):
        context["notices"].append(("error", _("That day or time is not valid. Please pick from the calendar.")))

    def url(**values: Any) -> str:
        values = {"practitioner": "any" if anyone else None, **values}
        query = urlencode({k: v for k, v in values.items() if v})
        return base + (f"?{query}" if query else "")

    if request.method == "POST" and day and at:
        try:
            services.appointment_reschedule(
                appointment=found,
                start=present.combine(day, at),
                practitioner=None if anyone else services.KEEP,
                by=signed_in(request),
                staff=False,
            )
        except SlotUnavailable:
            context["notices"].append(
                ("warning", _("Sorry, that time was booked by someone else a moment ago. Please choose another."))
            )
            at = None
        except CancellationWindowPassed:
            messages.error(request, _("It is too late to change this appointment online. Please call the clinic."))
            return _back(request, reverse("site:appointment", args=[found.pk]))
        except Contraindicated as error:
            context["notices"].extend(("error", r["detail"]) for r in error.reasons if r["severity"] == "block")
            at = None
        except TooClose as error:
            # Another day is the remedy: back to that month, where the refused days are greyed.
            context["notices"].append(("warning", too_close_text(error)))
            month, day, at = day.replace(day=1), None, None
        except ApplicationError as error:
            context["notices"].append(("warning", str(error.detail)))
            at = None
        else:
            messages.success(request, _("Your appointment has moved. We have emailed you the new time."))
            return _back(request, reverse("site:appointment", args=[found.pk]))
    if not context["changeable"]:
        # Only the page's wording: whether a move is allowed is the service's
        # answer to the POST above (the notice window, the status).
        return render(request, "site/reschedule.html", context)
    practitioner = None if anyone else found.practitioner
    context["anyone"] = anyone
    context["toggle_url"] = url(
        practitioner=None if anyone else "any", date=day.isoformat() if day else None, month=None
    )
    day_slots: list[Any] = []
    if day is not None:
        if span.first <= day <= span.last:
            day_slots = slots(
                found.treatment, day, day, practitioner=practitioner, span=span, exclude_appointment_id=found.pk
            )
        if not day_slots:
            context["notices"].append(("warning", _("There are no free times on that day. Please choose another.")))
            month, day, at = day.replace(day=1), None, None
    if day is None:
        context["step"] = "date"
        context.update(
            calendar_context(
                found.treatment,
                practitioner=practitioner,
                span=span,
                month=month,
                selected=None,
                day_url=lambda d: url(date=d.isoformat()),
                month_url=lambda m: url(month=m.strftime("%Y-%m")),
                exclude_appointment_id=found.pk,
                patient=found.patient,
            )
        )
    else:
        free = {present.local(s.start).time() for s in day_slots}
        if at is not None and at not in free:
            context["notices"].append(("warning", _("That time is no longer free. Here are the times still free.")))
            at = None
        context["day_label"] = present.day_text(day)
        context["calendar_url"] = url(month=day.strftime("%Y-%m"))
        if at is None:
            context["step"] = "time"
            context["groups"] = times_context(
                day_slots, selected=None, time_url=lambda t: url(date=day.isoformat(), time=t.strftime("%H:%M"))
            )
        else:
            context["step"] = "confirm"
            context["new_when"] = present.when_text(
                present.combine(day, at), present.combine(day, at) + timedelta(minutes=found.treatment.duration_minutes)
            )
            context["times_url"] = url(date=day.isoformat())
            context["hidden"] = [("date", day.isoformat()), ("time", at.strftime("%H:%M"))]
            if anyone:
                context["hidden"].append(("practitioner", "any"))
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "site/_reschedule_picker.html", context)
    return render(request, "site/reschedule.html", context)
