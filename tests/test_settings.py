"""Settings come from the environment and a bad value stops start-up, naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic import env

ROOT = Path(__file__).resolve().parent.parent


def _settings_in_subprocess(tmp_path: Path, **overrides: str | None) -> subprocess.CompletedProcess[str]:
    """Imports clinic.settings in a fresh interpreter with only these variables."""
    environment = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "x" * 50,
        "CLINIC_VAR_DIR": str(tmp_path / "var"),
        "EMAIL_URL": "locmem://",
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
    }
    environment.update(overrides)
    environment = {k: v for k, v in environment.items() if v is not None}
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DEBUG, s.CLINIC_MIN_NOTICE, s.CLINIC_REMINDER_OFFSETS, s.DATABASES['default']['ENGINE'], "
        "s.CELERY_BROKER_URL, s.MAILERS['default']['BACKEND'], s.TIME_ZONE, s.CLINIC_SLOT_MINUTES)"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60, check=False
    )


def test_defaults_are_production_safe_and_embedded(tmp_path: Path) -> None:
    result = _settings_in_subprocess(tmp_path, EMAIL_URL=f"file://{tmp_path}/mail")
    assert result.returncode == 0, result.stderr
    debug, *_ = result.stdout.split()
    assert debug == "False"
    assert "sqlite3" in result.stdout
    assert "filesystem://localhost//" in result.stdout
    assert "filebased.EmailBackend" in result.stdout
    assert "Asia/Hong_Kong" in result.stdout
    assert "2:00:00" in result.stdout  # CLINIC_MIN_NOTICE
    # The embedded broker's folders exist, absolute, before any worker starts.
    assert (tmp_path / "var" / "celery" / "queue").is_dir()
    assert (tmp_path / "var" / "celery" / "control").is_dir()


def test_debug_off_without_email_url_refuses_to_start_naming_it(tmp_path: Path) -> None:
    result = _settings_in_subprocess(tmp_path, EMAIL_URL=None)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "EMAIL_URL must be set when DEBUG is off" in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(("command", "refused"), [("makemigrations", False), ("check", True)])
def test_without_email_url_only_commands_that_send_no_mail_run(tmp_path: Path, command: str, refused: bool) -> None:
    environment = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "x" * 50,
        "CLINIC_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", command, *(["--check", "--dry-run"] if command == "makemigrations" else [])],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # A migration check on a bare checkout works; anything that may serve or send mail stops, naming the variable.
    assert (result.returncode != 0) is refused, result.stderr[-500:]
    assert ("EMAIL_URL must be set when DEBUG is off" in result.stderr) is refused


def test_development_without_email_url_writes_mail_to_files(tmp_path: Path) -> None:
    result = _settings_in_subprocess(tmp_path, DEBUG="1", EMAIL_URL=None)
    assert result.returncode == 0, result.stderr
    assert "filebased.EmailBackend" in result.stdout


def test_services_come_from_urls(tmp_path: Path) -> None:
    result = _settings_in_subprocess(
        tmp_path,
        DATABASE_URL="postgres://u:p@db.internal:5432/clinic",
        REDIS_URL="redis://cache.internal:6379/2",
        EMAIL_URL="smtp://mail.internal:1025",
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout
    assert "redis://cache.internal:6379/2" in result.stdout
    assert "smtp.EmailBackend" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("CLINIC_MIN_NOTICE", "90"),
        ("CLINIC_BOOKING_HORIZON", "3 weeks"),
        ("CLINIC_REMINDER_OFFSETS", "24h,2"),
        ("CLINIC_SLOT_MINUTES", "quarter"),
        ("CLINIC_NOTIFICATION_SWEEP_SECONDS", "0"),
        ("CLINIC_TIME_ZONE", "Mars/Olympus_Mons"),
        ("DATABASE_URL", "mysql://localhost/clinic"),
        ("REDIS_URL", "http://localhost:6379"),
        ("EMAIL_URL", "carrier-pigeon://loft"),
        ("CLINIC_BASE_URL", "clinic.example.com"),
        ("CLINIC_TRUSTED_PROXIES", "nginx"),
        ("CLINIC_TRUSTED_PROXIES", "99"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(tmp_path: Path, variable: str, value: str) -> None:
    result = _settings_in_subprocess(tmp_path, **{variable: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert variable in result.stderr.splitlines()[-1]


def test_a_development_key_file_stands_in_for_secret_key(tmp_path: Path) -> None:
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "secret_key").write_text("k" * 50 + "\n")
    result = _settings_in_subprocess(tmp_path, SECRET_KEY="")
    assert result.returncode == 0, result.stderr


def test_missing_secret_key_fails_naming_it(tmp_path: Path) -> None:
    result = _settings_in_subprocess(tmp_path, SECRET_KEY="")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", timedelta(minutes=90)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        (" 24h ", timedelta(hours=24)),
    ],
)
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert env.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["90", "", "2 hours", "1.5h", "-2h", "1w", "h"])
def test_bare_numbers_and_other_units_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        env.parse_duration(text)


def test_reminder_offsets_are_a_sorted_unique_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_REMINDER_OFFSETS", "2h, 24h, 2h, 90m")
    assert env.env_duration_list("CLINIC_REMINDER_OFFSETS", "24h") == [
        timedelta(hours=24),
        timedelta(hours=2),
        timedelta(minutes=90),
    ]


def test_reminders_can_be_switched_off_with_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_REMINDER_OFFSETS", "")
    assert env.env_duration_list("CLINIC_REMINDER_OFFSETS", "24h,2h") == []


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("true", True), ("Yes", True), ("0", False), ("off", False)]
)
def test_booleans(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("SOME_FLAG", value)
    assert env.env_bool("SOME_FLAG", not expected) is expected


def test_integer_bounds_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLINIC_SLOT_MINUTES", "1")
    with pytest.raises(ImproperlyConfigured, match="CLINIC_SLOT_MINUTES must be at least 5"):
        env.env_int("CLINIC_SLOT_MINUTES", 15, minimum=5)


@pytest.mark.parametrize(
    ("url", "backend", "options"),
    [
        ("smtp://127.0.0.1:1025", "smtp", {"host": "127.0.0.1", "port": 1025, "timeout": 10}),
        (
            "smtp://user%40x:p%3Ass@mail.example.com:587?tls=1",
            "smtp",
            {
                "host": "mail.example.com",
                "port": 587,
                "timeout": 10,
                "username": "user@x",
                "password": "p:ss",
                "use_tls": True,
            },
        ),
        ("smtps://mail.example.com", "smtp", {"host": "mail.example.com", "port": 465, "timeout": 10, "use_ssl": True}),
        ("file:///tmp/mail", "filebased", {"file_path": "/tmp/mail"}),
        (None, "filebased", {"file_path": "/srv/var/mail"}),
    ],
)
def test_email_url_becomes_a_mailer(url: str | None, backend: str, options: dict) -> None:
    mailer = env.mailer_from_url("EMAIL_URL", url, fallback_folder="/srv/var/mail")
    assert mailer["BACKEND"] == f"django.core.mail.backends.{backend}.EmailBackend"
    assert mailer["OPTIONS"] == options


def test_email_url_file_needs_an_absolute_folder() -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        env.mailer_from_url("EMAIL_URL", "file://relative/folder", fallback_folder="/x")
