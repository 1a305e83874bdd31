"""Cheap checks of the services a request or a worker depends on (``/readyz/``)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 1.0
PROBE_NAME = "readiness-probe"  # looked up, never written, on a storage of another kind
_probe_clients: dict[tuple, Any] = {}


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


def check_storage() -> bool:
    """The default storage can be used: for a local folder, it (or the nearest
    folder above it, where it will be created) is writable; for an S3 bucket, the
    bucket answers a HEAD within the timeout with these credentials (unreachable,
    missing or forbidden is not ready); for any other backend, a lookup answers."""
    from django.core.files.storage import FileSystemStorage, storages

    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        return _writable_folder(Path(storage.location))
    from storages.backends.s3 import S3Storage

    try:
        if isinstance(storage, S3Storage):
            _probe_client(storage).head_bucket(Bucket=storage.bucket_name)
        else:
            storage.exists(PROBE_NAME)
    except Exception as error:  # any client, network or permission error means "not ready"
        logger.warning("readiness: storage unavailable (%s)", type(error).__name__)
        return False
    return True


def _writable_folder(folder: Path) -> bool:
    while not folder.exists():
        if folder.parent == folder:
            return False
        folder = folder.parent
    return folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)


def _probe_client(storage: Any) -> Any:
    """An S3 client like the storage's own but with TIMEOUT_SECONDS and no retries,
    so a probe of a store that does not answer returns in about a second. Kept per
    process (creating one takes tens of milliseconds)."""
    import boto3
    from botocore.config import Config

    key = (storage.endpoint_url, storage.region_name, storage.access_key, storage.secret_key, storage.addressing_style)
    client = _probe_clients.get(key)
    if client is None:
        config = Config(
            connect_timeout=TIMEOUT_SECONDS,
            read_timeout=TIMEOUT_SECONDS,
            retries={"total_max_attempts": 1},
            s3={"addressing_style": storage.addressing_style} if storage.addressing_style else None,
        )
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=storage.endpoint_url,
            region_name=storage.region_name,
            aws_access_key_id=storage.access_key,
            aws_secret_access_key=storage.secret_key,
            aws_session_token=storage.security_token,
            config=config,
        )
        _probe_clients[key] = client
    return client
