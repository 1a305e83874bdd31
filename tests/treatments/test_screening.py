"""Screening: the rules of docs/domain.md, mostly through the pure ``evaluate``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import hypothesis
import pytest
from django.utils import timezone, translation
from hypothesis import given
from hypothesis import strategies as st

from patients.models import HealthDeclaration
from tests.factories import (
    ContraindicationRuleFactory,
    HealthDeclarationFactory,
    PatientFactory,
    TreatmentFactory,
)
from treatments.models import ContraindicationCode, Severity, Treatment
from treatments.screening import DECLARATION_REQUIRED, Finding, ScreeningResult, evaluate, screen

DAYS_180 = timedelta(days=180)

# The answers that make each declaration-based code apply on an appointment
# today; a timedelta stands for the date that long before today.
TRIGGERS: dict[str, dict[str, Any]] = {
    "PREG": {"pregnant_or_breastfeeding": True},
    "ISO": {"isotretinoin_last_dose": timedelta(days=30)},
    "INF": {"active_skin_infection": True},
    "HSV_ACTIVE": {"active_cold_sore": True},
    "HSV_HX": {"cold_sore_history": True},
    "KELOID": {"keloid_tendency": True},
    "ANTICOAG": {"anticoagulants": True},
    "PHOTOSENS": {"photosensitising_medication": True},
    "TAN": {"recent_sun_exposure": True},
    "AUTOIMMUNE": {"autoimmune_condition": True},
    "NEUROMUSC": {"neuromuscular_disorder": True},
    "ALLERGY_HA": {"allergies": ["hyaluronic_acid"]},
    "ALLERGY_LIDOCAINE": {"allergies": ["lidocaine"]},
    "ALLERGY_TOXIN": {"allergies": ["botulinum_toxin"]},
    "ALLERGY_SALICYLATE": {"allergies": ["salicylate"]},
    "ACNE_ACTIVE": {"active_acne": True},
    "RETINOID_TOP": {"topical_retinoid_last_use": timedelta(days=3)},
    "IMPLANT_DEVICE": {"implanted_electronic_device": True},
}


def today() -> date:
    return timezone.localdate()


def declared(days_ago: int = 0, **answers: Any) -> HealthDeclaration:
    """An unsaved declaration submitted ``days_ago`` days before now."""
    for field, value in answers.items():
        if isinstance(value, timedelta):
            answers[field] = today() - value
    return HealthDeclarationFactory.build(
        patient=None, submitted_at=timezone.now() - timedelta(days=days_ago), **answers
    )


def run(
    rules: list[tuple[str, str]],
    declaration: HealthDeclaration | None,
    *,
    fitzpatrick_type: int | None = 3,
    in_days: int = 0,
    max_age: timedelta = DAYS_180,
    isotretinoin_window: timedelta = DAYS_180,
    language: str | None = "en",
) -> ScreeningResult:
    return evaluate(
        rules=rules,
        declaration=declaration,
        fitzpatrick_type=fitzpatrick_type,
        appointment_date=today() + timedelta(days=in_days),
        max_age=max_age,
        isotretinoin_window=isotretinoin_window,
        language=language,
    )


def codes(result: ScreeningResult) -> list[str]:
    return [f.code for f in result.findings]


def test_every_code_but_skin_type_has_a_trigger_in_these_tests() -> None:
    assert set(TRIGGERS) | {"FST_IV_VI"} == set(ContraindicationCode.values)


@pytest.mark.parametrize("severity", Severity.values)
@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_code_applies_for_its_answer_with_the_rules_severity(code: str, severity: str) -> None:
    result = run([(code, severity)], declared(**TRIGGERS[code]))

    assert result.findings == (Finding(code, severity, result.findings[0].detail),)
    assert result.outcome == ("blocked" if severity == "block" else "caution")


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_code_is_quiet_without_its_answer(code: str) -> None:
    everything_else = {k: v for c, answers in TRIGGERS.items() if c != code for k, v in answers.items()}
    everything_else.pop("allergies", None)

    assert run([(code, "block")], declared(**everything_else)).findings == ()


def test_an_allergy_rule_checks_only_its_own_allergen() -> None:
    declaration = declared(allergies=["lidocaine", "salicylate"], allergies_other="Penicillin, latex")
    result = run([("ALLERGY_HA", "block"), ("ALLERGY_LIDOCAINE", "block"), ("ALLERGY_TOXIN", "caution")], declaration)

    assert codes(result) == ["ALLERGY_LIDOCAINE"]


def test_outcomes_clear_caution_blocked() -> None:
    rules = [("PREG", "block"), ("KELOID", "caution")]

    assert run(rules, declared()).outcome == "clear"
    assert run(rules, declared(keloid_tendency=True)).outcome == "caution"
    assert run(rules, declared(pregnant_or_breastfeeding=True)).outcome == "blocked"


def test_every_finding_is_reported_blocks_first_then_by_code() -> None:
    rules = [("PREG", "caution"), ("INF", "block"), ("HSV_ACTIVE", "block"), ("KELOID", "caution"), ("TAN", "block")]
    declaration = declared(
        pregnant_or_breastfeeding=True, active_skin_infection=True, active_cold_sore=True, keloid_tendency=True
    )

    result = run(rules, declaration)

    assert [(r["code"], r["severity"]) for r in result.reasons()] == [
        ("HSV_ACTIVE", "block"),
        ("INF", "block"),
        ("KELOID", "caution"),
        ("PREG", "caution"),
    ]
    assert [f.code for f in result.blocks] == ["HSV_ACTIVE", "INF"]
    assert [f.code for f in result.cautions] == ["KELOID", "PREG"]
    assert set(result.reasons()[0]) == {"code", "detail", "severity"}


def test_a_treatment_without_rules_is_clear_without_any_declaration() -> None:
    result = run([], None, fitzpatrick_type=None)

    assert result.outcome == "clear"
    assert result.reasons() == []


@pytest.mark.parametrize("severity", Severity.values)
def test_any_rule_needs_a_declaration(severity: str) -> None:
    result = run([("KELOID", severity), ("PREG", severity)], None)

    assert result.outcome == "blocked"
    assert result.reasons() == [
        {"code": DECLARATION_REQUIRED, "severity": "block", "detail": result.findings[0].detail}
    ]
    assert "health questionnaire" in result.findings[0].detail


def test_skin_type_is_still_reported_without_a_declaration() -> None:
    result = run([("FST_IV_VI", "caution"), ("PREG", "block")], None, fitzpatrick_type=5)

    assert [(f.code, f.severity) for f in result.findings] == [
        (DECLARATION_REQUIRED, "block"),
        ("FST_IV_VI", "caution"),
    ]


@pytest.mark.parametrize(
    ("submitted_days_ago", "in_days", "current"),
    [
        (100, 90, False),  # 190 days old at the appointment
        (100, 70, True),  # 170 days old
        (100, 80, True),  # exactly 180 days: not older than the maximum
        (100, 81, False),
        (0, 0, True),
    ],
)
def test_a_declaration_must_be_current_at_the_appointments_date(
    submitted_days_ago: int, in_days: int, current: bool
) -> None:
    result = run([("PREG", "block")], declared(submitted_days_ago), in_days=in_days)

    assert codes(result) == ([] if current else [DECLARATION_REQUIRED])


def test_a_stale_declarations_answers_are_not_used() -> None:
    result = run([("PREG", "block"), ("KELOID", "caution")], declared(200, pregnant_or_breastfeeding=True))

    assert codes(result) == [DECLARATION_REQUIRED]


def test_the_declarations_age_uses_its_clinic_local_date(settings: Any) -> None:
    settings.TIME_ZONE = "Asia/Hong_Kong"
    # 20:00 UTC on 1 January is 04:00 on 2 January in Hong Kong: 180 days before 1 July.
    declaration = declared(pregnant_or_breastfeeding=False)
    declaration.submitted_at = datetime(2025, 1, 1, 20, tzinfo=UTC)

    with timezone.override("UTC"):
        result = evaluate(
            rules=[("PREG", "block")],
            declaration=declaration,
            fitzpatrick_type=3,
            appointment_date=date(2025, 7, 1),
            max_age=DAYS_180,
            isotretinoin_window=DAYS_180,
        )

    assert result.outcome == "clear"


@pytest.mark.parametrize(
    ("dose_days_ago", "in_days", "window_days", "flagged"),
    [
        (170, 20, 180, False),  # 190 days before the appointment
        (170, 5, 180, True),  # 175 days
        (170, 10, 180, False),  # exactly 180 days: the wait is over
        (170, 9, 180, True),
        (170, 20, 365, True),  # a clinic with a one-year window
        (-10, 5, 180, True),  # still taking it after the appointment date
    ],
)
def test_isotretinoin_window_runs_to_the_appointment(
    dose_days_ago: int, in_days: int, window_days: int, flagged: bool
) -> None:
    declaration = declared(isotretinoin_last_dose=today() - timedelta(days=dose_days_ago))

    result = run([("ISO", "block")], declaration, in_days=in_days, isotretinoin_window=timedelta(days=window_days))

    assert codes(result) == (["ISO"] if flagged else [])


@pytest.mark.parametrize(
    ("last_use_days_ago", "in_days", "flagged"),
    [(10, 5, False), (10, 3, True), (10, 4, False), (0, 0, True), (-2, 1, True)],
)
def test_retinoid_cream_counts_for_14_days_before_the_appointment(
    last_use_days_ago: int, in_days: int, flagged: bool
) -> None:
    declaration = declared(topical_retinoid_last_use=today() - timedelta(days=last_use_days_ago))

    result = run([("RETINOID_TOP", "caution")], declaration, in_days=in_days)

    assert codes(result) == (["RETINOID_TOP"] if flagged else [])


@pytest.mark.parametrize(
    ("submitted_days_ago", "in_days", "flagged"),
    [(50, 15, False), (50, 5, True), (50, 10, False), (50, 9, True), (0, 0, True)],
)
def test_a_declared_tan_counts_for_60_days_after_the_declaration(
    submitted_days_ago: int, in_days: int, flagged: bool
) -> None:
    declaration = declared(submitted_days_ago, recent_sun_exposure=True)

    result = run([("TAN", "block")], declaration, in_days=in_days)

    assert codes(result) == (["TAN"] if flagged else [])


@pytest.mark.parametrize("severity", Severity.values)
@pytest.mark.parametrize(
    ("fitzpatrick_type", "flagged"), [(1, False), (2, False), (3, False), (4, True), (5, True), (6, True)]
)
def test_skin_types_iv_to_vi_get_the_rules_severity(severity: str, fitzpatrick_type: int, flagged: bool) -> None:
    result = run([("FST_IV_VI", severity)], declared(), fitzpatrick_type=fitzpatrick_type)

    assert [(f.code, f.severity) for f in result.findings] == ([("FST_IV_VI", severity)] if flagged else [])


def test_an_unassessed_skin_type_blocks_a_block_rule() -> None:
    result = run([("FST_IV_VI", "block")], declared(), fitzpatrick_type=None)

    assert result.outcome == "blocked"
    assert "not been assessed" in result.findings[0].detail
    assert "consultation" in result.findings[0].detail


def test_an_unassessed_skin_type_is_a_caution_for_a_caution_rule() -> None:
    result = run([("FST_IV_VI", "caution")], declared(), fitzpatrick_type=None)

    assert [(f.code, f.severity) for f in result.findings] == [("FST_IV_VI", "caution")]
    assert "not been assessed" in result.findings[0].detail


def test_block_details_explain_and_suggest_a_consultation_cautions_reassure() -> None:
    declaration = declared(pregnant_or_breastfeeding=True, keloid_tendency=True)

    block, caution = run([("PREG", "block"), ("KELOID", "caution")], declaration).findings

    assert block.detail == (
        "We need to see you before this treatment because you told us you are pregnant or breastfeeding. "
        "Please book a consultation instead."
    )
    assert caution.detail.startswith("Your practitioner will go through this with you: ")


def test_details_are_in_chinese_when_asked() -> None:
    result = run([("PREG", "block")], declared(pregnant_or_breastfeeding=True), language="zh-hant")

    assert "懷孕" in result.findings[0].detail
    assert "諮詢" in result.findings[0].detail


def test_details_follow_the_active_language_by_default() -> None:
    with translation.override("zh-hant"):
        chinese = run([("PREG", "caution")], None, language=None)
    with translation.override("en"):
        english = run([("PREG", "caution")], None, language=None)

    assert "健康問卷" in chinese.findings[0].detail
    assert "health questionnaire" in english.findings[0].detail


@pytest.mark.parametrize("language", ["en", "zh-hant"])
@pytest.mark.parametrize("severity", Severity.values)
def test_every_code_has_its_own_words_in_both_languages(language: str, severity: str) -> None:
    everything = {k: v for answers in TRIGGERS.values() for k, v in answers.items() if k != "allergies"}
    declaration = declared(allergies=["hyaluronic_acid", "lidocaine", "botulinum_toxin", "salicylate"], **everything)
    rules = [(code, severity) for code in ContraindicationCode.values]

    result = run(rules, declaration, fitzpatrick_type=6, language=language)

    details = [f.detail for f in result.findings]
    assert sorted(codes(result)) == sorted(ContraindicationCode.values)
    assert len(set(details)) == len(details)
    assert all(("你" if language == "zh-hant" else "you") in d for d in details)


@pytest.mark.parametrize("language", ["en", "zh-hant"])
def test_blood_thinners_are_never_to_be_stopped(language: str) -> None:
    for severity in Severity.values:
        detail = run([("ANTICOAG", severity)], declared(anticoagulants=True), language=language).findings[0].detail
        assert "stop" not in detail.lower()
        assert "停" not in detail
        assert ("keep taking" in detail) or ("繼續服藥" in detail)


@pytest.mark.parametrize("rules", [[("PREG", "caution"), ("PREG", "block")], [("PREG", "block"), ("PREG", "caution")]])
def test_a_repeated_code_is_reported_once_at_its_most_severe(rules: list[tuple[str, str]]) -> None:
    result = run(rules, declared(pregnant_or_breastfeeding=True))

    assert [(f.code, f.severity) for f in result.findings] == [("PREG", "block")]


def test_an_unknown_code_is_an_error_not_a_pass() -> None:
    with pytest.raises(ValueError, match="BOGUS"):
        run([("BOGUS", "block")], declared())
    with pytest.raises(ValueError, match="sometimes"):
        run([("PREG", "sometimes")], declared())


def test_findings_hold_plain_strings_even_from_enum_members() -> None:
    result = run(
        [(ContraindicationCode.PREG, Severity.BLOCK), (ContraindicationCode.FST_IV_VI, Severity.CAUTION)],
        declared(pregnant_or_breastfeeding=True),
        fitzpatrick_type=4,
    )

    assert {type(value) for finding in result.reasons() for value in finding.values()} == {str}
    assert [(f.code, f.severity) for f in result.findings] == [("PREG", "block"), ("FST_IV_VI", "caution")]


answers = st.fixed_dictionaries(
    {
        field: st.booleans()
        for field in (
            "pregnant_or_breastfeeding",
            "keloid_tendency",
            "cold_sore_history",
            "active_cold_sore",
            "anticoagulants",
            "photosensitising_medication",
            "active_skin_infection",
            "recent_sun_exposure",
            "autoimmune_condition",
            "neuromuscular_disorder",
            "active_acne",
            "implanted_electronic_device",
        )
    }
    | {
        "isotretinoin_last_dose": st.none() | st.integers(-30, 400).map(lambda n: date(2025, 6, 1) - timedelta(days=n)),
        "topical_retinoid_last_use": st.none()
        | st.integers(-30, 60).map(lambda n: date(2025, 6, 1) - timedelta(days=n)),
        "allergies": st.lists(st.sampled_from(["hyaluronic_acid", "lidocaine", "botulinum_toxin", "salicylate"])),
        "submitted_at": st.integers(0, 400).map(lambda n: datetime(2025, 6, 1, 3, tzinfo=UTC) - timedelta(days=n)),
    }
)


@hypothesis.settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(st.tuples(st.sampled_from(ContraindicationCode.values), st.sampled_from(Severity.values))),
    answered=st.none() | answers,
    fitzpatrick_type=st.none() | st.integers(1, 6),
    in_days=st.integers(-10, 200),
)
def test_blocked_exactly_when_a_finding_blocks_and_each_code_once(
    rules: list[tuple[str, str]], answered: dict[str, Any] | None, fitzpatrick_type: int | None, in_days: int
) -> None:
    declaration = None if answered is None else HealthDeclarationFactory.build(patient=None, **answered)

    result = evaluate(
        rules=rules,
        declaration=declaration,
        fitzpatrick_type=fitzpatrick_type,
        appointment_date=date(2025, 6, 1) + timedelta(days=in_days),
        max_age=DAYS_180,
        isotretinoin_window=DAYS_180,
    )

    severities = [f.severity for f in result.findings]
    assert (result.outcome == "blocked") == ("block" in severities)
    assert (result.outcome == "clear") == (not result.findings)
    assert len(set(codes(result))) == len(result.findings)
    assert {f.code for f in result.findings} <= {code for code, _ in rules} | {DECLARATION_REQUIRED}
    assert result.reasons() == [f.as_dict() for f in result.findings]
    if not rules:
        assert result.findings == ()


# screen(): loading from the database


def _treatment(*rules: tuple[str, str]) -> Treatment:
    treatment = TreatmentFactory()
    for code, severity in rules:
        ContraindicationRuleFactory(treatment=treatment, code=code, severity=severity)
    return treatment


@pytest.mark.django_db
def test_screen_reads_the_newest_declaration() -> None:
    treatment = _treatment(("PREG", "block"))
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, submitted_at=timezone.now() - timedelta(days=3))
    HealthDeclarationFactory(
        patient=patient, submitted_at=timezone.now() - timedelta(days=5), pregnant_or_breastfeeding=True
    )

    assert screen(patient=patient, treatment=treatment, on=today()).outcome == "clear"

    HealthDeclarationFactory(patient=patient, pregnant_or_breastfeeding=True)
    assert screen(patient=patient, treatment=treatment, on=today()).outcome == "blocked"


@pytest.mark.django_db
def test_screen_breaks_a_tie_in_submitted_at_by_the_higher_id() -> None:
    treatment = _treatment(("PREG", "block"))
    patient, other = PatientFactory(), PatientFactory()
    moment = timezone.now() - timedelta(days=1)
    first = HealthDeclarationFactory(patient=patient, submitted_at=moment, pregnant_or_breastfeeding=False)
    second = HealthDeclarationFactory(patient=patient, submitted_at=moment, pregnant_or_breastfeeding=True)
    HealthDeclarationFactory(patient=other, pregnant_or_breastfeeding=False)
    assert second.pk > first.pk

    assert codes(screen(patient=patient, treatment=treatment, on=today())) == ["PREG"]


@pytest.mark.django_db
def test_screen_without_a_declaration_blocks_and_reads_the_patients_skin_type() -> None:
    treatment = _treatment(("FST_IV_VI", "caution"), ("PREG", "block"))
    patient = PatientFactory(fitzpatrick_type=None)

    result = screen(patient=patient, treatment=treatment, on=today(), language="zh-hant")

    assert codes(result) == [DECLARATION_REQUIRED, "FST_IV_VI"]
    assert "尚未評估" in result.findings[1].detail


@pytest.mark.django_db
def test_screen_uses_the_clinics_windows(settings: Any) -> None:
    treatment = _treatment(("ISO", "block"))
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, isotretinoin_last_dose=today() - timedelta(days=200))

    assert screen(patient=patient, treatment=treatment, on=today()).outcome == "clear"
    settings.CLINIC_ISOTRETINOIN_WINDOW = timedelta(days=365)
    assert screen(patient=patient, treatment=treatment, on=today()).outcome == "blocked"
    settings.CLINIC_DECLARATION_MAX_AGE = timedelta(days=7)
    assert codes(screen(patient=patient, treatment=treatment, on=today() + timedelta(days=8))) == [DECLARATION_REQUIRED]


@pytest.mark.django_db
def test_screen_takes_at_most_two_queries(django_assert_max_num_queries: Any) -> None:
    treatment = _treatment(("PREG", "block"), ("KELOID", "caution"), ("TAN", "caution"))
    patient = PatientFactory()
    HealthDeclarationFactory.create_batch(3, patient=patient, keloid_tendency=True)

    with django_assert_max_num_queries(2):
        result = screen(patient=patient, treatment=treatment, on=today())

    assert codes(result) == ["KELOID"]


@pytest.mark.django_db
def test_screen_reuses_prefetched_rules(django_assert_num_queries: Any) -> None:
    _treatment(("PREG", "block"))
    treatment = Treatment.objects.prefetch_related("contraindications").get()
    patient = PatientFactory()
    HealthDeclarationFactory(patient=patient, pregnant_or_breastfeeding=True)

    with django_assert_num_queries(1):
        result = screen(patient=patient, treatment=treatment, on=today())

    assert codes(result) == ["PREG"]


@pytest.mark.django_db
def test_screening_a_consultation_needs_only_its_rules(django_assert_num_queries: Any) -> None:
    treatment = _treatment()
    patient = PatientFactory(fitzpatrick_type=None)

    with django_assert_num_queries(1):
        result = screen(patient=patient, treatment=treatment, on=today())

    assert result.outcome == "clear"
