"""The signed consent PDF (treatments/consent_pdf.py): what a reader finds in it,
read back with pypdf, in English, in Chinese and in a mixture of both."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from tests.factories import ConsentFormFactory, ConsentVersionFactory, PatientFactory, UserFactory
from tests.treatments.test_consents import DRAWING, sign
from treatments import consents
from treatments.consent_pdf import consent_pdf

pytestmark = pytest.mark.django_db

SIGNED_AT = datetime(2026, 3, 14, 7, 30, tzinfo=UTC)  # 15:30 in Hong Kong


def pdf_text(data: bytes) -> str:
    """The PDF's text with every kind of white space removed: a line wraps
    wherever the page needs, also between two Chinese characters."""
    reader = PdfReader(io.BytesIO(data))
    return re.sub(r"\s+", "", "".join(page.extract_text() for page in reader.pages))


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def pages(data: bytes) -> int:
    return len(PdfReader(io.BytesIO(data)).pages)


@pytest.fixture
def version():
    form = ConsentFormFactory(title_en="Laser resurfacing", title_zh_hant="激光換膚")
    return ConsentVersionFactory(
        form=form,
        risks_en="Redness & swelling for 3–5 days; rarely <b>darker</b> patches.",
        risks_zh_hant="泛紅及腫脹三至五日；少數出現色素沉著。",
    )


def test_an_english_signature_prints_the_signed_wording_the_name_and_the_hash(version):
    patient = PatientFactory(full_name="Emily Chan")
    signature = sign(patient, version, now=SIGNED_AT, photo_use=["clinical", "teaching"])

    text = pdf_text(consent_pdf(signature))

    assert squeezed(signature.text) in text  # every word signed, in order, markup characters included
    assert "Redness&swelling" in text and "<b>darker</b>" in text
    assert "Laserresurfacing" in text and "Version1" in text
    assert "EmilyChan" in text
    assert signature.text_sha256 in text
    assert "14March2026" in text and "15:30" in text  # the clinic's zone
    assert "Teaching:yes" in text and "Marketing:no" in text
    assert "203.0.113.9" in text
    assert "Page1of1" in text
    assert "Signedbytypingthename" not in text  # a drawing was made
    assert "WITHDRAWN" not in text


def test_a_chinese_signature_prints_the_chinese_wording_with_chinese_labels(version):
    patient = PatientFactory(full_name="陳大文")
    signature = sign(patient, version, language="zh-hant", full_name="陳大文", signature_svg="", now=SIGNED_AT)

    text = pdf_text(consent_pdf(signature))

    assert squeezed(signature.text) in text
    assert "泛紅及腫脹三至五日；少數出現色素沉著。" in text
    assert "激光換膚" in text
    assert "陳大文" in text
    assert signature.text_sha256 in text
    assert "以輸入姓名簽署" in text  # no drawing: signed by typing the name
    assert "2026年3月14日" in text
    assert "清膚診所" in text


def test_mixed_text_prints_both_scripts(version):
    """An English form signed with a Chinese name, a Chinese form with English words in it."""
    mixed = ConsentVersionFactory(
        form=ConsentFormFactory(title_en="Pico laser 皮秒激光", title_zh_hant="皮秒激光 Pico laser"),
        summary_en="Pico laser (皮秒激光) breaks up pigment — “gently”.",
        summary_zh_hant="皮秒激光 (Pico laser) 以極短脈衝擊碎色素，約需 30 分鐘。",
    )
    patient = PatientFactory(full_name="Chan Tai Man")
    english = sign(patient, mixed, full_name="陳大文 Chan Tai Man", now=SIGNED_AT)
    text = pdf_text(consent_pdf(english))
    assert squeezed(english.text) in text
    assert "Picolaser(皮秒激光)breaksuppigment—“gently”." in text
    assert "陳大文ChanTaiMan" in text

    chinese = sign(patient, mixed, language="zh-hant", now=SIGNED_AT)
    text = pdf_text(consent_pdf(chinese))
    assert "皮秒激光(Picolaser)以極短脈衝擊碎色素，約需30分鐘。" in text


def test_a_long_text_runs_over_several_numbered_pages_and_keeps_every_word():
    paragraph = "Scarring, infection, burns, blistering and changes of skin colour can happen. " * 40
    long = ConsentVersionFactory(form=ConsentFormFactory(), risks_en=paragraph + "\n\n" + paragraph + " The end.")
    signature = sign(PatientFactory(), long, now=SIGNED_AT)

    data = consent_pdf(signature)

    assert pages(data) >= 2
    text = pdf_text(data)
    assert f"Page{pages(data)}of{pages(data)}" in text
    # Read across the page breaks, the footers taken out, the text is whole.
    assert squeezed(signature.text) in re.sub(r"ClearSkinClinic·consentrecord\d+Page\d+of\d+", "", text)


def test_a_desk_signature_names_its_witness(version):
    witness = UserFactory(role="receptionist", first_name="Mandy", last_name="Lau")
    patient = PatientFactory()
    signature = sign(patient, version, channel="desk", witness=witness, by=witness, client_address="10.0.0.7")

    text = pdf_text(consent_pdf(signature))

    assert "Atthefrontdesk" in text
    assert "MandyLau" in text


def test_a_withdrawn_consent_carries_the_banner_with_date_and_reason(version):
    patient = PatientFactory()
    signature = sign(patient, version, now=SIGNED_AT)
    withdrawn = consents.consent_withdraw(
        signature=signature,
        by=patient.user,
        reason="Changed my mind about the photos",
        now=datetime(2026, 4, 2, 2, 0, tzinfo=UTC),
    )

    text = pdf_text(consent_pdf(withdrawn))

    assert "WITHDRAWNon2Apr2026,10:00" in text
    assert "Reason:Changedmymindaboutthephotos" in text
    assert squeezed(withdrawn.text) in text  # the signed text is still printed


def test_the_same_signature_gives_the_same_bytes(version):
    signature = sign(PatientFactory(), version, now=SIGNED_AT)
    first = consent_pdf(signature)
    assert first.startswith(b"%PDF-")
    assert consent_pdf(signature) == first


def test_the_drawing_is_drawn_as_lines(version):
    drawn = consent_pdf(sign(PatientFactory(), version, signature_svg=DRAWING, now=SIGNED_AT))
    typed = consent_pdf(sign(PatientFactory(), version, signature_svg="", now=SIGNED_AT))

    def strokes(data: bytes) -> int:
        content = b"".join(page.get_contents().get_data() for page in PdfReader(io.BytesIO(data)).pages)
        return content.count(b" l\n") + content.count(b" l ")

    # The two strokes' three line segments, over the typed signature's rules and borders.
    assert strokes(drawn) - strokes(typed) >= 3
