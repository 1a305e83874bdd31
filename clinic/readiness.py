"""Cheap checks of the services a request or a worker depends on (``/readyz/``)."""

from __future__ import annotations

import logging
import os

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 1.0


def check_database() -> bool:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:  # any driver error means "not ready"
        logger.warning("readiness: database unavailable (%s)", type(error).__name__)
        connection.close_if_unusable_or_obsolete()
        return False
    return True


def check_broker() -> bool:
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
        try:
            return bool(client.ping())
        except redis.RedisError as error:
            logger.warning("readiness: broker unavailable (%s)", type(error).__name__)
            return False
        finally:
            client.close()
    # The embedded default's queue is a folder: ready while it can be written.
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
    return os.access(folder, os.W_OK)
