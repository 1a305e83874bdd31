"""Exits 1 when messages to patients are late: the probe for "the outbox is moving".

    python manage.py outbox_check            # late = due more than CLINIC_NOTIFICATION_STALL_AFTER ago

It measures what patients feel (the age of the oldest due message), whatever the
cause: no beat, every worker deaf, Redis gone. docker-compose.yml uses it as the
beat's health check; monitoring can run it anywhere the settings are.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from booking.selectors import notifications_late


class Command(BaseCommand):
    help = "Exit with status 1 when due notifications are late (a stalled worker, beat or broker)."

    def handle(self, *args: Any, **options: Any) -> None:
        late = notifications_late()
        if late.count:
            oldest = timezone.localtime(late.oldest_due).isoformat() if late.oldest_due else "?"
            raise CommandError(f"{late.count} notification(s) late; the oldest was due at {oldest}", returncode=1)
        self.stdout.write("outbox moving: nothing late")
