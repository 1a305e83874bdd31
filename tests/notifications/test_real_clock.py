"""The tests on the real clock (a real Celery worker) move the clinic twelve hours
away when Hong Kong's midnight is near, so "a visit in a few minutes" stays on the day
whose working hours hold it, whatever hour CI runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.notifications.conftest import FAR_FROM_HONG_KONG, real_clock_zone


@pytest.mark.parametrize(
    ("utc_hour", "utc_minute", "zone"),
    [(2, 0, "Asia/Hong_Kong"), (12, 59, "Asia/Hong_Kong"), (15, 40, FAR_FROM_HONG_KONG), (17, 30, FAR_FROM_HONG_KONG)],
)
def test_the_clinic_sits_where_midnight_is_far(utc_hour: int, utc_minute: int, zone: str, monkeypatch) -> None:
    monkeypatch.delenv("CLINIC_TEST_CLOCK_ZONE", raising=False)
    now = datetime(2026, 12, 6, utc_hour, utc_minute, tzinfo=UTC)
    chosen = real_clock_zone(now)
    assert chosen == zone
    assert 3 <= now.astimezone(ZoneInfo(chosen)).hour < 21
