"""One archive with the database and the media, and its restore (docs/backup.md).

``manage.py backup`` and ``manage.py restore`` (booking/management/commands) are
thin doors onto :func:`backup` and :func:`restore`. The code knows no model: it
finds files through every installed model's ``FileField`` (``ImageField`` is
one) and reads and writes them through the field's storage, so the same archive
moves a clinic between a local folder and object storage.

The archive is a plain tar:

* ``database.pgdump`` (``pg_dump --format=custom``) or ``database.sqlite3`` (a
  copy made with sqlite3's online backup API);
* ``media/<name>`` for every stored file a row refers to, under its storage name;
* ``manifest.json``, written last: format version, creation time, engine,
  the latest applied migration per app, row counts and every member's sha256.

On PostgreSQL the file list, the counts and the migration state are read in the
very transaction snapshot ``pg_dump`` dumps (``--snapshot``), so the manifest
describes exactly the rows in the dump. Nothing printed names a patient: output
is counts, sizes and times.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.core.files.base import File
from django.core.files.storage import Storage
from django.db import connection, models, transaction
from django.db.migrations.loader import MigrationLoader

FORMAT = 1
MANIFEST = "manifest.json"
MEDIA_PREFIX = "media/"
DATABASE_MEMBER = {"postgresql": "database.pgdump", "sqlite": "database.sqlite3"}
# What the summary counts (app label, model name); any that is not installed is left out.
COUNTED = {
    "patients": ("patients", "Patient"),
    "appointments": ("booking", "Appointment"),
    "photos": ("treatments", "AssessmentPhoto"),
}
_CHUNK = 1024 * 1024
_VERSION = re.compile(r"\b(\d+)(?:\.\d+)*")


class BackupError(Exception):
    """Something the operator must fix; the message says what."""


Say = Callable[[str], None]


# --- what the database holds -------------------------------------------------------------


def _file_fields() -> list[tuple[type[models.Model], models.FileField]]:
    found = []
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for candidate in model._meta.concrete_fields:
            if isinstance(candidate, models.FileField):
                found.append((model, candidate))
    return found


def _field_label(model: type[models.Model], file_field: models.FileField) -> str:
    return f"{model._meta.label}.{file_field.name}"


@functools.cache
def _storage_for(label: str) -> Storage:
    app_model, _dot, field_name = label.rpartition(".")
    try:
        file_field = apps.get_model(app_model)._meta.get_field(field_name)
    except (LookupError, ValueError, FieldDoesNotExist):
        file_field = None
    if not isinstance(file_field, models.FileField):
        raise BackupError(f"{label} is not a file field in this version of clinic")
    return file_field.storage


@dataclass
class Facts:
    """What one snapshot of the database holds, read with plain SQL through a DB-API cursor."""

    counts: dict[str, int]
    migrations: dict[str, str]
    files: dict[str, list[str]]  # storage name -> the fields ("app.Model.field") that refer to it


def read_facts(cursor: Any, quote: Callable[[str], str]) -> Facts:
    counts = {}
    for key, (app_label, model_name) in COUNTED.items():
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        cursor.execute(f"SELECT COUNT(*) FROM {quote(model._meta.db_table)}")  # noqa: S608 (names from the model)
        counts[key] = int(cursor.fetchone()[0])
    cursor.execute("SELECT app, name FROM django_migrations")
    migrations: dict[str, str] = {}
    for app, name in cursor.fetchall():
        migrations[app] = max(migrations.get(app, ""), name)
    files: dict[str, list[str]] = {}
    for model, file_field in _file_fields():
        column = quote(file_field.column or file_field.attname)
        cursor.execute(
            f"SELECT DISTINCT {column} FROM {quote(model._meta.db_table)} "  # noqa: S608 (names from the model)
            f"WHERE {column} IS NOT NULL AND {column} <> ''"
        )
        for (name,) in cursor.fetchall():
            files.setdefault(name, []).append(_field_label(model, file_field))
    return Facts(counts=counts, migrations=dict(sorted(migrations.items())), files=dict(sorted(files.items())))


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --- pg_dump / pg_restore ------------------------------------------------------------------


def _client(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise BackupError(
            f"{program} was not found on PATH. It comes with PostgreSQL's client programs: install Debian's "
            f"postgresql-client (apt-get install postgresql-client), of the server's major version or newer."
        )
    return path


def _major(text: str) -> int:
    match = _VERSION.search(text)
    if not match:
        raise BackupError(f"could not read a version number from {text.strip()!r}")
    return int(match.group(1))


def _client_major(program: str) -> int:
    answer = subprocess.run([program, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
    if answer.returncode != 0:
        raise BackupError(f"{program} --version failed: {answer.stderr.strip()[-500:]}")
    return _major(answer.stdout.split("(PostgreSQL)")[-1])


def _pg_environment() -> dict[str, str]:
    """libpq's variables for the default database: the password travels in the
    environment, never on a command line where ``ps`` shows it."""
    settings = connection.settings_dict
    options = settings.get("OPTIONS") or {}
    environment = {**os.environ, "PGDATABASE": str(settings["NAME"])}
    # An empty HOST is libpq's default (the local socket), as for Django itself.
    for variable, value in (
        ("PGHOST", settings.get("HOST")),
        ("PGPORT", settings.get("PORT")),
        ("PGUSER", settings.get("USER")),
        ("PGPASSWORD", settings.get("PASSWORD")),
        ("PGSSLMODE", options.get("sslmode")),
        ("PGCONNECT_TIMEOUT", options.get("connect_timeout", 10)),
    ):
        if value:
            environment[variable] = str(value)
        else:
            environment.pop(variable, None)
    return environment


# Lines of pg_dump's / pg_restore's errors that may quote rows (a COPY line, a key's value).
_ROW_DATA = re.compile(r"^\s*(DETAIL|CONTEXT|Command was):|^\s*(COPY|INSERT)\b|^\S+\t")


def _run(command: list[str], *, environment: dict[str, str], what: str) -> None:
    answer = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    if answer.returncode != 0:
        said = [line for line in answer.stderr.splitlines() if line.strip() and not _ROW_DATA.search(line)]
        raise BackupError(f"{what} failed (exit {answer.returncode}): " + " / ".join(said[:5]))


def _server_major() -> int:
    connection.ensure_connection()
    return int(connection.pg_version) // 10000  # type: ignore[attr-defined]


# --- writing the archive -----------------------------------------------------------------


class _Hashing(io.RawIOBase):
    """A reader that hashes what passes through it and counts the bytes."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.stream.read(len(buffer))
        self.digest.update(data)
        self.size += len(data)
        buffer[: len(data)] = data
        return len(data)


def _add(archive: tarfile.TarFile, member: str, stream: IO[bytes], size: int, mtime: float) -> str:
    info = tarfile.TarInfo(member)
    info.size = size
    info.mtime = int(mtime)
    info.mode = 0o600
    reader = _Hashing(stream)
    archive.addfile(info, reader)
    if reader.size != size:
        raise BackupError(f"{member} changed size while it was being copied ({size} → {reader.size} bytes)")
    return reader.digest.hexdigest()


@dataclass
class Summary:
    path: Path
    engine: str
    counts: dict[str, int]
    files: int
    media_bytes: int
    missing: int
    archive_bytes: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)


def default_name(now: datetime) -> str:
    return f"clinic-backup-{now.astimezone(UTC).strftime('%Y%m%dT%H%M%SZ')}.tar"


@contextlib.contextmanager
def _postgres_snapshot(dump_to: Path) -> Iterator[Facts]:
    """Reads the facts and runs pg_dump in one REPEATABLE READ snapshot."""
    pg_dump = _client("pg_dump")
    client, server = _client_major(pg_dump), _server_major()
    if client < server:
        raise BackupError(
            f"pg_dump is version {client} but the server is PostgreSQL {server}: pg_dump cannot dump a newer "
            f"server. Install postgresql-client-{server} (or newer) and put its pg_dump first on PATH."
        )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        snapshot = cursor.fetchone()[0]
        facts = read_facts(cursor, connection.ops.quote_name)
        _run(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={dump_to}"],
            environment=_pg_environment(),
            what="pg_dump",
        )
        yield facts


def _sqlite_copy(dump_to: Path) -> Facts:
    name = Path(connection.settings_dict["NAME"])
    if not name.is_file():
        raise BackupError(f"there is no SQLite database at {name}: check DATABASE_URL / CLINIC_VAR_DIR")
    source = sqlite3.connect(str(name))
    target = sqlite3.connect(str(dump_to))
    try:
        source.backup(target)
    finally:
        source.close()
    try:
        return read_facts(target.cursor(), _sqlite_quote)
    finally:
        target.close()


def backup(*, output: str | Path | None, say: Say, now: datetime | None = None) -> Summary:
    """Writes the archive and returns what it holds. ``output`` is a file or a
    folder (default: ``<CLINIC_VAR_DIR>/backups``). The archive appears under its
    final name only once complete."""
    from django.conf import settings

    began = time.perf_counter()
    now = now or datetime.now(UTC)
    engine = connection.vendor
    if engine not in DATABASE_MEMBER:
        raise BackupError(f"backup supports PostgreSQL and SQLite, not {engine}")
    target = Path(output) if output is not None else Path(settings.VAR_DIR) / "backups"
    if output is None or target.is_dir() or str(output).endswith(("/", os.sep)):
        target = target / default_name(now)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        raise BackupError(f"{target} already exists; choose another --output")
    partial = target.with_name(f".{target.name}.partial")
    timings: dict[str, float] = {}
    hashes: dict[str, str] = {}
    media_bytes = missing = 0
    try:
        with tempfile.TemporaryDirectory(dir=target.parent, prefix=".clinic-backup-") as work:
            dump = Path(work) / DATABASE_MEMBER[engine]
            step = time.perf_counter()
            if engine == "postgresql":
                with _postgres_snapshot(dump) as snapshot:
                    facts = snapshot
            else:
                facts = _sqlite_copy(dump)
            timings["database"] = time.perf_counter() - step
            say(f"database ({engine}): {dump.stat().st_size:,} bytes in {timings['database']:.1f} s")
            step = time.perf_counter()
            # The archive holds every patient's record: readable by its owner only.
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with (
                os.fdopen(descriptor, "wb") as raw,
                tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive,
            ):
                with dump.open("rb") as stream:
                    hashes[dump.name] = _add(archive, dump.name, stream, dump.stat().st_size, time.time())
                dump.unlink()
                media: dict[str, dict[str, Any]] = {}
                for name, fields in facts.files.items():
                    storage = _storage_for(fields[0])
                    try:
                        if not storage.exists(name):
                            raise FileNotFoundError(name)
                        size = storage.size(name)
                        with storage.open(name, "rb") as stream:
                            digest = _add(archive, MEDIA_PREFIX + name, stream, size, time.time())
                    except FileNotFoundError:
                        missing += 1
                        continue
                    media[name] = {"sha256": digest, "size": size, "fields": fields}
                    media_bytes += size
                timings["media"] = time.perf_counter() - step
                say(f"media: {len(media):,} files, {media_bytes:,} bytes in {timings['media']:.1f} s")
                if missing:
                    say(f"warning: {missing} file(s) that rows refer to were not in storage (not in the backup)")
                manifest = {
                    "format": FORMAT,
                    "created_at": now.astimezone(UTC).isoformat(),
                    "engine": engine,
                    "database": {"member": dump.name, "sha256": hashes[dump.name], **_tool_versions(engine)},
                    "migrations": facts.migrations,
                    "counts": facts.counts,
                    "media": media,
                    "missing_media": missing,
                }
                data = json.dumps(manifest, indent=1, ensure_ascii=False).encode()
                _add(archive, MANIFEST, io.BytesIO(data), len(data), time.time())
            with partial.open("rb+") as written:
                os.fsync(written.fileno())
            os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return Summary(
        path=target,
        engine=engine,
        counts=facts.counts,
        files=len(media),
        media_bytes=media_bytes,
        missing=missing,
        archive_bytes=target.stat().st_size,
        seconds=time.perf_counter() - began,
        timings=timings,
    )


def _tool_versions(engine: str) -> dict[str, int]:
    if engine != "postgresql":
        return {"sqlite": sqlite3.sqlite_version_info[0]}
    return {"server_major": _server_major(), "pg_dump_major": _client_major(_client("pg_dump"))}


# --- restoring ---------------------------------------------------------------------------


class _Members:
    """The archive's members by name, indexed once (``TarFile.getmember``
    searches the whole list on every call)."""

    def __init__(self, archive: tarfile.TarFile) -> None:
        self.archive = archive
        self.by_name = {member.name: member for member in archive.getmembers()}

    def open(self, name: str) -> IO[bytes]:
        member = self.by_name.get(name)
        if member is None:
            raise BackupError(f"the archive lacks {name}, which its manifest lists")
        stream = self.archive.extractfile(member)
        if stream is None:
            raise BackupError(f"{name} in the archive is not a regular file")
        return stream


def read_manifest(members: _Members) -> dict[str, Any]:
    if MANIFEST not in members.by_name:
        raise BackupError(
            f"this is not a complete clinic backup: it has no {MANIFEST} (written last, so an interrupted "
            f"backup has none)"
        )
    try:
        manifest = json.loads(members.open(MANIFEST).read())
    except ValueError:
        raise BackupError(f"{MANIFEST} is not valid JSON") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"unsupported backup format {manifest.get('format') if isinstance(manifest, dict) else '?'}")
    database, media = manifest.get("database"), manifest.get("media")
    if (
        manifest.get("engine") not in DATABASE_MEMBER
        or not isinstance(database, dict)
        or database.get("member") != DATABASE_MEMBER[manifest["engine"]]
        or not isinstance(database.get("sha256"), str)
        or not isinstance(media, dict)
        or not all(isinstance(e, dict) and {"sha256", "size", "fields"} <= e.keys() for e in media.values())
        or not isinstance(manifest.get("migrations"), dict)
        or not isinstance(manifest.get("counts"), dict)
    ):
        raise BackupError(f"{MANIFEST} lacks what a clinic backup's manifest holds")
    return manifest


def _member_digest(members: _Members, name: str) -> str:
    stream = members.open(name)
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def verify(members: _Members, manifest: dict[str, Any]) -> None:
    """Every member's sha256 against the manifest, before anything is written."""
    for name in manifest["media"]:
        parts = name.replace("\\", "/").split("/")
        if name.startswith("/") or ".." in parts or "" in parts:
            raise BackupError(f"the manifest names a file outside the storage ({name!r}); nothing was restored")
    expected = {manifest["database"]["member"]: manifest["database"]["sha256"]}
    expected.update({MEDIA_PREFIX + name: entry["sha256"] for name, entry in manifest["media"].items()})
    bad = [name for name, digest in expected.items() if _member_digest(members, name) != digest]
    if bad:
        raise BackupError(
            f"the archive is damaged: {len(bad)} member(s) do not match the manifest's sha256 "
            f"(first: {bad[0]}); nothing was restored"
        )


def _check_migrations(manifest: dict[str, Any]) -> None:
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    unknown = [f"{app}.{name}" for app, name in manifest["migrations"].items() if (app, name) not in known]
    if unknown:
        raise BackupError(
            "the backup was made by a newer version of clinic (migrations this code does not have: "
            + ", ".join(sorted(unknown)[:5])
            + "); restore it with that version"
        )


def target_is_empty() -> bool:
    return not connection.introspection.table_names(include_views=True)


def _clear_postgres() -> None:
    """Empties the schema the clinic lives in: tables, and the functions,
    triggers and extensions with them, so the dump's objects find no name taken."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        schema = connection.ops.quote_name(cursor.fetchone()[0])
        cursor.execute(f"DROP SCHEMA {schema} CASCADE")
        cursor.execute(f"CREATE SCHEMA {schema}")


def restore(*, path: Path, force: bool, say: Say) -> dict[str, int]:
    """Restores the archive into the default database and the files' storages;
    returns the restored counts. Raises BackupError, changing nothing, when the
    archive is incomplete, damaged, from another engine or a newer version, or
    the database is not empty and ``force`` is false."""
    began = time.perf_counter()
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    try:
        archive = tarfile.open(path, "r:")  # noqa: SIM115 (closed by the with below)
    except tarfile.TarError as error:
        raise BackupError(f"{path} is not a clinic backup (not a tar archive: {error})") from None
    with archive:
        try:
            return _restore_from(_Members(archive), path=path, force=force, say=say, began=began)
        except (tarfile.TarError, EOFError) as error:
            raise BackupError(f"{path} is damaged or incomplete ({error}); nothing more was restored") from None


def _restore_from(members: _Members, *, path: Path, force: bool, say: Say, began: float) -> dict[str, int]:
    manifest = read_manifest(members)
    engine = connection.vendor
    if manifest.get("engine") != engine:
        raise BackupError(
            f"this backup is of a {manifest.get('engine')} database and DATABASE_URL points at {engine}: "
            f"restore it into a {manifest.get('engine')} database (to move between engines, use "
            f"dumpdata/loaddata)"
        )
    _check_migrations(manifest)
    if not target_is_empty() and not force:
        raise BackupError(
            f"the database {connection.settings_dict['NAME']} already has tables; restore replaces "
            f"everything in it, so it refuses unless you pass --force"
        )
    step = time.perf_counter()
    verify(members, manifest)
    say(f"checksums: {len(manifest['media']) + 1} members match the manifest ({time.perf_counter() - step:.1f} s)")
    step = time.perf_counter()
    member = members.open(manifest["database"]["member"])
    with tempfile.TemporaryDirectory(prefix="clinic-restore-") as work:
        dump = Path(work) / manifest["database"]["member"]
        with dump.open("wb") as copy:
            shutil.copyfileobj(member, copy, _CHUNK)
        if engine == "postgresql":
            _restore_postgres(dump, manifest, force=force)
        else:
            _restore_sqlite(dump)
    say(f"database: restored in {time.perf_counter() - step:.1f} s")
    step = time.perf_counter()
    written = 0
    for name, entry in manifest["media"].items():
        stream = members.open(MEDIA_PREFIX + name)
        storage = _storage_for(entry["fields"][0])
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, File(stream, name=name))
        if saved != name:
            raise BackupError(f"the storage saved a file under another name than the backup's ({saved})")
        written += entry["size"]
    say(f"media: {len(manifest['media']):,} files, {written:,} bytes in {time.perf_counter() - step:.1f} s")
    with connection.cursor() as cursor:
        counts = read_facts(cursor, connection.ops.quote_name).counts
    if counts != manifest["counts"]:
        raise BackupError(f"the restored database holds {counts}, the manifest says {manifest['counts']}")
    say(f"restored in {time.perf_counter() - began:.1f} s")
    return counts


def _restore_postgres(dump: Path, manifest: dict[str, Any], *, force: bool) -> None:
    pg_restore = _client("pg_restore")
    made_with = int(manifest["database"].get("pg_dump_major", 0))
    if _client_major(pg_restore) < made_with:
        raise BackupError(
            f"pg_restore is version {_client_major(pg_restore)} but the archive was written by pg_dump "
            f"{made_with}: install postgresql-client-{made_with} or newer"
        )
    if force:
        _clear_postgres()
    connection.close()
    _run(
        [
            pg_restore,
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            f"--dbname={connection.settings_dict['NAME']}",
            str(dump),
        ],
        environment=_pg_environment(),
        what="pg_restore",
    )


def _restore_sqlite(dump: Path) -> None:
    connection.close()
    source = sqlite3.connect(str(dump))
    target = sqlite3.connect(str(connection.settings_dict["NAME"]))
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
