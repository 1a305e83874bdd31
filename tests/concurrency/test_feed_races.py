"""Resetting a calendar feed from two tabs (or the page and the app) at once:
each request revokes and makes in turn, the login's row being the lock, so one
address is live afterwards and nobody sees an error. Without the lock, the
partial unique constraint would be all that stands between them: two live feeds
refused by the database, one request failing."""

from __future__ import annotations

import pytest

from booking import feeds
from booking.models import CalendarFeed
from tests.concurrency.test_booking_races import race
from tests.factories import PractitionerFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

THREADS = 8


def test_racing_resets_leave_exactly_one_live_feed() -> None:
    user = PractitionerFactory().user
    feeds.feed_create(user=user, kind="practitioner")

    outcomes = race(THREADS, lambda index: feeds.feed_create(user=user, kind="practitioner"))

    assert outcomes == {"ok": THREADS}, outcomes
    assert CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).count() == 1
    assert CalendarFeed.objects.filter(user=user).count() == THREADS + 1
