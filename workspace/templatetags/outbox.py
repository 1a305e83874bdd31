"""``{% outbox_warning %}``: the staff pages' warning that messages to patients are late."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings

from booking.selectors import notifications_late

register = template.Library()


@register.inclusion_tag("workspace/_outbox_warning.html")
def outbox_warning(detailed: bool = False) -> dict[str, Any]:
    late = notifications_late()
    return {
        "late": late,
        "minutes": int(settings.CLINIC_NOTIFICATION_STALL_AFTER.total_seconds() // 60),
        "detailed": detailed,
    }
