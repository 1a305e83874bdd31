"""Booking for a patient: find them (or register one without a login), pick
the treatment, practitioner and a free time, see the screening first (a block
needs a reason to go past it, cautions may have one); walk-ins take the next
free start today.

The rules are booking.services.appointment_book's: this page sends what the
user chose (the reason as typed, whether the visit is part of the patient's
course) and shows the service's answer, so it decides exactly as the API does.
The course a booking joins when no plan session is named comes from
booking.selectors.next_open_plan_session, the service's own choice.

When no time suits, the page puts the patient on the waitlist for the chosen
treatment (booking.waitlist.waitlist_join, staff rules), from the folded form
under the times; it posts to this route with ``action=waitlist``."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from booking import selectors, services, spacing, waitlist
from booking.models import Appointment, Practitioner
from clinic import formats
from clinic.clock import clinic_zone
from clinic.errors import AlreadyWaiting, ApplicationError, Contraindicated, InvalidInput, NotBookable, TooClose
from clinic.formats import duration_text
from patients.models import AccessEvent, Patient
from patients.permissions import staff_required, user_of
from patients.selectors import patients_matching
from patients.services import access_record, patient_create
from treatments import downtime
from treatments import services as clinical
from treatments.models import PlanSession, Treatment
from treatments.screening import DECLARATION_REQUIRED, screen
from treatments.selectors import DowntimeConflict, downtime_conflicts
from workspace.schedule.common import (
    clinic_today,
    date_param,
    describe,
    int_param,
    local,
    query_string,
    slot_choices,
    when,
)
from workspace.schedule.forms import BookForm, PatientCreateForm, WaitlistDeskForm


def _patients_matching(query: str) -> list[Patient]:
    """The first 20 matches, once at least two characters are typed."""
    if len(query.strip()) < 2:
        return []
    return list(patients_matching(query)[:20])


WAITLIST_DAYS = 14
CARRIED = ("treatment", "practitioner", "date", "time", "plan_session", "separate_visit")


def _carried(source: Any) -> dict[str, str]:
    return {name: source.get(name, "")[:40] for name in CARRIED if source.get(name)}


@staff_required
def patient_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    return render(
        request,
        "workspace/_patient_results.html",
        {"query": query, "results": _patients_matching(query), "carry": _carried(request.GET)},
    )


@staff_required
@require_POST
def patient_new(request: HttpRequest) -> HttpResponse:
    form = PatientCreateForm(request.POST)
    if form.is_valid():
        try:
            patient = patient_create(created_by=user_of(request), **form.cleaned_data)
        except InvalidInput as error:
            for field, problems in (error.fields or {}).items():
                for problem in problems:
                    form.add_error(field if field in form.fields else None, problem)
            if not error.fields:
                form.add_error(None, describe(error))
        else:
            messages.success(request, _("%(name)s is registered (no login yet).") % {"name": patient.full_name})
            carry = _carried(request.POST)
            return HttpResponseRedirect(f"{reverse('staff:book')}?{query_string(patient=patient.pk, **carry)}")
    form.full_clean = lambda: None  # type: ignore[method-assign]  # keep the errors added above
    return _book_page(request, request.POST, new_form=form, status=400)


@staff_required
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if request.POST.get("action") == "waitlist":
            return _waitlist_post(request)
        return _book_post(request)
    return _book_page(request, request.GET)


def _book_page(
    request: HttpRequest,
    source: Any,
    *,
    new_form: PatientCreateForm | None = None,
    status: int = 200,
    error: str = "",
    posted: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    offer_separate: bool = False,
    waitlist_form: WaitlistDeskForm | None = None,
) -> HttpResponse:
    errors: list[str] = []
    today = clinic_today()
    patient = None
    patient_id = int_param(source.get("patient"))
    if source.get("patient"):
        patient = Patient.objects.filter(pk=patient_id).first() if patient_id else None
        if patient is None:
            errors.append(_("That patient does not exist. Search again."))
            status = max(status, 404)
    session = None
    if source.get("plan_session"):
        session_id = int_param(source.get("plan_session"))
        session = (
            PlanSession.objects.select_related("plan__treatment", "plan__patient").filter(pk=session_id).first()
            if session_id
            else None
        )
        if session is None or (patient is not None and session.plan.patient_id != patient.pk):
            errors.append(_("That plan session does not exist for this patient."))
            status = max(status, 404)
            session = None
    treatments = list(Treatment.objects.filter(active=True).order_by("display_order", "name_en"))
    for each in treatments:
        each.label = each.localized("name")  # type: ignore[attr-defined]  # for the template
    treatment = None
    raw_treatment = source.get("treatment", "")
    if session is not None:
        treatment = session.plan.treatment
    elif raw_treatment:
        treatment = next((t for t in treatments if str(t.pk) == raw_treatment or t.slug == raw_treatment), None)
        if treatment is None:
            errors.append(_("Unknown treatment: choose one from the list."))
            status = max(status, 400)
    qualified: list[Practitioner] = []
    practitioner_id = None
    if treatment is not None:
        qualified = list(
            Practitioner.objects.filter(active=True, treatments=treatment).select_related("user").order_by("id")
        )
        practitioner_id = int_param(source.get("practitioner"))
        if source.get("practitioner") and practitioner_id not in {p.pk for p in qualified}:
            errors.append(_("That practitioner does not offer this treatment: showing everyone's times."))
            practitioner_id = None
    # Without a session named, the booking joins the patient's course of this
    # treatment (the service's rule) unless staff choose a separate visit.
    separate = source.get("separate_visit") == "1" and session is None
    course = None
    if session is None and patient is not None and treatment is not None:
        course = selectors.next_open_plan_session(patient_id=patient.pk, treatment_id=treatment.pk)
    planned = session or (None if separate else course)
    default_day = today
    window = None
    offered = True
    if planned is not None:
        offered, window = clinical.plan_session_offer(session=planned, staff=True, today=today, rescheduling=False)
        if window is not None:
            default_day = max(today, window[0])
        if not offered:
            errors.append(_("This plan session cannot be booked now (already booked, done, or not its turn)."))
    date_errors: list[str] = []
    day = date_param(source.get("date"), date_errors, default_day)
    if date_errors:
        errors += date_errors
        status = max(status, 400)
    if day < today:
        errors.append(_("That day has passed: choose today or later."))
        day = today
    screening = None
    conflicts: list[DowntimeConflict] = []
    groups: list[dict[str, Any]] = []
    walk_in = None
    too_close: list[dict[str, Any]] = []
    if patient is not None and treatment is not None:
        screening = screen(patient=patient, treatment=treatment, on=day)
        conflicts = downtime_conflicts(patient_id=patient.pk, treatment=treatment, day=day)
        # Gap rules go by the clinic-local date: any time of the day gives the same answer.
        too_close = spacing.spacing_findings(
            patient_id=patient.pk, treatment=treatment, start=datetime.combine(day, time(12), tzinfo=clinic_zone())
        )
        # The screening's findings come from the patient's health declaration.
        access_record(request, patient, AccessEvent.What.DECLARATIONS, AccessEvent.Door.PAGE)
        groups = slot_choices(treatment, day, practitioner_id=practitioner_id, window=window, offered=offered)
        if day == today:
            first = next((t for g in groups for t in g["times"]), None)
            walk_in = first
        elif offered:
            today_groups = slot_choices(treatment, today, practitioner_id=practitioner_id, window=window)
            walk_in = next((t for g in today_groups for t in g["times"]), None)
    outside_course = (
        course is not None and planned is course and window is not None and not window[0] <= day <= window[1]
    )
    if waitlist_form is None and patient is not None and treatment is not None:
        # Two weeks from the day shown: what a caller usually means by "soon".
        waitlist_form = WaitlistDeskForm(
            practitioners=qualified,
            initial={
                "earliest": day,
                "latest": day + timedelta(days=WAITLIST_DAYS - 1),
                "practitioner": practitioner_id,
            },
        )
    chosen_time = (source.get("time") or "")[:5]
    chosen_start = (posted or {}).get("start", "")
    context = {
        "patient": patient,
        "query": source.get("q", "") if patient is None else "",
        "results": _patients_matching(source.get("q", "")) if patient is None and source.get("q") else None,
        "new_form": new_form or PatientCreateForm(),
        "session": session,
        "course": course,
        "separate": separate,
        "outside_course": outside_course,
        "offer_separate": offer_separate and course is not None and not separate,
        "treatments": treatments,
        "treatment": treatment,
        "treatment_label": treatment.localized("name") if treatment else "",
        "qualified": qualified,
        "practitioner_id": practitioner_id,
        "day": day,
        "today": today,
        "screening": screening,
        "downtime": conflicts,
        "downtime_badge": downtime.badge(conflicts),
        "groups": groups,
        "walk_in": walk_in,
        "chosen_time": chosen_time,
        "chosen_start": chosen_start,
        "errors": errors,
        "error": error,
        "posted": posted or {},
        "field_errors": field_errors or {},
        "carry": _carried(source),
        "too_close": too_close,
        "too_close_blocks": any(f["severity"] == "block" for f in too_close),
        "needs_reason": (screening is not None and screening.outcome != "clear") or bool(too_close),
        "reason_required": (screening is not None and screening.outcome == "blocked")
        or any(f["severity"] == "block" for f in too_close),
        "needs_declaration": screening is not None and any(f.code == DECLARATION_REQUIRED for f in screening.findings),
        "consultation": next((t for t in treatments if t.slug == "consultation"), None),
        "practitioner_name": next((p.name for p in qualified if p.pk == practitioner_id), ""),
        "waitlist_form": waitlist_form,
        "waitlist_open": waitlist_form is not None and waitlist_form.is_bound,
        "waitlist_hold": duration_text(settings.CLINIC_WAITLIST_HOLD),
    }
    return render(request, "workspace/book.html", context, status=status)


def _book_post(request: HttpRequest) -> HttpResponse:
    data = request.POST.copy()
    walk_in = bool(data.get("walk_in_start"))
    if walk_in:
        data["start"] = str(data["walk_in_start"])
        data["walk_in"] = "1"
    form = BookForm(data)
    posted = {
        "notes": data.get("notes", "")[:2000],
        "override_reason": data.get("override_reason", "")[:2000],
        "start": data.get("start", ""),
        "walk_in": "1" if walk_in else "",
    }
    source = data.copy()
    if not form.is_valid():
        problems = {name: " ".join(str(m) for m in errors) for name, errors in form.errors.items()}
        message = problems.pop("start", "") or _("Check the form below.")
        return _book_page(request, source, status=400, error=message, posted=posted, field_errors=problems)
    values = form.cleaned_data
    patient = Patient.objects.filter(pk=values["patient"]).first()
    treatment = Treatment.objects.filter(pk=values["treatment"]).first()
    if patient is None or treatment is None:
        return _book_page(
            request, source, status=404, error=_("That patient or treatment does not exist."), posted=posted
        )
    practitioner = None
    if values.get("practitioner"):
        practitioner = Practitioner.objects.filter(pk=values["practitioner"]).first()
        if practitioner is None:
            return _book_page(request, source, status=400, error=_("Unknown practitioner."), posted=posted)
    start: datetime = values["start"]
    try:
        booked = services.appointment_book(
            patient=patient,
            treatment=treatment,
            start=start,
            practitioner=practitioner,
            booked_by=user_of(request),
            staff=True,
            source=Appointment.Source.WALK_IN if values["walk_in"] else Appointment.Source.STAFF,
            notes=values["notes"].strip(),
            override_reason=values["override_reason"],
            plan_session_id=values.get("plan_session"),
            separate_visit=values["separate_visit"],
        )
    except ApplicationError as error:
        source["date"] = local(start).date().isoformat()
        message = describe(error)
        field_errors: dict[str, str] = {}
        if isinstance(error, Contraindicated):
            message = _("Screening blocks this treatment: say why you are going ahead.")
            field_errors["override_reason"] = _("Give a reason to go ahead despite the screening.")
        elif isinstance(error, TooClose):
            message = _("This day is too close to another of the patient's treatments: say why you are going ahead.")
            field_errors["override_reason"] = _("Give a reason to go ahead despite the spacing between treatments.")
        return _book_page(
            request,
            source,
            status=error.status,
            error=message,
            posted=posted,
            field_errors=field_errors,
            offer_separate=isinstance(error, NotBookable) and not values.get("plan_session"),
        )
    messages.success(
        request,
        _("Booked %(treatment)s for %(name)s on %(when)s.")
        % {"treatment": treatment.localized("name"), "name": patient.full_name, "when": when(booked.start)},
    )
    day = local(booked.start).date().isoformat()
    return HttpResponseRedirect(f"{reverse('staff:schedule')}?{query_string(date=day)}")


def _waitlist_post(request: HttpRequest) -> HttpResponse:
    """The folded "no time suits" form: the patient joins the waitlist for the
    page's treatment; errors show in the form, kept filled."""
    source = request.POST.copy()
    patient = Patient.objects.filter(pk=int_param(source.get("patient")) or 0).first()
    treatment = Treatment.objects.filter(pk=int_param(source.get("treatment")) or 0).first()
    if patient is None or treatment is None:
        return _book_page(request, source, status=404, error=_("That patient or treatment does not exist."))
    qualified = list(
        Practitioner.objects.filter(active=True, treatments=treatment).select_related("user").order_by("id")
    )
    form = WaitlistDeskForm(request.POST, practitioners=qualified)
    status = 400
    if form.is_valid():
        values = form.cleaned_data
        try:
            entry = waitlist.waitlist_join(
                patient=patient,
                treatment=treatment,
                practitioner=next((p for p in qualified if p.pk == values["practitioner"]), None),
                earliest=values["earliest"],
                latest=values["latest"],
                parts=values["parts"],
                by=user_of(request),
                staff=True,
            )
        except ApplicationError as error:
            status = error.status
            for name, problems in (error.fields or {}).items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, str(problem))
            if not error.fields:
                form.add_error(None, _staff_words(error, patient))
        else:
            messages.success(
                request,
                _("%(name)s is on the waitlist for %(treatment)s, %(dates)s.")
                % {
                    "name": patient.full_name,
                    "treatment": treatment.localized("name"),
                    "dates": formats.date_range_text(entry.earliest, entry.latest),
                },
            )
            held = waitlist.open_offer_for(entry)
            if held is not None:
                messages.info(
                    request,
                    _("%(when)s was free and is held for them until %(until)s; they have been emailed.")
                    % {"when": when(held.start), "until": formats.time_text(held.expires_at)},
                )
            return HttpResponseRedirect(f"{reverse('staff:waitlist')}?{query_string(treatment=treatment.pk)}")
    return _book_page(request, source, status=status, waitlist_form=form)


def _staff_words(error: ApplicationError, patient: Patient) -> str:
    """The waitlist's refusals speak to the patient ("You are already…"); the desk reads them about the patient."""
    if isinstance(error, AlreadyWaiting):
        if str(error.detail) == str(AlreadyWaiting.default_detail):
            return _("%(name)s is already on the waitlist for this treatment on some of these dates.") % {
                "name": patient.full_name
            }
        return _("%(name)s already waits for as many times as a patient may: leave one to add another.") % {
            "name": patient.full_name
        }
    return describe(error)
