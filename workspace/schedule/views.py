"""The staff workspace's schedule (day and week, by practitioner, room or
device) and one appointment's actions: check in, no-show, reschedule, cancel;
"complete" leads to the session record form (chart:session_record).

Views parse input, call the services and render; the rules stay in the
services, whose ``clinic.errors`` become a message in place with the error's
status (never a 500). htmx requests get the partial that changes; every page
also works as plain forms.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from booking import deposit_rules, precare, selectors, services, signing
from booking.models import Appointment, ClinicClosure, Device, Practitioner, Room, TimeOff, WorkingHours
from clinic import formats
from clinic.errors import ApplicationError, InvalidInput
from clinic.pages import HtmxHttpRequest, safe_next
from patients.permissions import is_clinician, staff_required, user_of
from treatments import downtime
from treatments import services as clinical
from workspace.chart import money_actions
from workspace.schedule import schedule as layout
from workspace.schedule.common import (
    changed,
    clinic_today,
    clinic_zone,
    date_param,
    describe,
    int_param,
    is_panel,
    labelled,
    local,
    slot_choices,
    when,
)
from workspace.schedule.forms import CancelForm, RescheduleForm


@staff_required
def schedule(request: HtmxHttpRequest) -> HttpResponse:
    errors: list[str] = []
    today = clinic_today()
    day = date_param(request.GET.get("date"), errors, today)
    view = request.GET.get("view") if request.GET.get("view") in ("day", "week") else "day"
    by = request.GET.get("by") if request.GET.get("by") in ("practitioner", "room", "device") else "practitioner"
    practitioners = list(Practitioner.objects.filter(active=True).select_related("user"))
    chosen = int_param(request.GET.get("practitioner"))
    if request.GET.get("practitioner") and (chosen is None or chosen not in {p.pk for p in practitioners}):
        errors.append(_("Unknown practitioner: showing everyone."))
        chosen = None
    own = next((p for p in practitioners if p.user_id == request.user.pk), None)
    if own is not None:  # a practitioner sees their own column first
        practitioners.sort(key=lambda p: p.pk != own.pk)
    context: dict[str, Any] = {
        "day": day,
        "today": today,
        "view": view,
        "by": by,
        "chosen": chosen,
        "practitioners": practitioners,
        "errors": errors,
        "clinician": is_clinician(request),
        "own_practitioner": own,  # a practitioner is offered their calendar feed
        "prev_day": day - timedelta(days=7 if view == "week" else 1),
        "next_day": day + timedelta(days=7 if view == "week" else 1),
        "refresh_seconds": settings.STAFF_SCHEDULE_REFRESH_SECONDS,
        # Machine dates for links (what people read goes through clinic_format).
        "day_iso": day.isoformat(),
        "today_iso": today.isoformat(),
        "prev_iso": (day - timedelta(days=7 if view == "week" else 1)).isoformat(),
        "next_iso": (day + timedelta(days=7 if view == "week" else 1)).isoformat(),
    }
    if view == "week":
        context.update(_week(day, chosen))
    else:
        context.update(_day(day, str(by), chosen, practitioners))
    template = "workspace/_schedule.html" if request.htmx and not request.htmx.boosted else "workspace/schedule.html"
    return render(request, template, context, status=400 if errors else 200)


def _working_spans(rows: list[WorkingHours]) -> dict[int, list[tuple[time, time]]]:
    spans: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for row in rows:
        if row.break_start and row.break_end:
            spans[row.practitioner_id] += [(row.start, row.break_start), (row.break_end, row.end)]
        else:
            spans[row.practitioner_id].append((row.start, row.end))
    return spans


def _holds(start: datetime, end: datetime) -> list[Appointment]:
    """The day's unexpired waitlist holds (booking.waitlist: an offered time is
    held by an Appointment row of status held, which Appointment.objects does
    not see): drawn on the grid so the desk sees why a gap cannot be booked.
    One query, however many."""
    rows = list(
        Appointment.with_holds.filter(
            status=Appointment.Status.HELD, hold_expires_at__gt=timezone.now(), end__gt=start, start__lt=end
        )
        .select_related("patient", "treatment")
        .order_by("start", "id")
    )
    for row in rows:
        row.treatment_label = row.treatment.localized("name")  # type: ignore[attr-defined]
        until = row.hold_expires_at
        # A hold that ends on another day than its slot names that day too.
        same_day = until is not None and local(until).date() == local(row.start).date()
        row.held_until = formats.time_text(until) if same_day else formats.datetime_text(until)  # type: ignore[attr-defined,arg-type]
    return rows


def _day(day: date, by: str, chosen: int | None, practitioners: list[Practitioner]) -> dict[str, Any]:
    zone = clinic_zone()
    start, end = layout.day_bounds(day, zone)
    appointments = labelled(
        selectors.appointments_for(start=start, end=end).prefetch_related(selectors.IMPORTANT_DATES)
    )
    held = _holds(start, end)
    if chosen is not None:
        appointments = [a for a in appointments if a.practitioner_id == chosen]
        held = [h for h in held if h.practitioner_id == chosen]
    cancelled = [a for a in appointments if a.status == Appointment.Status.CANCELLED]
    shown = [a for a in appointments if a.status != Appointment.Status.CANCELLED]
    hours = list(WorkingHours.objects.filter(weekday=day.weekday(), practitioner__active=True))
    working = _working_spans(hours)
    closures = list(ClinicClosure.objects.filter(start__lt=end, end__gt=start).order_by("start"))
    off: list[tuple[int | None, datetime, datetime, str]] = [
        (None, c.start, c.end, c.reason or c.get_kind_display()) for c in closures
    ]
    columns: list[layout.Column]
    if by == "practitioner":
        listed = {p.pk for p in practitioners}
        extra = [a.practitioner for a in shown if a.practitioner_id not in listed]
        people = [*practitioners, *{p.pk: p for p in extra}.values()]
        if chosen is not None:
            people = [p for p in people if p.pk == chosen]
        columns = [layout.Column(key=p.pk, title=p.name, subtitle=p.localized("title")) for p in people]
        keys = {p.pk for p in people}
        for item in TimeOff.objects.filter(practitioner_id__in=keys, start__lt=end, end__gt=start):
            off.append((item.practitioner_id, item.start, item.end, item.reason or _("Time off")))

        def column_of(appointment: Appointment) -> int:
            return appointment.practitioner_id

        spans: dict[int, list[tuple[time, time]]] = {key: working.get(key, []) for key in keys}
    else:
        resources: list[Any] = list(
            (Room if by == "room" else Device).objects.filter(active=True).select_related("kind")
        )
        columns = [
            layout.Column(key=r.pk, title=r.localized("name"), subtitle=r.kind.localized("name")) for r in resources
        ]
        if by == "device":
            shown = [a for a in shown if a.device_id is not None]
            held = [h for h in held if h.device_id is not None]

        def column_of(appointment: Appointment) -> int:
            return appointment.room_id if by == "room" else appointment.device_id  # type: ignore[return-value]  # a device column shows only appointments with one

        every = [span for values in working.values() for span in values]
        spans = {r.pk: every for r in resources}
    open_at, close_at = layout.opening(
        [(a, b) for values in working.values() for a, b in values],
        [(a.start, a.end) for a in [*shown, *held]],
        zone,
        day,
    )
    grid = layout.build_day(
        day=day,
        zone=zone,
        columns=columns,
        appointments=sorted([*shown, *held], key=lambda a: (a.start, a.pk)),
        column_of=column_of,
        working=spans,
        off=off,
        open_at=open_at,
        close_at=close_at,
        now=timezone.now(),
    )
    now = timezone.now()
    to_confirm = precare.unconfirmed_counts(shown)
    missing = signing.missing_by_appointment(shown)  # one batch for the whole day
    deposits = deposit_rules.deposit_states(shown)  # one query for the whole day
    for appointment in shown:
        appointment.consent_needed = bool(missing.get(appointment.pk))  # type: ignore[attr-defined]
        for name, allowed in _actions_at(appointment, now).items():
            setattr(appointment, name, allowed)
        appointment.pre_care_to_confirm = to_confirm.get(appointment.pk, 0)  # type: ignore[attr-defined]  # for the block
        appointment.deposit_state = deposits.get(appointment.pk, "")  # type: ignore[attr-defined]
        appointment.downtime_badge = downtime.badge(selectors.appointment_downtime(appointment))  # type: ignore[attr-defined]
        appointment.wall_start = local(appointment.start).strftime("%H:%M")  # type: ignore[attr-defined]
    return {
        **_awaiting_confirmation(shown, now),
        "grid": grid,
        "closures": closures,
        "cancelled": cancelled,
        "count": len(shown),
        "column_count": len(grid.columns) + 1,
        # Dropping on another column changes the practitioner; rooms and devices are chosen by the service.
        "columns_move": by == "practitioner",
        "day_offset": datetime.combine(day, time(12), tzinfo=zone).isoformat()[-6:],
    }


def _awaiting_confirmation(shown: list[Appointment], now: datetime) -> dict[str, Any]:
    """The day's visits still ahead whose patient has not said "I'm coming"
    (a reminder's WhatsApp button, SMS reply or email link), for reception to
    call the day before, say."""
    ahead = [a for a in shown if a.status == Appointment.Status.CONFIRMED and a.start > now]
    return {"awaiting": [a for a in ahead if a.patient_confirmed_at is None], "ahead": len(ahead)}


def _week(day: date, chosen: int | None) -> dict[str, Any]:
    """The week as a time grid: a column per day (days nobody works and nothing
    is booked are left out), the day view's rows, closures (and, for one
    practitioner, their time off) shaded. A fixed handful of queries."""
    zone = clinic_zone()
    week = layout.week_of(day)
    start, _unused = layout.day_bounds(week[0], zone)
    _unused, end = layout.day_bounds(week[-1], zone)
    appointments = selectors.appointments_for(start=start, end=end).exclude(status=Appointment.Status.CANCELLED)
    hours = WorkingHours.objects.filter(practitioner__active=True)
    if chosen is not None:
        appointments = appointments.filter(practitioner_id=chosen)
        hours = hours.filter(practitioner_id=chosen)
    shown = labelled(appointments)
    missing = signing.missing_by_appointment(shown)  # one batch for the whole week
    for appointment in shown:
        appointment.consent_needed = bool(missing.get(appointment.pk))  # type: ignore[attr-defined]
    by_weekday: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for row in hours:
        by_weekday[row.weekday] += _working_spans([row])[row.practitioner_id]
    booked_days = {local(a.start).date() for a in shown}
    today = clinic_today()
    days = [d for d in week if by_weekday.get(d.weekday()) or d in booked_days or d == today] or week
    working = {d: by_weekday.get(d.weekday(), []) for d in days}
    closures = list(ClinicClosure.objects.filter(start__lt=end, end__gt=start).order_by("start"))
    off: list[tuple[datetime, datetime, str]] = [(c.start, c.end, c.reason or c.get_kind_display()) for c in closures]
    time_off = list(
        TimeOff.objects.filter(start__lt=end, end__gt=start, practitioner__active=True)
        .select_related("practitioner__user")
        .order_by("start")
    )
    if chosen is not None:
        time_off = [item for item in time_off if item.practitioner_id == chosen]
        off += [(item.start, item.end, item.reason or _("Time off")) for item in time_off]
    bounds = [
        layout.opening(working[d], [(a.start, a.end) for a in shown if local(a.start).date() == d], zone, d)
        for d in days
        if working[d] or d in booked_days
    ] or [(layout.DEFAULT_OPEN, layout.DEFAULT_CLOSE)]
    grid = layout.build_week(
        days=days,
        zone=zone,
        appointments=shown,
        working=working,
        off=off,
        open_at=min(b[0] for b in bounds),
        close_at=max(b[1] for b in bounds),
        now=timezone.now(),
    )
    return {
        "week": grid,
        "closures": closures,
        "week_start": week[0],
        "week_end": week[-1],
        "count": len(shown),
        "time_off": time_off if chosen is None else [],  # one practitioner's is shaded on the grid instead
    }


# --- one appointment and its actions --------------------------------------------------


def _appointment(pk: int) -> Appointment:
    found = get_object_or_404(
        selectors.appointments_for().select_related("plan_session__plan", "cancelled_by_user"), pk=pk
    )
    return labelled([found])[0]


def _actions_at(appointment: Appointment, now: datetime) -> dict[str, bool]:
    """Which buttons to offer (the services decide again when one is pressed):
    the appointment's panel and its block on the schedule offer the same."""
    confirmed = appointment.status == Appointment.Status.CONFIRMED
    return {
        "can_check_in": confirmed and local(appointment.start).date() == local(now).date(),
        "can_no_show": confirmed and now >= appointment.start,
        "can_change": confirmed,
    }


def _actions(request: HttpRequest, appointment: Appointment) -> dict[str, bool]:
    return {
        **_actions_at(appointment, timezone.now()),
        "can_complete": appointment.status == Appointment.Status.CHECKED_IN and is_clinician(request),
    }


def _from_schedule(request: HtmxHttpRequest) -> bool:
    """A button on a block of the schedule (not the dialog): the answer is the
    status line above the grid, and the grid redraws itself."""
    return bool(request.htmx) and request.htmx.target == "schedule-status"


def _schedule_refused(request: HtmxHttpRequest, error: ApplicationError) -> HttpResponse:
    return render(request, "workspace/_schedule_status.html", {"error": describe(error)}, status=error.status)


def _render_appointment(
    request: HtmxHttpRequest,
    appointment: Appointment,
    *,
    status: int = 200,
    error: str = "",
    success: str = "",
    cancel_form: CancelForm | None = None,
    reschedule: dict[str, Any] | None = None,
) -> HttpResponse:
    conflicts = selectors.appointment_downtime(appointment)
    context = {
        "appointment": appointment,
        "clinician": is_clinician(request),
        "error": error,
        "success": success,
        "cancel_form": cancel_form or CancelForm(),
        "reschedule": reschedule,
        "next": safe_next(request, ""),
        "consent": signing.consent_state([appointment]).get(appointment.pk, "none"),
        # On its own page (also after an htmx action there) the patient's name is the page's h1; in the dialog, h2.
        "level": 1 if not request.htmx or "/staff/appointments/" in (request.htmx.current_url or "") else 2,
        **_actions(request, appointment),
        "pre_care_unconfirmed": precare.unconfirmed(appointment),
        "money": money_actions.panel(request, appointment),
        "downtime": conflicts,
        "downtime_badge": downtime.badge(conflicts),
    }
    template = "workspace/_appointment.html" if is_panel(request) else "workspace/appointment.html"
    return render(request, template, context, status=status)


@staff_required
def appointment(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _render_appointment(request, _appointment(pk))


def _after_action(request: HtmxHttpRequest, appointment: Appointment, message: str) -> HttpResponse:
    target = safe_next(request, "")
    if _from_schedule(request):
        messages.success(request, message)
        return changed(render(request, "workspace/_schedule_status.html", {}))
    if request.htmx and target:  # opened from a list (e.g. a closure's): back to it
        messages.success(request, message)
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    if is_panel(request):
        fresh = _appointment(appointment.pk)
        return changed(_render_appointment(request, fresh, success=message))
    messages.success(request, message)
    return HttpResponseRedirect(safe_next(request, reverse("staff:appointment", args=[appointment.pk])))


def _action_failed(
    request: HtmxHttpRequest, appointment: Appointment, error: ApplicationError, **extra: Any
) -> HttpResponse:
    if _from_schedule(request):
        return _schedule_refused(request, error)
    fresh = _appointment(appointment.pk)
    return _render_appointment(request, fresh, status=error.status, error=describe(error), **extra)


@staff_required
@require_POST
def appointment_check_in(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(pk)
    try:
        services.appointment_check_in(appointment=appointment, by=user_of(request))
    except ApplicationError as error:
        return _action_failed(request, appointment, error)
    return _after_action(request, appointment, _("%(name)s is checked in.") % {"name": appointment.patient.full_name})


@staff_required
@require_POST
def appointment_no_show(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(pk)
    try:
        services.appointment_no_show(appointment=appointment, by=user_of(request))
    except ApplicationError as error:
        return _action_failed(request, appointment, error)
    return _after_action(
        request, appointment, _("%(name)s is marked as a no-show.") % {"name": appointment.patient.full_name}
    )


@staff_required
@require_POST
def appointment_cancel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(pk)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _render_appointment(request, appointment, status=400, cancel_form=form)
    try:
        services.appointment_cancel(
            appointment=appointment,
            by=user_of(request),
            staff=True,
            reason=form.cleaned_data["reason"].strip(),
            for_patient=form.cleaned_data["for_patient"],
        )
    except ApplicationError as error:
        return _action_failed(request, appointment, error, cancel_form=form)
    return _after_action(
        request,
        appointment,
        _("The appointment of %(name)s is cancelled; the patient is emailed.")
        % {"name": appointment.patient.full_name},
    )


def _reschedule_context(
    request: HttpRequest, appointment: Appointment, source: Any
) -> tuple[dict[str, Any], list[str]]:
    errors: list[str] = []
    local_start = local(appointment.start).date()
    day = date_param(source.get("date"), errors, max(local_start, clinic_today()))
    practitioner_raw = source.get("practitioner", "")
    practitioner_id: int | None = appointment.practitioner_id
    if practitioner_raw == "any":
        practitioner_id = None
    elif practitioner_raw:
        practitioner_id = int_param(practitioner_raw)
        if practitioner_id is None:
            errors.append(_("Unknown practitioner."))
            practitioner_id = appointment.practitioner_id
    window = None
    if appointment.plan_session is not None:
        session = appointment.plan_session
        window = clinical.plan_session_window(session=session, staff=True, today=clinic_today())
    groups = slot_choices(
        appointment.treatment, day, practitioner_id=practitioner_id, window=window, exclude=appointment.pk
    )
    qualified = Practitioner.objects.filter(active=True, treatments=appointment.treatment).select_related("user")
    return {
        "day": day,
        "groups": groups,
        "practitioner_id": practitioner_id,
        "practitioner_choice": "any" if practitioner_id is None else str(practitioner_id),
        "qualified": list(qualified),
        "window": window,
        "errors": errors,
    }, errors


@staff_required
@require_http_methods(["GET", "POST"])
def appointment_reschedule(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(pk)
    if request.method == "GET":
        context, errors = _reschedule_context(request, appointment, request.GET)
        return _render_appointment(request, appointment, reschedule=context, status=400 if errors else 200)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        context, _errors = _reschedule_context(request, appointment, request.POST)
        message = " ".join(str(m) for values in form.errors.values() for m in values)
        return _render_appointment(request, appointment, status=400, error=message, reschedule=context)
    practitioner: Any = services.KEEP
    raw = request.POST.get("practitioner", "")
    if raw == "any":
        practitioner = None
    elif raw:
        found = int_param(raw)
        practitioner = Practitioner.objects.filter(pk=found, active=True).first() if found else None
        if practitioner is None:
            context, _errors = _reschedule_context(request, appointment, request.POST)
            return _render_appointment(
                request, appointment, status=400, error=_("Unknown practitioner."), reschedule=context
            )
    try:
        moved = services.appointment_reschedule(
            appointment=appointment,
            start=form.cleaned_data["start"],
            practitioner=practitioner,
            by=user_of(request),
            staff=True,
            reason=form.cleaned_data["reason"],
        )
    except ApplicationError as error:
        context, _errors = _reschedule_context(request, appointment, request.POST)
        return _action_failed(request, appointment, error, reschedule=context)
    return _after_action(
        request,
        moved,
        _("Moved to %(when)s; the patient is emailed.") % {"when": when(moved.start)},
    )


@staff_required
@require_POST
def appointment_move(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A block dropped on the schedule (or moved with its Move dialog): a new
    start, and in the practitioners' view perhaps another practitioner. The
    same service as every reschedule decides; a refusal is its message."""
    appointment = _appointment(pk)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(m) for values in form.errors.values() for m in values)
        return _schedule_refused(request, InvalidInput(message))
    practitioner: Any = services.KEEP
    raw = request.POST.get("practitioner", "")
    if raw:
        found = int_param(raw)
        practitioner = (
            Practitioner.objects.filter(pk=found, active=True).select_related("user").first() if found else None
        )
        if practitioner is None:
            return _schedule_refused(request, InvalidInput(_("Unknown practitioner.")))
    try:
        moved = services.appointment_reschedule(
            appointment=appointment,
            start=form.cleaned_data["start"],
            practitioner=practitioner,
            by=user_of(request),
            staff=True,
        )
    except ApplicationError as error:
        return _schedule_refused(request, error)
    message = _("%(name)s moved to %(when)s with %(practitioner)s; the patient is emailed.") % {
        "name": moved.patient.full_name,
        "when": when(moved.start),
        "practitioner": moved.practitioner.name,
    }
    if not request.htmx:  # a plain form post: back to the schedule of the new day
        messages.success(request, message)
        return HttpResponseRedirect(f"{reverse('staff:schedule')}?date={local(moved.start).date().isoformat()}")
    return _after_action(request, moved, message)
