"""What the patient chart shows, read in a fixed number of queries whatever the
patient's history (each list is one query, or one per prefetch), and the
score trend drawn as server-side SVG (no scripts: the CSP allows none inline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any, cast

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db.models import DateField, DateTimeField, Field, Model, Q, QuerySet
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _

from booking import signing
from booking.models import Appointment, InjectableUse, Notification, SessionRecord, WaitlistEntry
from booking.selectors import appointments_for
from clinic import formats
from clinic.clock import clinic_today
from patients import channels as patient_channels
from patients.models import (
    DECLARATION_YES_NO,
    AccessEvent,
    Allergy,
    ChannelChoice,
    FitzpatrickType,
    HealthDeclaration,
    Patient,
)
from patients.selectors import declaration_is_current, declaration_submitted_on, important_dates_for
from treatments import consents, history, plans, selectors
from treatments.models import (
    Assessment,
    AssessmentPhoto,
    ConsentSignature,
    PhotoUse,
    PhotoView,
    PlanSession,
    Treatment,
    TreatmentPlan,
)
from treatments.screening import RETINOID_WINDOW, SUN_EXPOSURE_WINDOW
from workspace.chart.forms import AREA_LABELS, CHOICE_LABELS, LESION_LABELS, PARAMETER_LABELS

LIST_LIMIT = 100  # upcoming visits in the header and notifications shown; the newest first
HISTORY_LIMIT = 25  # history entries a page: a new record's entry lists every field it was created with
# Rows per page of the lists that grow with the patient's history (assessments,
# session records, appointments): the newest on the first page, older ones a
# click away (``?page=``), so a page costs the same after ten years of visits.
PAGE_SIZE = 20


def page_of(items: Any, query: Any, per_page: int = PAGE_SIZE) -> Page[Any]:
    """One page of an ordered queryset, from ``?page=``: a number that is not one
    gives the first page, one past the end the last (two queries: count and rows)."""
    return Paginator(items, per_page).get_page(query.get("page"))


# --- health declarations -------------------------------------------------------------------

_FLAG_FIELDS = DECLARATION_YES_NO


def _label(model: type[Model], name: str) -> str:
    text = str(model._meta.get_field(name).verbose_name)  # type: ignore[union-attr]  # callers name model fields
    return text[:1].upper() + text[1:]


def risk_flags(declaration: HealthDeclaration | None, today: date) -> list[str]:
    """The answers of a declaration that matter for treatment, in words."""
    if declaration is None:
        return []
    flags = [_label(HealthDeclaration, name) for name in _FLAG_FIELDS if getattr(declaration, name)]
    submitted_on = declaration_submitted_on(declaration)
    if declaration.recent_sun_exposure and (today - submitted_on) < SUN_EXPOSURE_WINDOW:
        flags.append(_label(HealthDeclaration, "recent_sun_exposure"))
    dose = declaration.isotretinoin_last_dose
    if dose is not None and (today - dose) < settings.CLINIC_ISOTRETINOIN_WINDOW:
        flags.append(_("Isotretinoin, last dose %(date)s") % {"date": formats.date_text(dose)})
    retinoid = declaration.topical_retinoid_last_use
    if retinoid is not None and (today - retinoid) < RETINOID_WINDOW:
        flags.append(_("Retinoid cream, last used %(date)s") % {"date": formats.date_text(retinoid)})
    allergy_names = dict(Allergy.choices)
    for code in declaration.allergies or ():
        flags.append(_("Allergy: %(name)s") % {"name": allergy_names.get(code, code)})
    if declaration.allergies_other:
        flags.append(_("Other allergies noted"))
    return flags


@dataclass
class DeclarationRow:
    declaration: HealthDeclaration
    flags: list[str]
    submitted_on: date


def declaration_state(latest: HealthDeclaration | None, today: date) -> str:
    """``missing``, ``stale`` (older than CLINIC_DECLARATION_MAX_AGE) or ``current``."""
    if latest is None:
        return "missing"
    return "current" if declaration_is_current(latest, on=today) else "stale"


# --- the score trend -----------------------------------------------------------------------

CHART_WIDTH = 640
CHART_HEIGHT = 280
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 64, 24, 24, 128
GRADE_GAP = 36  # between the score's 0 line and the grade strip, room for the strip's title
GRADE_BAND = 36  # the grade strip under the score line


@dataclass
class ChartPoint:
    x: float
    y: float
    grade_y: float
    score: int
    grade: int
    on: date


@dataclass
class TrendChart:
    """One drawing of the trend. The chart section draws it twice, wide for a
    desktop and narrow for a phone (CSS shows one), so its text keeps a readable
    size instead of shrinking with a single drawing scaled to the screen."""

    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    points: list[ChartPoint] = field(default_factory=list)
    line: str = ""
    grade_line: str = ""
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    x_labels: list[tuple[float, str, str]] = field(default_factory=list)
    sessions: list[tuple[float, date]] = field(default_factory=list)
    marks: SafeString = field(default_factory=SafeString)  # the points' circles, values and titles
    left: int = PAD_LEFT
    right: int = CHART_WIDTH - PAD_RIGHT
    top: int = PAD_TOP
    bottom: int = CHART_HEIGHT - PAD_BOTTOM
    grade_top: int = CHART_HEIGHT - PAD_BOTTOM + GRADE_GAP
    grade_bottom: int = CHART_HEIGHT - PAD_BOTTOM + GRADE_GAP + GRADE_BAND
    x_axis_y: int = CHART_HEIGHT - 8
    y_axis_x: int = 14
    y_axis_mid: float = (PAD_TOP + CHART_HEIGHT - PAD_BOTTOM) / 2
    middle: float = (PAD_LEFT + CHART_WIDTH - PAD_RIGHT) / 2


def _label_indexes(count: int, most: int) -> list[int]:
    """Which points get a date under them: all when they fit, else evenly spread
    ones, always the first and the latest."""
    if count <= most:
        return list(range(count))
    step = (count - 1) / (most - 1)
    return sorted({round(i * step) for i in range(most)})


LABEL_CHAR_WIDTH = 8.5  # an estimate of one character of a date label, in the drawing's units


def _date_labels(points: list[ChartPoint], most: int) -> list[tuple[float, str, str]]:
    """The dates written under the points: the latest always, the first and
    evenly spread others when they do not run into a label already placed."""
    count = len(points)
    if count == 1:
        return [(points[0].x, formats.date_text(points[0].on), "middle")]

    def extent(index: int) -> tuple[float, float, tuple[float, str, str]]:
        point, text = points[index], formats.date_text(points[index].on)
        width = len(text) * LABEL_CHAR_WIDTH
        if index == 0:
            return point.x, point.x + width, (point.x, text, "start")
        if index == count - 1:
            return point.x - width, point.x, (point.x, text, "end")
        return point.x - width / 2, point.x + width / 2, (point.x, text, "middle")

    placed: list[tuple[float, float, tuple[float, str, str]]] = [extent(count - 1)]
    for index in _label_indexes(count, most)[:-1]:
        left, right, label = extent(index)
        if all(right + 12 < other_left or left > other_right + 12 for other_left, other_right, _ in placed):
            placed.append((left, right, label))
    return sorted((label for _l, _r, label in placed), key=lambda label: label[0])


@lru_cache(maxsize=4096)
def _day_text(day: date, language: str | None) -> str:
    """A point's date in words, computed once per date and language: both drawings
    of the trend, and every chart opened after, write the same dates."""
    return formats.date_text(day, language=language)


def _point_marks(points: list[ChartPoint]) -> SafeString:
    """The markup of every point, built here rather than by a template loop: a
    patient with years of assessments has hundreds of points, drawn twice. The
    numbers are the chart's own floats and ints; only the titles are text."""
    language = get_language()
    score_title, grade_title = _("%(date)s: score %(score)s"), _("%(date)s: grade %(grade)s")
    parts = []
    for p in points:
        day = _day_text(p.on, language)
        score = escape(score_title % {"date": day, "score": p.score})
        grade = escape(grade_title % {"date": day, "grade": p.grade})
        parts.append(
            f'<circle class="point" cx="{p.x}" cy="{p.y}" r="6"><title>{score}</title></circle>'
            # int(): what the template's |add:-12 wrote
            f'<text x="{p.x}" y="{int(p.y) - 12}" text-anchor="middle" class="value">{p.score}</text>'
            f'<circle class="point grade" cx="{p.x}" cy="{p.grade_y}" r="5"><title>{grade}</title></circle>'
        )
    return mark_safe("".join(parts))  # noqa: S308 (numbers, and titles escaped above)


def trend_chart(
    assessments: Sequence[Assessment],
    session_days: Iterable[date],
    *,
    width: int = CHART_WIDTH,
    height: int = CHART_HEIGHT,
    most_labels: int = 6,
) -> TrendChart | None:
    """Score over time (0 at the bottom) with a step strip of the qualitative
    grade below, and a dashed mark on each day a plan session was done."""
    ordered = sorted(assessments, key=lambda a: (a.assessed_on, a.pk))
    if not ordered:
        return None
    bottom = height - PAD_BOTTOM
    chart = TrendChart(
        width=width,
        height=height,
        right=width - PAD_RIGHT,
        bottom=bottom,
        grade_top=bottom + GRADE_GAP,
        grade_bottom=bottom + GRADE_GAP + GRADE_BAND,
        x_axis_y=height - 8,
        y_axis_mid=(PAD_TOP + bottom) / 2,
        middle=(PAD_LEFT + width - PAD_RIGHT) / 2,
    )
    first, last = ordered[0].assessed_on, ordered[-1].assessed_on
    days = [day for day in session_days if first <= day <= last]
    span = max((last - first).days, 1)
    top_score = max(10, -(-max(a.quantitative_score for a in ordered) // 10) * 10)
    inner_w = chart.right - chart.left
    inner_h = chart.bottom - chart.top

    def x_of(day: date) -> float:
        if len(ordered) == 1:
            return chart.left + inner_w / 2
        return round(chart.left + inner_w * (day - first).days / span, 1)

    def y_of(score: int) -> float:
        return round(chart.bottom - inner_h * score / top_score, 1)

    def grade_y(grade: int) -> float:
        return round(chart.grade_bottom - (chart.grade_bottom - chart.grade_top) * (grade - 1) / 3, 1)

    for assessment in ordered:
        chart.points.append(
            ChartPoint(
                x=x_of(assessment.assessed_on),
                y=y_of(assessment.quantitative_score),
                grade_y=grade_y(assessment.qualitative_grade),
                score=assessment.quantitative_score,
                grade=assessment.qualitative_grade,
                on=assessment.assessed_on,
            )
        )
    chart.line = " ".join(f"{p.x},{p.y}" for p in chart.points)
    chart.marks = _point_marks(chart.points)
    chart.grade_line = " ".join(f"{p.x},{p.grade_y}" for p in chart.points)
    step = top_score // 2 if top_score <= 20 else 10
    chart.y_ticks = [(y_of(value), value) for value in range(0, top_score + 1, step)]
    chart.x_labels = _date_labels(chart.points, most_labels)
    chart.sessions = [(x_of(day), day) for day in sorted(set(days))]
    return chart


# --- photos --------------------------------------------------------------------------------


@dataclass
class PhotoChoice:
    """One assessment that has a photo of the view being compared."""

    assessment: Assessment
    photo: AssessmentPhoto


@dataclass
class PhotoCompare:
    views: list[tuple[str, str]]  # (value, label) of the views that have photos
    view: str
    view_label: str
    choices: list[PhotoChoice]  # oldest first
    left: PhotoChoice | None
    right: PhotoChoice | None


def _choice(choices: list[PhotoChoice], raw: str | None, default: PhotoChoice) -> PhotoChoice:
    if raw and raw.isdigit():
        for choice in choices:
            if choice.assessment.pk == int(raw):
                return choice
    return default


def photo_compare(photos: Iterable[AssessmentPhoto], query: Any) -> PhotoCompare | None:
    """Two photos of one view side by side: the view (``view``) and the two
    assessments (``a`` and ``b``, by id) come from the query; by default the
    first view with photos, its first and its latest assessment. An id that
    is not one of this patient's assessments with that view is ignored."""
    by_view: dict[str, dict[int, PhotoChoice]] = {}
    for photo in photos:  # oldest first; a later photo of the same view and assessment wins
        by_view.setdefault(photo.view, {})[photo.assessment_id] = PhotoChoice(photo.assessment, photo)
    views = [(view.value, str(view.label)) for view in PhotoView if view.value in by_view]
    if not views:
        return None
    wanted = query.get("view")
    view, label = next(((value, text) for value, text in views if value == wanted), views[0])
    choices = sorted(by_view[view].values(), key=lambda c: (c.assessment.assessed_on, c.assessment.pk))
    left = _choice(choices, query.get("a"), choices[0])
    right = _choice(choices, query.get("b"), choices[-1]) if len(choices) > 1 else None
    return PhotoCompare(views, view, label, choices, left, right)


# --- plans ---------------------------------------------------------------------------------


@dataclass
class SessionRow:
    session: PlanSession
    shown: str
    appointment_id: int | None
    bookable: bool


@dataclass
class PlanRow:
    plan: TreatmentPlan
    sessions: list[SessionRow]
    done: int
    overdue: int
    next_bookable: SessionRow | None
    name: str = ""


def plan_rows(found: Iterable[TreatmentPlan], today: date) -> list[PlanRow]:
    rows = []
    for plan in found:
        sessions = list(plan.sessions.all())
        by_number = {s.number: s for s in sessions}
        session_rows = []
        for session in sessions:
            previous = by_number.get(session.number - 1)
            turn = plans.turn_has_come(number=session.number, previous_state=previous.status if previous else None)
            active = getattr(session, "active_appointments", [])
            session_rows.append(
                SessionRow(
                    session=session,
                    shown=selectors.shown_status(session, today),
                    appointment_id=active[0].pk if active else None,
                    bookable=plan.status == TreatmentPlan.Status.ACTIVE
                    and session.status == PlanSession.Status.PENDING
                    and turn,
                )
            )
        rows.append(
            PlanRow(
                plan=plan,
                sessions=session_rows,
                done=sum(1 for s in sessions if s.status == PlanSession.Status.COMPLETED),
                overdue=sum(1 for r in session_rows if r.shown == "overdue"),
                next_bookable=next((r for r in session_rows if r.bookable), None),
                name=plan.treatment.localized("name"),
            )
        )
    return rows


# --- session records -----------------------------------------------------------------------


@dataclass
class RecordRow:
    record: SessionRecord
    treatment: str
    areas: list[str]
    parameters: list[tuple[str, str]]
    injectables: list[InjectableLine]


@dataclass(frozen=True)
class InjectableLine:
    """One product injected, as the chart shows it."""

    product: str
    lot: str
    expiry: date | None
    amount: str


def _amount_text(use: InjectableUse) -> str:
    if use.amount is None:
        return ""
    number = format(use.amount.normalize(), "f")
    return f"{number} {InjectableUse.Unit(use.unit).label}"


def _value_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str):
        return str(CHOICE_LABELS.get(value, value))
    return str(value)


def record_rows(records: Iterable[SessionRecord]) -> list[RecordRow]:
    rows = []
    for record in records:
        rows.append(
            RecordRow(
                record=record,
                treatment=record.appointment.treatment.localized("name"),
                areas=[str(AREA_LABELS.get(area, area)) for area in record.areas or ()],
                parameters=[
                    (str(PARAMETER_LABELS.get(key, key)), _value_text(value))
                    for key, value in (record.parameters or {}).items()
                ],
                injectables=[
                    InjectableLine(product=use.product, lot=use.lot, expiry=use.expiry, amount=_amount_text(use))
                    for use in record.injectables.all()
                ],
            )
        )
    return rows


# --- history -------------------------------------------------------------------------------


def _display(model: type[Model], name: str, value: Any, labels: dict[type[Model], dict[Any, str]]) -> tuple[str, bool]:
    """(text, typed by a person) of one value in a history entry; a foreign key
    is shown by the name in ``labels`` (a person's name, a treatment's name)."""
    if value in (None, "", []):
        return "—", False
    try:
        model_field = cast("Field[Any, Any]", model._meta.get_field(name))  # a history row holds concrete fields
    except Exception:  # a field since removed
        return str(value), True
    if isinstance(value, bool):
        return (_("Yes") if value else _("No")), False
    if name == "fitzpatrick_type":  # Roman numerals stay as they are
        return str(dict(FitzpatrickType.choices).get(value, value)), True
    if isinstance(model_field, DateField) and isinstance(value, str):  # a DateTimeField is one too
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value, True
        if isinstance(model_field, DateTimeField):
            return formats.datetime_text(moment), False
        return formats.date_text(moment.date()), False
    if model_field.is_relation:
        label = labels.get(model_field.related_model, {}).get(value)  # type: ignore[arg-type]  # a relation has its model
        return (label, True) if label else (f"#{value}", False)
    choices = dict(model_field.flatchoices or ())
    if choices:
        return str(choices.get(value, value)), value not in choices
    return str(value), True


HISTORY_LABELS: dict[str, Any] = {
    **LESION_LABELS,
    "number": gettext_lazy("Session number"),
    "window_start": gettext_lazy("Window from"),
    "window_end": gettext_lazy("Window until"),
    "status": gettext_lazy("Status"),
    "booked_on": gettext_lazy("Booked for"),
    "completed_on": gettext_lazy("Done on"),
    "treatment": gettext_lazy("Treatment"),
    "assessment": gettext_lazy("Assessment"),
    "start_after": gettext_lazy("First session from"),
    "created_by": gettext_lazy("Created by"),
    "cancelled_at": gettext_lazy("Cancelled at"),
    "cancellation_reason": gettext_lazy("Reason"),
    "assessed_on": gettext_lazy("Assessed on"),
    "assessed_by": gettext_lazy("Assessed by"),
    "fitzpatrick_type": gettext_lazy("Fitzpatrick skin type"),
    "keloid_area_cm2": gettext_lazy("Keloidal or hypertrophic area (cm²)"),
    "types_present": gettext_lazy("Scar types seen"),
    "qualitative_grade": gettext_lazy("Qualitative grade"),
    "quantitative_score": gettext_lazy("Goodman & Baron score"),
    "pih": gettext_lazy("Post-inflammatory hyperpigmentation"),
    "pie": gettext_lazy("Post-inflammatory erythema"),
    "notes": gettext_lazy("Notes"),
    "entered_by": gettext_lazy("Entered by"),
    "submitted_at": gettext_lazy("Submitted"),
    "view": gettext_lazy("Photo angle"),
}


def _field_name(model: type[Model], name: str) -> tuple[str, bool]:
    """(label, translated): ours for clinical fields, else the model's verbose name."""
    return _field_name_in(model, name, get_language())


@lru_cache(maxsize=2048)
def _field_name_in(model: type[Model], name: str, language: str | None) -> tuple[str, bool]:
    """The same for one language, computed once per field: a page of history names
    the same few fields hundreds of times."""
    if name in HISTORY_LABELS:
        return str(HISTORY_LABELS[name]), True
    try:
        model_field = model._meta.get_field(name)
    except Exception:
        return name, False
    verbose = getattr(model_field, "verbose_name", None)
    if not isinstance(verbose, Promise):  # Django's default from the name: not translated
        return name, False
    text = str(verbose)
    return text[:1].upper() + text[1:], True


_HIDDEN_FIELDS = ("patient", "plan", "user")  # the object the entry is of, and a login's id


@dataclass
class Correction:
    """The latest correction of an assessment, for its row in the chart."""

    at: Any
    by_name: str
    reason: str
    count: int


def _assessment_label(assessment: Assessment) -> str:
    return _("%(date)s · score %(score)s") % {
        "date": formats.date_text(assessment.assessed_on),
        "score": assessment.quantitative_score,
    }


def assessment_corrections(assessment_ids: Sequence[int]) -> dict[int, Correction]:
    """Each corrected assessment's latest correction and how many there were, for
    the assessments listed (one query for the changes, one for the names): the
    same as the history page's corrections, without reading the whole history."""
    if not assessment_ids:
        return {}
    rows = list(
        Assessment.history.filter(id__in=list(assessment_ids), history_type="~")
        .order_by("history_date", "history_id")
        .values_list("id", "history_date", "history_user_id", "history_change_reason")
    )
    names = history.user_names(user_id for _id, _at, user_id, _reason in rows)
    found: dict[int, Correction] = {}
    for assessment_id, at, user_id, reason in rows:
        before = found.get(assessment_id)
        found[assessment_id] = Correction(
            at=at,
            by_name=names.get(user_id, "") if user_id else "",
            reason=reason or "",
            count=(before.count if before else 0) + 1,
        )
    return found


def _related_labels(
    sources: Sequence[tuple[type[Model], str, list[Any]]],
    *,
    more_user_ids: Iterable[int | None] = (),
) -> dict[type[Model], dict[Any, str]]:
    """Names for the foreign keys in the history rows: one query per related
    model whatever the number of rows."""
    wanted: dict[type[Model], set[Any]] = {}
    for model, _kind, rows in sources:
        relations = [
            f for f in model._meta.concrete_fields if f.is_relation and f.name not in _HIDDEN_FIELDS and f.related_model
        ]
        for relation in relations:
            ids = wanted.setdefault(relation.related_model, set())  # type: ignore[arg-type]  # filtered to set ones above
            ids.update(value for row in rows if (value := getattr(row, relation.attname, None)) is not None)
    user_model = get_user_model()
    user_ids = {row.history_user_id for _model, _kind, rows in sources for row in rows} | wanted.pop(user_model, set())
    user_ids |= set(more_user_ids)
    labels: dict[type[Model], dict[Any, str]] = {user_model: history.user_names(user_ids)}
    treatment_ids = wanted.pop(Treatment, set())
    treatments: dict[Any, str] = {}
    if treatment_ids:
        found = Treatment.objects.filter(pk__in=treatment_ids).only("id", "name_en", "name_zh_hant")
        treatments.update({t.pk: t.localized("name") for t in found})
    labels[Treatment] = treatments
    assessment_ids = wanted.pop(Assessment, set())
    assessments: dict[Any, str] = {}
    if assessment_ids:
        found_assessments = Assessment.objects.filter(pk__in=assessment_ids).only(
            "id", "assessed_on", "quantitative_score"
        )
        assessments.update({a.pk: _assessment_label(a) for a in found_assessments})
    labels[Assessment] = assessments
    return labels


def history_entries(*, patient: Patient, clinical: bool, query: Any) -> Page[dict[str, Any]]:
    """One page (``?page=``, HISTORY_LIMIT entries) of who changed what and when,
    newest first: the patient and their declarations; for clinicians also
    assessments, their photos, plans and plan sessions. One query per model, one
    for the people's names and one per other model a foreign key points at
    (treatments, assessments). Every version is read, since a change is the
    difference from the version before, but only the page's entries are put into
    words. Photos have no history of their own: each is listed as added."""
    sources: list[tuple[type[Model], str, list[Any]]] = [
        (Patient, "patient", list(Patient.history.filter(id=patient.pk))),
        (HealthDeclaration, "declaration", list(HealthDeclaration.history.filter(patient_id=patient.pk))),
    ]
    photos: list[AssessmentPhoto] = []
    if clinical:
        plan_ids = TreatmentPlan.objects.filter(patient_id=patient.pk).values("id")
        sources += [
            (Assessment, "assessment", list(Assessment.history.filter(patient_id=patient.pk))),
            (TreatmentPlan, "plan", list(TreatmentPlan.history.filter(patient_id=patient.pk))),
            (PlanSession, "plan_session", list(PlanSession.history.filter(plan_id__in=plan_ids))),
        ]
        photos = list(
            AssessmentPhoto.objects.filter(assessment__patient_id=patient.pk).only(
                "id", "assessment_id", "view", "taken_at", "uploaded_by_id"
            )
        )
    labels = _related_labels(
        sources,
        more_user_ids=[photo.uploaded_by_id for photo in photos],
    )
    names = labels[get_user_model()]
    found: list[dict[str, Any]] = []
    for model, kind, rows in sources:
        reasons = {row.history_id: (getattr(row, "history_change_reason", None) or "") for row in rows}
        for entry in history.entries(rows, model=model, kind=kind, user_names=names):
            entry["reason"] = reasons.get(entry["history_id"], "")
            found.append(entry)
    view_label = str(HISTORY_LABELS["view"])
    for photo in photos:
        found.append(
            {
                "history_id": photo.pk,
                "object": "photo",
                "object_id": photo.assessment_id,
                "at": photo.taken_at,
                "by": photo.uploaded_by_id,
                "by_name": names.get(photo.uploaded_by_id, "") if photo.uploaded_by_id else "",
                "type": "added",
                # The angle in words once the page is cut (below).
                "changes": [{"field": (view_label, True), "old": ("—", False), "new": (photo.view, False)}],
                "reason": "",
            }
        )
    found.sort(key=lambda entry: (entry["at"], entry["history_id"]), reverse=True)
    page = Paginator(found, HISTORY_LIMIT).get_page(query.get("page"))
    models = {kind: model for model, kind, _rows in sources}
    views = dict(PhotoView.choices)
    for entry in page.object_list:
        of = models.get(entry["object"])
        if of is None:  # a photo
            change = entry["changes"][0]
            change["new"] = (str(views.get(change["new"][0], change["new"][0])), False)
        else:
            entry["changes"] = [
                {
                    "field": _field_name(of, change["field"]),
                    "old": _display(of, change["field"], change["old"], labels),
                    "new": _display(of, change["field"], change["new"], labels),
                }
                for change in entry["changes"]
                if change["field"] not in _HIDDEN_FIELDS
                and not (entry["type"] == "created" and type(change["new"]) is int and change["new"] == 0)
            ]
    return page


# --- the chart's sections ------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    """One page of the chart, with its own URL (``url_name`` takes the patient's id)."""

    slug: str
    label: Any
    url_name: str
    clinical: bool  # practitioners and managers only
    reads: tuple[str, ...]  # access-log kinds it shows besides the header's


SECTIONS: tuple[Section, ...] = (
    Section("details", gettext_lazy("Details"), "chart:patient", False, ()),
    Section("assessments", gettext_lazy("Assessments"), "chart:assessments", True, (AccessEvent.What.ASSESSMENT,)),
    Section("photos", gettext_lazy("Photos"), "chart:photos", True, (AccessEvent.What.ASSESSMENT,)),
    Section("plans", gettext_lazy("Plans"), "chart:plans", True, (AccessEvent.What.PLAN,)),
    Section("records", gettext_lazy("Session records"), "chart:records", True, (AccessEvent.What.SESSION_RECORD,)),
    Section("appointments", gettext_lazy("Appointments"), "chart:appointments", False, ()),
    Section("history", gettext_lazy("History"), "chart:history", False, ()),
    # The balance, the rows and the desk's form (workspace/money/views.py).
    Section("money", gettext_lazy("Money"), "money:chart", False, ()),
)
SECTION_BY_SLUG = {section.slug: section for section in SECTIONS}
UPCOMING = (Appointment.Status.CONFIRMED, Appointment.Status.CHECKED_IN)


def kinds_shown(section: Section, *, clinical: bool) -> list[str]:
    """What of the patient's data a section's page shows, as access-log kinds: the
    page writes one row for each. Every page has the summary header (``chart``:
    name, age, the next appointment; ``declarations``: the risk flags)."""
    kinds: list[str] = [AccessEvent.What.CHART, AccessEvent.What.DECLARATIONS, *section.reads]
    if section.slug == "history" and clinical:  # it lists changes of assessments and plans too
        kinds += [AccessEvent.What.ASSESSMENT, AccessEvent.What.PLAN]
    return kinds


def _listed_appointments(patient: Patient) -> QuerySet[Appointment]:
    """The patient's appointments (booking's selector) with only what the chart's
    lists show joined: the treatment and the practitioner's name. The selector's
    nine-table join took PostgreSQL 10 ms to plan for 0.4 ms of work (EXPLAIN
    ANALYZE), paid by the header of every section; with three tables, 0.5 ms."""
    return (
        appointments_for(patient_id=patient.pk).select_related(None).select_related("treatment", "practitioner__user")
    )


def _header(patient: Patient, latest: HealthDeclaration | None, today: date, now: datetime) -> dict[str, Any]:
    """The summary header every section shows: who, how old, the risk flags,
    the next appointment and the waitlist (one query each)."""
    upcoming = list(
        _listed_appointments(patient).filter(end__gt=now, status__in=UPCOMING).order_by("start", "id")[:LIST_LIMIT]
    )
    missing = signing.missing_by_appointment(upcoming)  # one batch for every upcoming visit
    # What the patient waits for (booking/waitlist.py), linking to the desk's list: one query.
    waiting = list(
        WaitlistEntry.objects.filter(patient=patient, status=WaitlistEntry.Status.WAITING)
        .select_related("treatment")
        .order_by("created_at", "id")
    )
    for entry in waiting:
        entry.treatment_label = entry.treatment.localized("name")  # type: ignore[attr-defined]
        entry.dates_label = formats.date_range_text(entry.earliest, entry.latest)  # type: ignore[attr-defined]
    return {
        "waiting": waiting,
        "consent_missing": [a for a in upcoming if missing.get(a.pk)],
        "patient": patient,
        "age": patient.age_on(today),
        "today": today,
        "latest_declaration": latest,
        "declaration_state": declaration_state(latest, today),
        "declaration_max_age_days": settings.CLINIC_DECLARATION_MAX_AGE.days,
        "risk_flags": risk_flags(latest, today),
        "next_appointment": (following := upcoming[0] if upcoming else None),
        "next_treatment": following.treatment.localized("name") if following is not None else "",
    }


def _assessments(patient: Patient) -> list[Assessment]:
    found = list(selectors.assessments_for(patient_id=patient.pk).select_related("assessed_by"))
    for assessment in found:  # the assessment is already loaded: no query per photo
        for photo in assessment.photos.all():
            photo.assessment = assessment
    return found


def _photos_oldest_first(assessments: Sequence[Assessment]) -> list[AssessmentPhoto]:
    return [photo for assessment in reversed(assessments) for photo in assessment.photos.all()]


def photo_use_labels(patient: Patient) -> list[str]:
    """What the patient allows for their photos now, in words: "Clinical use only",
    or clinical use with teaching and/or marketing."""
    uses = consents.photo_use(patient)
    labels = dict(PhotoUse.choices)
    if uses == [PhotoUse.CLINICAL.value]:
        return [str(labels[PhotoUse.CLINICAL])]
    return [_("Clinical use")] + [str(labels[use]) for use in uses if use != PhotoUse.CLINICAL]


def signature_rows(patient: Patient) -> list[ConsentSignature]:
    """The patient's consent signatures, newest first (one query)."""
    rows = list(
        ConsentSignature.objects.filter(patient=patient)
        .select_related("version__form", "witnessed_by", "withdrawn_by", "signed_by")
        .order_by("-signed_at", "-id")[:LIST_LIMIT]
    )
    labels = dict(PhotoUse.choices)
    for row in rows:
        row.form_title = row.version.form.localized("title")  # type: ignore[attr-defined]
        row.photo_labels = [str(labels[use]) for use in row.photo_use]  # type: ignore[attr-defined]
    return rows


def contact_rows(patient: Patient) -> list[dict[str, Any]]:
    """How the patient wants to be contacted, per topic, in words (one query):
    the channels in order, with those that cannot reach them now marked."""
    orders = patient_channels.orders(patient)
    usable = set(patient_channels.usable(patient, list(patient_channels.CHANNELS)))
    return [
        {
            "topic": topic,
            "label": ChannelChoice.Topic(topic).label,
            "channels": [{"label": patient_channels.label(c), "usable": c in usable} for c in orders[topic]],
        }
        for topic in patient_channels.TOPICS
    ]


def _page_with_assessment(patient: Patient, query: Any) -> dict[str, Any]:
    """``?assessment=<id>`` (the history's links) opens the page that lists that
    assessment, newest first; ``?page=`` otherwise. Two queries to place it."""
    wanted = query.get("assessment", "")
    if query.get("page") or not wanted.isdigit() or len(wanted) > 18:
        return {"page": query.get("page")}
    found = Assessment.objects.filter(patient=patient, pk=int(wanted)).values_list("assessed_on", "pk").first()
    if found is None:
        return {"page": None}
    on, pk = found
    newer = Assessment.objects.filter(patient=patient).filter(Q(assessed_on__gt=on) | Q(assessed_on=on, pk__gt=pk))
    return {"page": newer.count() // PAGE_SIZE + 1}


def chart_context(*, patient: Patient, section: Section, clinical: bool, query: Any) -> dict[str, Any]:
    """What one section's page shows, in a fixed number of queries whatever the
    patient's history (each list is one query, or one per prefetch)."""
    today = clinic_today()
    now = timezone.now()
    context: dict[str, Any] = {
        "clinical": clinical,
        "section": section,
        "sections": [s for s in SECTIONS if clinical or not s.clinical],
    }
    # The newest declaration's answers are the header's risk flags, on every page of every section.
    latest = HealthDeclaration.objects.filter(patient=patient).order_by("-submitted_at", "-id").first()
    if section.slug == "details":
        page = page_of(
            HealthDeclaration.objects.filter(patient=patient)
            .select_related("entered_by")
            .order_by("-submitted_at", "-id"),
            query,
        )
        context["page"] = page
        context["declarations"] = [
            DeclarationRow(d, risk_flags(d, today), declaration_submitted_on(d)) for d in page.object_list
        ]
        # Read-only here: the patient notes them on /me/ or while booking.
        context["important_dates"] = list(important_dates_for(patient_id=patient.pk, since=today))
        context["contact"] = contact_rows(patient)
    context.update(_header(patient, latest, today, now))
    if section.slug == "assessments":
        # The trend draws every assessment from four columns; the table lists a page of them.
        scores = list(
            Assessment.objects.filter(patient=patient)
            .only("id", "assessed_on", "quantitative_score", "qualitative_grade")
            .order_by("assessed_on", "id")
        )
        done = PlanSession.objects.filter(plan__patient=patient, completed_on__isnull=False)
        session_days = [day for day in done.values_list("completed_on", flat=True) if day is not None]
        page = page_of(
            selectors.assessments_for(patient_id=patient.pk).select_related("assessed_by"),
            _page_with_assessment(patient, query),
        )
        assessments: list[Assessment] = list(page.object_list)
        corrections = assessment_corrections([assessment.pk for assessment in assessments])
        for assessment in assessments:
            assessment.correction = corrections.get(assessment.pk)  # type: ignore[attr-defined]  # shown by the table
        context.update(
            assessments=assessments,
            page=page,
            trend=trend_chart(scores, session_days, width=960, height=440, most_labels=8),
            trend_narrow=trend_chart(scores, session_days, width=360, height=420, most_labels=3),
        )
    elif section.slug == "photos":
        assessments = _assessments(patient)
        photos = _photos_oldest_first(assessments)
        context.update(
            compare=photo_compare(photos, query),
            photo_count=len(photos),
            photo_use=photo_use_labels(patient),
            photo_uses=consents.photo_use(patient),
        )
    elif section.slug == "plans":
        context["plans"] = plan_rows(selectors.plans_for(patient_id=patient.pk), today)
    elif section.slug == "records":
        page = page_of(
            SessionRecord.objects.filter(appointment__patient=patient)
            .select_related("appointment__treatment", "appointment__plan_session", "recorded_by")
            .prefetch_related("injectables")
            .order_by("-recorded_at", "-id"),
            query,
        )
        context.update(page=page, session_records=record_rows(page.object_list))
    elif section.slug == "appointments":
        page = page_of(_listed_appointments(patient).order_by("-start", "-id"), query)
        listed: list[Appointment] = list(page.object_list)
        states = signing.consent_state([a for a in listed if a.end > now])
        for appointment in listed:
            appointment.consent = states.get(appointment.pk, "none")  # type: ignore[attr-defined]
        context.update(
            page=page,
            appointments=listed,
            signatures=signature_rows(patient),
            photo_use=photo_use_labels(patient),
            notifications=list(
                Notification.objects.filter(patient=patient)
                .select_related("appointment__treatment", "plan_session__plan__treatment")
                .prefetch_related("deliveries")  # the channels tried and fallbacks: one query for the page
                .order_by("-due_at", "-id")[:LIST_LIMIT]
            ),
        )
    elif section.slug == "history":
        page = history_entries(patient=patient, clinical=clinical, query=query)
        context.update(page=page, history=page.object_list)
    return context


def safety_context(patient: Patient) -> dict[str, Any]:
    """The latest declaration's state and risk flags, for the forms used at the chair."""
    today = clinic_today()
    latest = HealthDeclaration.objects.filter(patient=patient).order_by("-submitted_at", "-id").first()
    return {
        "latest_declaration": latest,
        "declaration_state": declaration_state(latest, today),
        "declaration_max_age_days": settings.CLINIC_DECLARATION_MAX_AGE.days,
        "risk_flags": risk_flags(latest, today),
    }


def previous_record(appointment: Appointment) -> SessionRecord | None:
    """The record to prefill a session form from: the plan's latest earlier
    session, else this patient's latest record of the same treatment."""
    records = SessionRecord.objects.select_related("appointment__plan_session")
    session = appointment.plan_session
    if session is not None:
        found = (
            records.filter(
                appointment__plan_session__plan_id=session.plan_id, appointment__plan_session__number__lt=session.number
            )
            .order_by("-appointment__plan_session__number", "-recorded_at")
            .first()
        )
        if found is not None:
            return found
    return (
        records.filter(
            appointment__patient_id=appointment.patient_id, appointment__treatment_id=appointment.treatment_id
        )
        .exclude(appointment_id=appointment.pk)
        .order_by("-recorded_at", "-id")
        .first()
    )


def status_word(status: str) -> str:
    return str(dict(Appointment.Status.choices).get(status, status))
