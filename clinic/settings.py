"""Settings for clinic, read from the environment (see README and .env.example).

Every environment differs only by variables. Defaults are production-safe
(DEBUG off); ``make run`` exports the development ones.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from clinic import sentry
from clinic.client import parse_trusted_proxies
from clinic.env import (
    channel_from_url,
    database_from_url,
    env_bool,
    env_colour,
    env_duration,
    env_duration_list,
    env_float,
    env_int,
    env_list,
    env_networks,
    env_optional_duration,
    env_rate,
    env_str,
    env_time_zone,
    env_url,
    mailer_from_url,
    storage_from_url,
)
from clinic.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("CLINIC_VAR_DIR", str(BASE_DIR / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
# Required. A development checkout may keep one in var/secret_key instead
# (`make run` and `make test` create it); a production image has none, so a
# missing SECRET_KEY there still stops start-up naming the variable.
_KEY_FILE = VAR_DIR / "secret_key"
SECRET_KEY = env_str("SECRET_KEY", _KEY_FILE.read_text().strip() or None if _KEY_FILE.is_file() else None)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# --- the clinic -------------------------------------------------------------
CLINIC_NAME = env_str("CLINIC_NAME", "Clear Skin Clinic")
CLINIC_ADDRESS = env_str("CLINIC_ADDRESS", "12/F, 1 Queen's Road Central, Central, Hong Kong")
CLINIC_PHONE = env_str("CLINIC_PHONE", "+852 2123 4567")
# What Traditional Chinese pages show for the two above.
CLINIC_NAME_ZH_HANT = env_str("CLINIC_NAME_ZH_HANT", "清膚診所")
CLINIC_ADDRESS_ZH_HANT = env_str("CLINIC_ADDRESS_ZH_HANT", "香港中環皇后大道中1號12樓")
# The clinic's brand on pages and emails (clinic/brand.py): a logo and a favicon, each a
# path under the static files or an https URL, and one accent colour (#rrggbb).
CLINIC_LOGO = env_str("CLINIC_LOGO", "clinic/brand/logo.svg")
CLINIC_FAVICON = env_str("CLINIC_FAVICON", "clinic/brand/favicon.svg")
CLINIC_ACCENT = env_colour("CLINIC_ACCENT", "#0f6e6e")
CLINIC_BASE_URL = env_url("CLINIC_BASE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")
CLINIC_TIME_ZONE = env_time_zone("CLINIC_TIME_ZONE", "Asia/Hong_Kong")
CLINIC_CURRENCY = env_str("CLINIC_CURRENCY", "HKD")
# How often the staff schedule redraws itself (it waits while a keyboard user is in it).
STAFF_SCHEDULE_REFRESH_SECONDS = env_int("STAFF_SCHEDULE_REFRESH_SECONDS", 120, minimum=5, maximum=3600)
CLINIC_SLOT_MINUTES = env_int("CLINIC_SLOT_MINUTES", 15, minimum=5, maximum=240)
CLINIC_NOTIFICATION_SWEEP_SECONDS = env_int("CLINIC_NOTIFICATION_SWEEP_SECONDS", 60, minimum=1, maximum=3600)
# The outbox (booking.notifications): attempts before a row is failed, the
# first retry delay (doubling after each failure), and how long a claim lasts
# before a sweep takes the row back from a worker presumed dead (far above
# the SMTP timeout, so a live worker never loses its claim).
CLINIC_NOTIFICATION_MAX_ATTEMPTS = env_int("CLINIC_NOTIFICATION_MAX_ATTEMPTS", 6, minimum=1, maximum=20)
CLINIC_NOTIFICATION_RETRY_SECONDS = env_int("CLINIC_NOTIFICATION_RETRY_SECONDS", 60, minimum=1, maximum=86400)
CLINIC_NOTIFICATION_CLAIM_SECONDS = env_int("CLINIC_NOTIFICATION_CLAIM_SECONDS", 300, minimum=1, maximum=86400)
# Plan nudges: sent at this clinic-local hour; the last call this many days
# before a session's window closes while it is still unbooked.
CLINIC_NOTIFICATION_HOUR = env_int("CLINIC_NOTIFICATION_HOUR", 10, minimum=0, maximum=23)
# Staff pages warn when due messages are this late (a stalled worker, beat or broker).
CLINIC_NOTIFICATION_STALL_AFTER = env_duration("CLINIC_NOTIFICATION_STALL_AFTER", "5m")
CLINIC_NOTIFICATION_LAST_CALL_DAYS = env_int("CLINIC_NOTIFICATION_LAST_CALL_DAYS", 3, minimum=1, maximum=60)
CLINIC_MIN_NOTICE = env_duration("CLINIC_MIN_NOTICE", "2h")
CLINIC_BOOKING_HORIZON = env_duration("CLINIC_BOOKING_HORIZON", "90d")
CLINIC_STAFF_HORIZON = env_duration("CLINIC_STAFF_HORIZON", "400d")
CLINIC_CANCELLATION_NOTICE = env_duration("CLINIC_CANCELLATION_NOTICE", "24h")
# Waitlist (booking/waitlist.py): how long an offer holds its slot for the
# patient it was made to before it passes to the next entry.
CLINIC_WAITLIST_HOLD = env_duration("CLINIC_WAITLIST_HOLD", "60m")
# Missed visits: a confirmed appointment neither checked in nor cancelled this
# long after its end is marked no-show by the sweep. Empty turns it off.
CLINIC_NO_SHOW_AFTER = env_optional_duration("CLINIC_NO_SHOW_AFTER", "30m")
CLINIC_REMINDER_OFFSETS = env_duration_list("CLINIC_REMINDER_OFFSETS", "24h,2h")
CLINIC_DECLARATION_MAX_AGE = env_duration("CLINIC_DECLARATION_MAX_AGE", "180d")
CLINIC_ISOTRETINOIN_WINDOW = env_duration("CLINIC_ISOTRETINOIN_WINDOW", "180d")
# An erased patient's clinical records are kept this long after their last
# visit, then purged (booking/erasure.py). Default 7 years (2557 days).
CLINIC_RECORD_RETENTION = env_duration("CLINIC_RECORD_RETENTION", "2557d")
# Reports (booking/reports.py): a group of fewer patients (or visits) than this
# is not shown, so that no patient can be singled out.
CLINIC_REPORT_MIN_GROUP = env_int("CLINIC_REPORT_MIN_GROUP", 5, minimum=1, maximum=100)

# --- applications -----------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "patients",
    "treatments",
    "booking",
    # The pages and the demo, on top of the domain apps (docs/architecture.md).
    "portal",
    "workspace",
    "demo",
]

MIDDLEWARE = [
    # First: every answer, from any middleware below, carries X-Request-ID, is
    # logged (one line) and timed (/metrics). clinic/logs.py, docs/operations.md.
    "clinic.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before anything that may query: a database outage answers 503 (clinic/outage.py),
    # in the visitor's language, so after the locale middleware on the way in.
    "clinic.middleware.ClinicLocaleMiddleware",
    # A body over the limits is refused (413) before anything reads it or queries.
    "clinic.middleware.BodyLimitMiddleware",
    "clinic.outage.OutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): whether this session passed the second factor.
    "django_otp.middleware.OTPMiddleware",
    # Notes each signed-in browser's "last used" (the list of signed-in devices).
    "patients.authentication.DeviceSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Messages added while answering an htmx request travel with the answer (toasts).
    "clinic.toasts.HtmxMessagesMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    # Staff sessions: signed out after STAFF_IDLE_TIMEOUT idle, then the second
    # factor before any /staff/ or /admin/ page (workspace/security).
    "workspace.security.middleware.StaffIdleTimeoutMiddleware",
    "workspace.security.middleware.SecondFactorMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "clinic.context.clinic",
                "patients.context.role",
            ],
            # clinic is no installed app; its filters (dates, times, money: clinic/formats.py).
            "libraries": {"clinic_format": "clinic.templatetags.clinic_format"},
        },
    },
]

# --- data -------------------------------------------------------------------
DATABASE_URL = env_url("DATABASE_URL", None, schemes=("postgres", "postgresql", "sqlite"))
if DATABASE_URL:
    DATABASES = {"default": database_from_url("DATABASE_URL", DATABASE_URL)}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "clinic.sqlite3")}}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # IMMEDIATE serialises check-then-insert on the embedded default, where
    # exclusion constraints do not exist (see booking/constraints.py).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL;",
    }
    DATABASES["default"].pop("CONN_HEALTH_CHECKS", None)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-clinic.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttling, lockouts and sessions stay off Redis: bookings keep working when
# the broker is down. The database cache is shared by every web process and
# survives restarts, so a limit is one limit however many workers run
# (`manage.py createcachetable` creates both tables).
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "clinic_cache"},
    # Rate-limit counters (clinic/api.py ScopedThrottle, clinic.client.within).
    # Culling must never drop live counters: flooding the table with keys would
    # otherwise reset everyone's limits.
    "throttle": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "clinic_throttle",
        "OPTIONS": {"MAX_ENTRIES": 1_000_000},
    },
}
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# --- celery -----------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", None, schemes=("redis", "rediss"))
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Beat keeps its schedule in memory: every periodic task is a sweep that is safe to
# run at any time and expires if missed, so there is nothing worth persisting, and
# no schedule file (a shelve, sqlite under Python 3.13) to lock, corrupt or leave
# on one host's disk.
CELERY_BEAT_SCHEDULER = "celery.beat:Scheduler"
CELERY_ENABLE_UTC = True
# No task may outlive this (a batch is 20 messages over one SMTP connection, each
# with its own timeout): a stuck pool process is killed and replaced, and the
# outbox takes its rows back when their claim expires.
CELERY_TASK_TIME_LIMIT = env_int("CLINIC_TASK_TIME_LIMIT_SECONDS", 300, minimum=10, maximum=3600)
# A worker that loses Redis keeps trying to reconnect for as long as it takes
# (Celery's default gives up after 100 attempts and the worker exits).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Tasks already running when the connection drops finish their work: their rows
# are claimed in the database, so the copy Redis hands out again finds nothing to do.
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# How often an idle worker sends itself a beacon, and how long it may go without
# receiving anything while Redis accepts those beacons before it exits to be
# restarted (clinic/watchdog.py). The heartbeat file is what the liveness probe reads.
CELERY_WORKER_DIRECT = True  # each worker also reads its own queue, where its beacons go
CLINIC_WORKER_BEACON_SECONDS = env_int("CLINIC_WORKER_BEACON_SECONDS", 15, minimum=1, maximum=600)
CLINIC_WORKER_DEAF_SECONDS = env_int("CLINIC_WORKER_DEAF_SECONDS", 120, minimum=3, maximum=3600)
CLINIC_WORKER_HEARTBEAT_FILE = env_str("CLINIC_WORKER_HEARTBEAT_FILE", str(VAR_DIR / "worker-heartbeat"))
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
        # A hung or stopped Redis must fail a publish within a second, never block
        # a request: the outbox sweep sends what is due once Redis is back.
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "socket_keepalive": True,
        # redis-py checks a connection idle this long before reusing it, and kombu
        # drops a consumer connection whose reply is this overdue.
        "health_check_interval": 10,
        # A message held by a worker that died (or whose acknowledgement failed,
        # clinic/broker.py) is handed out again after this long; longer than any
        # task may run, so a live task is never run twice at once.
        "visibility_timeout": env_int(
            "CLINIC_BROKER_VISIBILITY_SECONDS", 2 * CELERY_TASK_TIME_LIMIT, minimum=CELERY_TASK_TIME_LIMIT + 1
        ),
        # Look for such messages every 10 s rather than every 100 s.
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    CELERY_BROKER_CONNECTION_TIMEOUT = 1
    CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
else:
    CELERY_BROKER_FOLDER = VAR_DIR / "celery"
    for sub in ("queue", "control"):
        (CELERY_BROKER_FOLDER / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "polling_interval": 0.1,
    }

# --- email ------------------------------------------------------------------
EMAIL_URL = env_url("EMAIL_URL", None, schemes=("smtp", "smtps", "console", "file", "locmem"))
# Commands that build or migrate and never send mail run without it (a migration
# check on a bare checkout, collectstatic in the image build); anything that
# serves, works the queue or opens a shell does not.
_MAIL_FREE_COMMANDS = {
    "makemigrations",
    "migrate",
    "showmigrations",
    "sqlmigrate",
    "collectstatic",
    "createcachetable",
    "compilemessages",
    "spectacular",
}
_MAIL_FREE = Path(sys.argv[0]).name == "manage.py" and len(sys.argv) > 1 and sys.argv[1] in _MAIL_FREE_COMMANDS
if EMAIL_URL is None and not DEBUG and not _MAIL_FREE:
    # Patients' confirmations, reminders and password links would silently go to
    # files on one host's disk. Development (DEBUG=1, `make run`) keeps var/mail/.
    raise ImproperlyConfigured(
        "EMAIL_URL must be set when DEBUG is off, e.g. EMAIL_URL=smtp://user:password@mail.example.com:587?tls=1 "
        "(file:///abs/folder only if writing emails to files is really meant)."
    )
MAILERS = {"default": mailer_from_url("EMAIL_URL", EMAIL_URL, fallback_folder=str(VAR_DIR / "mail"))}
# --- SMS and WhatsApp (booking/channels.py) ------------------------------------
# Unset: the channel is not offered. Examples:
#   SMS_URL=twilio://<account sid>:<auth token>@api.twilio.com?from=%2B85230011234
#   WHATSAPP_URL=whatsapp://<phone number id>:<access token>@graph.facebook.com/v21.0?app_secret=...&verify_token=...
# locmem:// (tests) and console:// (development) need no provider; twilio+http:// and
# whatsapp+http:// speak plain HTTP to a local fake of the provider.
_CHANNEL_SCHEMES = ("locmem", "console", "twilio", "twilio+http", "whatsapp", "whatsapp+http")
SMS_URL = env_url("SMS_URL", None, schemes=_CHANNEL_SCHEMES)
WHATSAPP_URL = env_url("WHATSAPP_URL", None, schemes=_CHANNEL_SCHEMES)
CLINIC_CHANNELS = {
    channel: entry
    for channel, entry in {
        "sms": channel_from_url("SMS_URL", SMS_URL, providers={"twilio": "booking.channels.TwilioBackend"}),
        "whatsapp": channel_from_url(
            "WHATSAPP_URL", WHATSAPP_URL, providers={"whatsapp": "booking.channels.WhatsAppBackend"}
        ),
    }.items()
    if entry is not None
}
# --- payments (booking/deposits.py) ---------------------------------------------
# Unset: no online provider; deposits and packages are paid and recorded at the desk
# and online booking confirms at once, as before. Stripe:
#   PAYMENTS_URL=stripe://<secret key>:<webhook signing secret>@api.stripe.com
# stripe+http:// speaks plain HTTP to a local fake of Stripe (tests, staging).
PAYMENTS_URL = env_url("PAYMENTS_URL", None, schemes=("stripe", "stripe+http"))
CLINIC_PAYMENTS = channel_from_url("PAYMENTS_URL", PAYMENTS_URL, providers={"stripe": "stripe"})
# How long online booking holds a slot while the patient pays the deposit.
CLINIC_PAYMENT_HOLD = env_duration("CLINIC_PAYMENT_HOLD", "15m")
# What a refund of a package's unused sessions returns (booking/packages.py):
# pro_rata (the unused sessions' share of the price) or none.
CLINIC_PACKAGE_REFUND = env_str("CLINIC_PACKAGE_REFUND", "pro_rata")
if CLINIC_PACKAGE_REFUND not in ("pro_rata", "none"):
    raise ImproperlyConfigured("CLINIC_PACKAGE_REFUND must be pro_rata or none.")
# --- outgoing webhooks (booking/webhooks.py) ----------------------------------
# A failed delivery is tried again after CLINIC_WEBHOOK_RETRY_SECONDS x 4^(n-1)
# (30 s, 2 min, 8 min, 32 min, 2 h, 8.5 h, then 12 h at most): eight attempts
# span about a day before the delivery is marked failed.
CLINIC_WEBHOOK_MAX_ATTEMPTS = env_int("CLINIC_WEBHOOK_MAX_ATTEMPTS", 8, minimum=1, maximum=20)
CLINIC_WEBHOOK_RETRY_SECONDS = env_int("CLINIC_WEBHOOK_RETRY_SECONDS", 30, minimum=1, maximum=86400)
# Subscribers are reached over https only, except these hosts (names or
# addresses as written in the subscriber's URL), which may use plain http:
# an on-premise system, or the tests' local receiver.
CLINIC_WEBHOOK_HTTP_HOSTS = [host.lower() for host in env_list("CLINIC_WEBHOOK_HTTP_HOSTS")]
# A subscriber's address may not be loopback, private, link-local or otherwise
# not public (the server must not be made to call into its own network),
# except inside these networks (CIDR), e.g. 10.20.0.0/24 for an on-premise system.
CLINIC_WEBHOOK_PRIVATE_NETWORKS = env_networks("CLINIC_WEBHOOK_PRIVATE_NETWORKS")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"{CLINIC_NAME} <bookings@example.com>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- auth -------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24 * 3
# How long the link confirming a patient's new email works (patients.services.email_change_request).
CLINIC_EMAIL_CHANGE_MAX_AGE = env_duration("CLINIC_EMAIL_CHANGE_MAX_AGE", "3d")
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
AXES_LOCKOUT_CALLABLE = "clinic.views.lockout"
# Lockouts count per address as the rate limits do (X-Forwarded-For only from trusted proxies).
AXES_CLIENT_IP_CALLABLE = "clinic.client.client_address"
LOGIN_URL = "/accounts/login/"
# The roles that must pass a second factor (TOTP or a recovery code) on the
# staff pages, the admin and POST /api/v1/auth/token/: any of receptionist,
# practitioner, manager. Receptionists see no clinical records, so by default not them.
CLINIC_SECOND_FACTOR_ROLES = env_list("CLINIC_SECOND_FACTOR_ROLES", "practitioner,manager")
_UNKNOWN_ROLES = set(CLINIC_SECOND_FACTOR_ROLES) - {"receptionist", "practitioner", "manager"}
if _UNKNOWN_ROLES:
    raise ImproperlyConfigured(
        f"CLINIC_SECOND_FACTOR_ROLES: unknown role {sorted(_UNKNOWN_ROLES)[0]!r} "
        "(choose from receptionist, practitioner, manager)."
    )
# A staff session with no request for this long is signed out (patients are not).
STAFF_IDLE_TIMEOUT = env_duration("STAFF_IDLE_TIMEOUT", "30m")
# What authenticator apps show as the account's issuer.
OTP_TOTP_ISSUER = CLINIC_NAME
# The admin's device pages never show a secret key or a QR code to anyone.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- i18n -------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hant", "繁體中文")]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # the switch remembers the choice for a year
LANGUAGE_COOKIE_SAMESITE: Literal["Lax", "Strict", "None", False] | None = "Lax"
# One catalogue per area of the site (see clinic/i18n.py), compiled without system gettext.
LOCALE_PATHS = sorted(path for path in (BASE_DIR / "locale").glob("*") if path.is_dir())
USE_I18N = True
USE_TZ = True
TIME_ZONE = CLINIC_TIME_ZONE
# Django's own date, time and number formats agree with clinic/formats.py, so a value
# that skips the helper still reads "7 Dec 2026, 14:30", never "Dec. 7, 2026, midnight".
FORMAT_MODULE_PATH = ["clinic.django_formats"]

# --- static and media -------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
# Clinical photos live outside any public URL; only authorised views serve them.
# STORAGE_URL (docs/storage.md) puts them in a local folder (the default,
# CLINIC_MEDIA_ROOT) or a private S3-compatible bucket; its secret is kept out
# of every setting's repr, and the URL itself is not kept as a setting.
PRIVATE_MEDIA_ROOT = Path(env_str("CLINIC_MEDIA_ROOT", str(VAR_DIR / "media"))).resolve()
STORAGES = {
    "default": storage_from_url(
        "STORAGE_URL",
        env_str("STORAGE_URL", "") or None,
        fallback_folder=str(PRIVATE_MEDIA_ROOT),
    ),
    "staticfiles": {
        # Hashed names need `collectstatic`, which the image runs at build.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- request sizes ------------------------------------------------------------
# A JSON or form body larger than this is refused with 413 before it is read
# (clinic.middleware.BodyLimitMiddleware; Django's own default, stated).
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
# Multipart bodies carry photos: at most 10 MB each (treatments.photos.MAX_BYTES),
# five views on one assessment form, plus the form around them. Above the chart
# page's own check (which answers in place, keeping the form), as a backstop.
CLINIC_MULTIPART_MAX_BYTES = env_int("CLINIC_MULTIPART_MAX_BYTES", 64 * 1024 * 1024, minimum=1024)

# --- security ---------------------------------------------------------------
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:", "blob:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
# The proxies in front of the app whose X-Forwarded-For is believed: a hop
# count ("1" behind one nginx) or their addresses and CIDRs
# ("10.0.0.0/8,2001:db8::/32"). Empty (the default): nobody's, the client is
# REMOTE_ADDR. clinic/client.py; README "Behind a proxy".
CLINIC_TRUSTED_PROXIES = parse_trusted_proxies(",".join(env_list("CLINIC_TRUSTED_PROXIES", "")))
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The health check answers plain HTTP inside the container network.
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$"]

# --- API --------------------------------------------------------------------
REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # knox's, noting each token's "last used" (the list of signed-in devices).
        "patients.authentication.DeviceTokenAuthentication",
        # A staff session that still owes its second factor is not signed in to the API.
        "patients.authentication.VerifiedSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "clinic.openapi.ClinicAutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "clinic.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "clinic.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Per user when signed in, per address otherwise. Generous enough for a
    # front desk behind one address; the cache is the database, not Redis.
    "DEFAULT_THROTTLE_RATES": {
        "register": env_rate("THROTTLE_REGISTER", "100/hour"),
        "token": env_rate("THROTTLE_TOKEN", "300/hour"),
        "password_reset": env_rate("THROTTLE_PASSWORD_RESET", "50/hour"),
        "booking": env_rate("THROTTLE_BOOKING", "1000/hour"),
        # Fetches of private calendar feeds per client address (booking/feed_apis.py).
        "calendar_feed": env_rate("THROTTLE_CALENDAR_FEED", "600/hour"),
    },
}
# Named so that patients.SignedInDevice can point at knox's (swappable) token model.
KNOX_TOKEN_MODEL = "knox.AuthToken"
REST_KNOX = {"AUTH_HEADER_PREFIX": "Bearer", "TOKEN_TTL": timedelta(days=90), "AUTO_REFRESH": False}
SPECTACULAR_SETTINGS = {
    "TITLE": "clinic API",
    "DESCRIPTION": "Treatment booking and patient tracking for acne-scar clinics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served by the app itself: no CDN (content security policy).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Every operation documents the errors it can answer (clinic/schema.py).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "clinic.openapi.add_standard_errors"],
    # One name for a choice set that several fields share (an assessment's pih and pie),
    # and names for the "status" choice sets of different models.
    "ENUM_NAME_OVERRIDES": {
        "MarkSeverityEnum": "treatments.models.MarkSeverity",
        "AppointmentStatusEnum": "booking.models.Appointment.Status",
        "NotificationStatusEnum": "booking.models.Notification.Status",
        # email / sms / whatsapp: a notification's channel and a patient's channel choices alike.
        "MessageChannelEnum": "booking.models.Notification.Channel",
        # Named as before notifications had a channel field too: how a consent was signed.
        "ChannelEnum": "treatments.models.ConsentSignature.Channel",
        "PlanStatusEnum": "treatments.models.TreatmentPlan.Status",
        "WaitlistEntryStatusEnum": "booking.models.WaitlistEntry.Status",
        "WaitlistOfferStatusEnum": "booking.models.WaitlistOffer.Status",
        # How money moved: every method on a ledger row, and the desk's methods a deposit or refund takes.
        "LedgerMethodEnum": "booking.models.LedgerEntry.Method",
        "DeskMethodEnum": "booking.money_serializers.DESK_METHOD_CHOICES",
        # What a ledger row is, and the three kinds the desk may write (charge, payment, refund).
        "LedgerKindEnum": "booking.models.LedgerEntry.Kind",
        "DeskKindEnum": [("charge", "Charge"), ("payment", "Payment"), ("refund", "Refund")],
        "CalendarFeedKindEnum": "booking.models.CalendarFeed.Kind",
    },
}

# --- logging: no patient data; request bodies are never logged --------------
# One line per record: JSON (timestamp, level, logger, message, request_id,
# task_id, and for each request method, route, status, duration_ms) or, in
# development, plain text. clinic/logs.py; docs/operations.md.
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))
# Celery's worker keeps its hands off the root logger (clinic/logs.py answers setup_logging too).
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- monitoring ---------------------------------------------------------------
# GET /metrics (clinic/metrics.py): with a token, only `Authorization: Bearer <token>`
# from anywhere; without, only from loopback and private addresses reaching the process
# directly (a request a proxy forwarded is refused).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Errors (and, if sampled, traces) to Sentry, stripped of patient data (clinic/sentry.py).
SENTRY_DSN = env_url("SENTRY_DSN", None, schemes=("http", "https"))
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_RELEASE = env_str("SENTRY_RELEASE", "") or None
SENTRY_TRACES_SAMPLE_RATE = env_float("SENTRY_TRACES_SAMPLE_RATE", 0.0, minimum=0.0, maximum=1.0)
if SENTRY_DSN:
    sentry.init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=SENTRY_RELEASE,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )

CSRF_FAILURE_VIEW = "clinic.views.csrf_failure"
