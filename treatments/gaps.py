"""Spacing between different treatments: the pure evaluation of gap rules.

A ``GapRule`` says the ``later`` treatment may happen no sooner than
``min_days`` after the ``earlier`` one, on clinic-local dates (day 0 is the same
day, which is too close both ways). A new visit is checked against each of
the patient's other visits in both directions: as the later one (a HydraFacial
after a booked peel) and as the earlier one (a peel five days before a booked
HydraFacial). Two visits of the same treatment are the plan's interval
business, never a gap rule.

No ORM here except ``active_rules`` (one query); booking.spacing loads the
visits and calls ``evaluate`` / ``ranges``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.utils.translation import ngettext

from clinic import formats
from treatments.models import GapRule, Severity

TOO_CLOSE = "too_close"


@dataclass(frozen=True)
class Rule:
    earlier_category: str
    earlier_treatment_id: int | None
    later_category: str
    later_treatment_id: int | None
    min_days: int
    severity: str
    note: str = ""

    def earlier_matches(self, subject: Subject) -> bool:
        return _matches(self.earlier_category, self.earlier_treatment_id, subject)

    def later_matches(self, subject: Subject) -> bool:
        return _matches(self.later_category, self.later_treatment_id, subject)


@dataclass(frozen=True)
class Subject:
    """A treatment as the rules see it."""

    treatment_id: int
    category: str
    name: str


@dataclass(frozen=True)
class Visit:
    """One of the patient's other visits: booked, checked in or done."""

    subject: Subject
    on: date
    appointment_id: int
    done: bool = False


@dataclass(frozen=True)
class Range:
    """The days on which ``rule`` forbids (or cautions against) the new
    treatment because of ``visit``, both ends included."""

    first: date
    last: date
    rule: Rule
    visit: Visit
    new_is_later: bool

    def covers(self, day: date) -> bool:
        return self.first <= day <= self.last


def _matches(category: str, treatment_id: int | None, subject: Subject) -> bool:
    if treatment_id is not None:
        return treatment_id == subject.treatment_id
    return category == subject.category


def active_rules(language: str | None = None) -> list[Rule]:
    """Every active gap rule, notes in ``language`` (one query)."""
    return [
        Rule(
            earlier_category=rule.earlier_category,
            earlier_treatment_id=rule.earlier_treatment_id,
            later_category=rule.later_category,
            later_treatment_id=rule.later_treatment_id,
            min_days=rule.min_days,
            severity=rule.severity,
            note=rule.localized("note", language),
        )
        for rule in GapRule.objects.filter(active=True)
    ]


def reach(rules: Iterable[Rule]) -> int:
    """How many days either side of a date any rule can see."""
    return max((rule.min_days for rule in rules), default=0)


def ranges(rules: Sequence[Rule], subject: Subject, visits: Iterable[Visit]) -> list[Range]:
    """Where each rule puts the new ``subject`` off limits around each visit."""
    found: list[Range] = []
    for visit in visits:
        if visit.subject.treatment_id == subject.treatment_id:
            continue
        for rule in rules:
            span = timedelta(days=rule.min_days - 1)
            if rule.earlier_matches(visit.subject) and rule.later_matches(subject):
                found.append(Range(visit.on, visit.on + span, rule, visit, new_is_later=True))
            if rule.earlier_matches(subject) and rule.later_matches(visit.subject):
                found.append(Range(visit.on - span, visit.on, rule, visit, new_is_later=False))
    return found


def _strongest(hits: Iterable[Range]) -> list[Range]:
    """One range per visit: a block over a caution, then the longest rule."""
    best: dict[int, Range] = {}
    for hit in hits:
        key = hit.visit.appointment_id
        rank = (hit.rule.severity == Severity.BLOCK, hit.rule.min_days)
        current = best.get(key)
        if current is None or rank > (current.rule.severity == Severity.BLOCK, current.rule.min_days):
            best[key] = hit
    return sorted(best.values(), key=lambda r: (r.rule.severity != Severity.BLOCK, r.visit.on, r.visit.appointment_id))


def describe(hit: Range, subject: Subject, on: date) -> str:
    """The finding as a sentence naming both treatments, both dates and the rule's note."""
    earlier, later = (
        (hit.visit.subject.name, subject.name) if hit.new_is_later else (subject.name, hit.visit.subject.name)
    )
    values: dict[str, Any] = {
        "new": subject.name,
        "new_date": formats.date_text(on),
        "other": hit.visit.subject.name,
        "other_date": formats.date_text(hit.visit.on),
        "earlier": earlier,
        "later": later,
        "days": hit.rule.min_days,
    }
    if hit.rule.severity == Severity.BLOCK:
        text = ngettext(
            "%(new)s on %(new_date)s is too close to %(other)s on %(other_date)s: %(later)s must be at least "
            "%(days)d day after %(earlier)s.",
            "%(new)s on %(new_date)s is too close to %(other)s on %(other_date)s: %(later)s must be at least "
            "%(days)d days after %(earlier)s.",
            hit.rule.min_days,
        )
    else:
        text = ngettext(
            "%(new)s on %(new_date)s is close to %(other)s on %(other_date)s: the clinic usually waits at least "
            "%(days)d day from %(earlier)s to %(later)s.",
            "%(new)s on %(new_date)s is close to %(other)s on %(other_date)s: the clinic usually waits at least "
            "%(days)d days from %(earlier)s to %(later)s.",
            hit.rule.min_days,
        )
    sentence = text % values
    return f"{sentence} {hit.rule.note}" if hit.rule.note else sentence


def why(hit: Range, subject: Subject) -> str:
    """Why a day is refused, without the day: the calendar's words for a run of days."""
    earlier, later = (
        (hit.visit.subject.name, subject.name) if hit.new_is_later else (subject.name, hit.visit.subject.name)
    )
    return ngettext(
        "Too close to your %(other)s on %(other_date)s: %(later)s must be at least %(days)d day after %(earlier)s.",
        "Too close to your %(other)s on %(other_date)s: %(later)s must be at least %(days)d days after %(earlier)s.",
        hit.rule.min_days,
    ) % {
        "other": hit.visit.subject.name,
        "other_date": formats.date_text(hit.visit.on),
        "earlier": earlier,
        "later": later,
        "days": hit.rule.min_days,
    }


def finding(hit: Range, subject: Subject, on: date) -> dict[str, Any]:
    return {
        "code": TOO_CLOSE,
        "detail": describe(hit, subject, on),
        "severity": hit.rule.severity,
        "appointment": hit.visit.appointment_id,
    }


def evaluate(*, rules: Sequence[Rule], subject: Subject, on: date, visits: Iterable[Visit]) -> list[dict[str, Any]]:
    """The findings for ``subject`` on the clinic-local date ``on``: one per
    visit that is too close, blocks first; ``[]`` when nothing is."""
    hits = [hit for hit in ranges(rules, subject, visits) if hit.covers(on)]
    return [finding(hit, subject, on) for hit in _strongest(hits)]


def blocked_days(
    *, rules: Sequence[Rule], subject: Subject, first: date, last: date, visits: Iterable[Visit]
) -> dict[date, str]:
    """Each day in ``[first, last]`` a block refuses, with why (``why``: the same words for a run of days)."""
    blocks = [hit for hit in ranges(rules, subject, visits) if hit.rule.severity == Severity.BLOCK]
    days: dict[date, str] = {}
    for hit in blocks:
        day = max(hit.first, first)
        while day <= min(hit.last, last):
            if day not in days:
                days[day] = why(_strongest([h for h in blocks if h.covers(day)])[0], subject)
            day += timedelta(days=1)
    return days


def window_findings(
    *, rules: Sequence[Rule], subject: Subject, first: date, last: date, visits: Iterable[Visit]
) -> list[dict[str, Any]]:
    """Visits that make part of a proposed window ``[first, last]`` too close
    (plan proposals): each finding names the first day in the window it hits."""
    hits = [hit for hit in ranges(rules, subject, visits) if hit.first <= last and hit.last >= first]
    return [finding(hit, subject, max(hit.first, first)) for hit in _strongest(hits)]
