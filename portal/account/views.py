"""The patient's account and progress pages (issue 7, items 4 and 5).

Account: the profile (language and reminders included), password change, and
password reset by email, which is also how a patient registered by the front
desk claims their record. Progress: each plan's sessions, the score over time,
and first-versus-latest photos, served only to their own patient.

Writes go through patients.services; reads through treatments.selectors. A
patient never reaches another patient's plan or photo: those are 404.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import phonenumbers
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.contrib.auth.views import redirect_to_login
from django.core.cache import caches
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.i18n import set_language as django_set_language

from clinic.api import ScopedThrottle
from clinic.clock import clinic_today
from clinic.errors import InvalidInput
from patients import services
from patients.permissions import CLINICAL, patient_required
from patients.roles import PATIENT, is_staff_role, role_of
from portal.account.forms import ClinicPasswordChangeForm, NewPasswordForm, PasswordResetRequestForm, ProfileForm
from portal.account.progress import (
    GRADE_WORDS,
    VIEW_WORDS,
    booked_appointment_ids,
    change_words,
    day_label,
    plan_view,
    score_chart,
)
from treatments import selectors
from treatments.models import AssessmentPhoto, PlanSession, TreatmentPlan
from treatments.photos import photo_response

# The password reset request: per client, at the API's rate for the same
# request (THROTTLE_PASSWORD_RESET), and per email (further requests answer
# the same but send nothing, so nobody can flood a mailbox through us).
RESET_PER_EMAIL = 3
RESET_EMAIL_PERIOD = 3600
# As Django's own reset view: the token leaves the address bar (and any
# Referer) for the session as soon as the link is opened.
RESET_SESSION_KEY = "_clinic_password_reset_token"
RESET_URL_TOKEN = "set-password"  # noqa: S105 - a path segment, not a secret
PASSWORD_BACKEND = "django.contrib.auth.backends.ModelBackend"  # noqa: S105 - a dotted path


def _home_for(user: Any) -> str:
    return "/staff/" if is_staff_role(role_of(user)) else reverse("account:profile")


def _add_service_errors(form: Any, error: InvalidInput, rename: dict[str, str] | None = None) -> None:
    rename = rename or {}
    placed = False
    for key, messages_ in (error.fields or {}).items():
        name = rename.get(key, key)
        if name in form.fields:
            form.add_error(name, [str(m) for m in messages_])
            placed = True
    if not placed:
        form.add_error(None, str(error.detail))


def _set_language_cookie(response: HttpResponse, language: str) -> None:
    """What Django's set_language view sets, so the whole site follows."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
    )


def _readable_phone(phone: str) -> str:
    """+85291234567 as "+852 9123 4567" (the form reads either back)."""
    try:
        return phonenumbers.format_number(phonenumbers.parse(phone), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return phone


# --- profile -------------------------------------------------------------------------------


@patient_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    patient = request.user.patient  # type: ignore[union-attr]
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.patient_update(patient=patient, changed_by=request.user, **form.service_fields())  # type: ignore[arg-type]
            except InvalidInput as error:
                _add_service_errors(form, error, {"reminders_opt_out": "reminders"})
            else:
                language = patient.preferred_language
                translation.activate(language)
                request.LANGUAGE_CODE = language
                messages.success(request, _("Your details are saved."))
                response = redirect("account:profile")
                _set_language_cookie(response, language)
                return response
    else:
        form = ProfileForm(
            initial={
                "full_name": patient.full_name,
                "phone": _readable_phone(patient.phone),
                "date_of_birth": patient.date_of_birth,
                "preferred_language": patient.preferred_language,
                "reminders": not patient.reminders_opt_out,
            }
        )
    return render(request, "account/profile.html", {"form": form, "patient": patient})


# --- passwords -------------------------------------------------------------------------------


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = ClinicPasswordChangeForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        update_session_auth_hash(request, user)  # this device stays signed in; others are signed out
        messages.success(request, _("Your password is changed."))
        if role_of(user) == PATIENT:
            return redirect("account:profile")
        return redirect("account:password_change")
    return render(request, "account/password_change.html", {"form": form})


def _within(key: str, limit: int, period: int) -> bool:
    """Counts one more use of ``key``; False once it passes ``limit`` in ``period`` seconds."""
    cache = caches["throttle"]
    cache.add(key, 0, period)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, period)
        count = 1
    return count <= limit


@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """The same answer whatever the email: nobody learns who has an account."""
    form = PasswordResetRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        throttle = ScopedThrottle()  # the API's notion of a client and of a rate
        rates: dict[str, str] = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]  # type: ignore[index,assignment]
        limit, period = throttle.parse_rate(rates["password_reset"])
        client = throttle.get_ident(request)  # type: ignore[arg-type]  # it reads only request.META
        if not _within(f"page-reset-client:{client}", limit or 0, period or 3600):
            form.add_error(None, _("Too many requests from this device. Please try again in an hour."))
            return render(request, "account/password_reset.html", {"form": form}, status=429)
        email = form.cleaned_data["email"].strip().lower()
        digest = hashlib.sha256(email.encode()).hexdigest()
        if _within(f"page-reset-email:{digest}", RESET_PER_EMAIL, RESET_EMAIL_PERIOD):
            services.password_reset_request(email=email)
        return redirect(f"{reverse('account:password_reset')}?sent=1")
    sent = request.method == "GET" and request.GET.get("sent") == "1"
    return render(request, "account/password_reset.html", {"form": form, "sent": sent})


def _link_user(uidb64: str, token: str) -> User | None:
    """The account a reset link is for, while the link is valid and unused."""
    try:
        user = User.objects.get(pk=int(force_str(urlsafe_base64_decode(uidb64))))
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        return None
    valid = user.is_active and token and default_token_generator.check_token(user, token)
    return user if valid else None


def _invalid_link(request: HttpRequest) -> HttpResponse:
    request.session.pop(RESET_SESSION_KEY, None)
    return render(request, "account/password_reset_invalid.html", {"form": PasswordResetRequestForm()})


@never_cache
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def password_reset_confirm(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    if token == RESET_URL_TOKEN:
        token = request.session.get(RESET_SESSION_KEY, "")
    elif request.method == "GET":
        if _link_user(uidb64, token) is None:
            return _invalid_link(request)
        request.session[RESET_SESSION_KEY] = token
        return redirect("account:password_reset_confirm", uidb64=uidb64, token=RESET_URL_TOKEN)
    user = _link_user(uidb64, token)
    if user is None:
        return _invalid_link(request)
    form = NewPasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_reset_confirm(uid=uidb64, token=token, password=form.cleaned_data["new_password1"])
        except InvalidInput as error:
            if error.fields and "token" in error.fields:
                return _invalid_link(request)
            _add_service_errors(form, error, {"password": "new_password1"})
        else:
            request.session.pop(RESET_SESSION_KEY, None)
            login(request, user, backend=PASSWORD_BACKEND)
            messages.success(request, _("Your password is set and you are signed in."))
            return redirect(_home_for(user))
    return render(request, "account/password_reset_confirm.html", {"form": form, "account_email": user.email})


def _appointment_starts(ids: list[int]) -> dict[int, datetime]:
    """When the given appointments start (one query, none without ids). The
    appointment model is reached through the plan session's reverse relation,
    as treatments.selectors does."""
    if not ids:
        return {}
    appointment = PlanSession._meta.get_field("appointments").related_model
    return dict(appointment._default_manager.filter(pk__in=ids).values_list("pk", "start"))  # type: ignore[attr-defined]


# --- progress --------------------------------------------------------------------------------


@patient_required
def progress(request: HttpRequest) -> HttpResponse:
    patient = request.user.patient  # type: ignore[union-attr]
    today = clinic_today()
    found = selectors.progress(patient_id=patient.pk, today=today)
    horizon = settings.CLINIC_BOOKING_HORIZON
    starts = _appointment_starts(booked_appointment_ids(row["plan"] for row in found["plans"]))
    plans = [plan_view(row["plan"], today=today, horizon=horizon, starts=starts) for row in found["plans"]]
    assessments = found["assessments"]
    session_days = [
        (
            row.session.completed_on,
            _("%(treatment)s, session %(number)s")
            % {"treatment": view.plan.treatment.localized("name"), "number": row.number},
        )
        for view in plans
        for row in view.rows
        if row.state == "done" and row.session.completed_on
    ]
    chart = score_chart([(a.assessed_on, a.quantitative_score) for a in assessments], session_days)
    table = [
        {"day": day_label(a.assessed_on), "score": a.quantitative_score, "grade": GRADE_WORDS.get(a.qualitative_grade)}
        for a in assessments
    ]
    photos = [
        {
            "view": VIEW_WORDS.get(view, view),
            "first": pair["first"],
            "latest": pair["latest"],
            "first_day": day_label(pair["first"].assessment.assessed_on),
            "latest_day": day_label(pair["latest"].assessment.assessed_on),
            "only_one": pair["first"].pk == pair["latest"].pk,
        }
        for view, pair in found["photos"].items()
    ]
    context = {
        "plans": plans,
        "active_plans": [view for view in plans if view.plan.status == TreatmentPlan.Status.ACTIVE],
        "other_plans": [view for view in plans if view.plan.status != TreatmentPlan.Status.ACTIVE],
        "chart": chart,
        "table": table,
        "latest": assessments[-1] if assessments else None,
        "latest_day": day_label(assessments[-1].assessed_on) if assessments else "",
        "latest_grade": GRADE_WORDS.get(assessments[-1].qualitative_grade) if assessments else "",
        "change": change_words(found["change"], assessments[0].assessed_on if assessments else None),
        "photos": photos,
    }
    return render(request, "account/progress.html", context)


def plan(request: HttpRequest, pk: int) -> HttpResponse:
    """A plan of the signed-in patient (the plan emails link here). A clinician
    who follows such a link is sent to the patient's chart."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    role = role_of(request.user)
    if role in CLINICAL:
        patient_id = TreatmentPlan.objects.filter(pk=pk).values_list("patient_id", flat=True).first()
        if patient_id is None:
            raise Http404
        return redirect("chart:patient", pk=patient_id)
    if role != PATIENT:
        raise PermissionDenied
    found = get_object_or_404(selectors.plans_for().filter(patient__user=request.user), pk=pk)
    starts = _appointment_starts(booked_appointment_ids([found]))
    view = plan_view(found, today=clinic_today(), horizon=settings.CLINIC_BOOKING_HORIZON, starts=starts)
    treatment = found.treatment
    return render(
        request,
        "account/plan.html",
        {
            "view": view,
            "plan": found,
            "treatment": treatment,
            "treatment_name": treatment.localized("name"),
            "started": day_label(found.start_after),
        },
    )


@patient_required  # type: ignore[arg-type]  # a file response streams
def photo(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    """A photo of the signed-in patient's own assessments; anyone else's is 404."""
    own = AssessmentPhoto.objects.filter(assessment__patient__user=request.user)  # type: ignore[misc]
    return photo_response(get_object_or_404(own, pk=pk), kind)


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch (a cookie), which a signed-in patient's record also remembers
    so that their emails follow the same choice."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.method == "POST" and language in dict(settings.LANGUAGES) and request.user.is_authenticated:
        services.patient_language_remember(user=request.user, language=language)
    return response
