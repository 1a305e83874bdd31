"""The database or the broker goes down under a running server, and comes back.

The server is ``bin/serve`` with ``DEBUG=1``, as ``make run`` serves it (Django's
debug page must never be the answer), talking to this test's PostgreSQL through a
proxy the test cuts.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from knox.models import AuthToken

from tests.factories import PatientFactory, TreatmentFactory
from tests.notifications.conftest import PrivateRedis, wait_until
from tests.ops.conftest import Proxy

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def proxied_database_url(proxy: Proxy) -> str:
    from tests.notifications.conftest import database_url

    return database_url().replace(f":{proxy.target[1]}/", f":{proxy.port}/")


@pytest.mark.redis
def test_a_database_outage_answers_503_in_the_contracts_shape_and_recovers_without_a_restart(
    serve: Any, db_proxy: Proxy, private_redis: PrivateRedis
) -> None:
    TreatmentFactory(slug="pico-laser", name_en="Pico laser")
    patient = PatientFactory()
    _, token = AuthToken.objects.create(patient.user)
    bearer = {"Authorization": f"Bearer {token}"}
    server = serve(database=proxied_database_url(db_proxy), REDIS_URL=private_redis.url)

    assert server.get("/api/v1/treatments/").status == 200
    assert server.get("/api/v1/appointments/", headers=bearer).status == 200
    assert server.get("/readyz/").json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }

    db_proxy.cut()
    for path, headers in (("/api/v1/treatments/", {}), ("/api/v1/appointments/", bearer), ("/api/v1/me/", bearer)):
        began = time.monotonic()
        answer = server.get(path, headers=headers)
        assert answer.status == 503, (path, answer.text[:500])
        assert answer.headers["Content-Type"] == "application/json"
        assert answer.json()["code"] == "unavailable"
        assert answer.json()["detail"]
        assert set(answer.json()) == {"code", "detail"}
        assert int(answer.headers["Retry-After"]) > 0
        assert time.monotonic() - began < 5
    chinese = server.get("/api/v1/treatments/", headers={"Accept-Language": "zh-HK"}).json()
    assert chinese["detail"] == "服務暫時無法使用，請於一分鐘後再試。"

    page = server.get("/treatments/")
    assert page.status == 503
    assert "We&#x27;ll be back shortly" in page.text or "We'll be back shortly" in page.text
    assert "Traceback" not in page.text and "OperationalError" not in page.text
    signed_in_page = server.get("/appointments/", headers={"Cookie": "sessionid=whatever"})
    assert signed_in_page.status == 503

    ready = server.get("/readyz/")
    assert ready.status == 503
    assert ready.json()["code"] == "unavailable"
    assert ready.json()["checks"] == {"database": "unavailable", "broker": "ok", "storage": "ok"}
    assert server.get("/healthz/").status == 200  # liveness: the process is fine, leave it running

    db_proxy.restore()
    wait_until(lambda: server.get("/readyz/").status == 200, timeout=20, what="readiness after the database is back")
    assert server.get("/api/v1/treatments/").json()["results"][0]["slug"] == "pico-laser"
    assert server.get("/api/v1/appointments/", headers=bearer).status == 200
    assert server.get("/treatments/").status == 200
    assert "Traceback" not in server.output()


@pytest.mark.redis
def test_readiness_names_a_broker_outage_while_the_api_keeps_answering(serve: Any, private_redis: PrivateRedis) -> None:
    TreatmentFactory(slug="pico-laser")
    server = serve(REDIS_URL=private_redis.url)
    assert server.get("/readyz/").status == 200

    private_redis.stop()
    ready = server.get("/readyz/")
    assert ready.status == 503
    assert ready.json()["checks"] == {"database": "ok", "broker": "unavailable", "storage": "ok"}
    assert server.get("/api/v1/treatments/").status == 200  # the broker is never on the request path

    private_redis.start()
    wait_until(lambda: server.get("/readyz/").status == 200, timeout=20, what="readiness after Redis is back")
