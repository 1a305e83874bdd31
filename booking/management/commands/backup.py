"""Backs up the database and the media into one archive (docs/backup.md).

    python manage.py backup                       # var/backups/clinic-backup-<UTC time>.tar
    python manage.py backup --output /backups/    # that folder, same name
    python manage.py backup --output nightly.tar  # that file

On PostgreSQL it needs pg_dump (Debian's postgresql-client) of the server's
major version or newer. Prints sizes, counts and times, never a patient's data.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic.backup import BackupError, backup


class Command(BaseCommand):
    help = "Write one archive with the database (pg_dump or an SQLite copy), every stored file and a manifest."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--output",
            help="A file to write, or a folder for clinic-backup-<UTC time>.tar (default: <CLINIC_VAR_DIR>/backups).",
        )

    def handle(self, *args: Any, output: str | None = None, **options: Any) -> None:
        try:
            summary = backup(output=output, say=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error)) from None
        counts = ", ".join(f"{count:,} {what}" for what, count in summary.counts.items())
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up to {summary.path} ({summary.archive_bytes:,} bytes, {summary.seconds:.1f} s): {counts}"
            )
        )
