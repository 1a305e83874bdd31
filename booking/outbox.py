"""The machinery every outbox of this app shares: the notifications
(booking.notifications) and the outgoing webhooks (booking.webhook_delivery).

A row of an outbox model has ``status`` (pending, sending, sent, failed),
``attempts``, ``next_attempt_at``, ``claim`` and ``claimed_at``. A sweep gives
back the claims of workers that died (``claims_release``), claims what is due
under a fresh token (``claim_due``) and hands the ids to workers in batches
(``sweep_rounds`` with ``publish``); each outbox keeps only what is its own:
what a row is, how it is sent, and its retry policy.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

PENDING, SENDING, FAILED = "pending", "sending", "failed"

Dispatch = Callable[[list[int], uuid.UUID], Counter[str] | None]


class BrokerUnavailable(Exception):
    """The broker refused a batch: its rows wait for the next sweep."""


def claims_release(
    model: type[models.Model], *, now: datetime, cutoff: datetime, max_attempts: int, stopped_error: str, what: str
) -> int:
    """Claims taken before ``cutoff`` belong to a worker that died (or a task
    message that was lost): back to pending, or failed after the last attempt."""
    stale = model._default_manager.filter(status=SENDING, claimed_at__lt=cutoff)
    failed = stale.filter(attempts__gte=max_attempts).update(
        status=FAILED, claim=None, claimed_at=None, last_error=stopped_error
    )
    released = stale.update(status=PENDING, claim=None, claimed_at=None, next_attempt_at=now)
    if failed or released:
        logger.warning("%s claims expired: %d back to pending, %d failed", what, released, failed)
    return released + failed


def claim_due(model: type[models.Model], *, now: datetime, limit: int) -> tuple[uuid.UUID, list[int]]:
    """Marks up to ``limit`` due rows ``sending`` under a new claim token and
    returns it with their ids. Concurrent sweeps never claim the same row: SKIP
    LOCKED on PostgreSQL, and on every database the UPDATE only takes rows
    still pending."""
    token = uuid.uuid4()
    rows = model._default_manager
    with transaction.atomic():
        due = rows.filter(status=PENDING, next_attempt_at__lte=now).order_by("next_attempt_at", "pk")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        if not ids:
            return token, []
        claimed = rows.filter(pk__in=ids, status=PENDING).update(status=SENDING, claim=token, claimed_at=timezone.now())
        if claimed != len(ids):
            ids = list(rows.filter(pk__in=ids, claim=token).values_list("pk", flat=True))
    return token, ids


def publish(task: Any, ids: Sequence[int], claim: uuid.UUID | None, *, what: str) -> bool:
    """Hands rows to a worker (``task.delay(ids, claim)``). Never raises: with
    the broker down the rows wait for the next sweep."""
    try:
        task.delay(list(ids), str(claim) if claim else None)
    except Exception as error:  # kombu raises OperationalError, OSError, timeouts...
        logger.warning(
            "broker unavailable (%s): %d %s from #%s wait for the sweep",
            type(error).__name__,
            len(ids),
            what,
            ids[0] if ids else "-",
        )
        return False
    return True


def sweep_rounds(
    model: type[models.Model],
    *,
    now: datetime,
    dispatch: Dispatch,
    outcomes: Counter[str],
    round_size: int,
    batch: int,
    max_rounds: int,
) -> int:
    """Claims what is due, round after round, and hands each batch to
    ``dispatch``; returns how many rows were claimed. When the broker refuses a
    batch, this round's rows are given back at once rather than at claim
    expiry (a batch already published finds its claim gone and sends nothing)."""
    claimed = 0
    for _round in range(max_rounds):
        token, ids = claim_due(model, now=now, limit=round_size)
        claimed += len(ids)
        try:
            for start in range(0, len(ids), batch):
                outcome = dispatch(ids[start : start + batch], token)
                if outcome:
                    outcomes.update(outcome)
        except BrokerUnavailable:
            model._default_manager.filter(claim=token, status=SENDING).update(
                status=PENDING, claim=None, claimed_at=None
            )
            break
        if len(ids) < round_size:
            break
    return claimed
