"""Errors reach Sentry with the request id and without the patient's data
(clinic/sentry.py). Sentry's ingest endpoint is a local HTTP server; the site runs
in a subprocess so the SDK, once initialised, touches no other test."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.notifications.conftest import database_url

ROOT = Path(__file__).resolve().parents[2]

NAME, EMAIL, PHONE = "Chan Tai Man", "chan.taiman@example.com", "+852 9123 4567"

SCRIPT = f"""
import io
import sys
from urllib.parse import urlencode

from django.test import override_settings

from clinic.wsgi import application

body = urlencode({{"name": {NAME!r}, "email": {EMAIL!r}, "phone": {PHONE!r}}}).encode()
environ = {{
    "REQUEST_METHOD": "POST",
    "PATH_INFO": "/api/v1/test-failure/",
    "QUERY_STRING": "q={NAME.replace(" ", "+")}&phone=85291234567",
    "SERVER_NAME": "testserver",
    "SERVER_PORT": "80",
    "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "127.0.0.1",
    "HTTP_HOST": "testserver",
    "HTTP_X_REQUEST_ID": "sentry-trace-3",
    "HTTP_COOKIE": "sessionid=secret-cookie",
    "HTTP_AUTHORIZATION": "Bearer tok",
    "HTTP_USER_AGENT": "ops-test",
    "CONTENT_TYPE": "application/x-www-form-urlencoded",
    "CONTENT_LENGTH": str(len(body)),
    "wsgi.input": io.BytesIO(body),
    "wsgi.errors": sys.stderr,
    "wsgi.url_scheme": "http",
    "wsgi.version": (1, 0),
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}}
with override_settings(ROOT_URLCONF="tests.ops.sentry_urls"):
    statuses = []
    answer = b"".join(application(environ, lambda status, headers, *rest: statuses.append(status)))
    print("status", statuses[0], answer.decode())
import sentry_sdk

sentry_sdk.flush(timeout=10)
"""


class Ingest(ThreadingHTTPServer):
    envelopes: list[bytes]


class Handler(BaseHTTPRequestHandler):
    server: Ingest

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli  # type: ignore[import-not-found]

            body = brotli.decompress(body)
        self.server.envelopes.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    server = Ingest(("127.0.0.1", 0), Handler)
    server.envelopes = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def events(envelopes: list[bytes]) -> list[dict[str, Any]]:
    found = []
    for envelope in envelopes:
        lines = envelope.split(b"\n")
        for header, payload in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                found.append(json.loads(payload))
    return found


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_view_error_reaches_sentry_with_the_request_id_and_no_patient_data(ingest: Ingest, tmp_path: Path) -> None:
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SENTRY_", "PYTEST_", "DJANGO_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        SENTRY_DSN=f"http://publickey@127.0.0.1:{ingest.server_address[1]}/1",
        SENTRY_ENVIRONMENT="test-ops",
        DEBUG="0",
        SECRET_KEY="sentry-test",
        EMAIL_URL="locmem://",
        ALLOWED_HOSTS="testserver",
        SECURE_SSL_REDIRECT="0",
        DATABASE_URL=database_url(),
        CLINIC_VAR_DIR=str(tmp_path),
        LOG_FORMAT="json",
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "status 500" in run.stdout and '"code": "server_error"' in run.stdout

    [event] = events(ingest.envelopes)
    assert event["environment"] == "test-ops"
    assert event["tags"]["request_id"] == "sentry-trace-3"
    [exception] = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert exception["value"] == "could not file the form of [email] (12 characters)"
    assert any(frame["function"] == "fail" for frame in exception["stacktrace"]["frames"])
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])
    assert event["request"]["method"] == "POST"
    assert event["request"]["url"] == "http://testserver/api/v1/test-failure/"
    assert event["request"]["headers"] == {
        "Host": "testserver",
        "User-Agent": "ops-test",
        "X-Request-Id": "sentry-trace-3",
        "Content-Type": "application/x-www-form-urlencoded",
        "Content-Length": "72",
    }
    assert set(event["request"]) == {"method", "url", "headers"}
    sent = b"".join(ingest.envelopes).decode()
    for private in ("Chan", "Tai Man", "chan.taiman", "9123", "91234567", "secret-cookie", "Bearer tok", "q="):
        assert private not in sent, private
    # And the log line of the failure, in the same run, holds none of it either.
    assert "Chan" not in run.stderr and "chan.taiman" not in run.stderr and "sentry-trace-3" in run.stderr


def test_before_send_keeps_the_fault_and_drops_everything_a_person_typed() -> None:
    from clinic.logs import request_id_var
    from clinic.sentry import before_send

    event = {
        "request": {
            "method": "PATCH",
            "url": "https://clinic.example/api/v1/patients/7/?q=Chan",
            "query_string": "q=Chan",
            "data": {"full_name": NAME},
            "cookies": {"sessionid": "secret-cookie"},
            "headers": {"Authorization": "Bearer tok", "Cookie": "a=b", "Referer": "/x?q=Chan", "Accept": "*/*"},
            "env": {"REMOTE_ADDR": "81.2.69.142"},
        },
        "user": {"id": 42, "email": EMAIL, "username": EMAIL, "ip_address": "81.2.69.142"},
        "exception": {
            "values": [
                {
                    "type": "IntegrityError",
                    "value": f"Key (email)=({EMAIL}) already exists.",
                    "stacktrace": {"frames": [{"function": "patient_update", "vars": {"name": NAME}}]},
                }
            ]
        },
        "breadcrumbs": {"values": [{"category": "query", "message": "SELECT 1", "data": {"params": [NAME]}}]},
        "logentry": {"message": f"failed for {PHONE}", "params": [NAME]},
        "extra": {"patient": NAME},
    }
    token = request_id_var.set("req-77")
    try:
        cleaned = before_send(event, {})
    finally:
        request_id_var.reset(token)

    assert cleaned["request"] == {"method": "PATCH", "url": "https://clinic.example/", "headers": {"Accept": "*/*"}}
    assert cleaned["user"] == {"id": 42}
    assert cleaned["exception"]["values"][0]["value"] == "Key (email)=([value]) already exists."
    assert cleaned["exception"]["values"][0]["stacktrace"]["frames"] == [{"function": "patient_update"}]
    assert cleaned["tags"] == {"request_id": "req-77"}
    text = json.dumps(cleaned)
    for private in ("Chan", "chan.taiman", "9123", "secret-cookie", "Bearer", "81.2.69.142"):
        assert private not in text, private


def test_before_send_names_the_url_pattern_never_the_path() -> None:
    """A calendar feed's path is its secret, a reset link's path its token."""
    from clinic.sentry import before_send

    for path, route in (
        ("/calendar/Zk3p9QmX7sLq2wVt.ics", "/calendar/{token}.ics"),
        ("/accounts/reset/MTI/c9x-0a1b2c3d4e5f/", "/accounts/reset/{uidb64}/{token}/"),
    ):
        event = {"transaction": route, "request": {"method": "GET", "url": f"https://clinic.example{path}?q=Chan"}}
        cleaned = before_send(event, {})
        assert cleaned["request"]["url"] == f"https://clinic.example{route}"
        assert path not in json.dumps(cleaned)
