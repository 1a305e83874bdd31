"""How long a signed consent takes to draw as a PDF, and to read a signature
drawing, per language.

The PDF is drawn on demand from the stored signature (treatments/consent_pdf.py),
never stored, so its cost is paid on every download: this measures it for the
demo's longest form, signed with a drawing of 40 strokes, in English and in
Traditional Chinese, and ``parse_signature`` on the largest drawing accepted
(400 strokes). No database: the objects are built in memory.

    .venv/bin/python bench/consent.py [--rounds 50]

Goal: a download answers in well under 100 ms; the PDF median should stay
under 50 ms on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz")
os.environ.setdefault("EMAIL_URL", "locmem://")

import django

django.setup()

from django.utils import timezone

from demo.consents import FORMS, version_values
from treatments.consent_pdf import consent_pdf
from treatments.consents import consent_text, parse_signature, text_sha256
from treatments.models import ConsentForm, ConsentSignature, ConsentVersion

GOAL_MS = 50.0


def drawing(strokes: int) -> str:
    paths = "".join(
        f'<path d="M{5 + (i * 7) % 570} 20 L{15 + (i * 7) % 570} 200 L{25 + (i * 7) % 570} 40"/>'
        for i in range(strokes)
    )
    return f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 240">{paths}</svg>'


def timed(function: object, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    spec = max(FORMS, key=lambda f: sum(len(v) for v in version_values(f).values()))
    form = ConsentForm(slug=spec.slug, title_en=spec.title[0], title_zh_hant=spec.title[1])
    version = ConsentVersion(form=form, number=1, published_at=timezone.now(), **version_values(spec))
    svg = drawing(40)
    print(f"form {spec.slug}, {rounds} rounds each")
    for language in ("en", "zh-hant"):
        text = consent_text(version, language)
        signature = ConsentSignature(
            pk=1,
            version=version,
            patient_id=1,
            language=language,
            text=text,
            text_sha256=text_sha256(text),
            full_name="Chan Tai Man",
            signature_svg=svg,
            channel=ConsentSignature.Channel.ONLINE,
            signed_at=timezone.now(),
            client_address="203.0.113.9",
        )
        size = len(consent_pdf(signature))
        times = timed(lambda s=signature: consent_pdf(s), rounds)
        median = statistics.median(times)
        verdict = "met" if median <= GOAL_MS else "MISSED"
        print(
            f"  consent_pdf {language:8} median {median:6.1f} ms  p95 {sorted(times)[int(len(times) * 0.95) - 1]:6.1f} ms"
            f"  {size / 1024:5.1f} KiB  (goal {GOAL_MS:.0f} ms: {verdict})"
        )
    largest = drawing(400)
    times = timed(lambda: parse_signature(largest), rounds)
    print(f"  parse_signature, 400 strokes ({len(largest) / 1024:.1f} KiB): median {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
