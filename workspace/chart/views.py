"""The staff workspace's patient chart: patients, the chart, assessments with
photos and a live score, plans, declarations from paper, session records.

Roles (patients/roles.py): every staff role sees patients, details,
declarations, appointments, notifications and the history of those; only
practitioners and managers see or write assessments, photos, plans and
session records (a receptionist gets 403 on those URLs and the chart leaves
them out). Views parse with forms and call the services; a refused input is
shown in place with what was typed, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from booking.models import Appointment, SessionRecord
from booking.services import appointment_complete, missing_consent_message
from booking.spacing import plan_findings
from clinic import formats
from clinic.clock import clinic_today
from clinic.errors import ApplicationError, InvalidInput, InvalidState
from clinic.pages import HtmxHttpRequest
from patients import channels as patient_channels_service
from patients.forms import addresses, channels_form
from patients.models import AccessEvent, Patient
from patients.permissions import (
    CONTACT_EDITORS,
    clinician_required,
    front_desk_required,
    is_clinician,
    is_manager,
    manager_required,
    staff_required,
    user_of,
)
from patients.roles import role_of
from patients.selectors import patients_matching
from patients.services import access_record, access_record_many, declaration_submit, patient_create, patient_update
from treatments import consents, selectors, services
from treatments.injectables import MAX_ROWS as MAX_INJECTABLES
from treatments.models import (
    Assessment,
    AssessmentPhoto,
    ConsentSignature,
    PhotoUse,
    PhotoView,
    QualitativeGrade,
    TreatmentPlan,
)
from treatments.photos import MAX_BYTES, PhotoRejected, clean_photo, photo_response
from treatments.scoring import WEIGHTS, count_band, goodman_baron_score, keloid_points
from workspace.chart import chart
from workspace.chart.forms import (
    LESION_GROUPS,
    SCORE_FIELDS,
    AssessmentCorrectForm,
    AssessmentForm,
    DeclarationForm,
    PatientForm,
    PatientSearchForm,
    PlanCancelForm,
    PlanForm,
    ScoreForm,
    SessionRecordForm,
    apply_errors,
)

PAGE_SIZE = 25
PAGE = AccessEvent.Door.PAGE
UPLOAD_OVERHEAD = 256 * 1024  # the other fields and multipart boundaries around the photos


def _patient(pk: int) -> Patient:
    return get_object_or_404(Patient, pk=pk)


# --- patients ------------------------------------------------------------------------------


@staff_required
@require_GET
def patients(request: HtmxHttpRequest) -> HttpResponse:
    search = PatientSearchForm(request.GET)
    query = search.query()
    page = Paginator(patients_matching(query), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"search": search, "query": query, "page": page, "form": PatientForm()}
    if request.htmx and request.htmx.target == "patient-results":
        return render(request, "chart/_patient_results.html", context)
    return render(request, "chart/patients.html", context)


@staff_required
@require_http_methods(["GET", "POST"])
def patient_new(request: HttpRequest) -> HttpResponse:
    form = PatientForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in PatientForm.Meta.fields}
            try:
                patient = patient_create(created_by=user_of(request), **fields)
            except InvalidInput as error:
                apply_errors(form, error.fields, error.detail)
            else:
                messages.success(request, _("%(name)s was added.") % {"name": patient.full_name})
                return redirect("chart:patient", pk=patient.pk)
        return render(request, "chart/patient_form.html", {"form": form, "patient": None}, status=400)
    return render(request, "chart/patient_form.html", {"form": form, "patient": None})


@staff_required
@require_http_methods(["GET", "POST"])
def patient_edit(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _patient(pk)
    form = PatientForm(request.POST if request.method == "POST" else None, instance=patient)
    if request.method == "POST":
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in form.changed_data if name in PatientForm.Meta.fields}
            try:
                if fields:
                    patient_update(patient=Patient.objects.get(pk=patient.pk), changed_by=user_of(request), **fields)
            except ApplicationError as error:  # invalid input, or a patient erased on request
                apply_errors(form, error.fields, error.detail)
            else:
                messages.success(request, _("The details were saved."))
                return redirect(reverse("chart:patient", args=[patient.pk]) + "#details")
        return render(request, "chart/patient_form.html", {"form": form, "patient": patient}, status=400)
    return render(request, "chart/patient_form.html", {"form": form, "patient": patient})


@front_desk_required
@require_http_methods(["GET", "POST"])
def patient_channels(request: HttpRequest, pk: int) -> HttpResponse:
    """How the patient wants to be contacted, set by reception (taken by phone)
    or a manager: the same form and rules as the patient's own profile."""
    patient = _patient(pk)
    form = channels_form(patient, request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                patient_channels_service.channels_set(patient=patient, topics=form.chosen())
            except ApplicationError as error:  # invalid choices, or a patient erased on request
                form.add_service_errors(error.fields, str(error.detail))
            else:
                messages.success(request, _("Saved: this is how we will contact them."))
                return redirect(reverse("chart:patient", args=[patient.pk]) + "#contact")
        status = 400
    else:
        status = 200
    context = {"patient": patient, "channels_form": form, "addresses": addresses(patient)}
    return render(request, "chart/patient_channels.html", context, status=status)


def _chart_page(request: HtmxHttpRequest, pk: int, slug: str) -> HttpResponse:
    found = _patient(pk)
    section = chart.SECTION_BY_SLUG[slug]
    clinical = is_clinician(request)
    context = chart.chart_context(patient=found, section=section, clinical=clinical, query=request.GET)
    context["manager"] = is_manager(request)  # export and erasure (workspace/chart/privacy.py)
    context["front_desk"] = role_of(request.user) in CONTACT_EDITORS  # how the patient is contacted
    if slug == "photos" and request.htmx and request.htmx.target == "photos-compare":
        # Only the comparison is swapped in; each picture it shows logs itself when served.
        return render(request, "chart/_photos.html", context)
    access_record_many(request, [(found, what, None) for what in chart.kinds_shown(section, clinical=clinical)], PAGE)
    return render(request, f"chart/section_{slug}.html", context)


@staff_required
@require_GET
def patient(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The chart's first page: details and health declarations."""
    return _chart_page(request, pk, "details")


@staff_required
@require_GET
def appointments(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _chart_page(request, pk, "appointments")


@staff_required
@require_GET
def history(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _chart_page(request, pk, "history")


@clinician_required
@require_GET
def assessments(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _chart_page(request, pk, "assessments")


@clinician_required
@require_GET
def photos(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _chart_page(request, pk, "photos")


@clinician_required
@require_GET
def plans(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _chart_page(request, pk, "plans")


@clinician_required
@require_GET
def records(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _chart_page(request, pk, "records")


# --- health declarations -------------------------------------------------------------------


@staff_required
@require_http_methods(["GET", "POST"])
def declaration_new(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _patient(pk)
    form = DeclarationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if form.is_valid():
            try:
                declaration_submit(patient=patient, entered_by=user_of(request), **form.answers())
            except InvalidInput as error:
                apply_errors(form, error.fields, error.detail)
            else:
                messages.success(request, _("The health declaration was recorded."))
                return redirect(reverse("chart:patient", args=[patient.pk]) + "#declarations")
        return render(request, "chart/declaration_form.html", {"form": form, "patient": patient}, status=400)
    return render(request, "chart/declaration_form.html", {"form": form, "patient": patient})


# --- assessments ---------------------------------------------------------------------------


def _score_context(form: ScoreForm) -> dict[str, Any]:
    """The score of what was typed so far, by the same function the service uses."""
    form.is_valid()
    bad_fields = [form[name] for name in (*WEIGHTS, "keloid_area_cm2") if form.errors.get(name)]
    grade = form.cleaned_data.get("qualitative_grade")
    context: dict[str, Any] = {
        "score": None,
        "bad_fields": bad_fields,
        "breakdown": [],
        "keloid_points": 0,
        "grade": grade,
        "grade_label": dict(QualitativeGrade.choices).get(grade) if grade else None,
    }
    if bad_fields:
        return context
    lesions = form.lesions()
    area = form.keloid_area()
    context["score"] = goodman_baron_score(lesions, area)
    context["breakdown"] = [
        {"label": form.fields[key].label, "count": lesions[key], "points": WEIGHTS[key] * count_band(lesions[key])}
        for _group, keys in LESION_GROUPS
        for key in keys
        if lesions[key]
    ]
    context["keloid_points"] = keloid_points(area)
    context["keloid_area"] = area
    return context


@clinician_required
@require_POST
def assessment_score(request: HttpRequest) -> HttpResponse:
    """The live score: a fragment the assessment form swaps in as counts are typed."""
    return render(request, "chart/_score.html", _score_context(ScoreForm(request.POST)))


def _check_photos(form: AssessmentForm) -> list[tuple[str, Any]]:
    """Every chosen photo is checked before anything is saved, as the API checks one."""
    found = []
    for view, upload in form.photos():
        try:
            if upload.size > MAX_BYTES:
                raise PhotoRejected(_("The picture is larger than 10 MB."))
            clean_photo(upload, size=upload.size)
        except PhotoRejected as error:
            form.add_error(f"photo_{view}", str(error))
        else:
            upload.seek(0)
            found.append((view, upload))
    return found


def _too_large(request: HttpRequest) -> bool:
    """Refused before the body is read at all (so nothing typed can be shown again)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    return declared > len(PhotoView.values) * MAX_BYTES + UPLOAD_OVERHEAD


TOO_LARGE = gettext_lazy("The photos together are too large. Each may be at most 10 MB.")


def _save_with_photos(
    request: HttpRequest, form: AssessmentForm, write: Callable[[], Assessment], uploads: list[tuple[str, Any]]
) -> tuple[Assessment, list[AssessmentPhoto]] | None:
    """``treatments.services.assessment_save_with_photos``; None when a service
    refused, with its errors placed on the form (nothing was kept)."""
    try:
        return services.assessment_save_with_photos(write=write, photos=uploads, by=user_of(request))
    except InvalidInput as error:
        apply_errors(form, error.fields, error.detail)
        return None


@clinician_required
@require_http_methods(["GET", "POST"])
def assessment_new(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _patient(pk)
    if request.method == "GET":
        form = AssessmentForm(
            patient=patient,
            initial={
                "assessed_on": clinic_today(),
                "fitzpatrick_type": patient.fitzpatrick_type,
                "pih": "none",
                "pie": "none",
            },
        )
        return _assessment_page(request, form, patient)
    if _too_large(request):
        form = AssessmentForm(patient=patient, initial={"assessed_on": clinic_today()})
        return _assessment_page(request, form, patient, status=400, page_error=str(TOO_LARGE))
    form = AssessmentForm(request.POST, request.FILES, patient=patient)
    if not form.is_valid():
        return _assessment_page(request, form, patient, status=400)
    uploads = _check_photos(form)
    if form.errors:
        return _assessment_page(request, form, patient, status=400)
    saved = _save_with_photos(
        request,
        form,
        lambda: services.assessment_record(patient=patient, by=user_of(request), **form.values()),
        uploads,
    )
    if saved is None:
        return _assessment_page(request, form, patient, status=400)
    assessment, stored = saved
    messages.success(
        request,
        _("The assessment was saved: Goodman & Baron score %(score)s, %(photos)s photos.")
        % {"score": assessment.quantitative_score, "photos": len(stored)},
    )
    return redirect(reverse("chart:assessments", args=[patient.pk]))


def _version(assessment: Assessment) -> str:
    """What the correction form was opened on (``services.assessment_version``), carried by the form."""
    return services.assessment_version(assessment).isoformat()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sent_version(request: HttpRequest) -> datetime:
    """The version the form was opened on; one that cannot be read (a tampered
    form) matches no save, so the service refuses it as out of date."""
    try:
        found = parse_datetime(request.POST.get("version", "")[:64].strip())
    except ValueError:
        found = None
    return found if found is not None and found.tzinfo is not None else EPOCH


CONFLICT_NEXT_STEP = gettext_lazy("Check the values below and save again to replace theirs.")


@clinician_required
@require_http_methods(["GET", "POST"])
def assessment_correct(request: HttpRequest, pk: int, assessment_pk: int) -> HttpResponse:
    """Corrects a saved assessment through ``services.assessment_correct`` (the
    previous version stays in the history, with the reason given) and adds
    photos to it. An assessment of another patient under this URL is 404."""
    assessment = get_object_or_404(
        Assessment.objects.select_related("patient", "assessed_by"), pk=assessment_pk, patient_id=pk
    )
    patient = assessment.patient
    page: dict[str, Any] = {"patient": patient, "assessment": assessment}
    if request.method == "POST":  # shown again as sent: a form re-shown after an error still detects a conflict
        page["version"] = request.POST.get("version", "")[:64]
    if request.method == "GET":
        access_record(request, patient, AccessEvent.What.ASSESSMENT, PAGE, assessment.pk)
        return _assessment_page(request, AssessmentCorrectForm(assessment=assessment), **page)
    if _too_large(request):  # nothing typed can be shown again: the saved values are
        form = AssessmentCorrectForm(assessment=assessment)
        page["version"] = _version(assessment)
        return _assessment_page(request, form, **page, status=400, page_error=str(TOO_LARGE))
    form = AssessmentCorrectForm(request.POST, request.FILES, assessment=assessment)
    if not form.is_valid():
        return _assessment_page(request, form, **page, status=400)
    uploads = _check_photos(form)
    if form.errors:
        return _assessment_page(request, form, **page, status=400)
    changes = form.changes()
    if not changes and not uploads:
        form.add_error(None, _("Nothing was changed. Change a value or choose a photo to add."))
        return _assessment_page(request, form, **page, status=400)

    def write() -> Assessment:
        if not changes:  # photos only: no new version, so neither a reason nor a fresh form is needed
            return assessment
        return services.assessment_correct(
            assessment=assessment,
            by=user_of(request),
            reason=form.cleaned_data["reason"],
            expected_version=_sent_version(request),
            **changes,
        )

    try:
        saved = _save_with_photos(request, form, write, uploads)
    except services.EditConflict as error:
        # Saving would silently undo what someone else saved since this form was opened:
        # what was typed stays, with the version now saved, so saving again replaces theirs on purpose.
        form.add_error(None, f"{error.detail} {CONFLICT_NEXT_STEP}")
        page["version"] = _version(Assessment.objects.get(pk=assessment.pk))
        return _assessment_page(request, form, **page, status=409)
    if saved is None:
        return _assessment_page(request, form, **page, status=400)
    corrected, stored = saved
    if changes:
        text = _("The assessment of %(date)s was corrected: Goodman & Baron score %(score)s.") % {
            "date": formats.date_text(corrected.assessed_on),
            "score": corrected.quantitative_score,
        }
        if stored:
            text += " " + ngettext("%(photos)s photo added.", "%(photos)s photos added.", len(stored)) % {
                "photos": len(stored)
            }
    else:
        text = ngettext(
            "%(photos)s photo added to the assessment of %(date)s.",
            "%(photos)s photos added to the assessment of %(date)s.",
            len(stored),
        ) % {"photos": len(stored), "date": formats.date_text(corrected.assessed_on)}
    messages.success(request, text)
    return redirect(reverse("chart:assessments", args=[patient.pk]))


def _last_correction(assessment: Assessment) -> dict[str, Any] | None:
    """When, by whom and why the assessment was last corrected (None if never)."""
    row = (
        Assessment.history.filter(id=assessment.pk, history_type="~")
        .select_related("history_user")
        .order_by("-history_date", "-history_id")
        .first()
    )
    if row is None:
        return None
    user = row.history_user
    return {
        "at": row.history_date,
        "by": (user.get_full_name() or user.get_username()) if user is not None else "",
        "reason": row.history_change_reason or "",
    }


def _assessment_page(
    request: HttpRequest,
    form: AssessmentForm,
    patient: Patient,
    status: int = 200,
    page_error: str = "",
    assessment: Assessment | None = None,
    version: str | None = None,
) -> HttpResponse:
    if form.is_bound:
        score = _score_context(ScoreForm(form.data))
    elif assessment is not None:  # the saved values, scored as the live score would
        values = {name: str(value) for name, value in form.initial.items() if name in SCORE_FIELDS}
        score = _score_context(ScoreForm(values))
    else:
        score = {"score": 0, "bad_fields": [], "breakdown": [], "keloid_points": 0, "grade_label": None}
    groups = [(label, [(form[key], WEIGHTS[key]) for key in keys]) for label, keys in LESION_GROUPS]
    context = {
        "form": form,
        "patient": patient,
        "groups": groups,
        "score_fields": ",".join(SCORE_FIELDS),
        "max_photo_bytes": MAX_BYTES,
        "page_error": page_error,
        "assessment": assessment,
        "version": version if version is not None else (_version(assessment) if assessment is not None else ""),
        "existing_photos": list(assessment.photos.all()) if assessment is not None else [],
        "last_correction": _last_correction(assessment) if assessment is not None else None,
        **score,
    }
    return render(request, "chart/assessment_form.html", context, status=status)


# --- photos --------------------------------------------------------------------------------


@clinician_required
@require_GET
def photo_file(request: HttpRequest, pk: int, photo_pk: int, variant: str) -> HttpResponse | FileResponse:
    """A photo's bytes for the chart: clinicians only, never a public media URL,
    never cached by a shared cache. A photo of another patient is 404."""
    photo = get_object_or_404(AssessmentPhoto, pk=photo_pk, assessment__patient_id=pk)
    use = request.GET.get("use")
    if use is not None:
        # A download for a use: teaching and marketing only while the patient allows it.
        try:
            allowed = consents.photo_use_allowed(pk, use)
        except InvalidInput:
            return render(request, "400.html", status=400)
        if not allowed:
            label = dict(PhotoUse.choices)[use]
            detail = _(
                "The patient has not allowed their photos to be used for %(use)s. "
                "Only clinical use is possible unless they sign a consent that allows it."
            ) % {"use": str(label).lower() if translation.get_language() == "en" else label}
            return render(request, "403.html", {"detail": detail, "photo_use": True}, status=403)
    response = photo_response(photo, variant)
    if use is not None:
        extension = str(photo.image.name).rsplit(".", 1)[-1]
        response["Content-Disposition"] = f'attachment; filename="photo-{photo.pk}-{use}.{extension}"'
    access_record(request, pk, AccessEvent.What.PHOTO, PAGE, photo.pk)
    return response


# --- consent ---------------------------------------------------------------------------------


@manager_required
@require_POST
def consent_withdraw(request: HtmxHttpRequest, pk: int, signature_pk: int) -> HttpResponse:
    """A manager withdraws a patient's consent, with the reason (required here).
    A signature of another patient under this URL is 404."""
    patient = _patient(pk)
    signature = get_object_or_404(ConsentSignature, pk=signature_pk, patient_id=patient.pk)
    reason = " ".join(request.POST.get("reason", "").split())
    error = ""
    if not reason:
        error = _("Give the reason for withdrawing this consent.")
    else:
        try:
            consents.consent_withdraw(signature=signature, by=user_of(request), reason=reason)
        except ApplicationError as refused:
            error = " ".join(str(m) for ms in (refused.fields or {}).values() for m in ms) or str(refused.detail)
    if not error:
        messages.success(request, _("The consent was withdrawn. It no longer counts for treatment or photos."))
        return redirect(reverse("chart:appointments", args=[patient.pk]) + "#consents")
    section = chart.SECTION_BY_SLUG["appointments"]
    context = chart.chart_context(patient=patient, section=section, clinical=is_clinician(request), query=request.GET)
    context.update(manager=True, withdraw_pk=signature.pk, withdraw_error=[error], withdraw_reason=reason)
    return render(request, "chart/section_appointments.html", context, status=400)


# --- plans ---------------------------------------------------------------------------------


@clinician_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, pk: int) -> HttpResponse:
    patient = _patient(pk)
    response = _plan_new_page(request, patient)
    if not response.has_header("Location"):  # the form was shown: it lists the patient's scored assessments
        access_record(request, patient, AccessEvent.What.ASSESSMENT, PAGE)
    return response


def _plan_new_page(request: HttpRequest, patient: Patient) -> HttpResponse:
    form = PlanForm(request.POST if request.method == "POST" else None, patient=patient)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                plan = services.plan_create(
                    patient=patient,
                    treatment=data["treatment"],
                    sessions=data["sessions"],
                    assessment=data.get("assessment"),
                    start_after=data.get("start_after"),
                    by=user_of(request),
                )
            except InvalidInput as error:
                apply_errors(form, error.fields, error.detail)
            else:
                messages.success(request, _("The plan was created."))
                for finding in plan_findings(plan):
                    messages.warning(
                        request,
                        _("Session %(number)s: %(detail)s")
                        % {"number": finding["session"], "detail": finding["detail"]},
                    )
                return redirect(reverse("chart:plans", args=[patient.pk]))
        return render(request, "chart/plan_form.html", {"form": form, "patient": patient}, status=400)
    return render(request, "chart/plan_form.html", {"form": form, "patient": patient})


@clinician_required
@require_POST
def plan_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(TreatmentPlan.objects.select_related("patient", "treatment"), pk=pk)
    form = PlanCancelForm(request.POST)
    target = reverse("chart:plans", args=[plan.patient_id])
    if not form.is_valid():
        messages.error(request, _("The reason is too long."))
        return redirect(target)
    try:
        services.plan_cancel(plan=plan, by=user_of(request), reason=form.cleaned_data["reason"].strip())
    except ApplicationError as error:
        messages.error(request, str(error.detail))
    else:
        messages.success(request, _("The plan was cancelled."))
    return redirect(target)


# --- session records -----------------------------------------------------------------------


def _appointment(pk: int) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related(
            "patient", "treatment", "practitioner__user", "room", "plan_session__plan__treatment"
        ),
        pk=pk,
    )


def _plan_state(appointment: Appointment) -> chart.PlanRow | None:
    if appointment.plan_session is None:
        return None
    plan = selectors.plans_for().get(pk=appointment.plan_session.plan_id)
    return chart.plan_rows([plan], clinic_today())[0]


@clinician_required
@require_http_methods(["GET", "POST"])
def session_record(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(pk)
    needs = (
        consents.needs_for(patient=appointment.patient, treatment=appointment.treatment)
        if appointment.status == Appointment.Status.CHECKED_IN
        else []
    )
    response = _session_record_page(request, appointment, needs)
    if not response.has_header("Location"):  # a page was shown, not a redirect after the record was saved
        reads = [AccessEvent.What.SESSION_RECORD, AccessEvent.What.DECLARATIONS]
        if appointment.plan_session_id is not None:
            reads.append(AccessEvent.What.PLAN)
        if needs:
            reads.append(AccessEvent.What.CONSENT)
        # It shows the latest declaration's risk flags, this or the previous session record and the plan.
        access_record_many(request, [(appointment.patient_id, what, None) for what in reads], PAGE)
    return response


def _session_record_page(request: HttpRequest, appointment: Appointment, needs: list[consents.Need]) -> HttpResponse:
    category = appointment.treatment.category
    context: dict[str, Any] = {"appointment": appointment, "patient": appointment.patient}
    missing = [need for need in needs if not need.signed]
    may_override = bool(missing) and is_manager(request)
    context.update(
        consent_needs=needs,
        consent_missing=missing_consent_message(appointment.patient, missing) if missing else "",
        consent_may_override=may_override,
    )
    context.update(chart.safety_context(appointment.patient))
    status = 200
    if appointment.status == Appointment.Status.COMPLETED:
        record = (
            SessionRecord.objects.filter(appointment=appointment)
            .select_related("recorded_by", "consent_override_by")
            .prefetch_related("injectables")
            .first()
        )
        if record is not None:
            record.appointment = appointment
            row = chart.record_rows([record])[0]
            context.update(
                record=record,
                record_areas=row.areas,
                record_parameters=row.parameters,
                record_injectables=row.injectables,
            )
        context["plan"] = _plan_state(appointment)
        if request.method == "POST":
            context["state_error"] = _("This appointment is already completed; its session record is below.")
            status = 409
        return render(request, "chart/session_record.html", context, status=status)
    if appointment.status != Appointment.Status.CHECKED_IN:
        context["state_error"] = _state_message(appointment)
        return render(request, "chart/session_record.html", context, status=409 if request.method == "POST" else 200)
    if request.method == "POST" and "add_injectable" in request.POST:
        # "Add a product" without scripts: the same form again, one product row more, nothing saved.
        sent = SessionRecordForm(request.POST, category=category, may_override_consent=may_override)
        form = SessionRecordForm(
            initial=_typed(request.POST),
            category=category,
            may_override_consent=may_override,
            injectable_rows=len(sent.product_rows) + 1,
        )
        form.focus_row = len(form.product_rows) - 1  # type: ignore[attr-defined]  # for the template
    elif request.method == "POST":
        form = SessionRecordForm(request.POST, category=category, may_override_consent=may_override)
        if form.is_valid():
            try:
                appointment_complete(appointment=appointment, by=user_of(request), record=form.record())
            except InvalidInput as error:
                apply_errors(form, form.service_errors(error.fields), error.detail)
                status = 400
            except InvalidState as error:
                context["state_error"] = str(error.detail)
                status = 409
            else:
                messages.success(request, _("The session was recorded and the appointment completed."))
                return redirect("chart:session_record", pk=appointment.pk)
        else:
            status = 400
    else:
        previous = chart.previous_record(appointment)
        initial = SessionRecordForm.initial_from(previous) if previous is not None else {}
        form = SessionRecordForm(initial=initial, category=category, may_override_consent=may_override)
        context["previous"] = previous
    context.update(form=form, plan=_plan_state(appointment), max_injectables=MAX_INJECTABLES)
    return render(request, "chart/session_record.html", context, status=status)


def _typed(data: Any) -> dict[str, Any]:
    """What was typed, as a form's initial values (lists where a field takes several)."""
    return {
        name: data.getlist(name) if name == "areas" else data.get(name)
        for name in data
        if name != "csrfmiddlewaretoken"
    }


def _state_message(appointment: Appointment) -> str:
    if appointment.status == Appointment.Status.CONFIRMED:
        return _("The patient has not been checked in yet. Check them in first, then record the session.")
    if appointment.status == Appointment.Status.CANCELLED:
        return _("This appointment was cancelled, so there is no session to record.")
    if appointment.status == Appointment.Status.NO_SHOW:
        return _("The patient did not come to this appointment, so there is no session to record.")
    return _("This appointment cannot be completed in its current state.")


__all__ = [
    "appointments",
    "assessment_correct",
    "assessment_new",
    "assessment_score",
    "assessments",
    "consent_withdraw",
    "declaration_new",
    "history",
    "patient",
    "patient_edit",
    "patient_new",
    "patients",
    "photo_file",
    "photos",
    "plan_cancel",
    "plan_new",
    "plans",
    "records",
    "session_record",
]
