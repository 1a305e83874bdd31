from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

TRADITIONAL_CHINESE = {"zh-hant", "zh-hk", "zh-tw", "zh-mo"}


def language_from_header(header: str) -> str:
    """Traditional Chinese for ``zh-Hant`` / ``zh-HK`` / ``zh-TW`` (and their
    sub-tags), English for anything else, in the client's order of preference.
    Simplified Chinese is not offered, so ``zh-CN`` reads English rather than
    being mistaken for Traditional by Django's prefix fallback."""
    for tag, _ in parse_accept_lang_header(header or ""):
        tag = tag.lower()
        if tag in TRADITIONAL_CHINESE or tag.startswith(("zh-hant", "zh-hk", "zh-tw", "zh-mo")):
            return "zh-hant"
        if tag.startswith("en"):
            return "en"
    return settings.LANGUAGE_CODE


class ClinicLocaleMiddleware(LocaleMiddleware):
    """The language cookie (set by the pages' switch) first, then Accept-Language."""

    def process_request(self, request: HttpRequest) -> None:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        if chosen not in dict(settings.LANGUAGES):
            chosen = language_from_header(request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        translation.activate(chosen)
        request.LANGUAGE_CODE = translation.get_language()
