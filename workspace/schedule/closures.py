"""Clinic closures and practitioners' time off, and the appointments each
affects: moved one by one or to their next free times, or cancelled in bulk
with a reason. The services enqueue the patients' emails."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from booking import availability, selectors, services
from booking.models import Appointment, ClinicClosure, Practitioner, TimeOff
from clinic.errors import ApplicationError
from patients.permissions import staff_required, user_of
from treatments import services as clinical
from workspace.schedule.common import clinic_today, describe, labelled, local
from workspace.schedule.forms import BulkForm, ClosureForm, TimeOffForm


def _upcoming_closures() -> dict[str, Any]:
    now = timezone.now()
    closures = list(ClinicClosure.objects.filter(end__gt=now).order_by("start")[:50])
    time_off = list(TimeOff.objects.filter(end__gt=now).select_related("practitioner__user").order_by("start")[:100])
    spans = [(c.start, c.end, None) for c in closures] + [(t.start, t.end, t.practitioner_id) for t in time_off]
    counts: dict[tuple[datetime, datetime, int | None], int] = {}
    if spans:
        first = min(s for s, _e, _p in spans)
        last = max(e for _s, e, _p in spans)
        rows = list(
            Appointment.objects.filter(status__in=selectors.UPCOMING, start__lt=last, end__gt=first)
            .order_by()
            .values_list("start", "end", "practitioner_id")
        )
        for span in spans:
            start, end, practitioner = span
            counts[span] = sum(
                1 for s, e, p in rows if s < end and e > start and (practitioner is None or p == practitioner)
            )
    for closure in closures:
        closure.affected = counts.get((closure.start, closure.end, None), 0)  # type: ignore[attr-defined]  # for the template
    for item in time_off:
        item.affected = counts.get((item.start, item.end, item.practitioner_id), 0)  # type: ignore[attr-defined]  # for the template
    return {"closures": closures, "time_off": time_off}


@staff_required
@require_http_methods(["GET", "POST"])
def closures(request: HttpRequest) -> HttpResponse:
    closure_form = ClosureForm()
    off_form = TimeOffForm()
    status = 200
    if request.method == "POST":
        which = request.POST.get("form")
        try:
            if which == "closure":
                closure_form = ClosureForm(request.POST)
                if closure_form.is_valid():
                    data = closure_form.cleaned_data
                    closure, _affected = services.closure_add(
                        start=data["start"],
                        end=data["end"],
                        reason=data["reason"].strip(),
                        kind=data["kind"],
                        by=user_of(request),
                    )
                    messages.success(request, _("The clinic closure is saved. New bookings cannot be made then."))
                    return HttpResponseRedirect(reverse("staff:closure", args=["clinic", closure.pk]))
            elif which == "time_off":
                off_form = TimeOffForm(request.POST)
                if off_form.is_valid():
                    data = off_form.cleaned_data
                    item, _affected = services.time_off_add(
                        practitioner=data["practitioner"],
                        start=data["start"],
                        end=data["end"],
                        reason=data["reason"].strip(),
                        by=user_of(request),
                    )
                    messages.success(request, _("The time off is saved."))
                    return HttpResponseRedirect(reverse("staff:closure", args=["off", item.pk]))
            else:
                messages.error(request, _("Choose what to add."))
        except ApplicationError as error:
            form = closure_form if which == "closure" else off_form
            form.add_error(None, describe(error))
        except IntegrityError:  # the unique constraint: the same closure twice
            closure_form.add_error(None, _("This closure is already saved."))
        status = 400
    context = {"closure_form": closure_form, "off_form": off_form, **_upcoming_closures()}
    return render(request, "workspace/closures.html", context, status=status)


def _span_of(kind: str, pk: int) -> tuple[Any, Practitioner | None]:
    if kind == "clinic":
        return get_object_or_404(ClinicClosure, pk=pk), None
    if kind == "off":
        item = get_object_or_404(TimeOff.objects.select_related("practitioner__user"), pk=pk)
        return item, item.practitioner
    raise Http404


def _next_free(appointment: Appointment, today: date) -> list[availability.Slot]:
    """The earliest free starts for this appointment from its own date on (the
    closure's time is not offered): its practitioner first, within two weeks,
    then anyone qualified, within four."""
    window = None
    if appointment.plan_session is not None:
        window = clinical.plan_session_window(session=appointment.plan_session, staff=True, today=today)
    first = max(local(appointment.start).date(), today)
    for practitioner_id, days in ((appointment.practitioner_id, 14), (None, 28)):
        slots = availability.find_slots(
            treatment=appointment.treatment,
            first_date=first,
            last_date=first + timedelta(days=days),
            practitioner_id=practitioner_id,
            staff=True,
            window=window,
            exclude_appointment_id=appointment.pk,
        )
        if slots:
            return slots[:5]
    return []


def _move_to_next_free(
    appointment: Appointment, by: Any, today: date, reason: str = ""
) -> tuple[Appointment | None, str]:
    last_error = _("No free time in the next four weeks.")
    for slot in _next_free(appointment, today):
        practitioner = Practitioner.objects.get(pk=slot.practitioner_id)
        try:
            moved = services.appointment_reschedule(
                appointment=appointment, start=slot.start, practitioner=practitioner, by=by, staff=True, reason=reason
            )
        except ApplicationError as error:
            last_error = describe(error)
            continue
        return moved, ""
    return None, last_error


@staff_required
@require_http_methods(["GET", "POST"])
def closure(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    span, practitioner = _span_of(kind, pk)
    affected = labelled(
        services.closure_affected_appointments(
            start=span.start, end=span.end, practitioner=practitioner
        ).select_related("plan_session")
    )
    form = BulkForm(appointments=affected)
    results: list[dict[str, Any]] = []
    status = 200
    if request.method == "POST":
        form = BulkForm(request.POST, appointments=affected)
        if form.is_valid():
            chosen = [a for a in affected if a.pk in set(form.cleaned_data["appointments"])]
            today = clinic_today()
            if form.cleaned_data["action"] == "cancel":
                cancelled, skipped = services.appointments_cancel_for_closure(
                    appointments=chosen, reason=form.cleaned_data["reason"].strip(), by=user_of(request)
                )
                messages.success(
                    request,
                    _("%(done)d cancelled, patients emailed; %(skipped)d skipped (already checked in or changed).")
                    % {"done": len(cancelled), "skipped": len(skipped)},
                )
                return HttpResponseRedirect(request.get_full_path())
            moved = 0
            # A clinic closure's reason ("Typhoon signal 8") tells the patient why the
            # visit moved; a practitioner's time off is theirs and is not passed on.
            told = span.reason if kind == "clinic" else ""
            for item in chosen:
                done, problem = _move_to_next_free(item, request.user, today, told)
                if done is not None:
                    moved += 1
                    results.append({"appointment": item, "moved_to": done.start, "practitioner": done.practitioner})
                else:
                    results.append({"appointment": item, "problem": problem})
            if moved == len(chosen):
                messages.success(
                    request, _("%(done)d moved to their next free times; patients emailed.") % {"done": moved}
                )
                return HttpResponseRedirect(request.get_full_path())
            status = 409
            affected = labelled(
                services.closure_affected_appointments(
                    start=span.start, end=span.end, practitioner=practitioner
                ).select_related("plan_session")
            )
            form = BulkForm(appointments=affected)
        else:
            status = 400
    return render(
        request,
        "workspace/closure.html",
        {
            "span": span,
            "kind": kind,
            "practitioner": practitioner,
            "affected": affected,
            "form": form,
            "results": results,
        },
        status=status,
    )
