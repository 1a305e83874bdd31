"""The cancellation notice: until when a patient may change or cancel a visit online.

Inside ``CLINIC_CANCELLATION_NOTICE`` before the start only the clinic can move
or cancel it. The booking services enforce this; the confirm step, the
appointment pages and the emails use the same two functions to say so, so no
page or message can promise a deadline the services would refuse.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings


def online_change_deadline(start: datetime) -> datetime:
    """The last moment a patient may change or cancel online a visit starting at ``start``."""
    return start - settings.CLINIC_CANCELLATION_NOTICE


def online_changes_open(start: datetime, *, now: datetime) -> bool:
    """Whether, at ``now``, a patient may still change or cancel online a visit starting at ``start``."""
    return now <= online_change_deadline(start)
