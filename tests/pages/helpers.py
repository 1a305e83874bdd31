"""Checks shared by the page tests."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

# Words that stay in Latin letters on a Traditional Chinese page: names of the
# clinic's devices and brands, units, the currency, the language switch.
ALWAYS_ALLOWED = {
    "english", "hkd", "hk", "hkt", "pico", "picosure", "fotona", "co2", "tca", "cross", "prp", "goodman",
    "baron", "ecca", "asia", "hong_kong", "kong", "hong", "ics", "png", "jpg", "jpeg", "min", "mins", "pm", "am",
    "email", "www", "http", "https", "pdf", "hydrafacial", "uv", "spf", "rf", "ipl", "nd", "yag", "clinic", "laser", "skin",
    "whatsapp",  # a brand, written so in Chinese too
    "google", "apple", "outlook", "iphone", "ipad", "mac",  # the calendar applications a feed is for
}  # fmt: skip

_WORD = re.compile(r"[A-Za-z][A-Za-z_'-]{2,}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0
        self._latin = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in {"script", "style", "code"}:
            self._skip += 1
        if values.get("lang", "") == "en" or values.get("translate") == "no":
            self._latin += 1 if tag not in {"input", "img", "br", "meta", "link"} else 0
        for name in ("placeholder", "title", "aria-label", "alt"):
            if values.get(name) and not self._latin:
                self.chunks.append(values[name] or "")
        if tag == "input" and values.get("type") in {"submit", "button"} and values.get("value"):
            self.chunks.append(values["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style", "code"} and self._skip:
            self._skip -= 1
        # lang="en" islands close with their element; good enough for the short spans we mark.
        if self._latin and tag in {"span", "button", "a", "option", "td", "p", "li", "div", "strong", "dd"}:
            self._latin -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and not self._latin:
            self.chunks.append(data)


def english_words(html: str, allow: Iterable[str] = ()) -> set[str]:
    """Latin-script words left on a page that should be in Traditional Chinese.

    Names typed by people (patients, staff), emails and anything inside an
    element marked ``lang="en"`` or ``translate="no"`` are not counted: pass
    the names on the page as ``allow``."""
    parser = _Text()
    parser.feed(html)
    allowed = {w.lower() for w in ALWAYS_ALLOWED}
    for text in allow:
        allowed.update(w.lower() for w in _WORD.findall(str(text)))
    text = " ".join(parser.chunks)
    text = re.sub(r"\S+@\S+", " ", text)
    return {w for w in _WORD.findall(text) if w.lower() not in allowed}


def assert_translated(html: str | bytes, allow: Iterable[str] = ()) -> None:
    if isinstance(html, bytes):
        html = html.decode()
    left = english_words(html, allow)
    assert not left, f"English left on a Traditional Chinese page: {sorted(left)}"
