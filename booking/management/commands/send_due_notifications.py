"""One sweep of the notification outbox, sending in this process.

For cron-style setups without Celery beat, and for tests: it returns expired
claims to pending, schedules plan nudges and sends everything due, then
exits. Safe to run while workers and beat run too (claims never overlap).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from booking import notifications


class Command(BaseCommand):
    help = "Send the notifications that are due (one sweep, in this process) and exit."

    def handle(self, *args: Any, **options: Any) -> None:
        result = notifications.notifications_sweep(dispatch=notifications.deliver_here)
        outcomes = result.outcomes
        self.stdout.write(
            f"{result.claimed} due: {outcomes['sent']} sent, {outcomes['skipped']} skipped, "
            f"{outcomes['retrying']} to retry, {outcomes['failed']} failed; "
            f"{result.released} expired claims released, {result.scheduled} plan notifications scheduled."
        )
