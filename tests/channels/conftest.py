"""The fake SMS and WhatsApp providers (tests/fakes/providers.py) and the
notification tests' servers and data, shared by the channel tests."""

from __future__ import annotations

from tests.fakes.providers import providers, providers_server
from tests.notifications.conftest import (  # fixtures shared with the notification tests
    book,
    clock,
    notification_settings,
    patient,
    practitioner,
    receptionist,
    smtp,
    smtp_server,
    treatment,
    workers,
)

__all__ = [
    "book",
    "clock",
    "notification_settings",
    "patient",
    "practitioner",
    "providers",
    "providers_server",
    "receptionist",
    "smtp",
    "smtp_server",
    "treatment",
    "workers",
]
