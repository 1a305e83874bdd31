"""The project as an operator meets it: migrations, deploy checks, the stack."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": "s" * 60,
        "EMAIL_URL": "locmem://",
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
    }
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_models_and_migrations_agree(tmp_path: Path) -> None:
    result = _manage("makemigrations", "--check", "--dry-run", CLINIC_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_migrations_apply_on_sqlite(tmp_path: Path) -> None:
    result = _manage("migrate", "--noinput", CLINIC_VAR_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "clinic.sqlite3").exists()
    # And back to zero and forward again, so every migration is reversible.
    for app in ("booking", "treatments", "patients"):
        back = _manage("migrate", app, "zero", "--noinput", CLINIC_VAR_DIR=str(tmp_path))
        assert back.returncode == 0, back.stderr
    again = _manage("migrate", "--noinput", CLINIC_VAR_DIR=str(tmp_path))
    assert again.returncode == 0, again.stderr


@pytest.mark.postgres
def test_migrations_apply_on_postgres_with_exclusion_constraints(tmp_path: Path) -> None:
    import psycopg

    name = f"clinic_migrate_{uuid.uuid4().hex[:8]}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    base = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        result = _manage("migrate", "--noinput", DATABASE_URL=f"{base}/{name}", CLINIC_VAR_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        with psycopg.connect(f"{base.replace('postgres://', 'postgresql://')}/{name}") as conn:
            rows = conn.execute(
                "SELECT conname FROM pg_constraint WHERE contype = 'x' AND conrelid = 'booking_appointment'::regclass"
            ).fetchall()
        assert {r[0] for r in rows} == {
            "appointment_no_practitioner_overlap",
            "appointment_no_room_overlap",
            "appointment_no_device_overlap",
            "appointment_no_patient_overlap",
        }
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_deploy_check_is_clean_with_a_production_environment(tmp_path: Path) -> None:
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="0",
        SECRET_KEY="k7#Qp2@vL9!xR4$zT8^mW3&nB6*cY1%hJ5(dF0)gS2-aE7+uI4=oP9",
        ALLOWED_HOSTS="clinic.example.com",
        CLINIC_BASE_URL="https://clinic.example.com",
        DATABASE_URL="postgres://clinic:clinic@127.0.0.1:5432/clinic",
        REDIS_URL="redis://127.0.0.1:6379/0",
        EMAIL_URL="smtp://127.0.0.1:1025",
        CLINIC_VAR_DIR=str(tmp_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked_for(tmp_path: Path) -> None:
    result = _manage("diffsettings", "--all", CLINIC_VAR_DIR=str(tmp_path))
    assert "DEBUG = False" in result.stdout


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


class TestDockerCompose:
    """Docker does not run on these machines, so the file is checked as data."""

    def test_the_whole_stack_is_there(self, compose: dict) -> None:
        assert {"web", "worker", "beat", "db", "redis", "mail"} <= set(compose["services"])

    def test_one_image_in_several_roles(self, compose: dict) -> None:
        services = compose["services"]
        images = {services[name]["image"] for name in ("web", "worker", "beat", "migrate")}
        assert images == {"clinic:latest"}
        assert all(services[name]["build"] == "." for name in ("web", "worker", "beat"))
        assert (ROOT / "Dockerfile").exists()

    def test_exactly_one_beat(self, compose: dict) -> None:
        commands = {name: " ".join(s.get("command", [])) for name, s in compose["services"].items()}
        beats = [name for name, cmd in commands.items() if "celery" in cmd and (" beat" in cmd or " -B" in cmd)]
        assert beats == ["beat"]
        assert compose["services"]["beat"].get("deploy", {}).get("replicas", 1) == 1

    def test_web_runs_gunicorn_and_worker_runs_celery(self, compose: dict) -> None:
        web = compose["services"]["web"]
        assert web["command"] == ["bin/serve"]
        assert "gunicorn" in (ROOT / "bin" / "serve").read_text()
        assert web["environment"]["BIND"] == "0.0.0.0:8000"
        assert compose["services"]["worker"]["command"][:4] == ["celery", "-A", "clinic", "worker"]

    def test_worker_and_beat_are_checked_by_progress_not_by_ping(self, compose: dict) -> None:
        worker = " ".join(compose["services"]["worker"]["healthcheck"]["test"])
        beat = " ".join(compose["services"]["beat"]["healthcheck"]["test"])
        assert "clinic.probe worker" in worker and "ping" not in worker
        assert "outbox_check" in beat
        for name in ("web", "worker", "beat"):
            assert compose["services"][name]["restart"] == "unless-stopped"

    def test_environment_points_at_the_stack_services(self, compose: dict) -> None:
        for name in ("web", "worker", "beat"):
            environment = compose["services"][name]["environment"]
            assert environment["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in environment["DATABASE_URL"]
            assert environment["REDIS_URL"].startswith("redis://redis:6379")
            assert environment["EMAIL_URL"] == "smtp://mail:1025"
            assert environment["DEBUG"] == "0"
        db = compose["services"]["db"]["environment"]
        url = compose["services"]["web"]["environment"]["DATABASE_URL"]
        assert url == f"postgres://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}@db:5432/{db['POSTGRES_DB']}"

    def test_health_checks_and_start_order(self, compose: dict) -> None:
        services = compose["services"]
        for name in ("web", "db", "redis", "mail"):
            assert "healthcheck" in services[name], name
        for name in ("web", "worker", "beat"):
            depends = services[name]["depends_on"]
            assert depends["db"]["condition"] == "service_healthy"
            assert depends["redis"]["condition"] == "service_healthy"
            assert depends["migrate"]["condition"] == "service_completed_successfully"

    def test_mail_catcher_has_a_web_ui(self, compose: dict) -> None:
        assert any(str(p).endswith(":8025") for p in compose["services"]["mail"]["ports"])
        assert "healthz" in " ".join(compose["services"]["web"]["healthcheck"]["test"])


def test_healthz_answers(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


# --- dependencies: the .in files hold the top-level pins, the .txt files lock the whole tree ---

LOCKS = {"requirements.in": "requirements.txt", "requirements-dev.in": "requirements-dev.txt"}


def _logical_lines(path: Path) -> list[str]:
    """The file's requirement lines, continuations joined, comments dropped."""
    text = path.read_text().replace("\\\n", " ")
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def _input_pins(name: str) -> dict[str, str]:
    """``name -> version`` of an input file and the inputs it includes with ``-r``."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    for line in _logical_lines(ROOT / name):
        if line.startswith("-r "):
            pins.update(_input_pins(line.split()[1]))
            continue
        if line.startswith("-c "):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", f"{name}: pin {line!r} with =="
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def _locked(name: str) -> dict[str, str]:
    """``name -> version`` of a lock file, checking that each entry is pinned and hashed."""
    from packaging.utils import canonicalize_name

    locked: dict[str, str] = {}
    for line in _logical_lines(ROOT / name):
        requirement, *options = line.split()
        assert "==" in requirement and "[" not in requirement, f"{name}: {line!r} is not an exact pin"
        assert options and all(option.startswith("--hash=sha256:") for option in options), (
            f"{name}: {requirement} has no hashes (or an option a lock should not carry)"
        )
        package, version = requirement.split("==")
        locked[canonicalize_name(package)] = version
    return locked


@pytest.mark.parametrize("source", sorted(LOCKS))
def test_each_top_level_pin_is_what_the_lock_installs(source: str) -> None:
    lock = LOCKS[source]
    pins, locked = _input_pins(source), _locked(lock)
    disagree = {name: (version, locked.get(name)) for name, version in pins.items() if locked.get(name) != version}
    assert not disagree, f"{source} and {lock} disagree (input, lock): {disagree}; run `make lock`"


def test_the_dev_lock_installs_the_runtime_lock_unchanged() -> None:
    runtime, dev = _locked("requirements.txt"), _locked("requirements-dev.txt")
    differ = {name: (version, dev.get(name)) for name, version in runtime.items() if dev.get(name) != version}
    assert not differ, f"requirements-dev.txt must lock the runtime packages as requirements.txt does: {differ}"
    # Something besides the top level: a lock of the inputs alone would pin no dependency of theirs.
    assert set(runtime) > set(_input_pins("requirements.in"))


def test_everything_that_installs_installs_from_the_lock() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements.txt" in makefile
    assert "pip install --quiet --require-hashes -r requirements-dev.txt" in makefile
    assert "RUN pip install --require-hashes -r requirements.txt" in (ROOT / "Dockerfile").read_text()
