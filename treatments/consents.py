"""Informed consent: which forms a treatment needs, whether a patient's
signature still counts, signing, withdrawing and publishing.

The rules, once (docs/domain.md, Consent):

- A treatment needs every *active* form that names it or its category.
- A form's *current* version is its newest published one. A signature counts
  for a form when it is not withdrawn and it signs the current version, or an
  earlier one that every later published version kept
  (``keeps_earlier_signatures``).
- Only the current version can be signed. What is stored is the exact text
  the patient was shown, in their language, with its SHA-256.
- A drawing is strokes only: an SVG of ``<path d="M x y L x y ...">`` elements,
  which the service parses and writes back in one canonical form (so no
  script, link or entity survives) and the PDF can draw without an SVG
  renderer. Patients who cannot draw type their name instead; the name is
  always required.

Services here are keyword-only, own their transaction and raise
``clinic.errors``; the caller has checked who may act.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from clinic.errors import InvalidInput, InvalidState
from treatments.models import (
    Category,
    ConsentForm,
    ConsentSignature,
    ConsentVersion,
    PhotoUse,
    Treatment,
    is_chinese,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from patients.models import Patient


NAME_MAX = 200
REASON_MAX = 500
SIGNATURE_MAX_BYTES = 64 * 1024
SIGNATURE_MAX_STROKES = 400
LANGUAGES = ("en", "zh-hant")


# --- what a treatment needs ------------------------------------------------------------


def forms_for(treatment: Treatment) -> list[ConsentForm]:
    """The active forms that apply to ``treatment`` (one query; categories
    are matched in Python, JSON containment being PostgreSQL-only)."""
    return _forms_by_treatment([treatment])[treatment.pk]


def _forms_by_treatment(treatments: Iterable[Treatment]) -> dict[int, list[ConsentForm]]:
    treatments = list({t.pk: t for t in treatments}.values())
    if not treatments:
        return {}
    forms = list(ConsentForm.objects.filter(active=True).prefetch_related("treatments").order_by("slug"))
    result: dict[int, list[ConsentForm]] = {}
    for treatment in treatments:
        result[treatment.pk] = [
            form
            for form in forms
            if treatment.category in (form.categories or []) or any(t.pk == treatment.pk for t in form.treatments.all())
        ]
    return result


def current_versions(forms: Iterable[ConsentForm]) -> dict[int, ConsentVersion]:
    """Each form's newest published version, by form id (one query). A form with
    nothing published yet needs nothing."""
    form_ids = [form.pk for form in forms]
    versions = (
        ConsentVersion.objects.filter(form_id__in=form_ids, published_at__isnull=False)
        .select_related("form")
        .order_by("form_id", "-number")
    )
    result: dict[int, ConsentVersion] = {}
    for version in versions:
        result.setdefault(version.form_id, version)
    return result


def _oldest_still_valid(form_versions: Sequence[ConsentVersion]) -> int:
    """``form_versions`` are one form's published versions, newest first. The
    lowest version number whose signatures still count: walking back from the
    newest, as long as each version kept the signatures of the one before."""
    floor = form_versions[0].number
    for newer, older in pairwise(form_versions):
        if not newer.keeps_earlier_signatures:
            break
        floor = older.number
    return floor


@dataclass(frozen=True)
class Need:
    """One form a visit needs: its current version and the signature that
    counts for it, if any."""

    form: ConsentForm
    version: ConsentVersion
    signature: ConsentSignature | None

    @property
    def signed(self) -> bool:
        return self.signature is not None


def needs(pairs: Iterable[tuple[Patient | int, Treatment]]) -> dict[tuple[int, int], list[Need]]:
    """For each (patient, treatment), the forms needed and whether each is
    signed, in a fixed number of queries however many pairs: the day view and
    the reminders ask for many at once."""
    ids: list[tuple[int, Treatment]] = [(p if isinstance(p, int) else p.pk, t) for p, t in pairs]
    by_treatment = _forms_by_treatment(t for _p, t in ids)
    forms = {form.pk: form for forms in by_treatment.values() for form in forms}
    if not forms:
        return {(p, t.pk): [] for p, t in ids}
    published: dict[int, list[ConsentVersion]] = defaultdict(list)
    for version in ConsentVersion.objects.filter(form_id__in=forms, published_at__isnull=False).order_by(
        "form_id", "-number"
    ):
        version.form = forms[version.form_id]
        published[version.form_id].append(version)
    floor = {form_id: _oldest_still_valid(versions) for form_id, versions in published.items()}
    patient_ids = {p for p, _t in ids}
    valid: dict[tuple[int, int], ConsentSignature] = {}
    signatures = (
        ConsentSignature.objects.filter(
            patient_id__in=patient_ids, version__form_id__in=list(published), withdrawn_at__isnull=True
        )
        .select_related("version")
        .order_by("signed_at", "id")
    )
    for signature in signatures:
        form_id = signature.version.form_id
        if signature.version.number >= floor[form_id]:
            valid[(signature.patient_id, form_id)] = signature  # the newest wins
    result: dict[tuple[int, int], list[Need]] = {}
    for patient_id, treatment in ids:
        result[(patient_id, treatment.pk)] = [
            Need(form=form, version=published[form.pk][0], signature=valid.get((patient_id, form.pk)))
            for form in by_treatment.get(treatment.pk, [])
            if published.get(form.pk)
        ]
    return result


def needs_for(*, patient: Patient | int, treatment: Treatment) -> list[Need]:
    """The forms one visit needs, each with its signature or None."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    return needs([(patient_id, treatment)])[(patient_id, treatment.pk)]


def missing(*, patient: Patient | int, treatment: Treatment) -> list[Need]:
    return [need for need in needs_for(patient=patient, treatment=treatment) if not need.signed]


def photo_use(patient: Patient | int) -> list[str]:
    """What the patient currently allows for their photos: the choices of
    their newest signature that is not withdrawn; clinical use only when none."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    newest = (
        ConsentSignature.objects.filter(patient_id=patient_id, withdrawn_at__isnull=True)
        .order_by("-signed_at", "-id")
        .first()
    )
    return newest.photo_use if newest else [PhotoUse.CLINICAL.value]


def photo_use_allowed(patient: Patient | int, use: str) -> bool:
    """Whether the patient's photos may be used for ``use`` now: clinical use
    (their chart, their own progress pages) always; teaching and marketing only
    while their newest signature that is not withdrawn allows it. Raises
    InvalidInput for a use that is none of PhotoUse."""
    if use not in PhotoUse.values:
        raise InvalidInput(fields={"use": [_("Choose from: %(choices)s.") % {"choices": ", ".join(PhotoUse.values)}]})
    return use == PhotoUse.CLINICAL or use in photo_use(patient)


# --- the text shown ---------------------------------------------------------------------


def consent_parts(version: ConsentVersion, language: str) -> list[tuple[str, str]]:
    """The text a patient signs in its parts, (heading, body), the first being
    the title and version with no body: what the signing page sets out.
    ``consent_text`` joins exactly these."""
    chinese = is_chinese(language)
    code = "zh-hant" if chinese else "en"
    with translation.override(code):
        headings = {
            "summary": _("About this treatment"),
            "risks": _("Risks and side effects"),
            "alternatives": _("Alternatives"),
            "aftercare": _("Aftercare"),
            "photos": _("Photographs"),
        }
        title = version.form.localized("title", code)
        parts = [(f"{title} ({_('version %(number)s') % {'number': version.number}})", "")]
        for name in ConsentVersion.SECTIONS:
            parts.append((str(headings[name]), version.section(name, code).strip().replace("\r\n", "\n")))
    return parts


def consent_text(version: ConsentVersion, language: str) -> str:
    """The exact text a patient signs, in ``language``: what is stored, hashed
    and printed. Headings are in the same language."""
    blocks = [
        f"{heading}\n{body}" if body or index else heading
        for index, (heading, body) in enumerate(consent_parts(version, language))
    ]
    return "\n\n".join(blocks).replace("\r\n", "\n")


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- the drawing ------------------------------------------------------------------------

_NUMBER = r"-?\d{1,5}(?:\.\d{1,3})?"
_STROKE = re.compile(rf"^M ?{_NUMBER}[ ,]{_NUMBER}(?: ?L ?{_NUMBER}[ ,]{_NUMBER})*$")
_PATH = re.compile(r'<path\b[^<>]*?\bd="([^"<>]*)"[^<>]*?/>')
_SVG_OPEN = re.compile(r"^<svg\b([^<>]*)>")
_VIEWBOX = re.compile(rf'\bviewBox="({_NUMBER}) ({_NUMBER}) ({_NUMBER}) ({_NUMBER})"')
_POINT = re.compile(rf"({_NUMBER})[ ,]({_NUMBER})")


@dataclass(frozen=True)
class Drawing:
    width: float
    height: float
    strokes: list[list[tuple[float, float]]]


def parse_signature(svg: str) -> Drawing:
    """Reads a drawing in the one shape accepted, or raises InvalidInput: an
    ``<svg viewBox="0 0 W H">`` holding only ``<path d="M x y L x y ...">``
    elements (what the signing pad writes)."""
    invalid = InvalidInput(
        _("The drawn signature could not be read. Draw it again, or type your name instead."),
        fields={"signature_svg": [_("Not a signature drawing.")]},
    )
    if len(svg.encode("utf-8")) > SIGNATURE_MAX_BYTES:
        raise InvalidInput(
            _("The drawn signature is too large. Draw it again with fewer strokes."),
            fields={"signature_svg": [_("At most %(size)s kB.") % {"size": SIGNATURE_MAX_BYTES // 1024}]},
        )
    text = svg.strip()
    if text.startswith("<?xml"):
        end = text.find("?>")
        text = text[end + 2 :].strip() if end != -1 else text
    opening = _SVG_OPEN.match(text)
    if not opening or not text.endswith("</svg>") or "<!" in text or "<?" in text:
        raise invalid
    box = _VIEWBOX.search(opening.group(1))
    if not box:
        raise invalid
    x0, y0, width, height = (float(v) for v in box.groups())
    if x0 != 0 or y0 != 0 or not (0 < width <= 4000 and 0 < height <= 4000):
        raise invalid
    body = text[opening.end() : -len("</svg>")]
    strokes: list[list[tuple[float, float]]] = []
    position = 0
    for match in _PATH.finditer(body):
        if body[position : match.start()].strip():
            raise invalid
        position = match.end()
        d = " ".join(match.group(1).split())
        if not _STROKE.match(d):
            raise invalid
        points = [(float(x), float(y)) for x, y in _POINT.findall(d)]
        if any(not (0 <= x <= width and 0 <= y <= height) for x, y in points):
            raise invalid
        strokes.append(points)
    if body[position:].strip() or not strokes:
        raise invalid
    if len(strokes) > SIGNATURE_MAX_STROKES:
        raise InvalidInput(
            _("The drawn signature is too large. Draw it again with fewer strokes."),
            fields={"signature_svg": [_("At most %(count)s strokes.") % {"count": SIGNATURE_MAX_STROKES}]},
        )
    return Drawing(width=width, height=height, strokes=strokes)


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def canonical_svg(drawing: Drawing) -> str:
    """The drawing written back in one form, safe to show inline or as an image."""
    paths = "".join(
        '<path d="'
        + " ".join(f"{'M' if i == 0 else 'L'}{_number(x)} {_number(y)}" for i, (x, y) in enumerate(stroke))
        + '"/>'
        for stroke in drawing.strokes
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_number(drawing.width)} {_number(drawing.height)}" '
        'fill="none" stroke="#111" stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round">'
        f"{paths}</svg>"
    )


# --- signing -----------------------------------------------------------------------------


def _clean_photo_use(values: Iterable[str]) -> tuple[bool, bool]:
    values = list(values)
    unknown = [v for v in values if v not in PhotoUse.values]
    if unknown:
        raise InvalidInput(
            fields={"photo_use": [_("Choose from: %(choices)s.") % {"choices": ", ".join(PhotoUse.values)}]}
        )
    return PhotoUse.TEACHING in values, PhotoUse.MARKETING in values


def consent_sign(
    *,
    patient: Patient,
    version: ConsentVersion,
    full_name: str,
    signature_svg: str = "",
    photo_use: Iterable[str] = (),
    language: str,
    channel: str,
    by: User,
    client_address: str | None = None,
    witness: User | None = None,
    treatment: Treatment | None = None,
    check: Callable[[], None] | None = None,
    now: datetime | None = None,
) -> ConsentSignature:
    """Stores the patient's signature of ``version``, the form's current
    version, with the exact text shown in ``language``.

    Raises InvalidInput (400): an empty or overlong name, a drawing that is not
    one, an unknown photo use, a version that is a draft or no longer current
    (``fields.version``), a desk signature with no witness, or a version whose
    form does not apply to ``treatment`` when one is given.

    ``check``, when given, runs inside the transaction once the input is
    known to be valid, before anything is stored: a caller's own state rule
    (booking: the visit can still be signed for), so its error comes after
    every 400 and nothing is stored when it raises."""
    now = now or timezone.now()
    errors: dict[str, list[str]] = {}
    name = " ".join((full_name or "").split())
    if not name:
        errors["full_name"] = [_("Type your full name.")]
    elif len(name) > NAME_MAX:
        errors["full_name"] = [_("At most %(count)s characters.") % {"count": NAME_MAX}]
    if channel not in ConsentSignature.Channel.values:
        errors["channel"] = [_("Unknown channel.")]
    if channel == ConsentSignature.Channel.DESK and witness is None:
        errors["witness"] = [_("A signature at the desk needs a witness.")]
    if language not in LANGUAGES:
        errors["language"] = [_("Choose English or Traditional Chinese.")]
    if errors:
        raise InvalidInput(fields=errors)
    teaching, marketing = _clean_photo_use(photo_use)
    svg = canonical_svg(parse_signature(signature_svg)) if signature_svg else ""
    with transaction.atomic(durable=True):
        locked = ConsentVersion.objects.select_for_update().select_related("form").get(pk=version.pk)
        current = current_versions([locked.form]).get(locked.form_id)
        if not locked.published or not locked.form.active or current is None or current.pk != locked.pk:
            raise InvalidInput(
                _("This consent form has been updated. Read the current version and sign that one."),
                fields={"version": [_("Not the current version of this form.")]},
            )
        if treatment is not None and locked.form.pk not in {form.pk for form in forms_for(treatment)}:
            raise InvalidInput(fields={"version": [_("This form is not needed for this treatment.")]})
        if check is not None:
            check()
        text = consent_text(locked, language)
        signature = ConsentSignature(
            patient=patient,
            version=locked,
            language=language,
            text=text,
            text_sha256=text_sha256(text),
            full_name=name,
            signature_svg=svg,
            photo_teaching=teaching,
            photo_marketing=marketing,
            channel=channel,
            signed_at=now,
            client_address=client_address or None,
            signed_by=by,
            witnessed_by=witness if channel == ConsentSignature.Channel.DESK else None,
        )
        signature._history_user = by
        signature.save(force_insert=True)
        return signature


def consent_withdraw(
    *, signature: ConsentSignature, by: User, reason: str = "", now: datetime | None = None
) -> ConsentSignature:
    """Withdraws a signature: it no longer counts, for the treatment or for
    photos. Kept, with who withdrew it, when and why. Raises InvalidState when
    it was withdrawn already."""
    now = now or timezone.now()
    reason = " ".join((reason or "").split())
    if len(reason) > REASON_MAX:
        raise InvalidInput(fields={"reason": [_("At most %(count)s characters.") % {"count": REASON_MAX}]})
    with transaction.atomic(durable=True):
        locked = ConsentSignature.objects.select_for_update().get(pk=signature.pk)
        if locked.withdrawn_at is not None:
            raise InvalidState(_("This consent was withdrawn already."))
        locked.withdrawn_at = now
        locked.withdrawn_by = by
        locked.withdrawal_reason = reason
        locked._history_user = by
        locked.save(update_fields=["withdrawn_at", "withdrawn_by", "withdrawal_reason"])
        return locked


# --- writing forms ------------------------------------------------------------------------


TITLE_MAX = 200
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _clean_form_fields(
    *,
    title_en: str | None,
    title_zh_hant: str | None,
    categories: Iterable[str] | None,
    treatments: Iterable[Treatment] | None,
) -> tuple[dict[str, object], list[Treatment] | None]:
    """The settings of a form, checked: titles in both languages, known
    categories (kept in the catalogue's order), treatments of the catalogue."""
    errors: dict[str, list[str]] = {}
    values: dict[str, object] = {}
    for name, value in (("title_en", title_en), ("title_zh_hant", title_zh_hant)):
        if value is None:
            continue
        text = " ".join(value.split())
        if not text:
            errors[name] = [_("Write the title.")]
        elif len(text) > TITLE_MAX:
            errors[name] = [_("At most %(count)s characters.") % {"count": TITLE_MAX}]
        values[name] = text
    if categories is not None:
        chosen = set(categories)
        unknown = chosen - set(Category.values)
        if unknown:
            errors["categories"] = [_("Unknown category.")]
        values["categories"] = [code for code in Category.values if code in chosen]
    chosen_treatments = None
    if treatments is not None:
        chosen_treatments = list({t.pk: t for t in treatments}.values())
    if errors:
        raise InvalidInput(fields=errors)
    return values, chosen_treatments


def consent_form_create(
    *,
    slug: str,
    title_en: str,
    title_zh_hant: str,
    categories: Iterable[str] = (),
    treatments: Iterable[Treatment] = (),
    active: bool = True,
    by: User,
) -> ConsentForm:
    """A new form, with no version yet (``consent_version_draft`` writes the
    first). It applies to every treatment of ``categories`` and to the
    ``treatments`` named, once a version is published. Raises InvalidInput: a
    slug that is not lower-case words joined by hyphens or that another form
    has, an empty or overlong title."""
    slug = (slug or "").strip()
    values, chosen = _clean_form_fields(
        title_en=title_en, title_zh_hant=title_zh_hant, categories=categories, treatments=treatments
    )
    if not SLUG.match(slug) or len(slug) > 80:
        raise InvalidInput(fields={"slug": [_("Lower-case letters, digits and hyphens, at most 80.")]})
    with transaction.atomic(durable=True):
        if ConsentForm.objects.filter(slug=slug).exists():
            raise InvalidInput(fields={"slug": [_("Another form has this name in its address.")]})
        form = ConsentForm(slug=slug, active=active, **values)
        form._history_user = by
        form.save(force_insert=True)
        if chosen:
            form.treatments.set(chosen)
        return form


def consent_form_update(
    *,
    form: ConsentForm,
    by: User,
    title_en: str | None = None,
    title_zh_hant: str | None = None,
    categories: Iterable[str] | None = None,
    treatments: Iterable[Treatment] | None = None,
    active: bool | None = None,
) -> ConsentForm:
    """Changes a form's titles, what it covers, or whether it is in use (what
    is left ``None`` stays). The wording is in its versions, not here: a
    published version never changes. Turning a form off means no treatment
    needs it any more; its signatures stay on file. Raises InvalidInput as
    ``consent_form_create``."""
    values, chosen = _clean_form_fields(
        title_en=title_en, title_zh_hant=title_zh_hant, categories=categories, treatments=treatments
    )
    if active is not None:
        values["active"] = active
    with transaction.atomic(durable=True):
        locked = ConsentForm.objects.select_for_update().get(pk=form.pk)
        for key, value in values.items():
            setattr(locked, key, value)
        locked._history_user = by
        if values:
            locked.save(update_fields=sorted(values))
        if chosen is not None:
            locked.treatments.set(chosen)
        return locked


def consent_version_draft(*, form: ConsentForm, by: User, now: datetime | None = None) -> ConsentVersion:
    """A new draft after the form's newest version, its text copied from it
    (or empty) for the manager to edit. Raises InvalidState when a draft
    exists already: one draft at a time."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        ConsentForm.objects.select_for_update().get(pk=form.pk)
        newest = ConsentVersion.objects.filter(form=form).order_by("-number").first()
        if newest is not None and not newest.published:
            raise InvalidState(_("This form has a draft already: edit or publish it first."))
        fields = {}
        if newest is not None:
            for name in ConsentVersion.SECTIONS:
                fields[f"{name}_en"] = getattr(newest, f"{name}_en")
                fields[f"{name}_zh_hant"] = getattr(newest, f"{name}_zh_hant")
        draft = ConsentVersion(form=form, number=(newest.number + 1) if newest else 1, created_by=by, created_at=now)
        for key, value in fields.items():
            setattr(draft, key, value)
        draft._history_user = by
        draft.save(force_insert=True)
        return draft


def consent_version_edit(*, version: ConsentVersion, by: User, **texts: str) -> ConsentVersion:
    """Changes a draft's texts (``summary_en=...``) or ``keeps_earlier_signatures``.
    Raises InvalidState once published: a published version never changes."""
    allowed = {f"{name}_{lang}" for name in ConsentVersion.SECTIONS for lang in ("en", "zh_hant")}
    allowed.add("keeps_earlier_signatures")
    unknown = set(texts) - allowed
    if unknown:
        raise InvalidInput(fields={name: [_("Unknown field.")] for name in sorted(unknown)})
    with transaction.atomic(durable=True):
        locked = ConsentVersion.objects.select_for_update().get(pk=version.pk)
        if locked.published:
            raise InvalidState(_("A published version cannot be changed. Write a new version instead."))
        for key, value in texts.items():
            setattr(locked, key, value)
        locked._history_user = by
        locked.save(update_fields=list(texts))
        return locked


def consent_version_publish(
    *, version: ConsentVersion, by: User, keeps_earlier_signatures: bool | None = None, now: datetime | None = None
) -> ConsentVersion:
    """Publishes a draft: from now on it is the version to sign, and it never
    changes again. ``keeps_earlier_signatures`` says whether signatures of
    earlier versions still count. Raises InvalidInput when a section is empty
    in either language, InvalidState when it is published already."""
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        locked = ConsentVersion.objects.select_for_update().get(pk=version.pk)
        if locked.published:
            raise InvalidState(_("This version is published already."))
        empty = {
            f"{name}_{lang}": [_("Write this section before publishing.")]
            for name in ConsentVersion.SECTIONS
            for lang in ("en", "zh_hant")
            if not getattr(locked, f"{name}_{lang}").strip()
        }
        if empty:
            raise InvalidInput(_("Every section needs its English and Chinese text."), fields=empty)
        fields = ["published_at", "published_by"]
        if keeps_earlier_signatures is not None:
            locked.keeps_earlier_signatures = keeps_earlier_signatures
            fields.append("keeps_earlier_signatures")
        if locked.number == 1:
            locked.keeps_earlier_signatures = False
            fields.append("keeps_earlier_signatures")
        locked.published_at = now
        locked.published_by = by
        locked._history_user = by
        locked.save(update_fields=sorted(set(fields)))
        return locked


# --- a patient's signatures ---------------------------------------------------------------


@dataclass(frozen=True)
class SignatureStatus:
    """One signature and whether it still counts: not withdrawn, and of the
    form's current version or an earlier one that the later versions kept."""

    signature: ConsentSignature
    counts: bool

    @property
    def withdrawn(self) -> bool:
        return self.signature.withdrawn_at is not None


def signatures_of(patient: Patient | int) -> list[SignatureStatus]:
    """The patient's signatures, newest first, each with whether it still
    counts (two queries however many)."""
    patient_id = patient if isinstance(patient, int) else patient.pk
    signatures = list(
        ConsentSignature.objects.filter(patient_id=patient_id)
        .select_related("version__form", "witnessed_by")
        .order_by("-signed_at", "-id")
    )
    form_ids = {s.version.form_id for s in signatures}
    published: dict[int, list[ConsentVersion]] = defaultdict(list)
    for version in ConsentVersion.objects.filter(form_id__in=form_ids, published_at__isnull=False).order_by(
        "form_id", "-number"
    ):
        published[version.form_id].append(version)
    floor = {form_id: _oldest_still_valid(versions) for form_id, versions in published.items()}
    return [
        SignatureStatus(
            signature=s,
            counts=s.withdrawn_at is None and s.version.number >= floor.get(s.version.form_id, s.version.number + 1),
        )
        for s in signatures
    ]
