"""Screening: may this patient have this treatment on this date?

``evaluate`` is the pure rule engine (no ORM); ``screen`` loads what it needs
and calls it. The booking services decide on ``ScreeningResult.outcome`` and
the API returns ``reasons()`` as the ``reasons`` of a 422 ``contraindicated``
and of ``POST /api/v1/screening/``.

Which treatment has which rule, and how severe, is data (``ContraindicationRule``
rows seeded by demo/clinic.py). What each code *means* (which declaration
field it reads) and the words the patient sees are here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Literal

from django.conf import settings

from patients.models import FitzpatrickType, HealthDeclaration
from patients.selectors import declaration_is_current, declaration_newest, declaration_submitted_on
from treatments.models import ContraindicationCode, Severity, is_chinese

if TYPE_CHECKING:
    from patients.models import Patient
    from treatments.models import Treatment

Outcome = Literal["clear", "caution", "blocked"]

DECLARATION_REQUIRED = "health_declaration_required"

# Fixed by the questionnaire's own wording ("in the last 2 weeks", "in the last
# 2 months"), unlike the isotretinoin window, which clinics choose (a setting).
RETINOID_WINDOW = timedelta(days=14)
SUN_EXPOSURE_WINDOW = timedelta(days=60)

# code -> field of HealthDeclaration that is True when the rule applies.
_BOOLEAN_FIELDS: dict[str, str] = {
    ContraindicationCode.PREG: "pregnant_or_breastfeeding",
    ContraindicationCode.INF: "active_skin_infection",
    ContraindicationCode.HSV_ACTIVE: "active_cold_sore",
    ContraindicationCode.HSV_HX: "cold_sore_history",
    ContraindicationCode.KELOID: "keloid_tendency",
    ContraindicationCode.ANTICOAG: "anticoagulants",
    ContraindicationCode.PHOTOSENS: "photosensitising_medication",
    ContraindicationCode.AUTOIMMUNE: "autoimmune_condition",
    ContraindicationCode.NEUROMUSC: "neuromuscular_disorder",
    ContraindicationCode.ACNE_ACTIVE: "active_acne",
    ContraindicationCode.IMPLANT_DEVICE: "implanted_electronic_device",
}

# code -> value in HealthDeclaration.allergies (patients.models.Allergy).
_ALLERGIES: dict[str, str] = {
    ContraindicationCode.ALLERGY_HA: "hyaluronic_acid",
    ContraindicationCode.ALLERGY_LIDOCAINE: "lidocaine",
    ContraindicationCode.ALLERGY_TOXIN: "botulinum_toxin",
    ContraindicationCode.ALLERGY_SALICYLATE: "salicylate",
}

_FST = ContraindicationCode.FST_IV_VI.value
_FST_UNKNOWN = "FST_IV_VI:unknown"

# What the patient is told, both languages side by side. Each entry is the
# reason clause; _TEMPLATES wraps it as a block (see us first) or a caution
# (we will go through it with you). Never tell anyone to stop blood thinners.
_REASONS: dict[str, dict[str, str]] = {
    ContraindicationCode.PREG: {
        "en": "you told us you are pregnant or breastfeeding",
        "zh": "你表示正在懷孕或餵哺母乳",
    },
    ContraindicationCode.ISO: {
        "en": "you told us you have taken isotretinoin tablets for acne recently, and your skin needs more time "
        "to recover",
        "zh": "你表示最近曾服用口服A酸（isotretinoin）治療暗瘡，皮膚需要更多時間復原",
    },
    ContraindicationCode.INF: {
        "en": "you told us you have a skin infection where we would treat",
        "zh": "你表示治療部位有皮膚感染",
    },
    ContraindicationCode.HSV_ACTIVE: {
        "en": "you told us you have a cold sore right now",
        "zh": "你表示現在有唇皰疹（俗稱熱瘡）",
    },
    ContraindicationCode.HSV_HX: {
        "en": "you told us you get cold sores, and this treatment can bring one on",
        "zh": "你表示曾患唇皰疹（俗稱熱瘡），而這項療程有機會令它復發",
    },
    ContraindicationCode.KELOID: {
        "en": "you told us you have had raised scars or keloids",
        "zh": "你表示曾出現凸起的疤痕或蟹足腫",
    },
    ContraindicationCode.FST_IV_VI: {
        "en": "your skin type can darken more easily after this treatment",
        "zh": "你的膚色類型在這項療程後較容易變深（色素沉着）",
    },
    _FST_UNKNOWN: {
        "en": "your skin type has not been assessed yet",
        "zh": "我們尚未評估你的膚色類型",
    },
    ContraindicationCode.ANTICOAG: {
        "en": "you told us you take blood thinners or have a bleeding condition (please keep taking your medicines "
        "as prescribed)",
        "zh": "你表示正在服用薄血藥或有出血問題（請依照醫生指示繼續服藥）",
    },
    ContraindicationCode.PHOTOSENS: {
        "en": "you told us you take a medicine or have a condition that makes your skin sensitive to sunlight",
        "zh": "你表示正在服用令皮膚對陽光敏感的藥物，或有這類病症",
    },
    ContraindicationCode.TAN: {
        "en": "you told us you have had a tan or sunburn in the last 2 months",
        "zh": "你表示過去兩個月內曾曬黑或曬傷",
    },
    ContraindicationCode.AUTOIMMUNE: {
        "en": "you told us you have an autoimmune condition or a weakened immune system",
        "zh": "你表示患有自身免疫疾病或免疫力較弱",
    },
    ContraindicationCode.NEUROMUSC: {
        "en": "you told us you have a condition that affects your nerves and muscles",
        "zh": "你表示患有影響神經和肌肉的疾病",
    },
    ContraindicationCode.ALLERGY_HA: {
        "en": "you told us you are allergic to hyaluronic acid",
        "zh": "你表示對透明質酸過敏",
    },
    ContraindicationCode.ALLERGY_LIDOCAINE: {
        "en": "you told us you are allergic to lidocaine, a numbing medicine",
        "zh": "你表示對利多卡因（一種局部麻醉藥）過敏",
    },
    ContraindicationCode.ALLERGY_TOXIN: {
        "en": "you told us you are allergic to botulinum toxin",
        "zh": "你表示對肉毒桿菌素過敏",
    },
    ContraindicationCode.ALLERGY_SALICYLATE: {
        "en": "you told us you are allergic to salicylates, such as aspirin or salicylic acid",
        "zh": "你表示對水楊酸鹽（例如阿士匹靈或水楊酸）過敏",
    },
    ContraindicationCode.ACNE_ACTIVE: {
        "en": "you told us you have inflamed acne where we would treat",
        "zh": "你表示治療部位有發炎的暗瘡",
    },
    ContraindicationCode.RETINOID_TOP: {
        "en": "you told us you have used a retinoid cream in the last 2 weeks",
        "zh": "你表示過去兩星期內曾使用A酸類外用藥膏",
    },
    ContraindicationCode.IMPLANT_DEVICE: {
        "en": "you told us you have a pacemaker or another implanted electronic device",
        "zh": "你表示體內裝有心臟起搏器或其他電子植入裝置",
    },
}

_TEMPLATES: dict[str, dict[str, str]] = {
    Severity.BLOCK: {
        "en": "We need to see you before this treatment because {reason}. Please book a consultation instead.",
        "zh": "由於{reason}，我們需要先與你見面，才可安排這項療程。請改為預約諮詢。",
    },
    Severity.CAUTION: {
        "en": "Your practitioner will go through this with you: {reason}.",
        "zh": "負責的醫護人員會與你詳細跟進：{reason}。",
    },
}

# Its remedy is the questionnaire, so it is a whole sentence of its own.
_DECLARATION_REQUIRED_TEXT: dict[str, str] = {
    "en": "We need an up-to-date health questionnaire from you before this treatment, so we can check it is safe "
    "for you. Please fill it in (it takes a few minutes), or book a consultation instead.",
    "zh": "進行這項療程前，我們需要你最新的健康問卷，以確保療程對你安全。請先填寫問卷（只需幾分鐘），或改為預約諮詢。",
}


@dataclass(frozen=True)
class Finding:
    code: str
    severity: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail, "severity": self.severity}


def _order(finding: Finding) -> tuple[bool, str]:
    return (finding.severity != Severity.BLOCK, finding.code)


@dataclass(frozen=True)
class ScreeningResult:
    findings: tuple[Finding, ...]

    @property
    def blocks(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == Severity.BLOCK)

    @property
    def cautions(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == Severity.CAUTION)

    @property
    def outcome(self) -> Outcome:
        if self.blocks:
            return "blocked"
        if self.cautions:
            return "caution"
        return "clear"

    def reasons(self) -> list[dict[str, str]]:
        """Every finding, blocks first, then by code: the API's ``reasons``."""
        return [f.as_dict() for f in sorted(self.findings, key=_order)]


def _text(key: str, severity: str, language: str) -> str:
    template = _TEMPLATES[severity][language]
    return template.format(reason=_REASONS[key][language])


def _within(since: date, appointment_date: date, window: timedelta) -> bool:
    """True while the rest period after ``since`` has not run out by the
    appointment: it is over on day ``window`` (a retinoid last used 14 days
    before is fine), and a date after the appointment is within it."""
    return timedelta(days=(appointment_date - since).days) < window


def _applies(
    code: str,
    declaration: HealthDeclaration,
    appointment_date: date,
    submitted_on: date,
    isotretinoin_window: timedelta,
) -> bool:
    if code in _BOOLEAN_FIELDS:
        return bool(getattr(declaration, _BOOLEAN_FIELDS[code]))
    if code in _ALLERGIES:
        return _ALLERGIES[code] in (declaration.allergies or ())
    if code == ContraindicationCode.ISO:
        last_dose = declaration.isotretinoin_last_dose
        return last_dose is not None and _within(last_dose, appointment_date, isotretinoin_window)
    if code == ContraindicationCode.RETINOID_TOP:
        last_use = declaration.topical_retinoid_last_use
        return last_use is not None and _within(last_use, appointment_date, RETINOID_WINDOW)
    if code == ContraindicationCode.TAN:
        # "In the last 2 months" is relative to when the patient answered.
        return bool(declaration.recent_sun_exposure) and _within(submitted_on, appointment_date, SUN_EXPOSURE_WINDOW)
    raise ValueError(f"no screening rule for contraindication code {code!r}")


def evaluate(
    *,
    rules: Iterable[tuple[str, str]],
    declaration: HealthDeclaration | None,
    fitzpatrick_type: int | None,
    appointment_date: date,
    max_age: timedelta,
    isotretinoin_window: timedelta,
    language: str | None = None,
) -> ScreeningResult:
    """Checks each ``(code, severity)`` rule of a treatment; pure, no database.

    - No rules: clear, whatever the declaration (a consultation needs none).
    - Any rule, caution-only included, needs a current declaration: its
      clinic-local submitted date at most ``max_age`` before ``appointment_date``.
      Without one there is a single block ``health_declaration_required`` in
      place of the declaration's rules (a stale declaration's answers are not
      used). ``FST_IV_VI`` does not come from the declaration, so it is still
      reported: the patient learns everything already known in one go.
    - ``FST_IV_VI``: types IV-VI give the rule's severity; an unknown type
      counts as IV-VI for a block rule and is a caution for a caution rule,
      each saying the skin type has not been assessed yet.
    - Windows (isotretinoin, 14 days of retinoid cream, 60 days after a
      declared tan) run to ``appointment_date`` and are over on their last day.
    - Every finding is reported, once per code (the most severe if a code is
      repeated), blocks first, then by code. An unknown code or severity is a
      ``ValueError``: the database's constraints keep them out.
    - ``language``: Traditional Chinese when it starts with "zh", else English;
      ``None`` means the active language.
    """
    lang = "zh" if is_chinese(language) else "en"
    severities: dict[str, str] = {}
    for rule_code, rule_severity in rules:
        code, severity = str(rule_code), str(rule_severity)  # plain strings, also from enum members
        if code not in ContraindicationCode.values:
            raise ValueError(f"unknown contraindication code {code!r}")
        if severity not in Severity.values:
            raise ValueError(f"unknown severity {severity!r} for {code}")
        if severities.get(code) != Severity.BLOCK:
            severities[code] = severity
    if not severities:
        return ScreeningResult(findings=())

    findings: list[Finding] = []
    if _FST in severities:
        severity = severities.pop(_FST)
        if fitzpatrick_type is None:
            findings.append(Finding(_FST, severity, _text(_FST_UNKNOWN, severity, lang)))
        elif fitzpatrick_type >= FitzpatrickType.IV:
            findings.append(Finding(_FST, severity, _text(_FST, severity, lang)))

    if declaration is None or not declaration_is_current(declaration, on=appointment_date, max_age=max_age):
        findings.append(Finding(DECLARATION_REQUIRED, Severity.BLOCK.value, _DECLARATION_REQUIRED_TEXT[lang]))
    else:
        submitted_on = declaration_submitted_on(declaration)
        for code, severity in severities.items():
            if _applies(code, declaration, appointment_date, submitted_on, isotretinoin_window):
                findings.append(Finding(code, severity, _text(code, severity, lang)))

    return ScreeningResult(findings=tuple(sorted(findings, key=_order)))


def screen(*, patient: Patient, treatment: Treatment, on: date, language: str | None = None) -> ScreeningResult:
    """Screens ``patient`` for ``treatment`` on the clinic-local date ``on``.

    Reads the treatment's rules (the prefetched ``contraindications`` when
    present) and the patient's newest declaration: at most two queries, one
    when the treatment has no rules. Permissions are the caller's business.
    """
    cache = getattr(treatment, "_prefetched_objects_cache", {})
    if "contraindications" in cache:
        rules = [(rule.code, rule.severity) for rule in treatment.contraindications.all()]
    else:
        rules = list(treatment.contraindications.values_list("code", "severity"))
    declaration = None
    if rules:
        declaration = declaration_newest(patient)
    return evaluate(
        rules=rules,
        declaration=declaration,
        fitzpatrick_type=patient.fitzpatrick_type,
        appointment_date=on,
        max_age=settings.CLINIC_DECLARATION_MAX_AGE,
        isotretinoin_window=settings.CLINIC_ISOTRETINOIN_WINDOW,
        language=language,
    )
