"""The demo clinic's consent forms: one per family of treatments, version 1
published, in English and Traditional Chinese. Seeded once: a published
version never changes (treatments.consents), so a later run leaves an existing
version alone and a clinic edits by publishing version 2."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from treatments.models import Category, ConsentForm, ConsentVersion

PUBLISHED_AT = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)

PHOTOS = (
    "The clinic photographs the treated areas before and after treatment, in the same standard views each time. "
    "These photos are part of your medical record and are used for your care. You choose separately whether the "
    "clinic may also use them, without your name, for teaching clinicians, and for marketing. You can change or "
    "withdraw these choices at any time; photos already published cannot always be recalled.",
    "診所會在治療前後以相同的標準角度拍攝治療部位。這些照片屬於您的醫療紀錄，用於您的治療。"
    "您可另行選擇是否容許診所在不顯示姓名的情況下，將照片用於培訓醫護人員及市場推廣。"
    "您可隨時更改或撤回這些選擇；已公開的照片未必能夠收回。",
)

ALTERNATIVES_COMMON = (
    "Other options include other lasers or energy devices, chemical peels, microneedling, subcision, fillers, "
    "surgical techniques, skincare alone, or no treatment. Your practitioner has explained why this treatment was "
    "suggested for your scars.",
    "其他選擇包括其他激光或能量儀器、化學換膚、微針、皮下分離術、填充劑、外科手術、只使用護膚品，或不接受治療。"
    "您的醫生已向您解釋為何建議您的疤痕接受這項治療。",
)


@dataclass(frozen=True)
class FormSpec:
    slug: str
    title: tuple[str, str]
    categories: tuple[str, ...]
    summary: tuple[str, str]
    risks: tuple[str, str]
    aftercare: tuple[str, str]
    alternatives: tuple[str, str] = ALTERNATIVES_COMMON


FORMS: tuple[FormSpec, ...] = (
    FormSpec(
        slug="laser-resurfacing",
        title=("Consent to laser and resurfacing treatment", "激光及換膚治療同意書"),
        categories=(Category.LASER, Category.RESURFACING),
        summary=(
            "Laser and resurfacing treatments remove or heat thin layers of skin so that new collagen forms and "
            "scars become shallower. Several sessions weeks apart are usually needed; results build over months "
            "and vary between people.",
            "激光及換膚治療以去除或加熱表層皮膚，刺激新骨膠原生成，使疤痕變淺。通常需要相隔數星期的多次療程；"
            "效果會在數月內逐漸呈現，而且因人而異。",
        ),
        risks=(
            "Redness, swelling and tenderness for days to a week; crusting or peeling; temporary darkening "
            "(post-inflammatory hyperpigmentation), more likely in darker skin; lightening of the skin; infection, "
            "including a cold-sore outbreak; blistering or burns; rarely new scarring. Eye protection is worn "
            "throughout.",
            "數天至一星期的泛紅、腫脹及觸痛；結痂或脫皮；暫時性色素沉澱（炎症後色素沉着），膚色較深者較常見；"
            "皮膚變淺；感染，包括唇瘡復發；起水泡或灼傷；罕有情況下出現新疤痕。治療期間全程佩戴護眼罩。",
        ),
        aftercare=(
            "Keep the skin clean and moisturised, use broad-spectrum sunscreen daily and avoid sun exposure for at "
            "least four weeks; do not pick crusts; avoid retinoids, scrubs and make-up until the clinic says so.",
            "保持皮膚清潔及滋潤，每日使用廣譜防曬並避免日曬最少四星期；切勿撕去結痂；"
            "在診所許可前避免使用維A酸、磨砂產品及化妝品。",
        ),
    ),
    FormSpec(
        slug="chemical-peel",
        title=("Consent to chemical peel and TCA CROSS", "化學換膚及 TCA CROSS 治療同意書"),
        categories=(Category.PEEL, Category.TCA_CROSS),
        summary=(
            "An acid is applied to the skin (or, in TCA CROSS, into single scars) to remove damaged layers and "
            "stimulate repair. The depth depends on the agent, its strength and the contact time.",
            "將酸性溶液塗於皮膚（TCA CROSS 則點於個別疤痕內），去除受損表層並刺激修復。深度取決於藥劑、濃度及停留時間。",
        ),
        risks=(
            "Stinging and redness during and after; peeling for several days; temporary darkening or lightening "
            "of the skin; cold-sore outbreak; infection; rarely scarring or a chemical burn.",
            "治療期間及之後有刺痛及泛紅；數天脫皮；皮膚暫時變深或變淺；唇瘡復發；感染；罕有情況下出現疤痕或化學灼傷。",
        ),
        aftercare=(
            "Use a gentle cleanser and moisturiser, sunscreen every day, and let the skin peel by itself. Stop "
            "topical retinoids until the clinic says to restart.",
            "使用溫和潔面及保濕產品，每日塗防曬，讓皮膚自然脫皮。在診所指示前停用外用維A酸。",
        ),
    ),
    FormSpec(
        slug="needling-procedures",
        title=("Consent to microneedling and scar procedures", "微針及疤痕手術治療同意書"),
        categories=(Category.MICRONEEDLING, Category.RF_MICRONEEDLING, Category.SUBCISION, Category.PUNCH),
        summary=(
            "Fine needles (with or without radiofrequency energy), a needle under the skin (subcision) or a small "
            "punch release or remove scar tissue so that the skin can remodel. Numbing cream or local anaesthetic "
            "is used.",
            "以幼細針頭（配合或不配合射頻能量）、皮下針（皮下分離術）或小型環鑽鬆解或切除疤痕組織，讓皮膚重組。"
            "治療時會使用麻醉藥膏或局部麻醉。",
        ),
        risks=(
            "Redness, swelling and pinpoint bleeding; bruising for up to two weeks after subcision; small marks "
            "from the device; infection; temporary darkening of the skin; stitches and a small new scar after "
            "punch excision; allergic reaction to the anaesthetic.",
            "泛紅、腫脹及針孔出血；皮下分離術後可能瘀傷長達兩星期；儀器留下的細小印痕；感染；皮膚暫時變深；"
            "環鑽切除後需縫針並留下細小新疤；對麻醉藥過敏。",
        ),
        aftercare=(
            "Keep the area clean; no make-up for 24 hours; avoid swimming, saunas and strenuous exercise for two "
            "days; use sunscreen; follow the wound-care sheet for stitches.",
            "保持治療部位清潔；24 小時內不要化妝；兩天內避免游泳、桑拿及劇烈運動；使用防曬；如有縫針，請依照傷口護理指引。",
        ),
    ),
    FormSpec(
        slug="injectables",
        title=("Consent to injectable treatment", "注射治療同意書"),
        categories=(Category.FILLER, Category.TOXIN, Category.STEROID),
        summary=(
            "A medicine or device is injected into or under the scar: hyaluronic acid filler to lift depressed "
            "scars, botulinum toxin or a steroid to flatten raised scars. The product, its batch (lot) and expiry "
            "are recorded in your notes so you can be contacted if a batch is recalled.",
            "將藥物或醫療產品注射入疤痕內或其下方：以透明質酸填充凹陷疤痕，以肉毒桿菌素或類固醇使凸起疤痕變平。"
            "產品、批號及有效日期會記錄於您的病歷，如該批產品被回收，診所可聯絡您。",
        ),
        risks=(
            "Swelling, bruising and tenderness; lumps or uneven results; allergic reaction; infection; for "
            "fillers, rarely blockage of a blood vessel, which needs urgent treatment; for steroids, thinning or "
            "lightening of the skin; for toxin, temporary weakness of nearby muscles.",
            "腫脹、瘀傷及觸痛；硬塊或效果不平均；過敏反應；感染；填充劑罕有情況下會阻塞血管，需緊急處理；"
            "類固醇可能令皮膚變薄或變淺；肉毒桿菌素可能令附近肌肉暫時無力。",
        ),
        aftercare=(
            "Do not massage the area unless told to; avoid heat, alcohol and strenuous exercise for 24 hours; "
            "call the clinic at once for pain, whitening or dusky skin after a filler.",
            "除非獲指示，否則不要按摩治療部位；24 小時內避免高溫、酒精及劇烈運動；"
            "注射填充劑後如出現疼痛、皮膚發白或變暗，請立即致電診所。",
        ),
        alternatives=(
            "Other options include energy-based treatments, subcision, surgical revision, silicone gel or "
            "pressure for raised scars, or no treatment.",
            "其他選擇包括能量儀器治療、皮下分離術、手術修正、以矽膠或壓力治療凸起疤痕，或不接受治療。",
        ),
    ),
)


def version_values(spec: FormSpec) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, (en, zh) in (
        ("summary", spec.summary),
        ("risks", spec.risks),
        ("alternatives", spec.alternatives),
        ("aftercare", spec.aftercare),
        ("photos", PHOTOS),
    ):
        values[f"{name}_en"] = en
        values[f"{name}_zh_hant"] = zh
    return values


def seed_consent_forms(tally: Any, upsert: Any) -> list[ConsentForm]:
    """The forms (updated like the rest of the catalogue) and each one's
    version 1, created published when the form has no version yet."""
    forms = []
    for spec in FORMS:
        form = upsert(
            ConsentForm,
            lookup={"slug": spec.slug},
            values={
                "title_en": spec.title[0],
                "title_zh_hant": spec.title[1],
                "categories": [str(c) for c in spec.categories],
                "active": True,
            },
            tally=tally,
        )
        if not ConsentVersion.objects.filter(form=form).exists():
            ConsentVersion.objects.create(
                form=form, number=1, published_at=PUBLISHED_AT, created_at=PUBLISHED_AT, **version_values(spec)
            )
            tally.created[str(ConsentVersion._meta.verbose_name_plural)] += 1
        else:
            tally.unchanged[str(ConsentVersion._meta.verbose_name_plural)] += 1
        forms.append(form)
    return forms
