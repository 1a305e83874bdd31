"""The clinic-protocol gap rules of docs/domain.md, as seed data.

Seeded by the migration ``treatments/0009_seed_gap_rules`` (for the treatments that
exist then) and by ``seed_demo`` (demo/clinic.py), idempotently: a rule already
there (same sides and severity) is left as the clinic edited it. Every rule is
*clinic protocol*, seeded with ``verified=False`` for a clinician to review.

"Resurfacing" in the protocol ("resurfacing no sooner than 4–8 weeks after punch
work") is read as the treatments that remove or remodel the skin's surface:
fractional CO2, Fotona laser peeling, the 1550 nm non-ablative fractional laser,
dermabrasion and the medium-depth TCA peel. Microdermabrasion and the pico
laser are too superficial to disturb a punch graft and are left out. "4–8 weeks"
is a block under 28 days and a caution from day 28 to day 55.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Side(NamedTuple):
    category: str = ""
    treatment: str = ""  # a treatment's slug


class Seed(NamedTuple):
    earlier: Side
    later: Side
    min_days: int
    severity: str
    note_en: str
    note_zh_hant: str


RESURFACING = ("co2-fractional", "fotona-laser-peel", "nafl-1550", "dermabrasion", "peel-tca-medium")
HYDRAFACIAL = Side(treatment="hydrafacial")

_PUNCH_BLOCK = (
    "Punch sites need at least 4 weeks to heal before resurfacing (clinic protocol: resurfacing here means "
    "CO2, Fotona, 1550 nm laser, dermabrasion and medium TCA peel).",
    "環鑽位置需最少 4 星期癒合後才可換膚（診所規程：換膚指二氧化碳、Fotona、1550 激光、磨皮術及中層 TCA 換膚）。",
)
_PUNCH_CAUTION = (
    "The clinic usually waits 4 to 8 weeks after punch work before resurfacing: check the punch sites have healed.",
    "診所一般在環鑽後 4 至 8 星期才進行換膚：請先確認環鑽位置已癒合。",
)
_HYDRA_PEEL = (
    "No HydraFacial within 2 weeks before or after a peel: the skin needs to recover.",
    "換膚前後 2 星期內不宜做 HydraFacial：皮膚需要時間修復。",
)
_HYDRA_LASER = (
    "No HydraFacial within 2 weeks before or after a laser: the skin needs to recover.",
    "激光前後 2 星期內不宜做 HydraFacial：皮膚需要時間修復。",
)
_HYDRA_TOXIN = (
    "HydraFacial at least 1 week after botulinum toxin, so the toxin is not moved from where it was injected.",
    "肉毒桿菌素注射後最少 1 星期才做 HydraFacial，以免藥物移位。",
)
_HYDRA_FILLER = (
    "HydraFacial at least 2 weeks after filler, so the filler settles first.",
    "填充後最少 2 星期才做 HydraFacial，讓填充物先穩定。",
)

SEEDS: tuple[Seed, ...] = (
    *(Seed(Side(category="punch"), Side(treatment=slug), 28, "block", *_PUNCH_BLOCK) for slug in RESURFACING),
    *(Seed(Side(category="punch"), Side(treatment=slug), 56, "caution", *_PUNCH_CAUTION) for slug in RESURFACING),
    Seed(Side(category="peel"), HYDRAFACIAL, 14, "block", *_HYDRA_PEEL),
    Seed(HYDRAFACIAL, Side(category="peel"), 14, "block", *_HYDRA_PEEL),
    Seed(Side(category="laser"), HYDRAFACIAL, 14, "block", *_HYDRA_LASER),
    Seed(HYDRAFACIAL, Side(category="laser"), 14, "block", *_HYDRA_LASER),
    Seed(Side(category="toxin"), HYDRAFACIAL, 7, "block", *_HYDRA_TOXIN),
    Seed(Side(category="filler"), HYDRAFACIAL, 14, "block", *_HYDRA_FILLER),
)


def seed_gap_rules(gap_rule_model: Any, treatment_model: Any) -> int:
    """Creates the seeded rules that are missing; returns how many. Takes the
    model classes so a migration can pass its historical ones. A rule naming a
    treatment the clinic does not have is skipped."""
    slugs = {slug for seed in SEEDS for slug in (seed.earlier.treatment, seed.later.treatment) if slug}
    treatments = {t.slug: t for t in treatment_model.objects.filter(slug__in=slugs)}
    created = 0
    for seed in SEEDS:
        sides: dict[str, Any] = {}
        for name, side in (("earlier", seed.earlier), ("later", seed.later)):
            if side.treatment:
                if side.treatment not in treatments:
                    break
                sides[f"{name}_treatment"] = treatments[side.treatment]
                sides[f"{name}_category"] = ""
            else:
                sides[f"{name}_treatment"] = None
                sides[f"{name}_category"] = side.category
        else:
            _, made = gap_rule_model.objects.get_or_create(
                **sides,
                severity=seed.severity,
                defaults={
                    "min_days": seed.min_days,
                    "note_en": seed.note_en,
                    "note_zh_hant": seed.note_zh_hant,
                    "verified": False,
                },
            )
            created += made
    return created
