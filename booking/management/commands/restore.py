"""Restores an archive written by ``manage.py backup`` (docs/backup.md).

    python manage.py restore var/backups/clinic-backup-20261207T030000Z.tar
    python manage.py restore backup.tar --force    # replace a database that has tables

Restores into DATABASE_URL and the storage the settings name (a folder or
object storage). It refuses a database that already has tables unless --force,
an archive whose checksums do not match, and an archive of the other engine.
On PostgreSQL it needs pg_restore (postgresql-client).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clinic.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup archive into an empty database and the media storage (--force: replace a database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The archive that `manage.py backup` wrote.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Restore even though the database has tables: every table in it is dropped first.",
        )

    def handle(self, *args: Any, path: Path, force: bool = False, **options: Any) -> None:
        try:
            counts = restore(path=path, force=force, say=self.stdout.write)
        except BackupError as error:
            raise CommandError(str(error)) from None
        restored = ", ".join(f"{count:,} {what}" for what, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Restored {path.name}: {restored}"))
