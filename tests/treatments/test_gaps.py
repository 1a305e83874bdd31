"""Gap rules between different treatments, evaluated without the database:
every seeded rule from both sides, the boundaries, and what a finding says."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import translation

from treatments import gaps
from treatments.gap_seed import SEEDS

# The seeded treatments and a representative of each category the seeds name.
CATALOGUE: dict[str, tuple[int, str, str]] = {
    "punch-excision": (1, "punch", "Punch excision"),
    "co2-fractional": (2, "laser", "Fractional CO2 laser"),
    "fotona-laser-peel": (3, "laser", "Fotona laser peeling"),
    "nafl-1550": (4, "laser", "1550 laser"),
    "dermabrasion": (5, "resurfacing", "Dermabrasion"),
    "peel-tca-medium": (6, "peel", "TCA peel"),
    "peel-superficial": (7, "peel", "Superficial peel"),
    "pico-laser": (8, "laser", "Pico laser"),
    "botox": (9, "toxin", "Botulinum toxin"),
    "ha-filler": (10, "filler", "HA filler"),
    "hydrafacial": (11, "facial", "HydraFacial"),
    "microdermabrasion": (12, "resurfacing", "Microdermabrasion"),
}


def subject(slug: str) -> gaps.Subject:
    pk, category, name = CATALOGUE[slug]
    return gaps.Subject(treatment_id=pk, category=category, name=name)


def seeded_rules() -> list[gaps.Rule]:
    def ids(side):  # type: ignore[no-untyped-def]
        return (side.category, CATALOGUE[side.treatment][0] if side.treatment else None)

    return [
        gaps.Rule(*ids(seed.earlier), *ids(seed.later), seed.min_days, seed.severity, seed.note_en) for seed in SEEDS
    ]


RULES = seeded_rules()
DAY = date(2030, 3, 4)

# (earlier, later, days a block lasts, days a caution lasts, whether the reverse order is a rule too)
PAIRS = [
    ("punch-excision", "co2-fractional", 28, 56, False),
    ("punch-excision", "fotona-laser-peel", 28, 56, False),
    ("punch-excision", "nafl-1550", 28, 56, False),
    ("punch-excision", "dermabrasion", 28, 56, False),
    ("punch-excision", "peel-tca-medium", 28, 56, False),
    ("peel-superficial", "hydrafacial", 14, None, True),
    ("peel-tca-medium", "hydrafacial", 14, None, True),
    ("co2-fractional", "hydrafacial", 14, None, True),
    ("pico-laser", "hydrafacial", 14, None, True),
    ("botox", "hydrafacial", 7, None, False),
    ("ha-filler", "hydrafacial", 14, None, False),
]
IDS = [f"{earlier}->{later}" for earlier, later, *_ in PAIRS]


def visit(slug: str, on: date, appointment_id: int = 70, *, done: bool = False) -> gaps.Visit:
    return gaps.Visit(subject=subject(slug), on=on, appointment_id=appointment_id, done=done)


def severities(slug: str, on: date, visits: list[gaps.Visit]) -> list[str]:
    return [f["severity"] for f in gaps.evaluate(rules=RULES, subject=subject(slug), on=on, visits=visits)]


def expected(block_days: int, caution_days: int | None, gap: int) -> list[str]:
    if gap < block_days:
        return ["block"]
    if caution_days is not None and gap < caution_days:
        return ["caution"]
    return []


@pytest.mark.parametrize(("earlier", "later", "block_days", "caution_days", "reverse"), PAIRS, ids=IDS)
def test_the_later_treatment_too_soon_after_a_visit_of_the_earlier(
    earlier: str, later: str, block_days: int, caution_days: int | None, reverse: bool
) -> None:
    visits = [visit(earlier, DAY)]
    last = caution_days or block_days
    for gap in (0, 1, block_days - 1, block_days, last - 1, last, last + 30):
        assert severities(later, DAY + timedelta(days=gap), visits) == expected(block_days, caution_days, gap), gap


@pytest.mark.parametrize(("earlier", "later", "block_days", "caution_days", "reverse"), PAIRS, ids=IDS)
def test_the_earlier_treatment_booked_too_soon_before_a_booked_visit_of_the_later(
    earlier: str, later: str, block_days: int, caution_days: int | None, reverse: bool
) -> None:
    visits = [visit(later, DAY)]
    last = caution_days or block_days
    for gap in (0, 1, block_days - 1, block_days, last - 1, last, last + 30):
        assert severities(earlier, DAY - timedelta(days=gap), visits) == expected(block_days, caution_days, gap), gap


@pytest.mark.parametrize(("earlier", "later", "block_days", "caution_days", "reverse"), PAIRS, ids=IDS)
def test_the_reverse_order_counts_only_where_the_reverse_rule_exists(
    earlier: str, later: str, block_days: int, caution_days: int | None, reverse: bool
) -> None:
    # The earlier treatment a few days AFTER a visit of the later one.
    after_later = severities(earlier, DAY + timedelta(days=block_days - 1), [visit(later, DAY)])
    # The later treatment a few days BEFORE a visit of the earlier one.
    before_earlier = severities(later, DAY - timedelta(days=block_days - 1), [visit(earlier, DAY)])
    assert after_later == before_earlier == (["block"] if reverse else [])


def test_the_same_day_is_too_close_both_ways() -> None:
    assert severities("hydrafacial", DAY, [visit("botox", DAY)]) == ["block"]
    assert severities("botox", DAY, [visit("hydrafacial", DAY)]) == ["block"]


def test_two_visits_of_the_same_treatment_are_the_plans_business() -> None:
    rules = [gaps.Rule("laser", None, "laser", None, 30, "block")]
    co2 = subject("co2-fractional")
    assert gaps.evaluate(rules=rules, subject=co2, on=DAY, visits=[visit("co2-fractional", DAY - timedelta(1))]) == []
    # A different treatment of the same category is a rule's business.
    found = gaps.evaluate(rules=rules, subject=co2, on=DAY, visits=[visit("pico-laser", DAY - timedelta(1))])
    assert [f["severity"] for f in found] == ["block"]


def test_a_treatment_rule_does_not_reach_other_treatments_of_its_category() -> None:
    # The punch rules name five resurfacing treatments: microdermabrasion and pico are left out.
    punch = [visit("punch-excision", DAY)]
    assert severities("microdermabrasion", DAY + timedelta(days=3), punch) == []
    assert severities("pico-laser", DAY + timedelta(days=3), punch) == []


def test_a_finding_names_both_treatments_both_dates_the_rule_and_its_note() -> None:
    [found] = gaps.evaluate(
        rules=RULES,
        subject=subject("hydrafacial"),
        on=date(2030, 3, 10),
        visits=[visit("ha-filler", date(2030, 3, 1), appointment_id=812)],
    )
    assert found["code"] == "too_close"
    assert found["severity"] == "block"
    assert found["appointment"] == 812
    detail = found["detail"]
    for text in ("HydraFacial", "HA filler", "10 Mar 2030", "1 Mar 2030", "14 days", "filler settles first"):
        assert text in detail, text


def test_a_finding_reads_in_chinese() -> None:
    with translation.override("zh-hant"):
        [found] = gaps.evaluate(
            rules=RULES, subject=subject("hydrafacial"), on=DAY, visits=[visit("ha-filler", DAY - timedelta(3))]
        )
    assert "太接近" in found["detail"]
    assert "14" in found["detail"]


def test_one_finding_per_visit_the_block_first_then_by_date() -> None:
    visits = [
        visit("punch-excision", DAY - timedelta(days=40), appointment_id=1),  # caution only
        visit("punch-excision", DAY - timedelta(days=3), appointment_id=2),  # block (and caution)
    ]
    found = gaps.evaluate(rules=RULES, subject=subject("co2-fractional"), on=DAY, visits=visits)
    assert [(f["appointment"], f["severity"]) for f in found] == [(2, "block"), (1, "caution")]


def test_blocked_days_are_the_days_a_block_refuses_with_why() -> None:
    days = gaps.blocked_days(
        rules=RULES,
        subject=subject("hydrafacial"),
        first=DAY - timedelta(days=30),
        last=DAY + timedelta(days=30),
        visits=[visit("botox", DAY), visit("punch-excision", DAY)],
    )
    assert sorted(days) == [DAY + timedelta(days=n) for n in range(7)]
    assert "Botulinum toxin" in days[DAY + timedelta(days=6)]


def test_blocked_days_ignore_cautions() -> None:
    days = gaps.blocked_days(
        rules=RULES,
        subject=subject("co2-fractional"),
        first=DAY,
        last=DAY + timedelta(days=90),
        visits=[visit("punch-excision", DAY)],
    )
    assert min(days) == DAY
    assert max(days) == DAY + timedelta(days=27)


def test_a_proposed_window_that_touches_a_rule_is_named() -> None:
    visits = [visit("peel-superficial", DAY, appointment_id=5)]
    hydra = subject("hydrafacial")
    clear = gaps.window_findings(
        rules=RULES, subject=hydra, first=DAY + timedelta(days=14), last=DAY + timedelta(days=40), visits=visits
    )
    assert clear == []
    [found] = gaps.window_findings(
        rules=RULES, subject=hydra, first=DAY + timedelta(days=10), last=DAY + timedelta(days=40), visits=visits
    )
    assert found["appointment"] == 5
    assert found["severity"] == "block"


def test_no_rules_nothing_found() -> None:
    assert gaps.evaluate(rules=[], subject=subject("hydrafacial"), on=DAY, visits=[visit("botox", DAY)]) == []
    assert gaps.reach([]) == 0
