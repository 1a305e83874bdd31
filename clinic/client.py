"""Who is on the other end of a request, and how often they may do something.

``client_address`` is the one place that decides a request's client address:
rate limits (clinic/api.py ``ScopedThrottle``, the pages' limits), sign-in
lockouts (django-axes, ``AXES_CLIENT_IP_CALLABLE``) and anything that records
an address all ask it. ``X-Forwarded-For`` is believed only as far as the
proxies named in ``CLINIC_TRUSTED_PROXIES`` vouch for it; without that setting
it is ignored, so a client cannot choose its own address by sending the header.

``count_use`` and ``within`` count uses of a key in the "throttle" cache's
table, in the database, with one atomic statement: every web process sees the
same counts, a burst cannot slip past a limit, and a restart forgets none.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.db import connections, router
from django.utils import timezone
from django.utils.dateparse import parse_datetime

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
# A hop count (trust that many proxies from the right), or the proxies' networks.
TrustedProxies = int | tuple[Network, ...]


def parse_trusted_proxies(text: str, *, name: str = "CLINIC_TRUSTED_PROXIES") -> TrustedProxies:
    """``""`` (trust nobody), a hop count such as ``1``, or a comma-separated
    list of addresses and CIDRs such as ``10.0.0.0/8, 2001:db8::/32``."""
    text = text.strip()
    if not text:
        return 0
    if text.isdigit():
        count = int(text)
        if count > 10:
            raise ImproperlyConfigured(f"{name} must be a hop count of at most 10, not {count}.")
        return count
    networks: list[Network] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name} must be a hop count such as 1 or a comma-separated list of addresses "
                f"and CIDRs such as 10.0.0.0/8, not {part!r}."
            ) from None
    return tuple(networks)


@lru_cache(maxsize=16)
def _parsed(text: str) -> TrustedProxies:
    return parse_trusted_proxies(text)


def _trusted() -> TrustedProxies:
    value: Any = getattr(settings, "CLINIC_TRUSTED_PROXIES", 0)
    if isinstance(value, bool) or value is None:
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str):
        return _parsed(value)
    if isinstance(value, Sequence):  # networks, or their texts (tests may set either)
        return _parsed(",".join(str(item) for item in value))
    raise ImproperlyConfigured("CLINIC_TRUSTED_PROXIES must be a hop count or a list of CIDRs.")


def _address(text: str) -> Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:52100"
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def client_address(request: Any) -> str:
    """The client's address: ``REMOTE_ADDR``, or the address a trusted proxy
    says it received the request from. Reads only ``request.META``, so a page's
    HttpRequest and the API's Request both work.

    The chain is ``X-Forwarded-For`` (each proxy appends the address it saw)
    followed by ``REMOTE_ADDR``. With a hop count N, the N rightmost entries are
    the clinic's proxies and the one before them is the client. With networks,
    the rightmost entry outside them is the client. Entries further left were
    written by the client itself and are never believed. A garbled entry stops
    the walk at the proxy that passed it on."""
    meta = request.META
    remote = str(meta.get("REMOTE_ADDR") or "").strip()
    trusted = _trusted()
    if not trusted or _address(remote) is None:
        return remote
    forwarded = [part for part in str(meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if part.strip()]
    chain = [*forwarded, remote]
    if isinstance(trusted, int):
        client_index = max(len(chain) - 1 - trusted, 0)
        # Walk leftwards hop by hop so a garbled entry is never returned.
        best = remote
        for index in range(len(chain) - 1, client_index - 1, -1):
            found = _address(chain[index])
            if found is None:
                return best
            best = str(found)
        return best
    best = remote
    for hop in reversed(chain):
        found = _address(hop)
        if found is None:
            return best
        best = str(found)
        if not any(found in network for network in trusted):
            return best
    return best  # every hop is a proxy of ours: the leftmost is the best we know


# --- counters shared by every process ------------------------------------------------


def count_use(key: str, period: int) -> tuple[int, datetime]:
    """Counts one more use of ``key`` and returns the count within the current
    window and when that window ends; a window opens at a key's first use and
    lasts ``period`` seconds, and the first use after it ends opens the next.

    One statement, atomic in the database: an upsert into the "throttle"
    cache's table (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``, on
    PostgreSQL and SQLite alike), so concurrent requests in any number of
    processes each get their own count, and there is no read-then-write for a
    burst to slip through. Now and then (one call in ``_SWEEP_EVERY``) it also
    deletes the windows that ended, which the table's index on ``expires`` keeps
    cheap; the cache's own culling (a ``COUNT(*)`` on every write) never runs."""
    cache = caches["throttle"]
    connection = connections[router.db_for_write(cache.cache_model_class)]  # type: ignore[attr-defined]
    # The table's name is a setting (CACHES["throttle"]["LOCATION"]), quoted; every value is a parameter.
    table = connection.ops.quote_name(cache._table)  # type: ignore[attr-defined]
    now = timezone.now().replace(microsecond=0)
    ends = now + timedelta(seconds=period)
    moment, new_end = (connection.ops.adapt_datetimefield_value(value) for value in (now, ends))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (cache_key, value, expires) VALUES (%s, '1', %s) "  # noqa: S608 - quoted name; values are parameters
            f"ON CONFLICT (cache_key) DO UPDATE SET "
            f"value = CASE WHEN {table}.expires <= %s THEN '1' "
            f"ELSE CAST(CAST({table}.value AS INTEGER) + 1 AS TEXT) END, "
            f"expires = CASE WHEN {table}.expires <= %s THEN excluded.expires ELSE {table}.expires END "
            f"RETURNING value, expires",
            [_COUNTER_PREFIX + key, new_end, moment, moment],
        )
        value, expires = cursor.fetchone()
        if random.randrange(_SWEEP_EVERY) == 0:  # noqa: S311 - spreads housekeeping, not a secret
            cursor.execute(f"DELETE FROM {table} WHERE expires <= %s", [moment])  # noqa: S608 - as above
    if isinstance(expires, str):  # SQLite
        expires = parse_datetime(expires)
    if timezone.is_naive(expires):
        expires = timezone.make_aware(expires, UTC)
    return int(value), expires


def within(key: str, limit: int, period: int) -> bool:
    """Counts one more use of ``key``; False once the count passes ``limit``
    within ``period`` seconds of the first use (``count_use``: one atomic
    statement, shared by every web process, kept across restarts). Callers
    hash anything personal (an email) into the key."""
    return count_use(key, period)[0] <= limit


# The counters' keys in the "throttle" table; their values are plain integers,
# not the cache's pickles, so nothing reads them through the cache API.
_COUNTER_PREFIX = "count:"
_SWEEP_EVERY = 1000
