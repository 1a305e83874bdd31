"""The booking flow at /book/: one decision per screen.

Everything chosen so far lives in the query string (``treatment``,
``practitioner``, ``date``, ``time``, ``month``, ``plan_session``,
``separate``), so a
refresh, the back button, an expired sign-in or a failed submit loses
nothing; forms carry the same values as hidden fields. The step shown is the
first one not yet decided. htmx swaps ``#flow`` in place (the server renders
the same partial); without JavaScript every step is a plain link or form.

Business rules stay in the services: free times come from
``availability.find_slots``, booking from ``services.appointment_book``,
screening from ``treatments.screening.screen``. A signed-in patient who
picks a treatment they have a course of is booking that course's next session
(the service ties it: ``booking.selectors.next_open_plan_session``), so the
flow shows that session and its window from the start, and offers a separate
visit instead (``separate=1``, the service's ``separate_visit``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django_htmx.http import HttpResponseClientRedirect, push_url
from django_htmx.middleware import HtmxDetails

from booking import availability, deposits, notice, packages, profiles, selectors, spacing, waitlist
from booking.models import Practitioner
from clinic.errors import (
    ApplicationError,
    Contraindicated,
    InvalidInput,
    InvalidState,
    NotBookable,
    PaymentUnavailable,
    SlotUnavailable,
    TooClose,
)
from patients.models import HealthDeclaration, Patient
from patients.roles import PATIENT, role_of
from patients.selectors import declaration_is_current
from patients.services import declaration_submit, important_date_add, patient_register
from portal.account.auth import EmailAuthenticationForm
from portal.account.forms import ImportantDateForm
from portal.book import present
from portal.book.forms import (
    QuestionnaireForm,
    RegisterForm,
    WaitlistJoinForm,
    apply_error,
    initial_answers,
    registration_allowed,
)
from treatments import services as clinical
from treatments.models import Category, PlanSession, Treatment
from treatments.screening import DECLARATION_REQUIRED, screen
from treatments.selectors import downtime_conflicts

if TYPE_CHECKING:
    from django.contrib.auth.models import User

STEPS: tuple[tuple[str, Any], ...] = (
    ("treatment", pgettext_lazy("booking", "Treatment")),
    ("practitioner", pgettext_lazy("booking", "Practitioner")),
    ("date", pgettext_lazy("booking", "Day")),
    ("time", pgettext_lazy("booking", "Time")),
    ("details", pgettext_lazy("booking", "Your details")),
    ("health", pgettext_lazy("booking", "Health questions")),
    ("confirm", pgettext_lazy("booking", "Confirm")),
)
STEP_KEYS = [key for key, _title in STEPS]
MAX_DAYS_PER_CALL = 62  # availability's limit per call (booking/apis.py)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,80}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _int(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit() and len(value) < 15:
        return int(value)
    return None


def parse_date(value: str | None) -> date | None:
    if not value or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_time(value: str | None) -> time | None:
    match = _TIME.match((value or "").strip())
    return time(int(match.group(1)), int(match.group(2))) if match else None


def parse_month(value: str | None) -> date | None:
    match = _MONTH.match(value or "")
    if match and 1 <= int(match.group(2)) <= 12 and 2000 <= int(match.group(1)) <= 9999:
        return date(int(match.group(1)), int(match.group(2)), 1)
    return None


@dataclass
class Choice:
    """The booking in progress."""

    treatment: Treatment | None = None
    practitioner: Practitioner | None = None
    any_practitioner: bool = False
    day: date | None = None
    at: time | None = None
    month: date | None = None
    session: PlanSession | None = None
    session_id: int | None = None
    implied: bool = False  # the session is the course the treatment joins, not one named in the URL
    separate: bool = False
    account: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def practitioner_chosen(self) -> bool:
        return self.any_practitioner or self.practitioner is not None

    @property
    def session_named(self) -> PlanSession | None:
        """The session named in the URL (the treatment is then fixed)."""
        return None if self.implied else self.session

    @property
    def start(self) -> datetime | None:
        if self.day is None or self.at is None:
            return None
        return present.combine(self.day, self.at)

    def params(self, **changes: Any) -> dict[str, str]:
        values: dict[str, Any] = {
            "plan_session": self.session.pk if self.session and not self.implied else None,
            "treatment": self.treatment.slug if self.treatment and self.session_named is None else None,
            "separate": "1" if self.separate else None,
            "practitioner": "any" if self.any_practitioner else (self.practitioner.pk if self.practitioner else None),
            "date": self.day.isoformat() if self.day else None,
            "time": self.at.strftime("%H:%M") if self.at else None,
            "month": self.month.strftime("%Y-%m") if self.month else None,
            "account": self.account or None,
        }
        values.update(changes)
        return {key: str(value) for key, value in values.items() if value not in (None, "")}

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return reverse("site:book") + (f"?{urlencode(params)}" if params else "")

    def hidden(self) -> list[tuple[str, str]]:
        """The choices as hidden form fields (month and account views excluded)."""
        return [(k, v) for k, v in self.params(month=None, account=None).items()]


def parse_choice(data: QueryDict) -> Choice:
    """Reads the choices, dropping what is unknown or malformed with a word
    to the patient; a later choice is dropped with the one it depends on."""
    choice = Choice(session_id=_int(data.get("plan_session")))
    if data.get("plan_session") and choice.session_id is None:
        choice.problems.append(_("We could not find that plan session."))
    slug = (data.get("treatment") or "").strip()
    if slug and choice.session_id is None:
        if _SLUG.match(slug):
            choice.treatment = Treatment.objects.filter(slug=slug, active=True).first()
        if choice.treatment is None:
            choice.problems.append(_("We could not find that treatment. Please choose one from the list."))
    choice.separate = data.get("separate") == "1" and choice.session_id is None
    choice.account = "signin" if data.get("account") == "signin" else ""
    who = data.get("practitioner") or ""
    if who == "any":
        choice.any_practitioner = True
    elif who:
        choice.practitioner = _practitioner(_int(who))
        if choice.practitioner is None:
            choice.problems.append(_("We could not find that practitioner. Choose another, or any practitioner."))
    raw_day = data.get("date")
    choice.day = parse_date(raw_day)
    if raw_day and choice.day is None:
        choice.problems.append(_("That date is not valid. Please pick a day from the calendar."))
    raw_time = data.get("time")
    if choice.day is not None:
        choice.at = parse_time(raw_time)
        if raw_time and choice.at is None:
            choice.problems.append(_("That time is not valid. Please pick one of the free times."))
    choice.month = parse_month(data.get("month"))
    return choice


def _practitioner(pk: int | None) -> Practitioner | None:
    if pk is None:
        return None
    return Practitioner.objects.select_related("user").filter(pk=pk, active=True).first()


def _consultation() -> Treatment | None:
    return Treatment.objects.filter(category=Category.CONSULTATION, active=True).order_by("display_order", "pk").first()


def latest_declaration(patient: Patient) -> HealthDeclaration | None:
    return HealthDeclaration.objects.filter(patient=patient).order_by("-submitted_at", "-id").first()


def signed_in(request: HttpRequest) -> User:
    """The signed-in user (the caller has checked there is one)."""
    return cast("User", request.user)


def patient_of(request: HttpRequest) -> Patient | None:
    if not request.user.is_authenticated or role_of(request.user) != PATIENT:
        return None
    return Patient.objects.filter(user=request.user).first()


# --- the free days and times -----------------------------------------------------------------


@dataclass
class Span:
    """The dates this booking may use: from the minimum notice to the horizon,
    inside a plan session's window."""

    first: date
    last: date
    window: tuple[date, date] | None = None

    @classmethod
    def for_patient(cls, window: tuple[date, date] | None) -> Span:
        now = timezone.now()
        first = present.local(now + settings.CLINIC_MIN_NOTICE).date()
        last = present.local(now + settings.CLINIC_BOOKING_HORIZON).date()
        if window is not None:
            first, last = max(first, window[0]), min(last, window[1])
        return cls(first=first, last=last, window=window)

    @property
    def empty(self) -> bool:
        return self.first > self.last


def slots(
    treatment: Treatment,
    first: date,
    last: date,
    *,
    practitioner: Practitioner | None,
    span: Span,
    exclude_appointment_id: int | None = None,
) -> list[availability.Slot]:
    first, last = max(first, span.first), min(last, span.last, first + timedelta(days=MAX_DAYS_PER_CALL - 1))
    if first > last:
        return []
    return availability.find_slots(
        treatment=treatment,
        first_date=first,
        last_date=last,
        practitioner_id=practitioner.pk if practitioner else None,
        staff=False,
        window=span.window,
        exclude_appointment_id=exclude_appointment_id,
    )


def calendar_context(
    treatment: Treatment,
    *,
    practitioner: Practitioner | None,
    span: Span,
    month: date | None,
    selected: date | None,
    day_url: Any,
    month_url: Any,
    exclude_appointment_id: int | None = None,
    patient: Patient | None = None,
) -> dict[str, Any]:
    """A month of days, those with free times marked, and the months around it.
    Without a month asked for, the month of the first free day (two calls at most).
    For a signed-in ``patient``, the days a gap rule would refuse them
    (booking.spacing, two queries) are greyed with why, the appointment being
    moved (``exclude_appointment_id``) left out of the reckoning: the booking
    flow and the reschedule picker both grey days here, and only here."""
    if span.empty:
        return {"weeks": [], "month_label": "", "no_days": True}
    first_month, last_month = span.first.replace(day=1), span.last.replace(day=1)
    found: list[availability.Slot] | None = None
    if month is None and selected is not None:
        month = selected.replace(day=1)
    if month is None:
        found = slots(
            treatment,
            span.first,
            span.first + timedelta(days=MAX_DAYS_PER_CALL - 1),
            practitioner=practitioner,
            span=span,
            exclude_appointment_id=exclude_appointment_id,
        )
        month = present.local(found[0].start).date().replace(day=1) if found else first_month
    month = min(max(month, first_month), last_month)
    first, last = present.month_bounds(month)
    covered = found is not None and first >= span.first and last <= span.first + timedelta(days=MAX_DAYS_PER_CALL - 1)
    if not covered:
        found = slots(
            treatment, first, last, practitioner=practitioner, span=span, exclude_appointment_id=exclude_appointment_id
        )
    blocked = (
        spacing.blocked_days(
            patient_id=patient.pk,
            treatment=treatment,
            first=max(first, span.first),
            last=min(last, span.last),
            exclude_appointment_id=exclude_appointment_id,
        )
        if patient is not None
        else {}
    )
    starts = {present.local(s.start) for s in found or () if first <= present.local(s.start).date() <= last}
    free_by_day: dict[date, int] = {}
    for start in starts:
        free_by_day[start.date()] = free_by_day.get(start.date(), 0) + 1
    previous_month = present.add_months(month, -1)
    next_month = present.add_months(month, 1)
    return {
        "weeks": present.month_weeks(month, free_by_day, selected, day_url, blocked),
        "blocked_runs": present.blocked_runs(month, blocked),
        "weekdays": present.weekday_names(),
        "month_label": present.month_text(month),
        "previous_month_url": month_url(previous_month) if previous_month >= first_month else "",
        "next_month_url": month_url(next_month) if next_month <= last_month else "",
        "previous_month_label": present.month_text(previous_month),
        "next_month_label": present.month_text(next_month),
        "no_days": not (set(free_by_day) - set(blocked)),
        "month": month,
    }


def too_close_text(error: TooClose) -> str:
    """A refused day in words: "choose another day" and which visit it is too close to."""
    return " ".join([str(error.detail), *(r["detail"] for r in error.reasons)])


def times_context(day_slots: list[availability.Slot], *, selected: time | None, time_url: Any) -> list[dict[str, Any]]:
    return [
        {
            "key": group.key,
            "title": group.title,
            "times": [
                {"label": at.strftime("%H:%M"), "url": time_url(at), "selected": at == selected} for at in group.times
            ],
        }
        for group in present.group_times([s.start for s in day_slots])
    ]


# --- the view ----------------------------------------------------------------------------------


@dataclass
class Flow:
    request: HtmxHttpRequest
    choice: Choice
    span: Span
    closed: str = ""
    notices: list[tuple[str, str]] = field(default_factory=list)
    forms: dict[str, Any] = field(default_factory=dict)


@never_cache
def book(request: HtmxHttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    choice = parse_choice(data)
    window: tuple[date, date] | None = None
    closed = ""
    if choice.session_id is not None:
        if not request.user.is_authenticated:
            return redirect_to_login(choice.url(plan_session=choice.session_id))
        session = (
            PlanSession.objects.select_related("plan__treatment")
            .filter(pk=choice.session_id, plan__patient__user=request.user)
            .first()
        )
        if session is None:
            raise Http404
        choice.session, choice.treatment = session, session.plan.treatment
        offered, window = clinical.plan_session_offer(
            session=session, staff=False, today=present.today(), rescheduling=False
        )
        if not offered or not choice.treatment.active:
            closed = _(
                "This session of your plan cannot be booked online right now: the session before it needs to be "
                "booked first, or this one is already booked or done."
            )
    elif choice.treatment is not None and not choice.separate and (patient := patient_of(request)) is not None:
        course = selectors.next_open_plan_session(patient_id=patient.pk, treatment_id=choice.treatment.pk)
        if course is not None:
            choice.session, choice.implied = course, True
            offered, window = clinical.plan_session_offer(
                session=course, staff=False, today=present.today(), rescheduling=False
            )
    flow = Flow(request=request, choice=choice, span=Span.for_patient(window), closed=closed)
    if request.method == "POST" and not closed:
        return _post(flow)
    return _render(flow)


def _done(request: HtmxHttpRequest, url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(url)
    return redirect(url)


def _post(flow: Flow) -> HttpResponse:
    request, choice = flow.request, flow.choice
    action = request.POST.get("action")
    if action == "signin":
        signin = EmailAuthenticationForm(request, data=request.POST, prefix="signin")
        if signin.is_valid():
            auth_login(request, signin.get_user())
            return _done(request, choice.url(account=None))
        choice.account = "signin"
        flow.forms["signin"] = signin
        return _render(flow)
    if action == "register":
        registration = RegisterForm(request.POST)
        if not registration_allowed(request):
            registration.is_valid()
            registration.refuse_too_many()
        elif registration.is_valid():
            try:
                new = patient_register(**registration.values())
            except InvalidInput as error:
                apply_error(registration, error)
            else:
                auth_login(request, new.user, backend="django.contrib.auth.backends.ModelBackend")
                return _done(request, choice.url(account=None))
        flow.forms["register"] = registration
        return _render(flow)
    patient = patient_of(request)
    if action in ("health", "confirm", "add_date") and patient is None:
        flow.notices.append(("warning", _("Please sign in again to continue. Everything you chose is kept.")))
        return _render(flow)
    if action == "health" and patient is not None:
        answers = QuestionnaireForm(request.POST)
        if answers.is_valid():
            try:
                declaration_submit(patient=patient, **answers.answers())
            except InvalidInput as error:
                answers.apply_service_error(error)
            else:
                return _done(request, choice.url())
        flow.forms["health"] = answers
        return _render(flow)
    if action == "add_date" and patient is not None:
        return _add_date(flow, patient)
    if action == "confirm" and patient is not None:
        return _confirm(flow, patient)
    if action == "waitlist":
        return _join_waitlist(flow)
    return redirect(choice.url())


def _add_date(flow: Flow, patient: Patient) -> HttpResponse:
    """The confirm step's "Add a date that matters": saved through the same service as on /me/,
    then the step again, now flagging the date if this visit's downtime overlaps it."""
    request = flow.request
    form = ImportantDateForm(request.POST)
    if form.is_valid():
        values = form.cleaned_data
        try:
            important_date_add(
                patient=patient, starts_on=values["starts_on"], ends_on=values["ends_on"], label=values["label"]
            )
        except InvalidInput as error:
            apply_error(form, error)
        else:
            return _done(request, flow.choice.url())
    flow.forms["date"] = form
    return _render(flow)


def _notes(request: HttpRequest) -> str:
    return request.POST.get("notes", "").replace("\x00", "").strip()[:500]


def _confirm(flow: Flow, patient: Patient) -> HttpResponse:
    request, choice = flow.request, flow.choice
    start = choice.start
    if choice.treatment is None or start is None or not choice.practitioner_chosen:
        return redirect(choice.url())
    try:
        appointment, deposit = deposits.appointment_book_online(
            patient=patient,
            treatment=choice.treatment,
            start=start,
            practitioner=choice.practitioner,
            booked_by=signed_in(request),
            plan_session_id=choice.session_named.pk if choice.session_named else None,
            separate_visit=choice.separate,
            notes=_notes(request),
        )
    except PaymentUnavailable as error:
        flow.notices.append(("error", str(error.detail)))
        return _render(flow)
    except SlotUnavailable as error:
        if str(error.detail) == str(SlotUnavailable.default_detail):
            message = _(
                "Sorry, %(time)s was booked by someone else a moment ago. Here are the times still free that day."
            ) % {"time": present.time_text(start)}
        else:
            message = _("You already have an appointment at that time. Please choose another time.")
        flow.notices.append(("warning", message))
        choice.at = None
        return _render(flow)
    except NotBookable as error:
        flow.notices.append(("warning", str(error.detail)))
        choice.at = None
        return _render(flow)
    except Contraindicated:
        return _render(flow)  # the confirm step shows the screening in words
    except TooClose as error:
        flow.notices.append(("warning", too_close_text(error)))
        choice.day, choice.at = None, None
        return _render(flow)
    except (InvalidInput, InvalidState) as error:
        flow.notices.append(("error", str(error.detail)))
        return _render(flow)
    if deposit is not None and deposit.url:
        return _done(request, deposit.url)  # the provider's checkout; it comes back to portal/book/deposit.py
    return _done(request, reverse("site:appointment", args=[appointment.pk]) + "?booked=1")


def _render(flow: Flow) -> HttpResponse:
    request, choice = flow.request, flow.choice
    context: dict[str, Any] = {"choice": choice, "closed": flow.closed, "hidden": choice.hidden()}
    step = _step(flow, context)
    context["step"] = step
    context["steps"] = _steps(choice, step)
    context["summary"] = _summary(choice, step)
    context["notices"] = [("error", problem) for problem in choice.problems] + flow.notices
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "site/_flow.html", context)
        if request.method == "POST":
            push_url(response, choice.url())
        return response
    return render(request, "site/book.html", context)


def _with_package_offers(views: list[present.TreatmentView]) -> None:
    """Each treatment's course packages on sale, with their saving (one query)."""
    offers: dict[int, list[dict[str, Any]]] = {}
    for offer in packages.offers_on_sale():
        offers.setdefault(offer.treatment_id, []).append(
            {"sessions": offer.sessions, "price": offer.price, "saving": packages.saving(offer)}
        )
    for view in views:
        view.packages = offers.get(view.treatment.pk, [])  # type: ignore[attr-defined]


def _step(flow: Flow, context: dict[str, Any]) -> str:
    choice, span = flow.choice, flow.span
    if flow.closed:
        return "closed"
    if choice.treatment is None:
        context["treatments"] = [
            present.treatment_view(t) for t in Treatment.objects.filter(active=True).order_by("display_order", "slug")
        ]
        _with_package_offers(context["treatments"])
        return "treatment"
    treatment = choice.treatment
    if choice.practitioner is not None and not choice.practitioner.treatments.filter(pk=treatment.pk).exists():
        choice.problems.append(
            _("That practitioner does not offer this treatment. Choose another, or any practitioner.")
        )
        choice.practitioner = None
    if not choice.practitioner_chosen:
        context["practitioners"] = [
            {"view": present.practitioner_view(p), "url": choice.url(practitioner=p.pk)}
            for p in profiles.practitioners_for(treatment)
        ]
        context["any_url"] = choice.url(practitioner="any")
        return "practitioner"
    day_slots: list[availability.Slot] = []
    if choice.day is not None:
        if not span.first <= choice.day <= span.last:
            choice.problems.append(_("That day cannot be booked online. Please pick a day from the calendar."))
            choice.day, choice.at = None, None
        else:
            day_slots = slots(treatment, choice.day, choice.day, practitioner=choice.practitioner, span=span)
            if not day_slots:
                flow.notices.append(
                    (
                        "warning",
                        _("There are no free times left on %(day)s. Please choose another day.")
                        % {"day": present.day_text(choice.day)},
                    )
                )
                choice.month, choice.day, choice.at = choice.day.replace(day=1), None, None
    if choice.day is None:
        context.update(
            calendar_context(
                treatment,
                practitioner=choice.practitioner,
                span=span,
                month=choice.month,
                selected=None,
                day_url=lambda day: choice.url(date=day.isoformat(), month=None, time=None),
                month_url=lambda month: choice.url(month=month.strftime("%Y-%m")),
                patient=patient_of(flow.request),
            )
        )
        first, last = present.month_bounds(context["month"]) if context.get("month") else (span.first, span.last)
        context["waitlist"] = _waitlist_box(flow, first, last, unfolded=bool(context.get("no_days")))
        return "date"
    free = {present.local(s.start).time() for s in day_slots}
    if choice.at is not None and choice.at not in free:
        flow.notices.append(
            (
                "warning",
                _("%(time)s is no longer free on that day. Here are the times still free.")
                % {"time": present.time_text(choice.at)},
            )
        )
        choice.at = None
    if choice.at is None:
        context["groups"] = times_context(
            day_slots, selected=None, time_url=lambda at: choice.url(time=at.strftime("%H:%M"), month=None)
        )
        context["day_label"] = present.day_text(choice.day)
        context["calendar_url"] = choice.url(date=None, time=None, month=choice.day.strftime("%Y-%m"))
        context["waitlist"] = _waitlist_box(
            flow, choice.day, choice.day + timedelta(days=6), unfolded=not context["groups"]
        )
        return "time"
    return _later_step(flow, context)


# --- none of these times suit: the waitlist (booking/waitlist.py) -----------------------


def _waitlist_box(flow: Flow, first: date, last: date, *, unfolded: bool) -> dict[str, Any]:
    """The "join the waitlist" form under the days or times, prefilled with the
    dates shown (inside what may be booked). Folded unless nothing is free,
    the patient came back from signing in for it, or it has errors."""
    request, choice, span = flow.request, flow.choice, flow.span
    first, last = max(first, span.first), min(last, span.last)
    if first > last:
        first, last = span.first, span.last
    form = flow.forms.get("waitlist") or WaitlistJoinForm(initial={"earliest": first, "latest": last})
    back = choice.url(waitlist="1", month=choice.month.strftime("%Y-%m") if choice.month else None)
    return {
        "form": form,
        "open": unfolded or request.GET.get("waitlist") == "1" or form.is_bound,
        "signed_in": request.user.is_authenticated,
        "patient": patient_of(request) is not None,
        "signin_url": reverse("account:login") + "?" + urlencode({"next": back + "#waitlist"}),
        "month": choice.month.strftime("%Y-%m") if choice.month else "",
        "hold": present.duration_text(settings.CLINIC_WAITLIST_HOLD),
        "treatment": choice.treatment.localized("name") if choice.treatment else "",
        "practitioner": present.practitioner_label(choice.practitioner),
    }


def _join_waitlist(flow: Flow) -> HttpResponse:
    request, choice = flow.request, flow.choice
    if not request.user.is_authenticated:
        back = choice.url(waitlist="1", month=request.POST.get("month") or None)
        return _done(request, reverse("account:login") + "?" + urlencode({"next": back + "#waitlist"}))
    patient = patient_of(request)
    if patient is None or choice.treatment is None or not choice.practitioner_chosen:
        return redirect(choice.url())
    choice.month = parse_month(request.POST.get("month")) or choice.month
    form = WaitlistJoinForm(request.POST)
    if form.is_valid():
        try:
            entry = waitlist.waitlist_join(
                patient=patient,
                treatment=choice.treatment,
                practitioner=choice.practitioner,
                earliest=form.cleaned_data["earliest"],
                latest=form.cleaned_data["latest"],
                parts=form.cleaned_data["parts"],
                by=signed_in(request),
                staff=False,
            )
        except ApplicationError as error:
            for name, problems in (error.fields or {}).items():
                for problem in problems:
                    form.add_error(name if name in form.fields else None, str(problem))
            if not error.fields:
                form.add_error(None, str(error.detail))
        else:
            messages.success(request, present.waitlist_joined_text(entry))
            held = waitlist.open_offer_for(entry)
            if held is not None:
                messages.info(
                    request,
                    _("Good news: %(when)s is free now and held for you until %(until)s. Accept or decline it below.")
                    % {"when": present.when_text(held.start, held.end), "until": present.time_text(held.expires_at)},
                )
            return _done(request, reverse("site:waitlist"))
    flow.forms["waitlist"] = form
    return _render(flow)


def _later_step(flow: Flow, context: dict[str, Any]) -> str:
    request, choice = flow.request, flow.choice
    if choice.treatment is None or choice.day is None or choice.start is None:
        return "treatment"
    if not request.user.is_authenticated:
        context["register_form"] = flow.forms.get("register") or RegisterForm()
        context["signin_form"] = flow.forms.get("signin") or EmailAuthenticationForm(request, prefix="signin")
        context["signin_url"] = choice.url(account="signin")
        context["register_url"] = choice.url(account=None)
        return "details"
    patient = patient_of(request)
    if patient is None:
        context["staff"] = True
        return "details"
    declaration = latest_declaration(patient)
    if not declaration_is_current(declaration, on=choice.day):
        context["health_form"] = flow.forms.get("health") or QuestionnaireForm(
            initial=initial_answers(declaration) if declaration else None
        )
        context["stale"] = declaration is not None
        context["max_age"] = present.duration_text(settings.CLINIC_DECLARATION_MAX_AGE)
        return "health"
    result = screen(patient=patient, treatment=choice.treatment, on=choice.day)
    too_close = spacing.spacing_findings(patient_id=patient.pk, treatment=choice.treatment, start=choice.start)
    context["outcome"] = result.outcome
    context["blocks"] = [f.detail for f in result.blocks] + [f["detail"] for f in too_close if f["severity"] == "block"]
    context["cautions"] = [f.detail for f in result.cautions] + [
        f["detail"] for f in too_close if f["severity"] == "caution"
    ]
    if any(f["severity"] == "block" for f in too_close):
        # Another day is the remedy, not a consultation: the calendar greys the days that cannot be booked.
        context["too_close_only"] = result.outcome != "blocked"
        context["outcome"] = "blocked"
        context["calendar_url"] = choice.url(date=None, time=None, month=choice.day.strftime("%Y-%m"))
    elif too_close and result.outcome == "clear":
        context["outcome"] = "caution"
    context["needs_questionnaire"] = any(f.code == DECLARATION_REQUIRED for f in result.blocks)
    consultation = _consultation()
    if result.outcome == "blocked" and consultation is not None and consultation.pk != choice.treatment.pk:
        context["consultation"] = present.treatment_view(consultation)
        consult = Choice(treatment=consultation, any_practitioner=True, day=choice.day, month=choice.day.replace(day=1))
        context["consultation_url"] = consult.url()
    context["treatment_view"] = present.treatment_view(choice.treatment)
    context["notice"] = present.duration_text(settings.CLINIC_CANCELLATION_NOTICE)
    # Booked this late, the visit is already inside the notice: say so before the
    # patient confirms, rather than promise online changes the services will refuse.
    context["inside_notice"] = not notice.online_changes_open(choice.start, now=timezone.now())
    context["notes"] = _notes(request) if request.method == "POST" else ""
    # Flagged, never refused: the patient decides, with another time one tap away.
    context["downtime"] = downtime_conflicts(patient_id=patient.pk, treatment=choice.treatment, day=choice.day)
    context["other_time_url"] = choice.url(time=None)
    context["other_day_url"] = choice.url(date=None, time=None, month=choice.day.strftime("%Y-%m"))
    context["date_form"] = flow.forms.get("date") or ImportantDateForm()
    context["when"] = present.when_text(
        choice.start,
        choice.start + timedelta(minutes=choice.treatment.duration_minutes),
    )
    return "confirm"


def _steps(choice: Choice, current: str) -> list[dict[str, Any]]:
    if current == "closed":
        return []
    index = STEP_KEYS.index(current)
    links = {
        "treatment": choice.url(treatment=None, practitioner=None, date=None, time=None, month=None)
        if not choice.session_named
        else "",
        "practitioner": choice.url(practitioner=None, date=None, time=None, month=None),
        "date": choice.url(date=None, time=None, month=choice.day.strftime("%Y-%m") if choice.day else None),
        "time": choice.url(time=None),
    }
    rows = []
    for position, (key, title) in enumerate(STEPS):
        state = "done" if position < index else ("current" if position == index else "todo")
        rows.append(
            {
                "key": key,
                "title": title,
                "number": position + 1,
                "state": state,
                "url": links.get(key, "") if state == "done" else "",
            }
        )
    return rows


def _summary(choice: Choice, step: str) -> dict[str, Any]:
    treatment = choice.treatment
    rows: list[dict[str, Any]] = []
    if treatment is not None:
        view = present.treatment_view(treatment)
        rows.append(
            {
                "label": pgettext("booking", "Treatment"),
                "value": view.name,
                "detail": view.duration,
                "url": ""
                if choice.session_named
                else choice.url(treatment=None, practitioner=None, date=None, time=None, separate=None),
            }
        )
        if choice.practitioner_chosen:
            rows.append(
                {
                    "label": pgettext("booking", "Practitioner"),
                    "value": present.practitioner_label(choice.practitioner),
                    "url": choice.url(practitioner=None, date=None, time=None, month=None),
                }
            )
        if choice.day is not None:
            rows.append(
                {
                    "label": pgettext("booking", "Day"),
                    "value": present.day_text(choice.day),
                    "url": choice.url(date=None, time=None, month=choice.day.strftime("%Y-%m")),
                }
            )
        if choice.at is not None:
            rows.append(
                {
                    "label": pgettext("booking", "Time"),
                    "value": choice.at.strftime("%H:%M"),
                    "zone": True,
                    "url": choice.url(time=None),
                }
            )
        rows.append({"label": pgettext("booking", "Price"), "value": view.price})
    session = choice.session
    plan = None
    separate_url = ""
    if session is not None:
        plan = _("Session %(number)d of your plan, due between %(start)s and %(end)s.") % {
            "number": session.number,
            "start": present.day_text(session.window_start),
            "end": present.day_text(session.window_end),
        }
        if choice.implied:
            separate_url = choice.url(separate="1", date=None, time=None, month=None)
    elif choice.separate:
        plan = _("A separate visit, not part of your plan.")
    return {"rows": rows, "plan": plan, "separate_url": separate_url}
