"""``{{ code|webhook_error }}``: a webhook delivery's error code in words (booking.webhooks.error_text)."""

from __future__ import annotations

from django import template

from booking.webhooks import error_text

register = template.Library()


@register.filter
def webhook_error(code: str | None) -> str:
    return error_text(code) if code else ""
