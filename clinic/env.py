"""Typed readers for settings from the environment.

Each reader fails at start-up with ``ImproperlyConfigured`` naming the variable,
so a typo in a deployment is caught before the first request, not during one.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any, overload
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    return None if value is None else value.strip()


def env_str(name: str, default: str | None = None) -> str:
    value = _raw(name)
    if value is None or value == "":
        if default is None:
            raise ImproperlyConfigured(f"{name} must be set.")
        return default
    if "\x00" in value:
        raise ImproperlyConfigured(f"{name} must not contain NUL characters.")
    return value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), not {value!r}.")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}.")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name} must be at most {maximum}, not {number}.")
    return number


def env_float(name: str, default: float, *, minimum: float | None = None, maximum: float | None = None) -> float:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None
    if number != number or (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise ImproperlyConfigured(f"{name} must be between {minimum} and {maximum}, not {value}.")
    return number


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h`` or ``1d``; a bare number is ambiguous and refused."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 90m, 2h or 1d")
    amount, unit = match.groups()
    return timedelta(**{_UNITS[unit]: int(amount)})


def env_duration(name: str, default: str) -> timedelta:
    value = _raw(name)
    text = default if value is None or value == "" else value
    try:
        return parse_duration(text)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None


def env_optional_duration(name: str, default: str) -> timedelta | None:
    """A duration, or None when the variable is set but empty (turned off)."""
    value = _raw(name)
    if value is not None and value.strip() == "":
        return None
    return env_duration(name, default)


def env_duration_list(name: str, default: str) -> list[timedelta]:
    value = _raw(name)
    text = default if value is None else value
    items = [part.strip() for part in text.split(",") if part.strip()]
    try:
        durations = [parse_duration(item) for item in items]
    except ValueError as error:
        raise ImproperlyConfigured(f"{name}: {error}.") from None
    return sorted(set(durations), reverse=True)


def env_list(name: str, default: str = "") -> list[str]:
    value = _raw(name)
    text = default if value is None else value
    return [part.strip() for part in text.split(",") if part.strip()]


_RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")


def env_rate(name: str, default: str) -> str:
    """A throttle rate such as ``100/hour``."""
    value = env_str(name, default)
    if not _RATE.match(value):
        raise ImproperlyConfigured(f"{name} must be a rate such as 100/hour or 10/min, not {value!r}.")
    return value


_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def env_colour(name: str, default: str) -> str:
    """A colour as ``#rrggbb`` (lower case)."""
    value = env_str(name, default)
    if not _COLOUR.match(value):
        raise ImproperlyConfigured(f"{name} must be a colour such as #0f6e6e, not {value!r}.")
    return value.lower()


def env_time_zone(name: str, default: str) -> str:
    value = env_str(name, default)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(f"{name} must be an IANA time zone such as Asia/Hong_Kong, not {value!r}.") from None
    return value


@overload
def env_url(name: str, default: str, *, schemes: tuple[str, ...]) -> str: ...
@overload
def env_url(name: str, default: None = None, *, schemes: tuple[str, ...]) -> str | None: ...
def env_url(name: str, default: str | None = None, *, schemes: tuple[str, ...]) -> str | None:
    value = _raw(name)
    if value is None or value == "":
        return default
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        raise ImproperlyConfigured(
            f"{name} must be a URL starting with {' or '.join(s + '://' for s in schemes)}, not {value!r}."
        )
    return value


def database_from_url(name: str, url: str) -> dict:
    import dj_database_url

    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True))
    except Exception as error:  # dj-database-url raises several types for bad URLs
        raise ImproperlyConfigured(f"{name} is not a database URL Django understands: {error}") from None
    if config.get("ENGINE") not in {"django.db.backends.postgresql", "django.db.backends.sqlite3"}:
        raise ImproperlyConfigured(f"{name} must point at PostgreSQL (postgres://...) or SQLite (sqlite:///...).")
    if config["ENGINE"] == "django.db.backends.postgresql":
        # A database that does not answer fails a request in seconds (503) rather than hanging it.
        config.setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
    return config


def mailer_from_url(name: str, url: str | None, *, fallback_folder: str) -> dict:
    """One entry of Django 6.1's ``MAILERS`` from an ``EMAIL_URL``.

    ``smtp://user:pass@host:port`` (``?tls=1`` for STARTTLS), ``smtps://`` for
    implicit TLS, ``console://``, ``file:///abs/folder``, ``locmem://``. With no
    URL, messages are written as files under ``fallback_folder``, where a person
    running ``make run`` can read them.
    """
    if url is None:
        return {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": fallback_folder},
        }
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    if parts.scheme in {"smtp", "smtps"}:
        if not parts.hostname:
            raise ImproperlyConfigured(f"{name} must name a host, e.g. smtp://127.0.0.1:1025.")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ImproperlyConfigured(f"{name} has an invalid port.") from None
        options: dict = {"host": parts.hostname, "port": port, "timeout": int(query.get("timeout", "10"))}
        if parts.username:
            options["username"] = unquote(parts.username)
            options["password"] = unquote(parts.password or "")
        if parts.scheme == "smtps":
            options["use_ssl"] = True
        elif query.get("tls", "").lower() in _TRUE:
            options["use_tls"] = True
        return {"BACKEND": "django.core.mail.backends.smtp.EmailBackend", "OPTIONS": options}
    if parts.scheme == "console":
        return {"BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if parts.scheme == "locmem":
        return {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path.startswith("/"):
            raise ImproperlyConfigured(f"{name} must use an absolute folder: file:///path/to/folder.")
        return {"BACKEND": "django.core.mail.backends.filebased.EmailBackend", "OPTIONS": {"file_path": parts.path}}
    raise ImproperlyConfigured(
        f"{name} must start with smtp://, smtps://, console://, file:// or locmem://, not {url!r}."
    )


def channel_from_url(name: str, url: str | None, *, providers: dict[str, str]) -> dict | None:
    """One text channel's backend from its URL setting (``SMS_URL``,
    ``WHATSAPP_URL``; booking/channels.py): ``locmem://``, ``console://``, or
    ``<provider>://user:secret@host/path?options`` where ``providers`` maps the
    scheme to the backend's dotted path. ``<provider>+http://`` speaks plain
    HTTP to a local fake of the provider (tests, staging). None: no channel."""
    if url is None:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme
    if scheme == "locmem":
        return {"BACKEND": "booking.channels.LocmemBackend", "OPTIONS": {}}
    if scheme == "console":
        return {"BACKEND": "booking.channels.ConsoleBackend", "OPTIONS": {}}
    provider, _plus, transport = scheme.partition("+")
    if provider not in providers or transport not in {"", "http"}:
        allowed = ", ".join([*(f"{p}://" for p in providers), "console://", "locmem://"])
        raise ImproperlyConfigured(f"{name} must start with {allowed}, not {url!r}.")
    if not parts.hostname or not parts.username:
        raise ImproperlyConfigured(f"{name} must name an account and a host, e.g. {provider}://id:secret@host.")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port.") from None
    http = "http" if transport == "http" else "https"
    base = f"{http}://{parts.hostname}{':' + str(port) if port else ''}{parts.path.rstrip('/')}"
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    options = {
        "base_url": base,
        "account": unquote(parts.username),
        "secret": unquote(parts.password or ""),
        **query,
    }
    return {"BACKEND": providers[provider], "OPTIONS": options}


def env_networks(name: str, default: str = "") -> list[str]:
    """Comma-separated IP networks in CIDR notation (``10.0.0.0/8,127.0.0.1``; a
    bare address is its own /32 or /128), normalised: ``["10.0.0.0/8", ...]``."""
    import ipaddress

    networks = []
    for part in env_list(name, default):
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {part!r} is not an IP network such as 10.0.0.0/8.") from None
    return networks


class Secret(str):
    """A string whose ``repr`` hides it, for credentials kept in settings: a
    settings dump, a debug page or a log line that prints the setting shows
    ``'********'``; the code that uses it gets the plain string."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'********'"


_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_STORAGE_QUERY = {"region"}
# How long a signed URL to a private object stays valid, were one ever handed out
# (files are streamed through the app after its permission check; see docs/storage.md).
SIGNED_URL_SECONDS = 300


def storage_from_url(name: str, url: str | None, *, fallback_folder: str) -> dict:
    """``STORAGES["default"]`` from a ``STORAGE_URL``.

    * unset: the local folder ``fallback_folder`` (``CLINIC_MEDIA_ROOT``);
    * ``file:///abs/folder``: another local folder;
    * ``s3://KEY:SECRET@host[:port]/bucket[/prefix]?region=...``: an S3-compatible
      server over HTTPS; ``s3+http://`` the same over plain HTTP (MinIO or moto on
      localhost);
    * ``s3:///bucket[/prefix]?region=...``: Amazon S3 itself, with the credentials
      from the usual AWS environment variables, profile or instance role.

    The key and secret are percent-decoded (a ``/`` in a secret is ``%2F``).
    Objects are private (no ACL is sent: the bucket's own, which must not be
    public), never overwritten (a name in use gets a suffix), and read only by the
    app, which streams them after its permission check.
    """
    if url is None:
        return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": fallback_folder}}
    parts = urlsplit(url)
    shown = _without_password(url)
    if parts.scheme == "file":
        if parts.netloc not in {"", "localhost"} or not parts.path.startswith("/") or parts.query:
            raise ImproperlyConfigured(f"{name} must use an absolute folder: file:///path/to/folder, not {shown!r}.")
        return {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": unquote(parts.path)}}
    if parts.scheme not in {"s3", "s3+http"}:
        raise ImproperlyConfigured(f"{name} must start with file://, s3:// or s3+http://, not {shown!r}.")
    bucket, _slash, prefix = parts.path.lstrip("/").partition("/")
    if not _BUCKET.match(bucket) or ".." in bucket:
        raise ImproperlyConfigured(
            f"{name} must name a bucket (3 to 63 lower-case letters, digits, dots or hyphens) "
            f"after the host, e.g. s3://key:secret@host/clinic-media, not {shown!r}."
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - _STORAGE_QUERY)
    if unknown:
        raise ImproperlyConfigured(f"{name} has an unknown option {unknown[0]!r} (only ?region= is understood).")
    try:
        port = parts.port
    except ValueError:
        raise ImproperlyConfigured(f"{name} has an invalid port.") from None
    if (parts.username is not None or parts.password is not None) and not (parts.username and parts.password):
        raise ImproperlyConfigured(f"{name} must give both an access key and a secret (KEY:SECRET@), or neither.")
    options: dict[str, Any] = {
        "bucket_name": bucket,
        "location": prefix.strip("/"),
        "default_acl": None,  # the bucket's own ACL: private
        "querystring_auth": True,
        "querystring_expire": SIGNED_URL_SECONDS,
        "file_overwrite": False,
        "client_config": _s3_client_config(),
    }
    region = query.get("region", [""])[-1].strip()
    if region:
        options["region_name"] = region
    if parts.username is not None:
        options["access_key"] = Secret(unquote(parts.username))
        options["secret_key"] = Secret(unquote(parts.password or ""))
    if parts.hostname:
        http = "http" if parts.scheme == "s3+http" else "https"
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        options["endpoint_url"] = f"{http}://{host}{':' + str(port) if port else ''}"
        options["addressing_style"] = "path"  # custom servers rarely have a DNS name per bucket
        options.setdefault("region_name", "us-east-1")
    elif parts.scheme == "s3+http":
        raise ImproperlyConfigured(f"{name}: s3+http:// needs a host (Amazon S3 itself is reached over HTTPS only).")
    elif port is not None:
        raise ImproperlyConfigured(f"{name} has a port but no host.")
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


def _without_password(url: str) -> str:
    """The URL with its secret replaced, for an error message."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":********@", 1)
    return parts._replace(netloc=netloc).geturl()


def _s3_client_config() -> Any:
    from botocore.config import Config

    # A store that does not answer fails the request in seconds (a 503 or 500 the
    # client can retry) instead of holding a worker for botocore's default minute.
    return Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3})
