"""Lists that ask for action: patients due or overdue for their next plan
session, the day's no-shows, messages that failed. Each reads a constant number
of queries whatever its length."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from booking import selectors
from booking.models import Appointment, Notification
from booking.notifications import notification_retry
from patients.permissions import staff_required
from treatments.models import PlanSession, TreatmentPlan
from workspace.schedule import schedule as layout
from workspace.schedule.common import clinic_today, clinic_zone, date_param, labelled

DUE_SOON_DAYS = 7


def due_sessions(*, today: date, overdue_only: bool = False) -> QuerySet[PlanSession]:
    """Plan sessions staff should book now: pending, of an active plan, whose
    turn has come (session 1, or the one before is booked or done), with a
    window that has opened or opens within a week; overdue first (window
    ended longest ago), then by window end. Only what booking needs: the
    patient's name and phone, the treatment, the window."""
    previous = PlanSession.objects.filter(plan_id=OuterRef("plan_id"), number=OuterRef("number") - 1).values("status")[
        :1
    ]
    total = (
        PlanSession.objects.filter(plan_id=OuterRef("plan_id"))
        .order_by()
        .values("plan_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    sessions = (
        PlanSession.objects.filter(
            status=PlanSession.Status.PENDING,
            plan__status=TreatmentPlan.Status.ACTIVE,
            window_start__lte=today + timedelta(days=DUE_SOON_DAYS),
        )
        .annotate(previous_status=Subquery(previous), sessions_total=Subquery(total))
        .filter(Q(number=1) | Q(previous_status__in=[PlanSession.Status.BOOKED, PlanSession.Status.COMPLETED]))
        .select_related("plan__patient", "plan__treatment")
        .only(
            "id",
            "number",
            "window_start",
            "window_end",
            "status",
            "plan__id",
            "plan__status",
            "plan__patient__id",
            "plan__patient__full_name",
            "plan__patient__phone",
            "plan__patient__preferred_language",
            "plan__treatment__id",
            "plan__treatment__slug",
            "plan__treatment__name_en",
            "plan__treatment__name_zh_hant",
        )
        .order_by("window_end", "window_start", "id")
    )
    if overdue_only:
        sessions = sessions.filter(window_end__lt=today)
    return sessions


@staff_required
def due(request: HttpRequest) -> HttpResponse:
    today = clinic_today()
    show = request.GET.get("show") if request.GET.get("show") in ("overdue", "all") else "all"
    sessions = due_sessions(today=today, overdue_only=show == "overdue")
    page = Paginator(sessions, 50).get_page(request.GET.get("page"))
    for session in page.object_list:  # what the template shows, beside the stored fields
        session.days_overdue = (today - session.window_end).days if session.window_end < today else 0  # type: ignore[attr-defined]  # for the template
        session.total = session.sessions_total  # type: ignore[attr-defined]  # for the template
        session.treatment_label = session.plan.treatment.localized("name")  # type: ignore[attr-defined]  # for the template
    return render(request, "workspace/due.html", {"page": page, "today": today, "show": show})


@staff_required
def no_shows(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    today = clinic_today()
    day = date_param(request.GET.get("date"), errors, today)
    start, end = layout.day_bounds(day, clinic_zone())
    appointments = labelled(
        selectors.appointments_for(start=start, end=end, statuses=[Appointment.Status.NO_SHOW]).filter(start__gte=start)
    )
    waiting = labelled(
        selectors.appointments_for(start=start, end=end, statuses=[Appointment.Status.CONFIRMED]).filter(
            start__gte=start, start__lte=timezone.now()
        )
    )
    return render(
        request,
        "workspace/no_shows.html",
        {
            "day": day,
            "today": today,
            "appointments": appointments,
            "waiting": waiting,
            "errors": errors,
            "prev_day": day - timedelta(days=1),
            "next_day": day + timedelta(days=1),
        },
        status=400 if errors else 200,
    )


def _failed(page_number: Any) -> Any:
    """Failed messages, newest first, each with its deliveries (the fallback
    trail): three queries a page whatever its length."""
    failed = (
        Notification.objects.filter(status=Notification.Status.FAILED)
        .select_related("patient", "appointment")
        .prefetch_related("deliveries")
        .order_by("-due_at", "-id")
    )
    return Paginator(failed, 50).get_page(page_number)


@staff_required
def failed_notifications(request: HttpRequest) -> HttpResponse:
    return render(request, "workspace/failed_notifications.html", {"page": _failed(request.GET.get("page"))})


@staff_required
@require_POST
def notification_send_again(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification, pk=pk)
    if notification_retry(notification=notification):
        messages.success(request, _("It will be sent again within a minute."))
        return HttpResponseRedirect(reverse("staff:failed_notifications"))
    error = _("That message is no longer failed: nothing to send again.")
    return render(request, "workspace/failed_notifications.html", {"page": _failed(1), "error": error}, status=409)
