"""The patient's account and progress pages.

Account: the profile (language and reminders included), password change, and
password reset by email, which is also how a patient registered by the front
desk claims their record. Progress: each plan's sessions, the score over time,
and first-versus-latest photos, served only to their own patient.

Writes go through patients.services; reads through treatments.selectors. A
patient never reaches another patient's plan or photo: those are 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN, redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django.views.i18n import set_language as django_set_language

from booking import packages
from clinic import formats
from clinic.api import ScopedThrottle
from clinic.client import client_address, within
from clinic.clock import clinic_today
from clinic.errors import ApplicationError, InvalidInput, NotFound
from patients import channels as patient_channels
from patients import services
from patients.forms import ChannelsForm, addresses, channels_form
from patients.permissions import CLINICAL, patient_required, user_of
from patients.roles import PATIENT, is_staff_role, role_of
from patients.selectors import important_dates_for
from portal.account.consents import consent_context
from portal.account.forms import (
    ClinicPasswordChangeForm,
    EmailChangeForm,
    ImportantDateForm,
    NewPasswordForm,
    PasswordResetRequestForm,
    ProfileForm,
)
from portal.account.payments import balance_summary
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
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def _readable_phone(phone: str) -> str:
    """+85291234567 as "+852 9123 4567" (the form reads either back)."""
    return formats.phone_text(phone)


# --- profile -------------------------------------------------------------------------------


@patient_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    form: ProfileForm | None = None
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            try:
                services.patient_update(patient=patient, changed_by=user_of(request), **form.service_fields())
            except InvalidInput as error:
                _add_service_errors(form, error)
            else:
                language = patient.preferred_language
                translation.activate(language)
                request.LANGUAGE_CODE = language
                messages.success(request, _("Your details are saved."))
                response = redirect("account:profile")
                _set_language_cookie(response, language)
                return response
    return _profile_page(request, patient, form=form)


def _profile_page(
    request: HttpRequest,
    patient: Any,
    *,
    form: ProfileForm | None = None,
    date_form: ImportantDateForm | None = None,
    contact_form: ChannelsForm | None = None,
) -> HttpResponse:
    if form is None:
        form = ProfileForm(
            initial={
                "full_name": patient.full_name,
                "phone": _readable_phone(patient.phone),
                "date_of_birth": patient.date_of_birth,
                "preferred_language": patient.preferred_language,
            }
        )
    context = {
        "form": form,
        "patient": patient,
        "channels_form": contact_form or channels_form(patient),
        "addresses": addresses(patient),
        "important_dates": important_dates_for(patient_id=patient.pk, since=clinic_today()),
        "date_form": date_form or ImportantDateForm(),
        **consent_context(patient),
        "money": balance_summary(patient),  # portal/account/payments.py
    }
    return render(request, "account/profile.html", context)


# --- how we contact you (patients/channels.py) ---------------------------------------------


@patient_required
@require_http_methods(["POST"])
def channels(request: HttpRequest) -> HttpResponse:
    """The profile's "How we contact you" form."""
    patient = user_of(request).patient
    form = channels_form(patient, request.POST)
    if form.is_valid():
        try:
            patient_channels.channels_set(patient=patient, topics=form.chosen())
        except ApplicationError as error:
            form.add_service_errors(error.fields, str(error.detail))
        else:
            messages.success(request, _("Saved. This is how we will contact you from now on."))
            return redirect(reverse("account:profile") + "#contact-heading")
    response = _profile_page(request, patient, contact_form=form)
    response.status_code = 400
    return response


# --- dates that matter ---------------------------------------------------------------------


@patient_required
@require_http_methods(["POST"])
def important_date_add(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
    date_form = ImportantDateForm(request.POST)
    if date_form.is_valid():
        values = date_form.cleaned_data
        try:
            services.important_date_add(
                patient=patient, starts_on=values["starts_on"], ends_on=values["ends_on"], label=values["label"]
            )
        except InvalidInput as error:
            _add_service_errors(date_form, error)
        else:
            messages.success(request, _("Date saved. We will tell you when a booking's usual downtime overlaps it."))
            return redirect(reverse("account:profile") + "#dates-heading")
    return _profile_page(request, patient, date_form=date_form)


@patient_required
@require_http_methods(["POST"])
def important_date_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.important_date_remove(patient=user_of(request).patient, date_id=pk)
    except NotFound:
        messages.info(request, _("That date was already removed."))
    else:
        messages.success(request, _("Date removed."))
    return redirect(reverse("account:profile") + "#dates-heading")


# --- passwords -------------------------------------------------------------------------------


@sensitive_post_parameters()
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    form = ClinicPasswordChangeForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = user_of(request)
        try:
            # Every API token and every other browser session of this login is revoked.
            services.password_change(
                user=user,
                current_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password1"],
                keep_session_key=request.session.session_key,
            )
        except InvalidInput as error:
            _add_service_errors(form, error, {"current_password": "old_password", "new_password": "new_password1"})
        else:
            update_session_auth_hash(request, user)  # this device stays signed in
            messages.success(request, _("Your password is changed. You are signed out on every other device."))
            if role_of(user) == PATIENT:
                return redirect("account:profile")
            return redirect("account:password_change")
    return render(request, "account/password_change.html", {"form": form})


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    """ "Check your email": the request page itself with ?sent=1 (the URL the tests and emails know)."""

    template_name = "account/password_reset.html"
    extra_context = {"sent": True}


class PasswordResetView(auth_views.PasswordResetView):
    """The same answer whatever the email: nobody learns who has an account.

    Django's view with the clinic's form; instead of Django's form.save() (which
    mails only accounts with a usable password) it calls the patients service,
    which the API calls too: it also lets a patient the front desk registered
    claim their record, mails in the patient's language and caps mails per address."""

    form_class = PasswordResetRequestForm  # type: ignore[assignment]  # its own form: the service mails
    template_name = "account/password_reset.html"

    def get_success_url(self) -> str:
        return f"{reverse('account:password_reset')}?sent=1"

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.GET.get("sent") == "1":
            return PasswordResetDoneView.as_view()(request)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form: PasswordResetRequestForm) -> HttpResponse:  # type: ignore[override]
        # Per client, at the API's rate for the same request (its throttle guards the API's door).
        throttle = ScopedThrottle()  # the API's notion of a client and of a rate
        rates: dict[str, str] = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
        limit, period = throttle.parse_rate(rates["password_reset"])
        client = client_address(self.request)
        if not within(f"page-reset-client:{client}", limit or 0, period or 3600):
            form.add_error(None, _("Too many requests from this device. Please try again in an hour."))
            response = self.form_invalid(form)  # type: ignore[arg-type]
            response.status_code = 429
            return response
        services.password_reset_request(email=form.cleaned_data["email"])
        return redirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's link handling (the token leaves the address bar, and so any Referer,
    for the session at once: the URL ends in ``set-password``); the password is set by the patients service, which
    also links a staff-created record, and the person is signed in. A used, expired
    or mangled link gets a friendly page with the request form."""

    form_class = NewPasswordForm  # type: ignore[assignment]  # the service checks the strength
    template_name = "account/password_reset_confirm.html"

    def get_user(self, uidb64: str) -> User | None:
        return services.password_reset_user(uid=uidb64)

    def get_template_names(self) -> list[str]:
        return [self.template_name if self.validlink else "account/password_reset_invalid.html"]

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        if self.validlink:
            context["account_email"] = self.user.email  # type: ignore[union-attr]
        else:
            context["form"] = PasswordResetRequestForm()
        return context

    def form_valid(self, form: NewPasswordForm) -> HttpResponse:  # type: ignore[override]
        session = self.request.session
        try:
            user = services.password_reset_confirm(
                uid=self.kwargs["uidb64"],
                token=session.get(INTERNAL_RESET_SESSION_TOKEN, ""),
                password=form.cleaned_data["new_password1"],
            )
        except InvalidInput as error:
            if error.fields and "token" in error.fields:
                self.validlink = False
                return self.render_to_response(self.get_context_data())
            _add_service_errors(form, error, {"password": "new_password1"})
            return self.form_invalid(form)  # type: ignore[arg-type]
        session.pop(INTERNAL_RESET_SESSION_TOKEN, None)
        login(self.request, user, backend=PASSWORD_BACKEND)
        messages.success(self.request, _("Your password is set and you are signed in."))
        return redirect(_home_for(user))


def _appointment_starts(ids: list[int]) -> dict[int, datetime]:
    """When the given appointments start (one query, none without ids). The
    appointment model is reached through the plan session's reverse relation,
    as treatments.selectors does."""
    if not ids:
        return {}
    appointment = PlanSession._meta.get_field("appointments").related_model
    return dict(appointment._default_manager.filter(pk__in=ids).values_list("pk", "start"))


# --- progress --------------------------------------------------------------------------------


@patient_required
def progress(request: HttpRequest) -> HttpResponse:
    patient = user_of(request).patient
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
        "packages": [packages.line(package) for package in packages.packages_for(patient_id=patient.pk)],
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
            "packages": [
                packages.line(package)
                for package in packages.packages_for(patient_id=found.patient_id).filter(plan=found)
            ],
        },
    )


@patient_required
def photo(request: HttpRequest, pk: int, kind: str) -> FileResponse:
    """A photo of the signed-in patient's own assessments; anyone else's is 404."""
    own = AssessmentPhoto.objects.filter(assessment__patient__user=user_of(request))
    return photo_response(get_object_or_404(own, pk=pk), kind)


def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch (a cookie), which a signed-in patient's record also remembers
    so that their emails follow the same choice."""
    response = django_set_language(request)
    language = request.POST.get("language")
    if request.method == "POST" and language in dict(settings.LANGUAGES) and request.user.is_authenticated:
        services.patient_language_remember(user=request.user, language=language)
    return response


# --- changing the email: confirmed from the new address (patients.services) ------------------


@patient_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest) -> HttpResponse:
    """Asks for the new address; the answer is the same whether or not another
    account uses it (the link it sends fails neutrally if so)."""
    patient = user_of(request).patient
    form = EmailChangeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = services.email_change_request(patient=patient, new_email=form.cleaned_data["email"])
        except InvalidInput as error:
            form.add_error("email", " ".join(str(m) for m in (error.fields or {}).get("email", [error.detail])))
        else:
            if not sent:
                messages.info(request, _("That is already your email."))
                return redirect("account:profile")
            return render(request, "account/email_change.html", {"sent": True, "patient": patient})
    return render(request, "account/email_change.html", {"form": form, "patient": patient})


@require_http_methods(["GET", "POST"])
def email_change_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners follow links; they must not change
    anything); POST changes the address. No sign-in needed: the link is the proof."""
    if request.method == "GET":
        return render(request, "account/email_change_confirm.html", {"token": token})
    try:
        patient = services.email_change_confirm(token=token)
    except InvalidInput as error:
        return render(request, "account/email_change_confirm.html", {"failed": str(error.detail)}, status=400)
    return render(request, "account/email_change_confirm.html", {"done": True, "email": patient.email})
