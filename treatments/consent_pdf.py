"""The signed consent as a PDF, for the patient and the chart.

Drawn on demand from the signature's stored, immutable facts (the exact text
shown, its SHA-256, the typed name, the drawing, the photo choices, time,
address, witness, withdrawal) and never stored itself: the stored signature is
the record, the PDF only one way of printing it, so there is no second copy to
keep in step, to erase or to leak. The same signature gives the same bytes
(ReportLab's ``invariant`` mode: no creation date or random document id), as
long as the clinic's name and address in the settings stay the same.

Chinese needs no font file: ReportLab's built-in CID font ``MSung-Light``
(Traditional Chinese) is named, not embedded, and PDF viewers bring their own
CJK glyphs. Each run of text is set in Helvetica when the PDF's standard Latin
encoding has its characters and in MSung-Light otherwise, so English, Chinese
and a mixture of both (an English form signed with a Chinese name) all print.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from clinic import formats
from treatments.consents import Drawing, parse_signature, text_sha256
from treatments.models import ConsentSignature, PhotoUse, is_chinese

CJK_FONT = "MSung-Light"
LATIN = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
INK = colors.HexColor("#1a1a1a")
MUTED = colors.HexColor("#555555")
ALERT = colors.HexColor("#a4161a")
MARGIN = 18 * mm
SIGNATURE_BOX = (80 * mm, 30 * mm)

pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _latin(character: str) -> bool:
    """Whether Helvetica can print ``character`` (the standard fonts' encoding is cp1252)."""
    try:
        character.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _markup(text: str, *, bold: bool = False) -> str:
    """``text`` as Paragraph markup: escaped, each run in the font that has its glyphs."""
    if not text:
        return ""
    runs: list[tuple[bool, str]] = []
    for character in text:
        latin = _latin(character) or character in "\n\t"
        if runs and runs[-1][0] == latin:
            runs[-1] = (latin, runs[-1][1] + character)
        else:
            runs.append((latin, character))
    parts = []
    for latin, run in runs:
        body = escape(run)
        if latin:
            parts.append(f"<b>{body}</b>" if bold else body)
        else:
            parts.append(f'<font name="{CJK_FONT}">{body}</font>')
    return "".join(parts)


def _wide(text: str) -> bool:
    return any(not _latin(c) for c in text)


class _Styles:
    def __init__(self) -> None:
        base = ParagraphStyle("body", fontName=LATIN, fontSize=10, leading=14.5, textColor=INK)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=11.5, textColor=MUTED)
        self.title = ParagraphStyle("title", parent=base, fontSize=16, leading=21, spaceAfter=2)
        self.heading = ParagraphStyle("heading", parent=base, fontSize=11.5, leading=16, spaceBefore=10, spaceAfter=4)
        self.clinic = ParagraphStyle("clinic", parent=base, fontSize=12, leading=16)
        self.banner = ParagraphStyle("banner", parent=base, fontSize=11, leading=15, textColor=colors.white)
        self.label = ParagraphStyle("label", parent=base, fontSize=9, leading=13, textColor=MUTED)
        self.mono = ParagraphStyle("mono", parent=base, fontName="Courier", fontSize=8.5, leading=11.5)

    def para(self, text: str, style: ParagraphStyle, *, bold: bool = False) -> Paragraph:
        """A paragraph that wraps between Chinese characters when it has any."""
        if _wide(text):
            style = ParagraphStyle(f"{style.name}-cjk", parent=style, wordWrap="CJK")
        return Paragraph(_markup(text, bold=bold).replace("\n", "<br/>"), style)


class _SignatureDrawing(Flowable):
    """The drawn strokes scaled into a box, upright (SVG's y runs down, the PDF's up)."""

    def __init__(self, drawing: Drawing, size: tuple[float, float] = SIGNATURE_BOX) -> None:
        super().__init__()
        self.drawing = drawing
        self.width, self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        canvas = self.canv
        canvas.setStrokeColor(colors.HexColor("#bbbbbb"))
        canvas.setLineWidth(0.5)
        canvas.line(0, 4, self.width, 4)  # the line signed on
        pad = 3
        scale = min((self.width - 2 * pad) / self.drawing.width, (self.height - 2 * pad) / self.drawing.height)
        left = (self.width - self.drawing.width * scale) / 2
        top = self.height - pad

        def point(x: float, y: float) -> tuple[float, float]:
            return left + x * scale, top - y * scale

        canvas.setStrokeColor(INK)
        canvas.setFillColor(INK)
        canvas.setLineWidth(1.2)
        canvas.setLineCap(1)
        canvas.setLineJoin(1)
        for stroke in self.drawing.strokes:
            if len(stroke) == 1:  # a dot
                x, y = point(*stroke[0])
                canvas.circle(x, y, 0.8, stroke=0, fill=1)
                continue
            path = canvas.beginPath()
            path.moveTo(*point(*stroke[0]))
            for x, y in stroke[1:]:
                path.lineTo(*point(x, y))
            canvas.drawPath(path, stroke=1, fill=0)


def _numbered_canvas(footer: Callable[[Canvas, int, int], None]) -> type[Canvas]:
    """A canvas that holds its pages back until the end, so each footer can say
    "page 2 of 3"."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._held: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._held.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._held)
            for number, state in enumerate(self._held, start=1):
                self.__dict__.update(state)
                footer(self, number, total)
                super().showPage()
            super().save()

    return NumberedCanvas


def consent_pdf_response(signature: ConsentSignature) -> HttpResponse:
    """The PDF as a private, uncacheable download, for a caller whose right to
    read it was already checked (and logged)."""
    response = HttpResponse(consent_pdf(signature), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="consent-{signature.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _clinic(language: str) -> tuple[str, str]:
    if is_chinese(language):
        return settings.CLINIC_NAME_ZH_HANT or settings.CLINIC_NAME, (
            settings.CLINIC_ADDRESS_ZH_HANT or settings.CLINIC_ADDRESS
        )
    return settings.CLINIC_NAME, settings.CLINIC_ADDRESS


def _person(user: Any) -> str:
    if user is None:
        return ""
    return str(user.get_full_name() or user.get_username())


def consent_pdf(signature: ConsentSignature) -> bytes:
    """The signature as an A4 PDF, labelled in the language it was signed in.
    The caller has checked that the reader may see it (and logs the read)."""
    language = "zh-hant" if is_chinese(signature.language) else "en"
    with translation.override(language):
        return _build(signature, language)


def _build(signature: ConsentSignature, language: str) -> bytes:
    styles = _Styles()
    version = signature.version
    form = version.form
    clinic_name, clinic_address = _clinic(language)
    title = form.localized("title", language)
    story: list[Flowable] = [
        styles.para(clinic_name, styles.clinic, bold=True),
        styles.para(clinic_address, styles.small),
        Spacer(1, 6 * mm),
        styles.para(_("Consent form"), styles.label),
        styles.para(title, styles.title, bold=True),
        styles.para(_("Version %(number)s") % {"number": version.number}, styles.body),
        Spacer(1, 3 * mm),
    ]

    if signature.withdrawn_at is not None:
        when = formats.datetime_text(signature.withdrawn_at, language=language)
        lines = [_("WITHDRAWN on %(when)s") % {"when": when}]
        if signature.withdrawal_reason:
            lines.append(_("Reason: %(reason)s") % {"reason": signature.withdrawal_reason})
        lines.append(_("This consent no longer counts, for the treatment or for photographs."))
        banner = Table([[styles.para("\n".join(lines), styles.banner, bold=True)]], colWidths=[A4[0] - 2 * MARGIN])
        banner.setStyle(
            TableStyle(
                [
                    ("BACKGROUND", (0, 0), (-1, -1), ALERT),
                    ("LEFTPADDING", (0, 0), (-1, -1), 8),
                    ("RIGHTPADDING", (0, 0), (-1, -1), 8),
                    ("TOPPADDING", (0, 0), (-1, -1), 6),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
                ]
            )
        )
        story += [banner, Spacer(1, 3 * mm)]

    # The exact text signed, as stored: a blank line starts a paragraph, a line
    # break stays a line break. A section's first line is its heading.
    story.append(styles.para(_("The text the patient read and signed"), styles.heading, bold=True))
    for block in signature.text.split("\n\n"):
        if block.strip():
            story.append(styles.para(block, styles.body))
            story.append(Spacer(1, 2.5 * mm))

    story.append(styles.para(_("Photographs"), styles.heading, bold=True))
    allowed = set(signature.photo_use)
    for use in PhotoUse:
        if use == PhotoUse.CLINICAL:
            text = _("Clinical use (the patient's record and their own progress): always")
        else:
            answer = _("yes") if use.value in allowed else _("no")
            text = f"{use.label}: {answer}"
        story.append(styles.para(f"• {text}", styles.body))

    signed_block: list[Flowable] = [styles.para(_("Signature"), styles.heading, bold=True)]
    signed_block.append(styles.para(_("Full name typed: %(name)s") % {"name": signature.full_name}, styles.body))
    signed_block.append(Spacer(1, 2 * mm))
    if signature.signature_svg:
        signed_block.append(_SignatureDrawing(parse_signature(signature.signature_svg)))
    else:
        signed_block.append(styles.para(_("Signed by typing the name"), styles.body))
    rows = [
        (_("Signed at"), formats.datetime_text(signature.signed_at, "long", language=language)),
        (_("How it was signed"), signature.get_channel_display()),
        (_("From address"), signature.client_address or "—"),
    ]
    if signature.channel == ConsentSignature.Channel.DESK:
        rows.append((_("Witness"), _person(signature.witnessed_by) or "—"))
    rows.append((_("Record number"), f"{signature.pk}"))
    table = Table(
        [[styles.para(label, styles.label), styles.para(value, styles.body)] for label, value in rows],
        colWidths=[42 * mm, None],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    signed_block += [Spacer(1, 3 * mm), table]
    story.append(KeepTogether(signed_block))

    intact = text_sha256(signature.text) == signature.text_sha256
    story += [
        styles.para(_("Fingerprint of the signed text (SHA-256)"), styles.heading, bold=True),
        Paragraph(signature.text_sha256, styles.mono),
        styles.para(
            _("The text above has this fingerprint: it is the text that was signed.")
            if intact
            else _("Warning: the text above does not match its fingerprint."),
            styles.small,
        ),
    ]

    footer_left = _("%(clinic)s · consent record %(id)s") % {"clinic": clinic_name, "id": signature.pk}
    page_label = _("Page %(number)s of %(total)s")

    def footer(canvas: Canvas, number: int, total: int) -> None:
        canvas.saveState()
        canvas.setStrokeColor(colors.HexColor("#cccccc"))
        canvas.setLineWidth(0.5)
        width, _height = A4
        canvas.line(MARGIN, 13 * mm, width - MARGIN, 13 * mm)
        _footer_text(canvas, footer_left, MARGIN, 9 * mm, right=False)
        _footer_text(canvas, page_label % {"number": number, "total": total}, width - MARGIN, 9 * mm, right=True)
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=f"{title} v{version.number}",
        author=clinic_name,
        subject=_("Consent form"),
        creator=clinic_name,
        invariant=True,
    )
    document.build(story, canvasmaker=_numbered_canvas(footer))
    return buffer.getvalue()


def _footer_text(canvas: Canvas, text: str, x: float, y: float, *, right: bool) -> None:
    """One line of the footer, its runs in the font that has their glyphs."""
    size = 8
    runs: list[tuple[str, str]] = []
    for character in text:
        font = LATIN if _latin(character) else CJK_FONT
        if runs and runs[-1][0] == font:
            runs[-1] = (font, runs[-1][1] + character)
        else:
            runs.append((font, character))
    width = sum(pdfmetrics.stringWidth(run, font, size) for font, run in runs)
    position = x - width if right else x
    canvas.setFillColor(MUTED)
    for font, run in runs:
        canvas.setFont(font, size)
        canvas.drawString(position, y, run)
        position += pdfmetrics.stringWidth(run, font, size)
