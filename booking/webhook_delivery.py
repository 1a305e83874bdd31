"""Sending the outgoing webhooks (booking/webhooks.py writes them): where a
subscriber may be, the Standard Webhooks signature, the outbox's sweep and the
attempts.

Delivery is the notification outbox's pattern (booking/notifications.py): each
delivery is published to Celery after the commit that wrote it, and a sweep
(beat, every CLINIC_WEBHOOK_SWEEP_SECONDS) returns expired claims and claims
what is due with SELECT … FOR UPDATE SKIP LOCKED. A failed attempt is retried
after CLINIC_WEBHOOK_RETRY_SECONDS × 4^(n−1) (at most 12 hours) until
CLINIC_WEBHOOK_MAX_ATTEMPTS, then the delivery is failed and the manager's
page says so. A 2xx answer is success; anything else is a failed attempt: a
redirect (never followed), a timeout (3 s to connect, 10 s to read), a refused
address. Each attempt is logged (``WebhookAttempt``) with its status code or
the kind of error; the response's body is never read.

Signatures (https://www.standardwebhooks.com): ``webhook-id`` is the
delivery's ``message_id``, the same on every retry so a receiver drops
repeats; ``webhook-timestamp`` is the attempt's, in Unix seconds;
``webhook-signature`` is ``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``,
made by the ``standardwebhooks`` package. For 24 hours after a rotation the
previous secret signs too: the header carries both, space-separated, as the
specification allows.

Exactly once is impossible over HTTP in one window: the receiver answered 2xx
and the worker died before recording it. When its claim expires (CLAIM_TIMEOUT)
the delivery is sent again with the same ``webhook-id``; a receiver that keeps
the ids it has seen ignores it, as the specification asks.

Server-side request forgery: a subscriber's URL is https, or plain http to a
host in CLINIC_WEBHOOK_HTTP_HOSTS; it carries no credentials; and it may not
lead to a loopback, private, link-local or otherwise non-public address unless
that address is inside CLINIC_WEBHOOK_PRIVATE_NETWORKS. The URL is checked when
it is saved (its name resolved: ``check_url``), and again at every send, where
the address actually connected to is checked once the connection is made and
before a byte is sent (so a name that resolved to a public address when it was
saved cannot be pointed at the clinic's own network later). Proxies and other
settings from the environment are ignored.

Logs carry ids and codes only.
"""

from __future__ import annotations

import base64
import ipaddress
import logging
import secrets
import socket
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter
from standardwebhooks import Webhook
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from booking import outbox
from booking.models import WebhookAttempt, WebhookDelivery, WebhookSubscription
from clinic.errors import InvalidInput

logger = logging.getLogger(__name__)

Status = WebhookDelivery.Status

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's prefix, not a secret)
SECRET_BYTES = 32
CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
URL_MAX = 500
MAX_BACKOFF = timedelta(hours=12)
# Far above a batch's worst case (BATCH × (connect + read timeouts)), so a live
# worker never loses its claim.
CLAIM_TIMEOUT = timedelta(minutes=5)
BATCH = 10
SWEEP_ROUND = 200
SWEEP_MAX_ROUNDS = 20
USER_AGENT = "clinic-webhooks/1"


# --- where subscribers may be: the URL and the address ---------------------------------


class RefusedAddress(Exception):
    """The connection reached an address subscribers may not have. Raised in
    urllib3's connect, after the TCP handshake and before a byte is sent."""


def address_allowed(address: str) -> bool:
    """A public unicast address, or one inside CLINIC_WEBHOOK_PRIVATE_NETWORKS."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone index is not part of the address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in ipaddress.ip_network(network) for network in settings.CLINIC_WEBHOOK_PRIVATE_NETWORKS):
        return True
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def _bad_address() -> InvalidInput:
    return InvalidInput(
        fields={"url": [_("Give the full address of the receiving system, e.g. https://example.com/hooks/clinic.")]}
    )


def url_target(url: str) -> Target:
    """The URL's scheme, host and port, if a subscriber may have it, without
    looking the host up: https (or http to CLINIC_WEBHOOK_HTTP_HOSTS), a host,
    no user name or password. Raises InvalidInput naming ``url``."""
    if not isinstance(url, str) or not url or len(url) > URL_MAX or any(c.isspace() or c == "\x00" for c in url):
        raise _bad_address()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _bad_address() from None
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or not host or not parts.netloc:
        raise _bad_address()
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            fields={
                "url": [
                    _(
                        "Leave the user name and password out of the address: the signature on every message "
                        "proves that it comes from the clinic."
                    )
                ]
            }
        )
    if parts.scheme == "http" and host not in settings.CLINIC_WEBHOOK_HTTP_HOSTS:
        raise InvalidInput(
            fields={
                "url": [
                    _("Use an https:// address. Plain http is allowed only for the hosts in CLINIC_WEBHOOK_HTTP_HOSTS.")
                ]
            }
        )
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80))


def _private_address() -> InvalidInput:
    return InvalidInput(
        fields={
            "url": [
                _(
                    "This address leads into a private network or to this server itself. The clinic sends webhooks "
                    "there only if CLINIC_WEBHOOK_PRIVATE_NETWORKS allows it."
                )
            ]
        }
    )


def check_url(url: str) -> str:
    """``url`` if a subscriber may have it (``url_target``) and every address its
    host resolves to is allowed (``address_allowed``); else InvalidInput."""
    target = url_target(url)
    try:
        literal = ipaddress.ip_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = {str(literal)}
    else:
        try:
            found = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise InvalidInput(fields={"url": [_("This host could not be found.")]}) from None
        addresses = {str(info[4][0]) for info in found}
    if not addresses or not all(address_allowed(address) for address in addresses):
        raise _private_address()
    return url


def _check_peer(sock: socket.socket) -> None:
    peer = str(sock.getpeername()[0])
    if not address_allowed(peer):
        sock.close()
        raise RefusedAddress(peer)


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter whose connections check the address they reached."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def _session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxy, .netrc or CA bundle from the environment
    adapter = _GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


# --- secrets and signatures ------------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signing_secrets(subscription: WebhookSubscription, at: datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    found = [subscription.secret]
    expires = subscription.previous_expires_at
    if subscription.previous_secret and expires is not None and at < expires:
        found.append(subscription.previous_secret)
    return found


def signature(subscription: WebhookSubscription, *, message_id: str, at: datetime, body: str) -> str:
    """The ``webhook-signature`` header: ``v1,<base64>`` per secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in signing_secrets(subscription, at))


def headers_for(subscription: WebhookSubscription, *, message_id: str, at: datetime, body: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(subscription, message_id=message_id, at=at, body=body),
    }


# --- the sweep -------------------------------------------------------------------------

Dispatch = outbox.Dispatch
BrokerUnavailable = outbox.BrokerUnavailable


@dataclass
class SweepResult:
    released: int = 0
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


def backoff(attempts: int) -> timedelta:
    """After attempt n: CLINIC_WEBHOOK_RETRY_SECONDS × 4^(n−1), at most 12 hours
    (30 s, 2 min, 8 min, 32 min, 2 h 8 min, 8 h 32 min, 12 h by default)."""
    delay = timedelta(seconds=settings.CLINIC_WEBHOOK_RETRY_SECONDS * 4 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


def webhooks_release_expired(*, now: datetime) -> int:
    """Claims older than CLAIM_TIMEOUT belong to a worker that died: back to
    pending (sent again, same webhook-id), or failed after the last attempt."""
    return outbox.claims_release(
        WebhookDelivery,
        now=now,
        cutoff=now - CLAIM_TIMEOUT,
        max_attempts=settings.CLINIC_WEBHOOK_MAX_ATTEMPTS,
        stopped_error="worker_stopped",
        what="webhook",
    )


def webhooks_claim_due(*, now: datetime, limit: int = SWEEP_ROUND) -> tuple[uuid.UUID, list[int]]:
    """Marks up to ``limit`` due deliveries ``sending`` under a new claim token
    (booking.outbox.claim_due)."""
    return outbox.claim_due(WebhookDelivery, now=now, limit=limit)


def publish(ids: Sequence[int], claim: uuid.UUID | None = None) -> bool:
    """Hands deliveries to a worker. Never raises: with the broker down they
    wait for the next sweep."""
    from booking.tasks import deliver_webhooks

    return outbox.publish(deliver_webhooks, ids, claim, what="webhook deliveries")


def dispatch_to_workers(ids: list[int], claim: uuid.UUID) -> None:
    if not publish(ids, claim):
        raise BrokerUnavailable


def deliver_here(ids: list[int], claim: uuid.UUID) -> Counter[str]:
    return webhooks_deliver(ids=ids, claim=claim)


def webhooks_sweep(*, now: datetime | None = None, dispatch: Dispatch | None = None) -> SweepResult:
    """One pass: expired claims back, then what is due claimed and handed out in
    batches (to Celery workers by default; ``deliver_here`` sends in this process)."""
    now = now or timezone.now()
    dispatch = dispatch or dispatch_to_workers
    result = SweepResult(released=webhooks_release_expired(now=now))
    result.claimed = outbox.sweep_rounds(
        WebhookDelivery,
        now=now,
        dispatch=dispatch,
        outcomes=result.outcomes,
        round_size=SWEEP_ROUND,
        batch=BATCH,
        max_rounds=SWEEP_MAX_ROUNDS,
    )
    if result.claimed or result.released:
        logger.info("webhook sweep: %d released, %d claimed", result.released, result.claimed)
    return result


# --- delivery --------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status_code: int | None
    error: str  # "" on success
    duration_ms: int


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether ``kind`` is anywhere in the chain requests and urllib3 wrap errors in."""
    seen: set[int] = set()
    stack: list[Any] = [error]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, kind):
            return True
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None), *item.args])
    return False


def _error_kind(error: BaseException) -> str:
    from urllib3.exceptions import NameResolutionError

    if isinstance(error, RefusedAddress) or _caused_by(error, RefusedAddress):
        return "refused_address"
    if isinstance(error, requests.ConnectTimeout):
        return "connect_timeout"
    if isinstance(error, requests.Timeout):
        return "read_timeout"
    if _caused_by(error, NameResolutionError):
        return "dns"
    if isinstance(error, requests.exceptions.SSLError):
        return "tls"
    if isinstance(error, requests.ConnectionError):
        return "connection"
    return "request"


def post(session: requests.Session, subscription: WebhookSubscription, delivery: WebhookDelivery) -> Answer:
    """One attempt: signed now, posted with timeouts, redirects not followed,
    the answer's body never read."""
    started = time.monotonic()

    def done(status_code: int | None, error: str) -> Answer:
        return Answer(status_code, error, int((time.monotonic() - started) * 1000))

    try:
        url_target(subscription.url)  # the settings may have changed since it was saved
    except InvalidInput:
        return done(None, "refused_url")
    at = timezone.now()
    body = delivery.body.encode()
    headers = headers_for(subscription, message_id=delivery.message_id, at=at, body=delivery.body)
    try:
        response = session.post(
            subscription.url,
            data=body,
            headers=headers,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
    except (requests.RequestException, RefusedAddress) as error:
        return done(None, _error_kind(error))
    except (OSError, ValueError) as error:  # an address requests cannot even parse, a socket error unwrapped
        logger.warning("webhook delivery %s: %s", delivery.pk, type(error).__name__)
        return done(None, "request")
    response.close()
    code = response.status_code
    return done(code, "" if 200 <= code < 300 else f"http_{code}")


def _finish(delivery: WebhookDelivery, claim: uuid.UUID, **fields: Any) -> bool:
    done = WebhookDelivery.objects.filter(pk=delivery.pk, claim=claim).update(claim=None, claimed_at=None, **fields)
    if not done:
        logger.warning("webhook delivery %s: claim lost before it was recorded", delivery.pk)
    return bool(done)


def webhooks_deliver(*, ids: Sequence[int], claim: uuid.UUID | None = None) -> Counter[str]:
    """Sends the deliveries ``ids`` still this caller's to send: claimed under
    ``claim`` by a sweep, or (``claim=None``, straight after commit) still
    pending and due. Each is taken over with a fresh claim and counted as an
    attempt first, so a task delivered twice sends once. Returns how many
    were sent, retrying and failed."""
    outcomes: Counter[str] = Counter()
    mine = uuid.uuid4()
    now = timezone.now()
    rows = WebhookDelivery.objects.filter(pk__in=list(ids))
    if claim is None:
        rows = rows.filter(status=Status.PENDING, next_attempt_at__lte=now)
    else:
        rows = rows.filter(status=Status.SENDING, claim=claim)
    if not rows.update(status=Status.SENDING, claim=mine, claimed_at=now, attempts=F("attempts") + 1):
        return outcomes  # sent, or taken by another worker meanwhile
    taken = list(
        WebhookDelivery.objects.filter(pk__in=list(ids), claim=mine).select_related("subscription").order_by("pk")
    )
    session = _session()
    try:
        for delivery in taken:
            subscription = delivery.subscription
            if not subscription.active:
                _finish(
                    delivery,
                    mine,
                    status=Status.FAILED,
                    attempts=delivery.attempts - 1,
                    last_error="subscription_inactive",
                )
                outcomes["failed"] += 1
                continue
            answer = post(session, subscription, delivery)
            at = timezone.now()
            WebhookAttempt.objects.create(
                delivery=delivery,
                at=at,
                status_code=answer.status_code,
                duration_ms=answer.duration_ms,
                error=answer.error,
            )
            if not answer.error:
                # The window (module docstring): answered 2xx, not yet recorded.
                _finish(
                    delivery, mine, status=Status.SENT, sent_at=at, last_status_code=answer.status_code, last_error=""
                )
                outcomes["sent"] += 1
                continue
            last = delivery.attempts >= settings.CLINIC_WEBHOOK_MAX_ATTEMPTS
            _finish(
                delivery,
                mine,
                status=Status.FAILED if last else Status.PENDING,
                next_attempt_at=at + backoff(delivery.attempts),
                last_status_code=answer.status_code,
                last_error=answer.error,
            )
            logger.warning(
                "webhook delivery %s attempt %d %s: %s",
                delivery.pk,
                delivery.attempts,
                "failed for good" if last else "will be retried",
                answer.error,
            )
            outcomes["failed" if last else "retrying"] += 1
    finally:
        session.close()
    return outcomes
