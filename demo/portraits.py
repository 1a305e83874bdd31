"""Placeholder portraits for the demo practitioners, drawn with Pillow: a soft
background, a head-and-shoulders silhouette and the initials. Nothing is
downloaded, and the pictures are plainly not photos of anyone."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

SIZE = 600


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def portrait_png(initials: str, colour: tuple[int, int, int]) -> bytes:
    """A square PNG; the same arguments always give the same bytes."""
    top, bottom = _mix(colour, (255, 255, 255), 0.55), _mix(colour, (255, 255, 255), 0.25)
    image = Image.new("RGB", (SIZE, SIZE), top)
    draw = ImageDraw.Draw(image)
    for y in range(SIZE):
        draw.line([(0, y), (SIZE, y)], fill=_mix(top, bottom, y / (SIZE - 1)))
    figure = _mix(colour, (0, 0, 0), 0.15)
    # Shoulders, then the head, centred a little high like a passport photo.
    draw.ellipse([SIZE * 0.08, SIZE * 0.58, SIZE * 0.92, SIZE * 1.34], fill=figure)
    draw.rounded_rectangle([SIZE * 0.43, SIZE * 0.42, SIZE * 0.57, SIZE * 0.62], radius=SIZE * 0.04, fill=figure)
    draw.ellipse([SIZE * 0.335, SIZE * 0.13, SIZE * 0.665, SIZE * 0.48], fill=figure)
    # Large enough to read when the picture is shown 64-80 px wide.
    font = ImageFont.load_default(size=round(SIZE * 0.18))
    draw.text((SIZE / 2, SIZE * 0.81), initials, font=font, fill=(255, 255, 255), anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
