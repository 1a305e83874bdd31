"""The demo clinic: catalogue, rooms, devices, staff, accounts and holidays.

Used by ``manage.py seed_demo``. Every function is idempotent: rows are found
by their natural key (slug, name, username, the closure's start/end/reason) and
written only when a value differs, so a second run creates nothing, saves
nothing and adds no history rows. That is ``update_or_create`` without its
unconditional ``save()``, which would bump ``updated_at`` and write a
simple_history row on every run.

The catalogue is transcribed from the clinic's reference table of treatments,
keeping its notation: ``"45*"`` is an estimate, so the treatment is seeded with
``verified=False``; a rule ``"FST_IV_VI B*"`` is seeded with ``verified=False``.
Seeding resets the seeded rows to these values: clinic edits to them are
overwritten, which is the point of a demo seed and why the command refuses to
run with DEBUG off.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.models import Group, User
from django.core.files.storage import default_storage
from django.db import models

from booking.models import ClinicClosure, Device, Practitioner, Room, WorkingHours
from booking.profiles import practitioner_photo_set
from clinic.clock import clinic_zone
from demo.consents import seed_consent_forms
from demo.packages import seed_packages
from demo.portraits import portrait_png
from patients.models import Patient
from patients.roles import MANAGER, PRACTITIONER, RECEPTIONIST, sync_roles
from treatments import gap_seed
from treatments.models import (
    Category,
    ContraindicationRule,
    DeviceKind,
    GapRule,
    PreCareCondition,
    PreCareInstruction,
    RoomKind,
    ScarType,
    Severity,
    Treatment,
)

DEMO_PASSWORD = "clinic-demo"  # noqa: S105 - published on purpose: demo accounts only, DEBUG only

# --- bookkeeping ------------------------------------------------------------


@dataclass
class Tally:
    """What a run did, per model, for the command's summary and the tests."""

    created: Counter[str] = field(default_factory=Counter)
    updated: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)

    @property
    def changed_anything(self) -> bool:
        return any(n for counts in (self.created, self.updated, self.deleted) for n in counts.values())

    def lines(self) -> list[str]:
        out = []
        for verb in ("created", "updated", "deleted", "unchanged"):
            counts: Counter[str] = getattr(self, verb)
            text = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()) if n) or "nothing"
            out.append(f"{verb}: {text}")
        return out


def _label(model: type[models.Model]) -> str:
    return str(model._meta.verbose_name_plural)


def _differs(obj: models.Model, name: str, value: Any) -> bool:
    model_field = obj._meta.get_field(name)
    if isinstance(model_field, models.ForeignKey):
        return getattr(obj, model_field.attname) != (value.pk if value is not None else None)
    return getattr(obj, name) != value


def _update[M: models.Model](obj: M, values: dict[str, Any], tally: Tally) -> M:
    changed = [name for name, value in values.items() if _differs(obj, name, value)]
    if changed:
        for name in changed:
            setattr(obj, name, values[name])
        obj.full_clean()
        obj.save(update_fields=changed)
        tally.updated[_label(type(obj))] += 1
    else:
        tally.unchanged[_label(type(obj))] += 1
    return obj


def upsert[M: models.Model](
    model: type[M],
    *,
    lookup: dict[str, Any],
    values: dict[str, Any],
    tally: Tally,
    create_only: Callable[[], dict[str, Any]] | None = None,
) -> M:
    """``update_or_create`` that saves only the fields whose value differs.

    ``create_only()`` gives values set on a new row and never compared (a
    password hash: salted, so never equal twice, and slow to compute)."""
    obj = model._default_manager.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **values, **(create_only() if create_only else {}))
        obj.full_clean()
        obj.save()
        tally.created[_label(model)] += 1
        return obj
    return _update(obj, values, tally)


def _set_m2m(manager: Any, wanted: Sequence[models.Model], tally: Tally, label: str) -> None:
    """``manager.set(wanted)`` only when the set differs: an empty ``set()``
    still sends m2m_changed, which simple_history records."""
    if {o.pk for o in manager.all()} != {o.pk for o in wanted}:
        manager.set(wanted)
        tally.updated[label] += 1


# --- room and device kinds --------------------------------------------------

ROOM_KINDS: dict[str, tuple[str, str]] = {
    "laser": ("Laser room", "激光室"),
    "treatment": ("Treatment room", "治療室"),
    "procedure": ("Procedure room", "手術室"),
    "consultation": ("Consultation room", "診症室"),
}

DEVICE_KINDS: dict[str, tuple[str, str]] = {
    "co2": ("Fractional CO2 laser", "點陣二氧化碳激光機"),
    "nafl-1550": ("1550 nm non-ablative fractional laser", "1550 非剝脫點陣激光機"),
    "fotona": ("Fotona laser", "Fotona 激光機"),
    "pico": ("Pico laser", "皮秒激光機"),
    "rf": ("Fractional RF microneedling device", "點陣射頻微針儀"),
    "hydrafacial": ("HydraFacial system", "HydraFacial 水飛梭儀器"),
}


# --- the catalogue ----------------------------------------------------------


@dataclass(frozen=True)
class RuleSpec:
    code: str
    severity: str
    verified: bool


@dataclass(frozen=True)
class TreatmentSpec:
    slug: str
    category: str
    name_en: str
    name_zh_hant: str
    suits: list[str]
    sessions_min: int
    sessions_max: int | None
    interval_days_min: int | None
    interval_days_max: int | None
    duration_minutes: int
    buffer_minutes: int
    price: Decimal
    room_kind: str
    device_kind: str | None
    verified: bool
    rules: tuple[RuleSpec, ...]


def _number(text: str) -> tuple[int, bool]:
    """``"45*"`` -> (45, estimated)."""
    return int(text.rstrip("*")), text.endswith("*")


def _row(
    slug: str,
    category: str,
    name_en: str,
    name_zh_hant: str,
    *,
    suits: str,
    sessions: str,
    interval: str,
    minutes: str,
    buffer: int,
    hkd: int,
    room: str,
    device: str | None = None,
    rules: str = "",
) -> TreatmentSpec:
    """One row of the reference table, in its own notation."""
    low, _, high = sessions.partition("-")
    interval_min = interval_max = None
    interval_estimated = False
    if interval != "-":
        start, _, end = interval.rstrip("*").partition("-")
        interval_min, interval_max = int(start), int(end)
        interval_estimated = interval.endswith("*")
    duration, duration_estimated = _number(minutes)
    rule_specs = []
    for item in filter(None, (part.strip() for part in rules.split(","))):
        code, letter = item.split()
        severity = {"B": Severity.BLOCK, "C": Severity.CAUTION}[letter.rstrip("*")]
        rule_specs.append(RuleSpec(code, severity, verified=not letter.endswith("*")))
    wanted = set(suits.split())
    return TreatmentSpec(
        slug=slug,
        category=category,
        name_en=name_en,
        name_zh_hant=name_zh_hant,
        # Canonical order, so a round trip through the admin's checkboxes
        # leaves the value as the seed wrote it.
        suits=[code for code in ScarType.values if code in wanted],
        sessions_min=int(low),
        sessions_max=None if high == "open" else int(high),
        interval_days_min=interval_min,
        interval_days_max=interval_max,
        duration_minutes=duration,
        buffer_minutes=buffer,
        price=Decimal(hkd),
        room_kind=room,
        device_kind=device,
        verified=not (duration_estimated or interval_estimated),
        rules=tuple(rule_specs),
    )


# Deposits the demo clinic asks at online booking (when PAYMENTS_URL is set): the
# long device sessions a no-show would waste. The rest are paid at the visit.
DEPOSITS: dict[str, dict[str, Any]] = {
    "co2-fractional": {"deposit_amount": Decimal(1000)},
    "fotona-laser-peel": {"deposit_amount": Decimal(500)},
    "pico-laser": {"deposit_percent": 20},
    "rf-microneedling": {"deposit_percent": 20},
    "subcision": {"deposit_amount": Decimal(500), "late_cancel_keeps_deposit": False},
}


def _deposit(slug: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"deposit_amount": None, "deposit_percent": None}
    fields.update({"late_cancel_keeps_deposit": True, "no_show_keeps_deposit": True})
    fields.update(DEPOSITS.get(slug, {}))
    return fields


C = Category
CATALOGUE: tuple[TreatmentSpec, ...] = (
    # Consultation first: it is where a new patient starts.
    _row("consultation", C.CONSULTATION, "Scar consultation and assessment", "暗瘡印及凹凸洞評估",
         suits=" ".join(ScarType.values), sessions="1-1", interval="-", minutes="30", buffer=0, hkd=0,
         room="consultation"),
    _row("steroid-injection", C.STEROID, "Intralesional steroid injection", "類固醇疤痕注射",
         suits="hypertrophic keloid", sessions="3-6", interval="21-42", minutes="15*", buffer=5, hkd=800,
         room="treatment", rules="INF B, ALLERGY_LIDOCAINE C, PREG C, FST_IV_VI C"),
    _row("ha-filler", C.FILLER, "Hyaluronic acid filler", "透明質酸填充",
         suits="rolling boxcar_shallow", sessions="1-2", interval="14-365", minutes="30*", buffer=10, hkd=4800,
         room="treatment",
         rules="PREG B, ALLERGY_HA B, INF B, HSV_ACTIVE B, ACNE_ACTIVE C, AUTOIMMUNE C, ANTICOAG C, KELOID C"),
    _row("dermabrasion", C.RESURFACING, "Dermabrasion", "磨皮術",
         suits="boxcar_shallow rolling", sessions="1-2", interval="180-365*", minutes="60*", buffer=15, hkd=9800,
         room="procedure", rules="ISO B, FST_IV_VI B*, KELOID B*, ACNE_ACTIVE B, HSV_HX C, ANTICOAG C, PREG C"),
    _row("microdermabrasion", C.RESURFACING, "Microdermabrasion", "微晶磨皮",
         suits="pih", sessions="6-10", interval="7-14", minutes="30", buffer=10, hkd=680,
         room="treatment", rules="ACNE_ACTIVE B, INF B, KELOID C, TAN C, RETINOID_TOP C"),
    _row("co2-fractional", C.LASER, "Fractional CO2 laser resurfacing", "點陣二氧化碳激光",
         suits="boxcar_shallow boxcar_deep rolling icepick", sessions="1-3", interval="28-90", minutes="45*",
         buffer=15, hkd=6800, room="laser", device="co2",
         rules="HSV_HX B, INF B, TAN B, ISO C, PREG C, FST_IV_VI C, PHOTOSENS C, KELOID C, ANTICOAG C, AUTOIMMUNE C"),
    _row("nafl-1550", C.LASER, "Non-ablative fractional laser 1550 nm", "1550 非剝脫點陣激光",
         suits="boxcar_shallow rolling pih", sessions="3-6", interval="21-42", minutes="30*", buffer=10, hkd=3800,
         room="laser", device="nafl-1550", rules="PREG C, HSV_HX C, TAN C, FST_IV_VI C, PHOTOSENS C"),
    _row("fotona-laser-peel", C.LASER, "Fotona laser peeling", "Fotona 激光換膚",
         suits="boxcar_shallow rolling", sessions="2-4", interval="28-42*", minutes="20", buffer=10, hkd=3200,
         room="laser", device="fotona", rules="HSV_HX B, INF B, TAN B, ISO C, PREG C, FST_IV_VI C, KELOID C"),
    _row("pico-laser", C.LASER, "Pico laser (fractional lens) whitening and rejuvenation", "蜂巢皮秒激光",
         suits="boxcar_shallow rolling pih", sessions="4-6", interval="28-56", minutes="30*", buffer=10, hkd=3500,
         room="laser", device="pico", rules="PREG C, TAN C, PHOTOSENS C, HSV_HX C"),
    _row("peel-superficial", C.PEEL, "Superficial chemical peel (glycolic / salicylic)", "果酸／水楊酸換膚",
         suits="pih pie boxcar_shallow", sessions="4-6", interval="14-35", minutes="30*", buffer=10, hkd=900,
         room="treatment", rules="INF B, HSV_ACTIVE B, ALLERGY_SALICYLATE B, PREG C, RETINOID_TOP C, TAN C"),
    _row("peel-tca-medium", C.PEEL, "Medium-depth TCA peel", "中層化學換膚（TCA）",
         suits="boxcar_shallow rolling pih", sessions="1-3", interval="90-270*", minutes="45*", buffer=10, hkd=2800,
         room="treatment", rules="HSV_HX B, TAN B, FST_IV_VI C, ISO C, PREG C, KELOID C"),
    _row("tca-cross", C.TCA_CROSS, "TCA CROSS", "TCA CROSS 點酸",
         suits="icepick boxcar_deep", sessions="3-6", interval="14-56", minutes="20", buffer=5, hkd=1500,
         room="treatment", rules="INF B, HSV_ACTIVE B, FST_IV_VI C, KELOID C, PREG C"),
    _row("rf-microneedling", C.RF_MICRONEEDLING, "Fractional radiofrequency microneedling", "點陣射頻微針",
         suits="rolling boxcar_shallow boxcar_deep pie", sessions="3-4", interval="28-42", minutes="45*", buffer=15,
         hkd=4200, room="treatment", device="rf",
         rules="INF B, IMPLANT_DEVICE B*, ACNE_ACTIVE C, PREG C, KELOID C, ANTICOAG C"),
    _row("microneedling", C.MICRONEEDLING, "Skin needling (microneedling)", "微針",
         suits="rolling boxcar_shallow", sessions="3-6", interval="28-42", minutes="60", buffer=15, hkd=1800,
         room="treatment", rules="INF B, ACNE_ACTIVE B, KELOID C, ANTICOAG C, PREG C"),
    _row("botox", C.TOXIN, "Botulinum toxin (OnabotulinumtoxinA)", "肉毒桿菌素注射",
         suits="hypertrophic keloid", sessions="1-4", interval="90-180", minutes="15*", buffer=5, hkd=2500,
         room="treatment", rules="INF B, ALLERGY_TOXIN B, NEUROMUSC B, PREG C"),
    _row("subcision", C.SUBCISION, "Subcision", "皮下分離術",
         suits="rolling boxcar_shallow", sessions="2-4", interval="28-42*", minutes="30*", buffer=15, hkd=3000,
         room="procedure", rules="INF B, ANTICOAG C, KELOID C, ACNE_ACTIVE C, PREG C"),
    _row("punch-excision", C.PUNCH, "Punch excision / elevation (surgery)", "環鑽切除／提升",
         suits="icepick boxcar_deep", sessions="1-3", interval="28-56", minutes="45*", buffer=15, hkd=2200,
         room="procedure", rules="INF B, ACNE_ACTIVE B, ANTICOAG C, KELOID C"),
    _row("hydrafacial", C.FACIAL, "HydraFacial renewal", "HydraFacial 水飛梭",
         suits="pih", sessions="1-open", interval="28-42", minutes="30", buffer=10, hkd=1280,
         room="treatment", device="hydrafacial", rules="INF B, HSV_ACTIVE B, RETINOID_TOP C, TAN C, ISO C"),
)  # fmt: skip

# What each treatment is, what it suits, and its usual downtime.
DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "consultation": (
        "A visit with a doctor who examines your acne marks and scars, grades them and agrees a treatment plan "
        "that suits your skin, budget and the downtime you can take. Photos are taken so progress can be "
        "measured later. No downtime.",
        "由醫生檢查你的暗瘡印及凹凸洞，評估類型及嚴重程度，再按你的膚質、預算及可接受的復原期，"
        "一同訂立合適的治療計劃。我們會拍攝臉部照片，方便日後比較效果。無需復原期。",
    ),
    "steroid-injection": (
        "Small injections of a corticosteroid straight into raised (hypertrophic) scars and keloids to flatten "
        "and soften them and ease itching. Usually a course of several sessions a few weeks apart. Little "
        "downtime: slight soreness or redness for a day or two.",
        "將少量類固醇直接注射入凸起的增生性疤痕或蟹足腫，令疤痕變平、變軟，並紓緩痕癢。"
        "一般需要相隔數星期進行數次。復原期短，注射位置或會輕微疼痛或泛紅一至兩日。",
    ),
    "ha-filler": (
        "Hyaluronic acid gel injected under soft rolling or shallow boxcar scars to lift the dip to the level "
        "of the surrounding skin. The result shows at once and lasts for months while the gel is slowly "
        "absorbed. Swelling and small bruises are possible for a few days.",
        "把透明質酸注射到滾動型或較淺的車廂型凹洞底下，把凹陷位置提升至與周邊皮膚相若。"
        "效果即時可見，可維持數個月，其後會逐漸被身體吸收。注射後數日內或有腫脹及輕微瘀青。",
    ),
    "dermabrasion": (
        "Under local anaesthetic, a doctor removes the top layers of skin with a fast-spinning instrument so "
        "that new, smoother skin grows back over shallow boxcar and rolling scars. Real downtime: the skin is "
        "raw and weeping for about a week, and stays pink for several weeks.",
        "由醫生在局部麻醉下，以高速旋轉儀器磨走表層皮膚，讓新生的皮膚把較淺的車廂型及滾動型凹洞修平。"
        "需要較長復原期：治療後約一星期皮膚會有傷口及滲液，其後泛紅可持續數星期。",
    ),
    "microdermabrasion": (
        "A gentle machine exfoliation with fine crystals or a diamond tip that lifts away dead surface cells. "
        "Suits flat brown acne marks, over a course of sessions. No downtime: mild redness for a few hours.",
        "以微晶或鑽石磨頭輕柔去除表層死皮，適合平坦的啡色暗瘡印，需要進行一個療程。"
        "無需復原期，皮膚或會輕微泛紅數小時。",
    ),
    "co2-fractional": (
        "An ablative laser that makes thousands of tiny treatment columns in the skin, prompting new collagen "
        "that fills and smooths pitted scars: boxcar, rolling and icepick. The strongest laser option for "
        "scars. About 5–7 days of redness, swelling and fine crusting; pinkness can last a few weeks.",
        "剝脫性激光，在皮膚上打出大量微細治療點，刺激骨膠原再生，填平車廂型、滾動型及冰鑿型凹洞，"
        "是治療凹凸洞效力最強的激光之一。復原期約五至七日，期間會紅腫及結細痂，泛紅或會持續數星期。",
    ),
    "nafl-1550": (
        "A non-ablative fractional laser (1550 nm) that heats tiny columns beneath an intact skin surface to "
        "remodel collagen. Suits shallow boxcar and rolling scars and brown marks, over a course of sessions. "
        "1–3 days of redness and mild swelling.",
        "1550 納米非剝脫點陣激光在不破壞表皮的情況下，把熱能送到皮膚深層，促進骨膠原重組。"
        "適合較淺的車廂型、滾動型凹洞及啡色暗瘡印，需要進行一個療程。復原期約一至三日，會泛紅及輕微腫脹。",
    ),
    "fotona-laser-peel": (
        "An Er:YAG laser peel (Fotona) that vaporises a very thin layer of skin in a controlled way to even out "
        "the texture of shallow boxcar and rolling scars. A few days of redness and fine flaking.",
        "以 Fotona 鉺激光（Er:YAG）精準汽化極薄的表層皮膚，改善較淺車廂型及滾動型凹洞的膚質紋理。"
        "復原期數日，期間會泛紅及輕微脫皮。",
    ),
    "pico-laser": (
        "A picosecond laser with a fractional (honeycomb) lens that breaks up pigment and stimulates collagen "
        "under the surface. Suits brown acne marks and shallow boxcar and rolling scars. Usually a few hours "
        "to 1–2 days of redness, sometimes with tiny dots.",
        "皮秒激光配合蜂巢透鏡，擊碎色素並在皮膚底層刺激骨膠原增生，適合啡色暗瘡印及較淺的車廂型、"
        "滾動型凹洞。復原期一般只需數小時至一兩日，或會泛紅及出現細小紅點。",
    ),
    "peel-superficial": (
        "A light peel with glycolic or salicylic acid that loosens the outermost layer of skin. Suits red and "
        "brown acne marks and very shallow scars, over a course of sessions. Mild redness and a little "
        "flaking for a few days.",
        "以果酸或水楊酸溫和去除最表層的角質，適合紅印、啡印及極淺的凹洞，需要進行一個療程。數日內或有輕微泛紅及脫皮。",
    ),
    "peel-tca-medium": (
        "A medium-depth chemical peel with trichloroacetic acid (TCA) that reaches the upper dermis to smooth "
        "shallow boxcar and rolling scars and fade pigmentation. About 5–7 days of downtime while the skin "
        "darkens, tightens and peels.",
        "以三氯醋酸（TCA）進行中層化學換膚，作用至真皮上層，改善較淺的車廂型、滾動型凹洞及色素沉着。"
        "復原期約五至七日，皮膚會先變深色、繃緊，然後脫皮。",
    ),
    "tca-cross": (
        "Chemical reconstruction of skin scars (CROSS): a doctor presses a tiny amount of strong TCA into the "
        "base of each narrow scar so new collagen lifts it. Suits icepick and deep boxcar scars. About a week "
        "of small scabs on the treated scars.",
        "由醫生以高濃度三氯醋酸（TCA）逐點點入每個窄而深的凹洞底部，刺激骨膠原增生，把凹洞逐步提升。"
        "適合冰鑿型及較深的車廂型凹洞。治療點會結小痂，約一星期脫落。",
    ),
    "rf-microneedling": (
        "Fine insulated needles carry radiofrequency energy into the dermis to tighten the skin and remodel "
        "collagen with little damage to the surface. Suits rolling and boxcar scars and red marks. 2–3 days "
        "of redness and tiny needle marks.",
        "以微細絕緣針把射頻能量直接送入真皮層，收緊皮膚並重組骨膠原，同時減少表皮損傷。"
        "適合滾動型、車廂型凹洞及紅印。復原期約兩至三日，會泛紅及出現細小針孔。",
    ),
    "microneedling": (
        "A pen of fine needles makes many tiny channels in the skin to start its own collagen repair. Suits "
        "rolling and shallow boxcar scars. 1–3 days of redness, like a mild sunburn.",
        "以微針筆在皮膚上製造大量微細通道，啟動皮膚自身修復，促進骨膠原增生。"
        "適合滾動型及較淺的車廂型凹洞。復原期約一至三日，皮膚會像輕微曬傷般泛紅。",
    ),
    "botox": (
        "Small doses of botulinum toxin injected into and around raised (hypertrophic) scars and keloids to "
        "reduce tension, itching and regrowth, often together with steroid injections. Little downtime: "
        "small bumps or bruises for a day.",
        "在增生性疤痕及蟹足腫內及周邊注射小劑量肉毒桿菌素，減低疤痕張力、痕癢及復發機會，"
        "常配合類固醇注射使用。復原期短，注射位置或有細小腫塊或瘀青約一日。",
    ),
    "subcision": (
        "Under local anaesthetic, a doctor slides a fine needle under rolling scars to release the fibrous "
        "bands that tether them down, so the skin can lift. Swelling and bruising for 1–2 weeks.",
        "由醫生在局部麻醉下，以幼針伸入滾動型凹洞底下，切斷把皮膚向下拉扯的纖維組織，讓凹陷位置回升。"
        "復原期約一至兩星期，期間會腫脹及瘀青。",
    ),
    "punch-excision": (
        "Minor surgery under local anaesthetic: each deep icepick or boxcar scar is removed with a small round "
        "punch and closed with a fine stitch, or lifted level with the surrounding skin. About a week of "
        "downtime, until the stitches come out.",
        "局部麻醉下進行的小手術：以細小圓形環鑽把較深的冰鑿型或車廂型凹洞逐個切除，再以幼線縫合，"
        "或把凹洞底部提升至與周邊皮膚平齊。復原期約一星期，直至拆線。",
    ),
    "hydrafacial": (
        "A HydraFacial treatment that cleanses, exfoliates and hydrates the skin with a vortex tip and serums. "
        "Suits dull skin with brown acne marks, on its own or between other treatments. No downtime.",
        "HydraFacial 水飛梭以渦旋導頭配合精華液，為皮膚深層清潔、去角質及補濕。"
        "適合膚色暗啞及有啡色暗瘡印的皮膚，可單獨進行或配合其他療程。無需復原期。",
    ),
}

# Pre-care, from the clinic's protocol.
_PRE: dict[str, tuple[str, str]] = {
    "general": (
        "Come with clean skin and no make-up on the treatment area. Tell us before your visit about any new "
        "medicine, pregnancy, cold sores or skin infection.",
        "治療當日請保持治療部位清潔，不要化妝。如有新服用的藥物、懷孕、熱瘡（唇皰疹）或皮膚感染，請於到診前通知我們。",
    ),
    "retinoid_2w": (
        "Stop retinoid creams and serums (such as tretinoin, adapalene or retinol) 2 weeks before.",
        "治療前兩星期停用A酸、A醇類外用產品（例如維A酸、阿達帕林、A醇）。",
    ),
    "retinoid_48h": (
        "Stop retinoid creams and serums (such as tretinoin, adapalene or retinol) 48 hours before.",
        "治療前48小時停用A酸、A醇類外用產品（例如維A酸、阿達帕林、A醇）。",
    ),
    "sun_2m": (
        "Avoid sunbathing, tanning and sunburn for 2 months before, and use SPF 50 sunscreen every day.",
        "治療前兩個月避免曬太陽、曬黑或曬傷，並每日塗上SPF 50防曬。",
    ),
    "antiviral": (
        "If you have ever had cold sores, tell us: you will need antiviral tablets to cover the treatment.",
        "如曾患熱瘡（唇皰疹），請預先告知我們，治療前後需要服用抗病毒藥物預防復發。",
    ),
    "numbing": (
        "Arrive 45 minutes early so that numbing cream can take effect.",
        "請提早45分鐘到達，以便敷上麻醉膏。",
    ),
    "anticoagulants": (
        "If you take blood thinners, keep taking them as prescribed and tell us: bruising is more likely.",
        "如正在服用薄血藥，請依照醫生指示繼續服藥，並預先告知我們，因為較容易出現瘀青。",
    ),
    "downtime": (
        "Plan for the downtime: you may want a few days off work or social plans.",
        "請預留復原時間，或需安排數日休假或減少社交活動。",
    ),
    "consultation": (
        "Bring a list of the medicines you take and any records of past skin treatments. If you can, come "
        "without make-up so the doctor can see your skin clearly and take photos.",
        "請帶備正在服用的藥物清單及過往皮膚療程的紀錄。如可以，請不化妝到診，方便醫生清楚檢查皮膚及拍照。",
    ),
}

# Aftercare: generic clinic advice, with a part for each kind of treatment.
_AFTER: dict[str, tuple[str, str]] = {
    "healing": (
        "Keep the skin moist with a plain, fragrance-free moisturiser. Avoid make-up until the skin has "
        "healed, and for a week avoid scrubs, acids and retinoids, saunas, swimming and hard exercise.",
        "使用無香料的溫和保濕產品保持皮膚滋潤。皮膚癒合前不要化妝；一星期內避免使用磨砂、果酸及A酸產品，"
        "亦請避免桑拿、游泳及劇烈運動。",
    ),
    "peel": (
        "Let flaking skin come off by itself and use a plain moisturiser. Restart acids and retinoids only "
        "when the skin has stopped peeling.",
        "讓脫皮自然脫落，並使用溫和保濕產品。待完全停止脫皮後，才重新使用果酸或A酸產品。",
    ),
    "injection": (
        "Do not rub or massage the area for 24 hours unless we ask you to, and avoid hard exercise, saunas "
        "and alcohol for 24 hours. Small bruises fade within about a week.",
        "除非醫生另有指示，24小時內不要揉搓或按摩注射位置，並避免劇烈運動、桑拿及飲酒。輕微瘀青一般約一星期內消退。",
    ),
    "steroid": (
        "Tell us if the skin around the scar becomes thin or pale, or shows small veins.",
        "如疤痕周圍的皮膚變薄、變淺色或出現微絲血管，請告知我們。",
    ),
    "subcision": (
        "Swelling and bruising settle over 1–2 weeks; a cold pack wrapped in a cloth helps in the first 48 hours.",
        "腫脹及瘀青約一至兩星期內消退；首48小時可用毛巾包着冰袋冷敷紓緩。",
    ),
    "wound": (
        "Keep the treated area clean and dry for 24 hours, then wash gently and apply the ointment we give "
        "you, as shown, until the skin has healed.",
        "治療後24小時內保持治療部位清潔乾爽，之後輕柔清洗，並按指示塗上我們提供的藥膏，直至傷口癒合。",
    ),
    "stitches": (
        "Stitches come out after 5–7 days; we will book that visit with you.",
        "縫線約五至七日後拆除，我們會為你安排覆診。",
    ),
    "facial": (
        "You can wear make-up again the next day. Avoid scrubs and acids for 48 hours.",
        "翌日即可化妝。48小時內避免使用磨砂及果酸產品。",
    ),
    "common": (
        "Use a broad-spectrum SPF 50 sunscreen every day and reapply it when outdoors. Wash gently with a mild "
        "cleanser and lukewarm water, and pat dry. Do not pick, scratch or peel off scabs or flakes. Call the "
        "clinic if pain or swelling gets worse, or you notice pus, fever, blisters or a cold sore, or anything "
        "else worries you.",
        "每日塗上SPF 50廣譜防曬，外出時定時補塗。以溫和潔面產品及暖水輕柔洗面，再輕輕印乾。"
        "切勿挖、抓或撕走痂皮及死皮。如痛楚或腫脹加劇，或出現膿、發燒、水泡、熱瘡，或有任何令你擔心的情況，請致電診所。",
    ),
    "consultation": (
        "No aftercare is needed. Take your time with the plan we discussed, and contact us with any questions.",
        "無需特別護理。你可慢慢考慮我們討論過的治療計劃，如有任何疑問，歡迎聯絡我們。",
    ),
}

_ABLATIVE = {"co2-fractional", "fotona-laser-peel", "dermabrasion", "peel-tca-medium"}
_LONG_DOWNTIME = {"co2-fractional", "dermabrasion", "peel-tca-medium", "subcision", "punch-excision"}


def _pre_care_keys(spec: TreatmentSpec) -> list[str]:
    if spec.category == Category.CONSULTATION:
        return ["consultation"]
    keys = ["general"]
    if spec.category in {Category.LASER, Category.MICRONEEDLING, Category.RF_MICRONEEDLING, Category.RESURFACING}:
        keys.append("retinoid_2w")
    if spec.category in {Category.PEEL, Category.FACIAL}:
        keys.append("retinoid_48h")
    if spec.category in {Category.LASER, Category.RESURFACING} or spec.slug == "peel-tca-medium":
        keys.append("sun_2m")
    if spec.slug in _ABLATIVE:
        keys.append("antiviral")
    if spec.category in {Category.LASER, Category.MICRONEEDLING, Category.RF_MICRONEEDLING, Category.SUBCISION}:
        keys.append("numbing")
    if any(rule.code == "ANTICOAG" for rule in spec.rules):
        keys.append("anticoagulants")
    if spec.slug in _LONG_DOWNTIME:
        keys.append("downtime")
    return keys


@dataclass(frozen=True)
class PreCareSpec:
    """A pre-care email's instruction (issue 17), for the treatments whose
    pre-care text above has the same key."""

    key: str
    days_before: int
    title_en: str
    title_zh_hant: str
    text_en: str
    text_zh_hant: str
    condition: str = PreCareCondition.EVERYONE
    order: int = 100


PRE_CARE_INSTRUCTIONS: tuple[PreCareSpec, ...] = (
    PreCareSpec(
        "sun_2m", 60, "Avoid sun and tanning from today", "由今天起避免曬太陽及曬黑",
        "For the 2 months before your treatment, avoid sunbathing, tanning and sunburn, and use SPF 50 sunscreen "
        "every day. Tanned skin is more likely to darken or blister after treatment.",
        "療程前兩個月內請避免曬太陽、曬黑或曬傷，並每日塗上SPF 50防曬。曬黑的皮膚於療程後較易變深色或起水泡。",
        order=10,
    ),
    PreCareSpec(
        "retinoid_2w", 14, "Stop topical retinoids today", "今天起停用A酸類外用產品",
        "Stop retinoid creams and serums (such as tretinoin, adapalene or retinol) today, 2 weeks before your "
        "treatment. You can restart them when your skin has healed.",
        "請由今天起（療程前兩星期）停用A酸、A醇類外用產品（例如維A酸、阿達帕林、A醇）。皮膚癒合後可重新使用。",
        order=20,
    ),
    PreCareSpec(
        "antiviral", 7, "Antiviral cover for cold sores", "預防熱瘡的抗病毒藥物",
        "If you have ever had cold sores, you need antiviral tablets to cover this treatment. If we have not "
        "prescribed them yet, call us this week so the doctor can.",
        "如你曾患熱瘡（唇皰疹），這個療程前後需要服用抗病毒藥物預防復發。如我們尚未為你處方，請於本星期內致電我們安排。",
        condition=PreCareCondition.COLD_SORE_HISTORY,
        order=30,
    ),
    PreCareSpec(
        "retinoid_48h", 2, "Stop topical retinoids today", "今天起停用A酸類外用產品",
        "Stop retinoid creams and serums (such as tretinoin, adapalene or retinol) today, 48 hours before your "
        "treatment.",
        "請由今天起（療程前48小時）停用A酸、A醇類外用產品（例如維A酸、阿達帕林、A醇）。",
        order=40,
    ),
    PreCareSpec(
        "numbing", 1, "Arrive 45 minutes early tomorrow", "明天請提早45分鐘到達",
        "Please arrive 45 minutes before your appointment time, so that numbing cream can take effect before "
        "your treatment.",
        "請於預約時間前45分鐘到達，讓麻醉膏有足夠時間生效。",
        order=50,
    ),
)  # fmt: skip


def _aftercare_keys(spec: TreatmentSpec) -> list[str]:
    by_category: dict[str, list[str]] = {
        Category.CONSULTATION: ["consultation"],
        Category.LASER: ["healing"],
        Category.RF_MICRONEEDLING: ["healing"],
        Category.MICRONEEDLING: ["healing"],
        Category.TCA_CROSS: ["healing"],
        Category.PEEL: ["peel"],
        Category.FILLER: ["injection"],
        Category.TOXIN: ["injection"],
        Category.STEROID: ["injection", "steroid"],
        Category.SUBCISION: ["wound", "subcision"],
        Category.PUNCH: ["wound", "stitches"],
        Category.FACIAL: ["facial"],
    }
    if spec.category == Category.RESURFACING:
        keys = ["wound"] if spec.slug == "dermabrasion" else ["healing"]
    else:
        keys = list(by_category[spec.category])
    if spec.category != Category.CONSULTATION:
        keys.append("common")
    return keys


def _join(texts: dict[str, tuple[str, str]], keys: list[str]) -> tuple[str, str]:
    return " ".join(texts[k][0] for k in keys), "".join(texts[k][1] for k in keys)


# The home page leads with what a scar clinic is known for, in this order: the
# consultation first (where a patient unsure of their scar types should start),
# then the mainstays for pitted scars. Steroid injection treats raised scars
# only and is no headline.
FEATURED: tuple[str, ...] = (
    "consultation",
    "co2-fractional",
    "pico-laser",
    "subcision",
    "tca-cross",
    "rf-microneedling",
)


# Usual downtime per session, from docs/domain.md (clinic estimates, so unverified):
# slug -> (min days, max days, note in English, note in Chinese); no note reads "redness".
DOWNTIME: dict[str, tuple[int, int, str, str]] = {
    "co2-fractional": (5, 7, "", ""),
    "tca-cross": (5, 7, "", ""),
    "dermabrasion": (7, 10, "", ""),
    "rf-microneedling": (2, 4, "", ""),
    "nafl-1550": (1, 3, "", ""),
    "microneedling": (1, 3, "", ""),
    "fotona-laser-peel": (2, 5, "", ""),
    "subcision": (7, 14, "bruising", "瘀青"),
    "pico-laser": (1, 3, "", ""),
    "punch-excision": (7, 14, "sutures", "縫線"),
    "peel-superficial": (1, 3, "", ""),
    "ha-filler": (2, 7, "swelling and bruising", "腫脹及瘀青"),
    "peel-tca-medium": (5, 7, "", ""),
    "botox": (0, 1, "", ""),
    "steroid-injection": (0, 1, "", ""),
}


def treatment_values(spec: TreatmentSpec, *, display_order: int) -> dict[str, Any]:
    description_en, description_zh = DESCRIPTIONS[spec.slug]
    pre_en, pre_zh = _join(_PRE, _pre_care_keys(spec))
    after_en, after_zh = _join(_AFTER, _aftercare_keys(spec))
    downtime_min, downtime_max, downtime_en, downtime_zh = DOWNTIME.get(spec.slug, (0, 0, "", ""))
    return {
        "category": spec.category,
        "name_en": spec.name_en,
        "name_zh_hant": spec.name_zh_hant,
        "description_en": description_en,
        "description_zh_hant": description_zh,
        "pre_care_en": pre_en,
        "pre_care_zh_hant": pre_zh,
        "aftercare_en": after_en,
        "aftercare_zh_hant": after_zh,
        "suits": spec.suits,
        "duration_minutes": spec.duration_minutes,
        "buffer_minutes": spec.buffer_minutes,
        "sessions_min": spec.sessions_min,
        "sessions_max": spec.sessions_max,
        "interval_days_min": spec.interval_days_min,
        "interval_days_max": spec.interval_days_max,
        "price": spec.price,
        **_deposit(spec.slug),
        "verified": spec.verified,
        "downtime_days_min": downtime_min,
        "downtime_days_max": downtime_max,
        "downtime_note_en": downtime_en,
        "downtime_note_zh_hant": downtime_zh,
        "downtime_verified": False,
        "active": True,
        "display_order": display_order,
        "featured": spec.slug in FEATURED,
        "featured_order": (FEATURED.index(spec.slug) + 1) * 10 if spec.slug in FEATURED else 100,
    }


# --- the clinic -------------------------------------------------------------

ROOMS: tuple[tuple[str, str, str], ...] = (
    ("Laser Room 1", "激光室 1", "laser"),
    ("Laser Room 2", "激光室 2", "laser"),
    ("Treatment Room 1", "治療室 1", "treatment"),
    ("Treatment Room 2", "治療室 2", "treatment"),
    ("Procedure Room", "手術室", "procedure"),
    ("Consultation Room", "診症室", "consultation"),
)

DEVICES: tuple[tuple[str, str, str], ...] = (
    ("CO2 Laser", "二氧化碳激光機", "co2"),
    ("1550 Laser", "1550 激光機", "nafl-1550"),
    ("Fotona Laser", "Fotona 激光機", "fotona"),
    ("Pico Laser", "皮秒激光機", "pico"),
    ("RF Microneedling Device", "射頻微針儀", "rf"),
    ("HydraFacial Machine", "HydraFacial 水飛梭儀器", "hydrafacial"),
)

# Monday to Friday 10:00-19:00 with lunch 13:00-14:00, Saturday 10:00-16:00.
WEEKLY_HOURS: dict[int, tuple[time, time, time | None, time | None]] = {
    **{day: (time(10), time(19), time(13), time(14)) for day in range(5)},
    5: (time(10), time(16), None, None),
}

ALL_TREATMENTS = "*"


@dataclass(frozen=True)
class PractitionerSpec:
    username: str
    first_name: str
    last_name: str
    title_en: str
    title_zh_hant: str
    treatments: tuple[str, ...] | str
    bio_en: str = ""
    bio_zh_hant: str = ""
    colour: tuple[int, int, int] = (15, 110, 110)  # the placeholder portrait's


PRACTITIONERS: tuple[PractitionerSpec, ...] = (
    PractitionerSpec(
        "doctor@example.com",
        "Karen",
        "Wong",
        "Specialist in Dermatology and Venereology",
        "皮膚及性病科專科醫生",
        ALL_TREATMENTS,
        bio_en=(
            "Dr Wong has treated acne and acne scarring for fifteen years. She assesses each new patient's scar "
            "types and skin, plans combined courses of laser, subcision and TCA CROSS, and follows progress with "
            "standard photos."
        ),
        bio_zh_hant=(
            "黃醫生治療暗瘡及暗瘡疤痕已有十五年。她為每位新病人評估疤痕類型及膚質，安排結合激光、"
            "皮下分離術及 TCA CROSS 的療程，並以標準相片跟進進展。"
        ),
        colour=(15, 110, 110),
    ),
    PractitionerSpec(
        "michael.chan@example.com",
        "Michael",
        "Chan",
        "Specialist in Plastic Surgery",
        "整形外科專科醫生",
        (
            "consultation",
            "steroid-injection",
            "ha-filler",
            "dermabrasion",
            "co2-fractional",
            "nafl-1550",
            "fotona-laser-peel",
            "pico-laser",
            "peel-tca-medium",
            "tca-cross",
            "rf-microneedling",
            "botox",
            "subcision",
            "punch-excision",
        ),
        bio_en=(
            "Dr Chan is a plastic surgeon who focuses on deep and tethered acne scars: subcision, punch excision "
            "and elevation, fractional CO2 laser and fillers, often in one planned course."
        ),
        bio_zh_hant=(
            "陳醫生是整形外科專科醫生，專注處理較深及有牽扯的暗瘡疤痕：皮下分離術、環鑽切除及提升、"
            "點陣二氧化碳激光及填充，常於同一療程計劃內配合進行。"
        ),
        colour=(29, 79, 145),
    ),
    PractitionerSpec(
        "cherry.lam@example.com",
        "Cherry",
        "Lam",
        "Registered Nurse (Aesthetics)",
        "註冊護士（醫學美容）",
        (
            "microdermabrasion",
            "nafl-1550",
            "pico-laser",
            "peel-superficial",
            "rf-microneedling",
            "microneedling",
            "hydrafacial",
        ),
        bio_en=(
            "Cherry is a registered nurse with ten years in aesthetic medicine. She performs the clinic's laser "
            "and microneedling sessions and explains what to expect before and after each one."
        ),
        bio_zh_hant=(
            "林姑娘是註冊護士，從事醫學美容十年。她負責診所的激光及微針療程，並在每次療程前後講解需要注意的事項。"
        ),
        colour=(107, 63, 160),
    ),
    PractitionerSpec(
        "joyce.ho@example.com",
        "Joyce",
        "Ho",
        "Dermal Therapist",
        "皮膚治療師",
        ("microdermabrasion", "peel-superficial", "hydrafacial"),
        bio_en=(
            "Joyce looks after acne marks: chemical peels, microdermabrasion and HydraFacial, with gentle "
            "advice on skincare and sun protection between visits."
        ),
        bio_zh_hant="何小姐專門處理暗瘡印：化學換膚、微晶磨皮及 HydraFacial，並在療程之間提供護膚及防曬建議。",
        colour=(30, 107, 52),
    ),
)

# username -> (first name, last name, role)
OTHER_ACCOUNTS: dict[str, tuple[str, str, str | None]] = {
    "manager@example.com": ("Mandy", "Leung", MANAGER),
    "reception@example.com": ("Rachel", "Tsang", RECEPTIONIST),
    "patient@example.com": ("Emily", "Cheung", None),
}

DEMO_PATIENT: dict[str, Any] = {
    "full_name": "Emily Cheung",
    "date_of_birth": date(1997, 8, 21),
    "phone": "+85291234567",
    "email": "patient@example.com",
    "preferred_language": "en",
    "fitzpatrick_type": 3,
}


# --- seeding ----------------------------------------------------------------


def seed_kinds(tally: Tally) -> tuple[dict[str, RoomKind], dict[str, DeviceKind]]:
    room_kinds = {
        slug: upsert(RoomKind, lookup={"slug": slug}, values={"name_en": en, "name_zh_hant": zh}, tally=tally)
        for slug, (en, zh) in ROOM_KINDS.items()
    }
    device_kinds = {
        slug: upsert(DeviceKind, lookup={"slug": slug}, values={"name_en": en, "name_zh_hant": zh}, tally=tally)
        for slug, (en, zh) in DEVICE_KINDS.items()
    }
    return room_kinds, device_kinds


def seed_catalogue(
    tally: Tally, room_kinds: dict[str, RoomKind], device_kinds: dict[str, DeviceKind]
) -> dict[str, Treatment]:
    treatments = {}
    for position, spec in enumerate(CATALOGUE, start=1):
        values = treatment_values(spec, display_order=position * 10)
        values["room_kind"] = room_kinds[spec.room_kind]
        values["device_kind"] = device_kinds[spec.device_kind] if spec.device_kind else None
        treatment = upsert(Treatment, lookup={"slug": spec.slug}, values=values, tally=tally)
        treatments[spec.slug] = treatment
        for rule in spec.rules:
            upsert(
                ContraindicationRule,
                lookup={"treatment": treatment, "code": rule.code},
                values={"severity": rule.severity, "verified": rule.verified},
                tally=tally,
            )
        # Rules not in the table (left from an older seed) go, so the seeded
        # rules are exactly the table's.
        stale = treatment.contraindications.exclude(code__in=[rule.code for rule in spec.rules])
        for stale_rule in stale:
            stale_rule.delete()
            tally.deleted[_label(ContraindicationRule)] += 1
    return treatments


def seed_pre_care(tally: Tally, treatments: dict[str, Treatment]) -> None:
    """The pre-care emails' instructions, for the treatments whose pre-care
    text names them (``_pre_care_keys``)."""
    for spec in PRE_CARE_INSTRUCTIONS:
        instruction = upsert(
            PreCareInstruction,
            lookup={"code": spec.key.replace("_", "-")},
            values={
                "days_before": spec.days_before,
                "title_en": spec.title_en,
                "title_zh_hant": spec.title_zh_hant,
                "text_en": spec.text_en,
                "text_zh_hant": spec.text_zh_hant,
                "condition": spec.condition,
                "order": spec.order,
                "active": True,
            },
            tally=tally,
        )
        wanted = [treatments[t.slug] for t in CATALOGUE if spec.key in _pre_care_keys(t)]
        _set_m2m(instruction.treatments, wanted, tally, "pre-care treatments")


def seed_gap_rules(tally: Tally) -> None:
    """The clinic-protocol spacing between different treatments (treatments/gap_seed.py);
    rules already there are left as the clinic edited them."""
    created = gap_seed.seed_gap_rules(GapRule, Treatment)
    tally.created[_label(GapRule)] += created
    tally.unchanged[_label(GapRule)] += len(gap_seed.SEEDS) - created


def seed_rooms_and_devices(tally: Tally, room_kinds: dict[str, RoomKind], device_kinds: dict[str, DeviceKind]) -> None:
    for en, zh, kind in ROOMS:
        upsert(
            Room,
            lookup={"name_en": en},
            values={"name_zh_hant": zh, "kind": room_kinds[kind], "active": True},
            tally=tally,
        )
    for en, zh, kind in DEVICES:
        upsert(
            Device,
            lookup={"name_en": en},
            values={"name_zh_hant": zh, "kind": device_kinds[kind], "active": True},
            tally=tally,
        )


def seed_user(username: str, first_name: str, last_name: str, role: str | None, tally: Tally) -> User:
    """A demo login: username = email, password ``DEMO_PASSWORD``, exactly the
    one role group (none for a patient), staff when it has a role."""
    user = upsert(
        User,
        lookup={"username": username},
        values={
            "email": username,
            "first_name": first_name,
            "last_name": last_name,
            "is_staff": role is not None,
            "is_superuser": False,
            "is_active": True,
        },
        create_only=lambda: {"password": make_password(DEMO_PASSWORD)},
        tally=tally,
    )
    # Without a setter: checking must never rewrite the hash (an upgrade of
    # the hasher's parameters would otherwise count as a change).
    if not check_password(DEMO_PASSWORD, user.password):
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        tally.updated["passwords"] += 1
    wanted = [Group.objects.get(name=role)] if role else []
    _set_m2m(user.groups, wanted, tally, "group memberships")
    return user


def seed_practitioners(tally: Tally, treatments: dict[str, Treatment]) -> list[Practitioner]:
    practitioners = []
    for spec in PRACTITIONERS:
        user = seed_user(spec.username, spec.first_name, spec.last_name, PRACTITIONER, tally)
        practitioner = upsert(
            Practitioner,
            lookup={"user": user},
            values={
                "title_en": spec.title_en,
                "title_zh_hant": spec.title_zh_hant,
                "bio_en": spec.bio_en,
                "bio_zh_hant": spec.bio_zh_hant,
                "active": True,
            },
            tally=tally,
        )
        seed_portrait(practitioner, spec, tally)
        slugs = list(treatments) if spec.treatments == ALL_TREATMENTS else spec.treatments
        _set_m2m(practitioner.treatments, [treatments[slug] for slug in slugs], tally, "qualifications")
        seed_hours(practitioner, tally)
        practitioners.append(practitioner)
    return practitioners


def seed_portrait(practitioner: Practitioner, spec: PractitionerSpec, tally: Tally) -> None:
    """A drawn placeholder when the practitioner has no photo (or its file is
    gone); a photo the clinic uploaded is never replaced."""
    if practitioner.photo.name and default_storage.exists(practitioner.photo.name):
        tally.unchanged["practitioner photos"] += 1
        return
    initials = (spec.first_name[:1] + spec.last_name[:1]).upper()
    data = portrait_png(initials, spec.colour)
    practitioner_photo_set(practitioner=practitioner, upload=io.BytesIO(data), size=len(data))
    tally.created["practitioner photos"] += 1


def seed_hours(practitioner: Practitioner, tally: Tally) -> None:
    """One period per working day, as WEEKLY_HOURS says; other periods of
    this practitioner go (the demo clinic keeps no Sunday hours)."""
    kept = []
    for weekday, (start, end, break_start, break_end) in WEEKLY_HOURS.items():
        rows = list(practitioner.working_hours.filter(weekday=weekday).order_by("start", "id"))
        for extra in rows[1:]:
            extra.delete()
            tally.deleted[_label(WorkingHours)] += 1
        values = {"start": start, "end": end, "break_start": break_start, "break_end": break_end}
        if rows:
            kept.append(_update(rows[0], values, tally).pk)
        else:
            row = WorkingHours(practitioner=practitioner, weekday=weekday, **values)
            row.full_clean()
            row.save()
            tally.created[_label(WorkingHours)] += 1
            kept.append(row.pk)
    for other in practitioner.working_hours.exclude(pk__in=kept):
        other.delete()
        tally.deleted[_label(WorkingHours)] += 1


def seed_accounts(tally: Tally) -> Patient:
    users = {
        username: seed_user(username, first_name, last_name, role, tally)
        for username, (first_name, last_name, role) in OTHER_ACCOUNTS.items()
    }
    return upsert(Patient, lookup={"user": users["patient@example.com"]}, values=DEMO_PATIENT, tally=tally)


def _one_year_later(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def hong_kong_holidays(today: date) -> list[tuple[date, str]]:
    """Hong Kong's holidays from ``today`` for twelve months, English names.

    ``holidays``' default category for HK is the statutory holidays; general
    holidays that are not statutory (Good Friday until 2028, for one) need
    ``categories=(PUBLIC, OPTIONAL)``.

    ``holidays`` is the demo's own dependency (requirements.in), imported
    here so that nothing else loads it."""
    import holidays

    until = _one_year_later(today)
    calendar = holidays.country_holidays("HK", years=range(today.year, until.year + 1), language="en_HK")
    return sorted((day, name) for day, name in calendar.items() if today <= day < until)


def seed_holidays(tally: Tally, *, today: date) -> None:
    zone = clinic_zone()
    for day, name in hong_kong_holidays(today):
        start = datetime.combine(day, time.min, tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone)
        upsert(
            ClinicClosure,
            lookup={"start": start, "end": end, "reason": name[:200]},
            values={"kind": ClinicClosure.Kind.PUBLIC_HOLIDAY},
            tally=tally,
        )


def seed_demo(*, today: date) -> Tally:
    """Seeds everything; the caller owns the transaction."""
    tally = Tally()
    sync_roles()
    room_kinds, device_kinds = seed_kinds(tally)
    treatments = seed_catalogue(tally, room_kinds, device_kinds)
    seed_consent_forms(tally, upsert)
    seed_pre_care(tally, treatments)
    seed_packages(tally, upsert, treatments)
    seed_gap_rules(tally)
    seed_rooms_and_devices(tally, room_kinds, device_kinds)
    seed_practitioners(tally, treatments)
    seed_accounts(tally)
    seed_holidays(tally, today=today)
    return tally
