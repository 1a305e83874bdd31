"""The waitlist at the desk: who waits for which treatment, in queue order
(first come, first served, as booking.waitlist offers freed times), and a
time offered by hand: staff pick a day, see its free times for the entry
(the availability engine, staff rules) and offer one through
``waitlist.waitlist_offer_by_hand``, which holds it and emails the patient.

The list reads a constant number of queries whatever its length (the
selectors load patient, treatment, practitioner and open offers at once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_http_methods

from booking import waitlist
from booking.models import Practitioner, WaitlistEntry
from clinic import formats
from clinic.errors import ApplicationError
from patients.permissions import staff_required, user_of
from treatments.models import Treatment
from workspace.schedule.common import (
    clinic_today,
    date_param,
    describe,
    int_param,
    query_string,
    slot_choices,
    when,
)

PAGE_SIZE = 50
PART_WORDS: dict[str, Any] = {
    "morning": pgettext_lazy("part of day", "Morning"),
    "afternoon": pgettext_lazy("part of day", "Afternoon"),
    "evening": pgettext_lazy("part of day", "Evening"),
}
STATUS_WORDS: dict[str, Any] = {
    "waiting": pgettext_lazy("waitlist status", "Waiting"),
    "booked": pgettext_lazy("waitlist status", "Booked"),
    "left": pgettext_lazy("waitlist status", "Left"),
    "ended": pgettext_lazy("waitlist status", "Dates passed"),
}


def parts_text(parts: list[str]) -> str:
    chosen = [str(words) for part, words in PART_WORDS.items() if part in parts]
    return ", ".join(chosen) if chosen else _("Any time of day")


def _label(entry: WaitlistEntry) -> WaitlistEntry:
    """What the templates show beside the stored fields."""
    entry.treatment_label = entry.treatment.localized("name")  # type: ignore[attr-defined]
    entry.dates_label = formats.date_range_text(entry.earliest, entry.latest)  # type: ignore[attr-defined]
    entry.parts_label = parts_text(entry.parts)  # type: ignore[attr-defined]
    entry.status_label = str(STATUS_WORDS.get(entry.status, entry.status))  # type: ignore[attr-defined]
    offers = getattr(entry, "open_offers", [])
    entry.offer = offers[0] if offers else None  # type: ignore[attr-defined]
    return entry


def _counts() -> list[Treatment]:
    """Treatments with anyone waiting, with how many, in one query."""
    treatments: list[Treatment] = list(
        Treatment.objects.annotate(
            waiting=Count("waitlist_entries", filter=Q(waitlist_entries__status=WaitlistEntry.Status.WAITING))
        )
        .filter(waiting__gt=0)
        .order_by("display_order", "name_en")
    )
    for treatment in treatments:
        treatment.label = treatment.localized("name")  # type: ignore[attr-defined]
    return treatments


@staff_required
def waitlist_list(request: HttpRequest) -> HttpResponse:
    treatments = _counts()
    chosen_id = int_param(request.GET.get("treatment"))
    chosen = next((t for t in treatments if t.pk == chosen_id), None)
    show = "all" if request.GET.get("show") == "all" else "waiting"
    status = None if show == "all" else WaitlistEntry.Status.WAITING
    if chosen_id is not None and chosen is None:
        chosen = Treatment.objects.filter(pk=chosen_id).first()
        if chosen is not None:
            chosen.label = chosen.localized("name")  # type: ignore[attr-defined]
    if chosen is not None:
        entries = waitlist.waitlist_for_treatment(chosen, status=status)
    else:
        entries = waitlist.waitlist_entries()
        if status:
            entries = entries.filter(status=status)
    entries = entries.select_related("practitioner__user")
    if show == "all":
        entries = entries.order_by("-created_at", "-id")
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_label(entry) for entry in page.object_list]
    return render(
        request,
        "workspace/waitlist.html",
        {
            "treatments": treatments,
            "chosen": chosen,
            "show": show,
            "page": page,
            "rows": rows,
            "total": sum(t.waiting for t in treatments),  # type: ignore[attr-defined]
            "first_position": page.start_index(),
        },
    )


@staff_required
@require_http_methods(["GET", "POST"])
def waitlist_offer(request: HttpRequest, pk: int) -> HttpResponse:
    entry = get_object_or_404(waitlist.waitlist_entries().select_related("practitioner__user"), pk=pk)
    error = ""
    status = 200
    source: Any = request.GET
    if request.method == "POST":
        source = request.POST
        start = _start(request.POST.get("start"))
        practitioner = None
        practitioner_id = int_param(request.POST.get("practitioner"))
        if practitioner_id is not None:
            practitioner = Practitioner.objects.filter(pk=practitioner_id).first()
        if start is None:
            error, status = _("Choose one of the free times."), 400
        else:
            try:
                offer = waitlist.waitlist_offer_by_hand(
                    entry=entry, start=start, practitioner=practitioner, by=user_of(request)
                )
            except ApplicationError as problem:
                error, status = describe(problem), problem.status
            else:
                messages.success(
                    request,
                    _("%(when)s is held for %(name)s until %(until)s; they have been emailed.")
                    % {
                        "when": when(offer.start),
                        "name": entry.patient.full_name,
                        "until": formats.time_text(offer.expires_at),
                    },
                )
                return HttpResponseRedirect(f"{reverse('staff:waitlist')}?{query_string(treatment=entry.treatment_id)}")
        entry = get_object_or_404(waitlist.waitlist_entries().select_related("practitioner__user"), pk=pk)
    today = clinic_today()
    errors: list[str] = []
    day = date_param(source.get("date"), errors, max(today, entry.earliest))
    if day < today:
        errors.append(_("That day has passed: choose today or later."))
        day = today
    _label(entry)
    groups: list[dict[str, Any]] = []
    if entry.status == WaitlistEntry.Status.WAITING and entry.offer is None:  # type: ignore[attr-defined]
        groups = slot_choices(entry.treatment, day, practitioner_id=entry.practitioner_id)
    wanted = set(entry.parts)
    for group, part in zip(groups, _group_parts(groups), strict=True):
        group["wanted"] = not wanted or part in wanted
    return render(
        request,
        "workspace/waitlist_offer.html",
        {
            "entry": entry,
            "day": day,
            "today": today,
            "in_range": entry.earliest <= day <= entry.latest,
            "groups": groups,
            "error": error,
            "errors": errors,
            "chosen_start": source.get("start", "")[:40],
        },
        status=status if error else (400 if errors else 200),
    )


def _group_parts(groups: list[dict[str, Any]]) -> list[str]:
    """morning, afternoon or evening for each of slot_choices' groups, by its first time."""
    return [waitlist.part_of(group["times"][0]["start"]) for group in groups]


def _start(raw: str | None) -> datetime | None:
    """A free time's value as the buttons send it (an ISO clinic-local moment)."""
    if not raw or len(raw) > 40:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
