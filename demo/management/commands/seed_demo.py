from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from clinic.clock import clinic_today
from demo.clinic import DEMO_PASSWORD, seed_demo
from demo.history import seed_history
from demo.outcomes import seed_outcomes


class Command(BaseCommand):
    help = (
        "Seeds the demo clinic: the treatment catalogue, rooms, devices, four practitioners, demo accounts "
        "Hong Kong public holidays, and (once) a demo patient's course, the next days' appointments and a past "
        "year of some fifty patients' scar courses for the reports. "
        "Safe to run again: a second run changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--force",
            action="store_true",
            help="Run even with DEBUG off. The demo accounts have a published password.",
        )
        parser.add_argument(
            "--without-history",
            action="store_true",
            help="Only the catalogue, staff and accounts: no demo assessments, plans, appointments or year of courses.",
        )

    def handle(self, *args: Any, force: bool = False, without_history: bool = False, **options: Any) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "seed_demo creates demo accounts whose password is published and resets the catalogue to the "
                "demo values, so it refuses to run with DEBUG off. Pass --force if this really is a demo server."
            )
        with transaction.atomic():
            tally = seed_demo(today=clinic_today())
        if tally.changed_anything:
            self.stdout.write(self.style.SUCCESS("Demo clinic seeded."))
        else:
            self.stdout.write("Demo clinic already up to date: nothing changed.")
        for line in tally.lines():
            self.stdout.write(f"  {line}")
        if not without_history:
            # Outside the transaction above: the booking services run their own (durable) transactions.
            history = seed_history(today=clinic_today())
            if history.created:
                self.stdout.write(self.style.SUCCESS("Demo history seeded (Emily Cheung's course, the next days)."))
            for line in history.lines():
                self.stdout.write(f"  {line}")
            outcomes = seed_outcomes(today=clinic_today())
            if outcomes.created:
                self.stdout.write(
                    self.style.SUCCESS("Demo year of courses seeded (for the outcome and operations reports).")
                )
            for line in outcomes.lines():
                self.stdout.write(f"  {line}")
        self.stdout.write(
            f"  log in as manager@, reception@, doctor@ or patient@example.com with password {DEMO_PASSWORD!r}"
        )
