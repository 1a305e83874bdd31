"""Celery's Redis transport, with acknowledgements that cannot make a worker deaf.

kombu's Redis transport emulates acknowledgements: a delivered message sits in
an ``unacked`` hash until the worker removes it. When that removal fails (Redis
hung for longer than ``socket_timeout``), kombu logs ``Couldn't ack`` and keeps
the message counted as in hand for good. Each such message uses up one place
of the worker's prefetch limit; once they are all used up, the worker never
asks Redis for another message, while still answering ``inspect ping``. Two
short Redis hangs were enough to stop every confirmation and reminder
(``tests/notifications/test_stalls.py`` reproduces it).

Here a failed removal still frees the place. The message stays in the
``unacked`` hash and Redis hands it out again after the visibility timeout:
the task runs a second time, which the outbox makes harmless (tasks re-read
their rows and claim them with a conditional UPDATE, see
``booking/notifications.py``).

Installed by ``clinic/celery.py`` as the transport for ``redis://`` and
``rediss://`` URLs, for publishers and workers alike.
"""

from __future__ import annotations

import logging
from typing import Any

from kombu.transport import TRANSPORT_ALIASES, redis, virtual

logger = logging.getLogger(__name__)


class QoS(redis.QoS):
    def ack(self, delivery_tag: Any) -> None:
        try:
            self._remove_from_indices(delivery_tag).execute()
        except redis.get_redis_error_classes().connection_errors as error:
            logger.warning(
                "could not acknowledge a message (%s); it will be delivered again after the visibility timeout",
                type(error).__name__,
            )
        finally:
            virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        try:
            if requeue:
                self.restore_by_tag(delivery_tag, leftmost=True)
            else:
                self._remove_from_indices(delivery_tag).execute()
        except redis.get_redis_error_classes().connection_errors as error:
            logger.warning(
                "could not reject a message (%s); it will be delivered again after the visibility timeout",
                type(error).__name__,
            )
        finally:
            virtual.QoS.ack(self, delivery_tag)


class Channel(redis.Channel):
    QoS = QoS


class Transport(redis.Transport):
    Channel = Channel


def install() -> None:
    """Makes ``redis://`` and ``rediss://`` broker URLs use this transport."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
